"""Coverage compared over time: several queries' timelines on the same
buckets, each count optionally as a share of all articles published in
the period.

``compare`` takes the engine's one-query timeline (``SearchEngine.timeline``)
and adds what comparing needs: one interval for every series (chosen from
the span all of them cover: ``search.timeline.choose_interval``), the union
of their ranges with the empty buckets between (``timeline.align``), and,
with ``share``, the denominators: the timeline of the empty query (every
article) under the same filters (category, source, author, tag, year, dates:
the filters define the universe), restricted to the buckets shown."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Callable

from . import timeline as tl
from .models import SearchRequest
from .result_cache import request_key
from .timeutil import NEWSROOM_TZ

MAX_SERIES = 5  # queries on one timeline (the API's limit; more is a 400)

Timeline = Callable[[SearchRequest, str], dict]


def cached(timeline: Timeline, cache, version: Callable[[], object]) -> Timeline:
    """``timeline`` answering from ``cache`` (a ``ResultCache``) when it
    can, keyed by ``version()`` (the index version), the request and the
    interval: the denominators of ``share``, the same for every query."""

    def totals(req: SearchRequest, interval: str) -> dict:
        key = ("all", version(), request_key(req), interval)
        found = cache.get(key)
        if found is None:
            found = timeline(req, interval)
            cache.put(key, found)
        return found

    return totals


def universe(req: SearchRequest, axis: list[str], interval: str) -> SearchRequest:
    """The request counting every article under ``req``'s filters within
    the buckets ``axis`` (labels of ``interval``): the denominators of
    ``share``.  Its date range is ``req``'s intersected with the buckets',
    so its own timeline never needs a coarser interval."""
    first, _ = tl.bounds(axis[0], interval)
    _, end = tl.bounds(axis[-1], interval)
    start_dt, end_dt = datetime.fromtimestamp(first, NEWSROOM_TZ), datetime.fromtimestamp(end, NEWSROOM_TZ)
    date_from = start_dt if req.date_from is None else max(req.date_from, start_dt)
    date_to = end_dt if req.date_to is None else min(req.date_to, end_dt)
    return dataclasses.replace(req, q="", date_from=date_from, date_to=date_to, page=1, size=0, facets=(),
                               highlight=False, correct=False, timeline=False)


def compare(timeline: Timeline, reqs: list[SearchRequest], interval: str = "auto", share: bool = False,
            totals: Timeline | None = None) -> dict:
    """The timelines of ``reqs`` (1 to ``MAX_SERIES`` requests differing in
    their query) on the same buckets.

    ``timeline(req, interval)``: one query's ``{"interval", "total",
    "undated", "buckets": [{"start", "count"}]}`` (``SearchEngine.timeline``);
    ``totals``: the same for the denominators (a cached one; default
    ``timeline``).  ``interval``: "auto" or one of ``timeline.INTERVALS``.

    Returns ``{"interval", "series": [{"query", "total", "undated",
    "buckets": [{"start", "count"}, ...]}, ...]}``, one series per request
    in order, all with the same bucket starts (the union of their ranges,
    empty buckets included; [] when no series has a dated match).  With
    ``share`` every bucket also has ``all`` (articles published in that
    period under the same filters, whatever the query) and ``share``
    (count / all; None when ``all`` is 0).  Raises ValueError for no
    request or more than ``MAX_SERIES``."""
    if not 1 <= len(reqs) <= MAX_SERIES:
        raise ValueError(f"1 to {MAX_SERIES} queries on one timeline, got {len(reqs)}")
    series = [timeline(r, interval) for r in reqs]
    chosen = series[0]["interval"]
    if len(reqs) > 1:
        covered = [tl.span([[(b["start"], b["count"]) for b in s["buckets"]]], s["interval"])
                   for s in series]
        covered = [c for c in covered if c is not None]
        if covered:
            chosen = tl.choose_interval(min(a for a, _ in covered), max(b for _, b in covered), interval)
        else:
            chosen = "month" if interval == "auto" else interval
        # A series counted at another interval (its own span chose it) is
        # counted again at the one all share; within the union span it fits.
        series = [s if s["interval"] == chosen or not s["buckets"] else timeline(r, chosen)
                  for r, s in zip(reqs, series)]
    axis, counts = tl.align([[(b["start"], b["count"]) for b in s["buckets"]] for s in series], chosen)
    alls = None
    if share and axis:
        whole = (totals or timeline)(universe(reqs[0], axis, chosen), chosen)
        if whole["buckets"] and whole["interval"] != chosen:
            raise RuntimeError(f"the denominators came by {whole['interval']}, not {chosen}")
        found = {b["start"]: b["count"] for b in whole["buckets"]}
        alls = [found.get(label, 0) for label in axis]
    out = []
    for req, s, row in zip(reqs, series, counts):
        buckets = [{"start": label, "count": n} for label, n in zip(axis, row)]
        if alls is not None:
            for b, n, ratio in zip(buckets, alls, tl.shares(row, alls)):
                b["share"], b["all"] = ratio, n
        out.append({"query": req.q, "total": s["total"], "undated": s["undated"], "buckets": buckets})
    return {"interval": chosen, "series": out}
