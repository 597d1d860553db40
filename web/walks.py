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
bearer token or the staff session) walk the whole set.

Only staff walks hold a snapshot (a Whoosh lease, an OpenSearch point in
time: both a bounded resource, ``MAX_LIVE`` leases, the cluster's
``search.max_open_pit_context``).  An anonymous walk holds none: it pages
through the live index from an offset signed into its cursor (the window
is small), so no number of anonymous walks can make staff cursors and
exports wait; articles written during an anonymous walk may shift it by
as many.  The cursor says which kind it is: a staff walk's cursor without
staff authentication is a 403, its snapshot untouched.  Each cursor
carries the fingerprint of the plan its walk ranks by: when the plan
changes between pages (synonyms reloaded, the pinyin lexicon built, new
words) the walk answers 409 instead of repeating or skipping articles."""

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


def start(args, engine, config, staff: bool) -> cursors.Cursor:
    """A new walk of the search ``args`` describe: a staff walk's snapshot
    pinned now; an anonymous walk holds none (it reads the live index)."""
    if args.get("mode") not in (None, "", "lexical"):
        raise ParamError(f"mode={args.get('mode')} cannot be walked with a cursor: a walk lists the matches of "
                         "the words (lexical) only; page through hybrid or semantic results with 'page'")
    params = cursors.canonical_params(args.items(multi=True))
    now = time.time()
    search_request(MultiDict(params), config, now=datetime.fromtimestamp(now, NEWSROOM_TZ), facets=())  # 400s first
    snapshot = engine.backend.open_snapshot(config["SEARCH_CURSOR_KEEP_ALIVE"]) if staff else ""
    return cursors.Cursor(snapshot, params, now, None, 0, config["SEARCH_BACKEND"], staff=staff)


def resume(token: str, args, config, staff: bool) -> cursors.Cursor:
    """The walk ``token`` continues; the request's own search parameters,
    if any, must be the cursor's (else a 400 naming the difference).  A
    staff walk's cursor without staff authentication is an ``AuthError``
    (403)."""
    cur = cursors.decode(token, _key(), config["SEARCH_BACKEND"], max_age=config["SEARCH_CURSOR_KEEP_ALIVE"])
    if cur.staff and not staff:
        raise auth.AuthError(403, "this cursor belongs to a staff walk: continue it with staff authentication "
                                  "(a bearer token or the staff session)")
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
        cur = start(args, engine, config, staff)
    elif not token:
        raise ParamError("'cursor' is empty: start a walk with cursor=*")
    else:
        cur = resume(token, args, config, staff)
    window = None if cur.staff else config["SEARCH_MAX_RESULT_WINDOW"]  # the walk's kind, fixed at its start
    if window is not None:
        size = max(1, min(size, window - cur.walked))
    req = request_of(cur, config, size)
    t0 = time.perf_counter()
    try:
        page, hits, plan_id = cursors.walk_page(engine, req, cur.snapshot, cur.after, size, cur.now,
                                                plan_id=cur.plan)
    except cursors.CursorStale:
        if cur.snapshot:
            engine.backend.close_snapshot(cur.snapshot)  # the walk cannot go on
        raise
    walked = cur.walked + len(hits)
    next_cursor, window_ended = None, False
    if page.after is None:  # the end: release the snapshot at once
        if cur.snapshot:
            engine.backend.close_snapshot(cur.snapshot)
    elif window is not None and walked >= window:
        window_ended = True  # an anonymous walk: it holds no snapshot
    else:
        next_cursor = cursors.encode(cursors.Cursor(cur.snapshot, cur.params, cur.now, page.after, walked,
                                                    cur.backend, cur.staff, plan_id), _key())
    out = {"query": req.q, "total": page.total, "total_full": page.total_full,
           "total_partial": page.total - page.total_full, "walked": walked, "size": size,
           "took_ms": round((time.perf_counter() - t0) * 1000, 2), "hits": [h.to_dict() for h in hits],
           "next_cursor": next_cursor, "window_ended": window_ended}
    if window_ended:
        out["notice"] = (f"the walk ends at the result window ({window} articles) without staff authentication; "
                         f"{page.total - walked} more match (staff: a bearer token or the staff session)")
    return out

