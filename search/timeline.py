"""Coverage over time: how many matching articles per day, week, month or
year (newsroom time), counted with numpy over the matches' publication
times; and several such series put on the same buckets (``align``), each
optionally as a share of all articles of the period (``shares``).

Weeks are ISO weeks, Monday to Sunday in newsroom time (Beijing), labelled
with their Monday's date: 2024-01-07T16:30Z is Monday 2024-01-08 00:30 in
Beijing, in the week "2024-01-08".  Other labels: 2024-05-03 (day),
2024-05 (month), 2024 (year).

Bounded whatever the data: only plausible dates are counted
(``timeutil``: 1900-01-01 to the end of tomorrow; anything else, such as
an implausible date an older index still holds, counts as undated), and a
timeline never has more than ``MAX_BUCKETS`` bars: an interval asked for
that would need more is replaced by the next coarser one (day -> month ->
year, as before weeks existed; week -> month -> year; 128 years at most
in the plausible range)."""

from __future__ import annotations

import numpy as np

from .timeutil import NEWSROOM_TZ, PLAUSIBLE_START_TS, plausible_end

INTERVALS = ("day", "week", "month", "year")
MAX_BUCKETS = 400  # bars in one timeline, whatever the interval asked for (chosen, not measured)
_UNIT = {"day": "D", "week": "D", "month": "M", "year": "Y"}
_STEP = {"day": 1, "week": 7, "month": 1, "year": 1}  # units of _UNIT per bucket
# What an interval too fine for MAX_BUCKETS becomes (day skips week: a day
# timeline coarsened to months, as it always was).
_COARSER = {"day": "month", "week": "month", "month": "year"}
_OFFSET = int(NEWSROOM_TZ.utcoffset(None).total_seconds())


def plausible(published: np.ndarray, now: float | None = None) -> np.ndarray:
    """Mask of the epoch seconds in ``published`` that are plausible dates
    (the "no date" marker is far below them)."""
    end = int(plausible_end(now).timestamp())
    pub = np.asarray(published, dtype=np.int64)
    return (pub >= PLAUSIBLE_START_TS) & (pub < end)


def _starts(published, interval: str) -> np.ndarray:
    """The start of the bucket (numpy datetime64 in ``_UNIT``, newsroom
    time) of each epoch second in ``published``; weeks: their Monday."""
    local = (np.asarray(published, dtype=np.int64) + _OFFSET).astype("datetime64[s]")
    starts = local.astype(f"datetime64[{_UNIT[interval]}]")
    if interval == "week":
        # Day 0 (1970-01-01) was a Thursday: days since the Monday before it, mod 7.
        starts = starts - ((starts.astype(np.int64) + 3) % 7).astype("timedelta64[D]")
    return starts


def _buckets(first_ts: int, last_ts: int, interval: str) -> int:
    a, b = _starts([first_ts, last_ts], interval)
    return int((b - a).astype(np.int64)) // _STEP[interval] + 1


def choose_interval(first_ts: int | None, last_ts: int | None, requested: str = "auto") -> str:
    """The interval for matches published from ``first_ts`` to ``last_ts``
    (epoch seconds; None: no dated match).  "auto": days for up to two
    months of coverage, months up to five years, years beyond (a readable
    number of bars); any choice is then coarsened until it needs at most
    ``MAX_BUCKETS`` bars."""
    if first_ts is None or last_ts is None:
        return "month" if requested == "auto" else requested
    if requested == "auto":
        span_days = (last_ts - first_ts) / 86400
        requested = "day" if span_days <= 62 else "month" if span_days <= 5 * 366 else "year"
    interval = requested
    while interval != "year" and _buckets(first_ts, last_ts, interval) > MAX_BUCKETS:
        interval = _COARSER[interval]
    return interval


def years(published: np.ndarray) -> np.ndarray:
    """The calendar year in newsroom time of each epoch second in
    ``published`` (int64): 2023-12-31T16:30:00Z -> 2024.  The ``year``
    facet counts with it; ``timeutil.year_span`` is its filter."""
    local = (np.asarray(published, dtype=np.int64) + _OFFSET).astype("datetime64[s]")
    return local.astype("datetime64[Y]").astype(np.int64) + 1970


def histogram(published: np.ndarray, interval: str) -> list[tuple[str, int]]:
    """(bucket label, count) in time order, empty buckets included between
    the first and the last; labels 2024-05-03 / 2024-01-08 (a week: its
    Monday) / 2024-05 / 2024.  ``published``: epoch seconds of dated
    (plausible) articles."""
    if not len(published):
        return []
    step = _STEP[interval]
    buckets = _starts(published, interval)
    first, last = buckets.min(), buckets.max()
    idx = (buckets - first).astype(np.int64) // step
    counts = np.bincount(idx, minlength=int((last - first).astype(np.int64)) // step + 1)
    labels = np.arange(first, last + 1, step).astype(str)
    return list(zip(labels.tolist(), counts.tolist()))


def _label_start(label: str, interval: str) -> np.datetime64:
    return np.datetime64(label, _UNIT[interval])


def labels(first: str, last: str, interval: str) -> list[str]:
    """Every bucket label from ``first`` to ``last`` (labels of
    ``interval``, as ``histogram`` writes them), in time order."""
    a, b = _label_start(first, interval), _label_start(last, interval)
    return np.arange(a, b + 1, _STEP[interval]).astype(str).tolist()


def bounds(label: str, interval: str) -> tuple[int, int]:
    """The epoch seconds (start inclusive, end exclusive) of the bucket
    ``label`` of ``interval``, in newsroom time: "2024-05" -> 2024-05-01
    00:00 to 2024-06-01 00:00 Beijing time."""
    start = _label_start(label, interval)
    end = start + np.timedelta64(_STEP[interval], _UNIT[interval])
    a, b = (np.array([start, end]).astype("datetime64[s]").astype(np.int64) - _OFFSET).tolist()
    return int(a), int(b)


def span(series: list[list[tuple[str, int]]], interval: str) -> tuple[int, int] | None:
    """(first, last) epoch seconds covered by the buckets of all of
    ``series`` (histograms of ``interval``): the start of the earliest
    bucket and the last second of the latest; None when all are empty."""
    firsts = [bounds(h[0][0], interval)[0] for h in series if h]
    lasts = [bounds(h[-1][0], interval)[1] - 1 for h in series if h]
    return (min(firsts), max(lasts)) if firsts else None


def align(series: list[list[tuple[str, int]]], interval: str) -> tuple[list[str], list[list[int]]]:
    """Put ``series`` (histograms of the same ``interval``) on the same
    buckets, the union of their ranges with the empty ones between:
    (labels, one list of counts per series, aligned with the labels).
    ([], [[], ...]) when all are empty."""
    firsts = [h[0][0] for h in series if h]
    if not firsts:
        return [], [[] for _ in series]
    # Labels of one interval sort as their times do (zero-padded ISO dates).
    axis = labels(min(firsts), max(h[-1][0] for h in series if h), interval)
    counts = []
    for h in series:
        found = dict(h)
        counts.append([found.get(label, 0) for label in axis])
    return axis, counts


def shares(counts: list[int], totals: list[int]) -> list[float | None]:
    """``count / total`` per bucket (aligned lists); None where the period
    has no article at all (a share of nothing is not 0)."""
    return [c / t if t else None for c, t in zip(counts, totals)]
