"""The API's cursor (``/api/search?cursor=…``) and the walk behind exports:
a whole result set on a fixed snapshot (``search/cursor.py``), its token
signed with the service's key (``web/secret.py``).

``cursor=*`` starts a walk with the request's search parameters; each
answer carries ``next_cursor`` (null at the end).  A later request sends
the token alone (with ``size`` if it likes) or with the same search
parameters; other parameters are a 400, as are a changed or foreign token
and ``page``; an expired one is a 410.  Without staff authentication a walk
ends at ``SEARCH_MAX_RESULT_WINDOW`` articles (``window_ended`` and a
``notice`` say so), so the archive cannot be scraped anonymously; staff (a
bearer token or the staff session) walk the whole set."""

from __future__ import annotations

import time
from datetime import datetime

from flask import current_app, session
from werkzeug.datastructures import MultiDict

from search import cursor as cursors
from search.timeutil import NEWSROOM_TZ

from . import auth
from .params import ParamError, int_param, search_request
from .secret import configured_key


def is_staff() -> bool:
    """Does the request come from staff (a valid bearer token or a staff
    session)?  A bearer token that is not valid is an ``AuthError`` (403)."""
    if auth.bearer() is not None:
        auth.authorize()
        return True
    return bool(current_app.config["SEARCH_WRITE_TOKENS"]) and bool(session.get("staff"))


def _key() -> str:
    return configured_key(current_app.config)


def start(args, engine, config) -> cursors.Cursor:
    """A new walk of the search ``args`` describe: its snapshot pinned now."""
    params = cursors.canonical_params(args.items(multi=True))
    now = time.time()
    search_request(MultiDict(params), config, now=datetime.fromtimestamp(now, NEWSROOM_TZ), facets=())  # 400s first
    snapshot = engine.backend.open_snapshot(config["SEARCH_CURSOR_KEEP_ALIVE"])
    return cursors.Cursor(snapshot, params, now, None, 0, config["SEARCH_BACKEND"])


def resume(token: str, args, config) -> cursors.Cursor:
    """The walk ``token`` continues; the request's own search parameters,
    if any, must be the cursor's (else a 400 naming the difference)."""
    cur = cursors.decode(token, _key(), config["SEARCH_BACKEND"])
    given = cursors.canonical_params(args.items(multi=True))
    if given and given != cur.params:
        raise ParamError("the cursor belongs to another search: send it alone (with 'size' if you like) or with "
                         f"the parameters it was started with ({'&'.join(f'{k}={v}' for k, v in cur.params)})")
    return cur


def request_of(cur: cursors.Cursor, config, size: int):
    """The ``SearchRequest`` of a walk (ungrouped, no facets, no correction)."""
    import dataclasses

    req = search_request(MultiDict(cur.params), config, now=datetime.fromtimestamp(cur.now, NEWSROOM_TZ),
                         facets=())
    return dataclasses.replace(req, size=size, page=1, group=False, correct=False)


def api_page(args, engine, config) -> dict:
    """One page of a cursor walk as the API answers it (see the module)."""
    token = args.get("cursor", "")
    if "page" in args:
        raise ParamError("'page' goes without 'cursor': a cursor says where the walk stands")
    size = int_param(args, "size", 10, 1, config["SEARCH_MAX_PAGE_SIZE"])
    staff = is_staff()
    if token == cursors.START:
        cur = start(args, engine, config)
    elif not token:
        raise ParamError("'cursor' is empty: start a walk with cursor=*")
    else:
        cur = resume(token, args, config)
    window = None if staff else config["SEARCH_MAX_RESULT_WINDOW"]
    if window is not None:
        size = max(1, min(size, window - cur.walked))
    req = request_of(cur, config, size)
    t0 = time.perf_counter()
    page, hits = cursors.walk(engine, req, cur.snapshot, cur.after, size, cur.now)
    walked = cur.walked + len(hits)
    next_cursor, window_ended = None, False
    if page.after is None:  # the end: release the snapshot at once
        engine.backend.close_snapshot(cur.snapshot)
    else:
        if window is not None and walked >= window:
            window_ended = True
            engine.backend.close_snapshot(cur.snapshot)
        else:
            next_cursor = cursors.encode(cursors.Cursor(cur.snapshot, cur.params, cur.now, page.after, walked,
                                                        cur.backend), _key())
    out = {"query": req.q, "total": page.total, "total_full": page.total_full,
           "total_partial": page.total - page.total_full, "walked": walked, "size": size,
           "took_ms": round((time.perf_counter() - t0) * 1000, 2), "hits": [h.to_dict() for h in hits],
           "next_cursor": next_cursor, "window_ended": window_ended}
    if window_ended:
        out["notice"] = (f"the walk ends at the result window ({window} articles) without staff authentication; "
                         f"{page.total - walked} more match (staff: a bearer token or the staff session)")
    return out

