"""``/api/export`` for newsroom staff: the whole result set (or ``limit``
rows) as a streamed CSV or JSON Lines download, read from a cursor walk on
one snapshot of the index (``search.cursor.walk_all``) in chunks and
formatted by ``search.exports`` (every field, ``match``, formula-safe CSV
cells): memory stays the same whatever the size of the export."""

from __future__ import annotations

from flask import current_app, stream_with_context

from search import exports
from search.cursor import walk_all

MAX_LIMIT = 10**9  # rows of one export; 0 asks for every article
CHUNK = 500  # articles read from the index at a time


def response(engine, req, fmt: str, limit: int):
    """The download of ``req``'s result set (``fmt``: "csv" or "jsonl";
    ``limit`` rows, 0: all): ``X-Total-Count`` is the result set's size.
    Errors of the search (a 400, a 503) are raised before the response
    starts.  The walk's snapshot is released when the server closes the
    response (``call_on_close``), whether the body was read, cut short or
    never started (a HEAD request, a client gone before the first chunk)."""
    total, pages = walk_all(engine, req, current_app.config["SEARCH_CURSOR_KEEP_ALIVE"], limit or None, CHUNK)
    resp = current_app.response_class(stream_with_context(exports.chunks(pages, fmt)),
                                      mimetype="text/csv" if fmt == "csv" else "application/x-ndjson")
    resp.call_on_close(pages.close)  # idempotent with the end of the walk's own iteration
    resp.headers["Content-Disposition"] = f'attachment; filename="search-export.{fmt}"'
    resp.headers["X-Total-Count"] = str(total)
    resp.headers["Cache-Control"] = "no-store"
    return resp
