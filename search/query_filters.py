"""The filters of a search as the query log keeps them: everything of a
``SearchRequest`` beyond its words that narrows or orders the results
(every facet filter of ``search.fields.FACET_FIELDS``: category, source,
author, tag, year; the date range, the sort, title-only search).  The
request fields that are not filters are named in ``NOT_FILTERS``; every
other field is one (tests/test_query_log.py checks each field of
``SearchRequest`` is one or the other).  The advanced form's fields are not here: they become query text
(``byline:``, ``title:``...) and are logged as part of the words, as the
engine reads them.

One canonical text per set of filters (``filter_key``: compact JSON, keys
sorted, values sorted and de-duplicated, empty ones left out; "" for no
filters), so that reports group equal filters however they were given.
"""

from __future__ import annotations

import dataclasses
import json

from .fields import FACET_FIELDS
from .models import SearchRequest

# Repeatable filters: one per facet, so a new facet is logged as a filter.
LIST_FILTERS = FACET_FIELDS
# The request fields that are not filters: the words, which page and how
# much of it, and what is computed or shown besides the hits.
NOT_FILTERS = ("q", "page", "size", "facets", "facet_size", "highlight", "correct", "timeline", "group", "explain",
               "mode", "mode_default")  # mode: how articles are found and ranked (words, meaning), not which may be


def filters_of(req: SearchRequest, range_name: str | None = None) -> dict:
    """The filters of ``req``: {"category": [...], ..., "year": ["2019"], "from": ISO date-time,
    "to": ISO date-time, "range": "day"|"week"|..., "sort": "newest"|"oldest",
    "fields": "title"}; only those given ({} for none).  ``range_name``: the
    relative period the dates came from (logged instead of the moving
    ``from``, so "last week" is one entry every day)."""
    out: dict = {}
    for name in LIST_FILTERS:
        values = sorted({v for v in getattr(req, name) or () if v})
        if values:
            out[name] = values
    if range_name:
        out["range"] = range_name
    else:
        if req.date_from is not None:
            out["from"] = req.date_from.isoformat()
        if req.date_to is not None:
            out["to"] = req.date_to.isoformat()
    if req.sort and req.sort != "relevance":
        out["sort"] = req.sort
    if req.fields and req.fields != "all":
        out["fields"] = req.fields
    return out


def without_filters(req: SearchRequest) -> SearchRequest:
    """``req`` counting its words only: every field but those of
    ``NOT_FILTERS`` back to its default (no filter of ``filters_of``), and
    nothing but the total computed: first page, no hit (size 0), no facet,
    highlight, timeline or correction (did you mean), grouped as ``req``
    (``total`` counts what ``req``'s total counts)."""
    defaults = SearchRequest()
    reset = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(SearchRequest)
             if f.name not in NOT_FILTERS}
    return dataclasses.replace(req, **reset, page=1, size=0, facets=(), highlight=False, timeline=False,
                               correct=False)


def filter_key(filters: dict | None) -> str:
    """The canonical text of ``filters`` (``filters_of``'s shape): "" for none."""
    if not filters:
        return ""
    clean = {}
    for name, value in filters.items():
        if isinstance(value, (list, tuple, set, frozenset)):
            value = sorted({str(v) for v in value if str(v)})
        if value not in (None, "", []):
            clean[name] = value
    return json.dumps(clean, ensure_ascii=False, sort_keys=True, separators=(",", ":")) if clean else ""


def parse_key(key: str | None) -> dict:
    """``filter_key`` reversed ({} for "" or an unreadable text)."""
    if not key:
        return {}
    try:
        value = json.loads(key)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
