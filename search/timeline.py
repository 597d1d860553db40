"""Coverage over time: how many matching articles per day, month or year
(newsroom time), counted with numpy over the matches' publication times.

Bounded whatever the data: only plausible dates are counted
(``timeutil``: 1900-01-01 to the end of tomorrow; anything else, such as
an implausible date an older index still holds, counts as undated), and a
timeline never has more than ``MAX_BUCKETS`` bars: an interval asked for
that would need more is replaced by the next coarser one (day -> month ->
year; 128 years at most in the plausible range)."""

from __future__ import annotations

import numpy as np

from .timeutil import NEWSROOM_TZ, PLAUSIBLE_START_TS, plausible_end

INTERVALS = ("day", "month", "year")
MAX_BUCKETS = 400  # bars in one timeline, whatever the interval asked for (chosen, not measured)
_UNIT = {"day": "D", "month": "M", "year": "Y"}
_OFFSET = int(NEWSROOM_TZ.utcoffset(None).total_seconds())


def plausible(published: np.ndarray, now: float | None = None) -> np.ndarray:
    """Mask of the epoch seconds in ``published`` that are plausible dates
    (the "no date" marker is far below them)."""
    end = int(plausible_end(now).timestamp())
    pub = np.asarray(published, dtype=np.int64)
    return (pub >= PLAUSIBLE_START_TS) & (pub < end)


def _buckets(first_ts: int, last_ts: int, interval: str) -> int:
    unit = _UNIT[interval]
    a, b = (np.array([first_ts, last_ts], np.int64) + _OFFSET).astype("datetime64[s]").astype(f"datetime64[{unit}]")
    return int((b - a).astype(np.int64)) + 1


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
    order = list(INTERVALS)
    for interval in order[order.index(requested):]:
        if _buckets(first_ts, last_ts, interval) <= MAX_BUCKETS:
            return interval
    return "year"


def years(published: np.ndarray) -> np.ndarray:
    """The calendar year in newsroom time of each epoch second in
    ``published`` (int64): 2023-12-31T16:30:00Z -> 2024.  The ``year``
    facet counts with it; ``timeutil.year_span`` is its filter."""
    local = (np.asarray(published, dtype=np.int64) + _OFFSET).astype("datetime64[s]")
    return local.astype("datetime64[Y]").astype(np.int64) + 1970


def histogram(published: np.ndarray, interval: str) -> list[tuple[str, int]]:
    """(bucket label, count) in time order, empty buckets included between
    the first and the last; labels 2024-05-03 / 2024-05 / 2024.
    ``published``: epoch seconds of dated (plausible) articles."""
    if not len(published):
        return []
    unit = _UNIT[interval]
    local = (np.asarray(published, dtype=np.int64) + _OFFSET).astype("datetime64[s]")
    buckets = local.astype(f"datetime64[{unit}]")
    first, last = buckets.min(), buckets.max()
    idx = (buckets - first).astype(np.int64)
    counts = np.bincount(idx, minlength=int((last - first).astype(np.int64)) + 1)
    labels = np.arange(first, last + np.timedelta64(1, unit)).astype(str)
    return list(zip(labels.tolist(), counts.tolist()))
