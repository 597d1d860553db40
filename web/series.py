"""Coverage compared over time, the web side: the queries of a comparison
(``q`` repeated in the API, ``q`` + ``vs`` on the results page) as engine
requests sharing every filter, and the series as CSV.  The engine's side
is ``search/comparison.py``."""

from __future__ import annotations

import io

from werkzeug.datastructures import MultiDict

from search.comparison import MAX_SERIES
from search.csvsafe import dict_writer
from search.models import SearchRequest

from .params import ParamError, query_text, search_request

MAX_COMPARED = MAX_SERIES - 1  # comparison queries the results page adds to its own (``vs``)


def requests_for(args, config: dict, queries: list[str]) -> list[SearchRequest]:
    """One request per text of ``queries`` (1 to ``MAX_SERIES``), each
    with every other parameter of ``args`` (filters, dates, advanced
    fields): ``search_request`` of ``args`` with ``q`` replaced.  Raises
    ParamError (400) naming the limit, or the bad parameter."""
    if len(queries) > MAX_SERIES:
        raise ParamError(f"too many queries: 'q' given {len(queries)} times (at most {MAX_SERIES} on one timeline)")
    out = []
    for text in queries or [""]:
        own = MultiDict(args)
        own.setlist("q", [query_text(text, config)])
        out.append(search_request(own, config, facets=()))
    return out


def to_csv(data: dict) -> bytes:
    """The series of a comparison (``SearchEngine.compare``'s answer) as
    CSV, UTF-8 with a BOM: one row per query and bucket, columns query,
    start, count (and all, share when counted as shares; share empty where
    the period has no article); cells never start a formula
    (``search.csvsafe``)."""
    shares = any("share" in b for s in data["series"] for b in s["buckets"])
    columns = ("query", "interval", "start", "count") + (("all", "share") if shares else ())
    out = io.StringIO()
    writer = dict_writer(out, columns, lineterminator="\r\n")
    writer.writeheader()
    for s in data["series"]:
        for b in s["buckets"]:
            writer.writerow({"query": s["query"], "interval": data["interval"], **b})
    return "\ufeff".encode("utf-8") + out.getvalue().encode("utf-8")
