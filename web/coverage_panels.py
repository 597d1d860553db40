"""The results page's coverage panels, from the request to the template's
values: the comparison chart (the page's query and up to four more,
``vs`` in the URL, counted or as shares, ``show=share``) and "what is
distinctive in these results" (significant terms, computed only when asked:
``sig=1``).  Geometry in ``web/chart.py``; the engine's side in
``search/comparison.py`` and ``search/significant.py``."""

from __future__ import annotations

from urllib.parse import urlencode

from search.models import SearchRequest

from . import series
from .api_params import keep_declared
from .chart import series_chart
from .params import ParamError, choice_param, query_text


def compared_queries(args, config: dict) -> list[str]:
    """The comparison queries of the page (``vs``, repeatable; empty ones
    ignored), at most ``series.MAX_COMPARED``: more is a ParamError (400)."""
    found = [query_text(v, config) for v in args.getlist("vs") if v.strip()]
    if len(found) > series.MAX_COMPARED:
        raise ParamError(f"too many comparison queries: 'vs' given {len(found)} times "
                         f"(at most {series.MAX_COMPARED})")
    return found


def comparison(engine, args, config: dict) -> dict | None:
    """The comparison chart's values for the page's query (``q``) and its
    ``vs`` queries, or None without ``vs``: ``{"queries", "share" (bool),
    "interval", "chart" (``series_chart``; None when nothing is dated),
    "csv" (the API's CSV of the series)}``.  Raises ParamError for a bad
    ``vs`` or ``show``."""
    compared = compared_queries(args, config)
    share = choice_param(args, "show", "count", ("count", "share")) == "share"
    if not compared:
        return None
    queries = [args.get("q") or "", *compared]
    reqs = series.requests_for(args, config, queries)
    data = engine.compare(reqs, "auto", share=share)
    kept = [(k, v) for k, v in keep_declared("/api/timeline", args.items(multi=True)) if k not in ("q",)]
    csv_args = [("q", r.q) for r in reqs] + kept + ([("normalize", "share")] if share else []) + [("format", "csv")]
    return {"queries": compared, "share": share, "interval": data["interval"],
            "chart": series_chart(data, share), "csv": "/api/timeline?" + urlencode(csv_args)}


def significant(engine, args, req: SearchRequest, link) -> dict | None:
    """The significant terms of the page's results when asked (``sig=1``)
    and there is a query, else None: ``SearchEngine.significant``'s answer,
    each term with ``href``, ``link(term)`` (the search narrowed by it)."""
    if args.get("sig") != "1" or not req.q:
        return None
    found = engine.significant(req)
    return {**found, "significant_terms": [{**t, "href": link(t["term"])} for t in found["significant_terms"]]}
