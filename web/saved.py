"""Saved searches in the JSON API (staff: a bearer token or the staff
session; the owner is ``auth.principal()``):

    POST   /api/saved-searches          save a search: {"name", "params" | "query_string", "shared"}
    GET    /api/saved-searches          the caller's own and the shared ones, with new_count
    GET    /api/saved-searches/<id>     one, with its latest alerts
    PATCH  /api/saved-searches/<id>     rename, share or unshare (owner only)
    DELETE /api/saved-searches/<id>     delete (owner only)

A search is given either as ``params`` (an object of query-string
parameters: ``{"q": "香港 选举", "category": ["时政"]}``) or as
``query_string`` (``"q=香港+选举&category=时政"``, the results page's URL
after ``?``).  It is read by ``web.params.search_request``, the one reading
of parameters, before it is stored: a parameter a search does not take,
or a bad value, is a 400 naming it, and nothing is stored.  Paging
(``page``, ``size``) is dropped (a saved search is the whole result set).
Ids the caller may not see answer 404, changes by someone else than the
owner 403 (``search.saved_searches``); a body that is not JSON 415.

``saved_store(app)`` opens the store once per process (``SEARCH_SAVED_SEARCHES``,
else beside the index: ``indexer.paths.default_saved_searches``; ``off``:
none, every saved-search answer is a 404 saying so).  ``guard(bp)``
registers the store's error answers (503 for a SQLite failure, 404 when
off) on each blueprint that uses it.
"""

from __future__ import annotations

import difflib
import sqlite3
from urllib.parse import parse_qsl, urlencode

from flask import Blueprint, current_app, jsonify
from flask_babel import gettext
from werkzeug.datastructures import MultiDict

from indexer import paths
from indexer.records import RecordError
from search.errors import SearchServiceError
from search.saved_searches import SavedSearch, SavedSearchError, SavedSearchStore, check_params

from . import auth
from .params import ADVANCED, FILTERS, ParamError, search_request
from .inputs import JSON_ONLY, json_body

bp = Blueprint("saved", __name__)

# The parameters a saved search keeps: what a search is, not how a page of it is shown.
SAVED_PARAMS = ("q", "sort", *FILTERS, "from", "to", "range", "correct", "group", "facets", *ADVANCED)
DROPPED = ("page", "size")  # paging: a saved search is its whole result set
CREATE_FIELDS = ("name", "params", "query_string", "shared")
PATCH_FIELDS = ("name", "shared")
ALERTS_SHOWN = 20  # latest alerts in GET /api/saved-searches/<id> (chosen: a feed's length)


class SavedSearchesUnavailable(SearchServiceError, status=503, retry_after=5):
    """The saved-search store cannot be opened, read or written now (locked,
    read-only, damaged): nothing was changed."""


def unavailable(exc: Exception):
    """The answer to a failure of the store's SQLite file (the blueprints'
    handler): 503 with Retry-After, as JSON under /api/, else the error page."""
    from .errors import handle

    current_app.logger.error("saved searches unavailable: %s", exc)
    return handle(SavedSearchesUnavailable(f"saved searches are unavailable now ({type(exc).__name__}): "
                                           "retry later"))


class SavedSearchesOff(SearchServiceError, status=404):
    """``SEARCH_SAVED_SEARCHES=off``: this service keeps no saved searches
    (their API, staff pages, feeds and webhooks answer 404 saying so)."""


def off(exc: SavedSearchesOff):
    """The answer when saved searches are off: 404, JSON under /api/, else
    the error page (in the interface language)."""
    from .errors import error_answer

    return error_answer(404, str(exc), gettext("本服务没有开启保存的搜索（及其订阅源和 webhook）。"))


def guard(blueprint: Blueprint) -> Blueprint:
    """Register the saved-search store's error answers on ``blueprint``
    (every blueprint using ``saved_store``: saved, saved_pages, feeds,
    webhooks): a SQLite failure is a 503 (``unavailable``), saved searches
    switched off a 404 (``off``).  Returns ``blueprint``."""
    blueprint.register_error_handler(sqlite3.Error, unavailable)
    blueprint.register_error_handler(SavedSearchesOff, off)
    return blueprint


def store_path(config) -> str | None:
    """The saved-search file of an app's ``config`` (``SEARCH_SAVED_SEARCHES``,
    else beside the index), None when it is ``off``."""
    path = config.get("SEARCH_SAVED_SEARCHES") or paths.default_saved_searches(
        config["SEARCH_INDEX"], config.get("SEARCH_BACKEND", "whoosh"))
    return None if path == "off" else path


def saved_store(app=None) -> SavedSearchStore:
    """The app's saved-search store, opened on first use (one per process).
    Raises SavedSearchesOff (404) when ``SEARCH_SAVED_SEARCHES`` is ``off``,
    SavedSearchesUnavailable (503) when the file cannot be opened."""
    app = app or current_app
    store = app.extensions.get("saved_searches")
    if store is None:
        path = store_path(app.config)
        if path is None:
            raise SavedSearchesOff("saved searches are off on this service (SEARCH_SAVED_SEARCHES=off): "
                                   "no saved searches, alerts, feeds of them or webhooks")
        try:
            store = app.extensions["saved_searches"] = SavedSearchStore(path)
        except (sqlite3.Error, OSError) as exc:
            raise SavedSearchesUnavailable(f"saved searches are unavailable: cannot open {path} "
                                           f"({type(exc).__name__})") from None
    return store


REPEATABLE = (*FILTERS, "facets")  # the filters (and facets) repeat (category=…&category=…); every other parameter takes one value


def read_params(params=None, query_string=None) -> dict[str, list[str]]:
    """The search to save, from ``params`` (an object of parameters) or
    ``query_string`` (exactly one of them), as the store keeps it: checked
    by the store (``check_params``: text values, size) and read by
    ``search_request`` as a search would be.  Raises ParamError (400)
    naming a parameter a saved search does not take or a bad value."""
    if (params is None) == (query_string is None):
        raise ParamError("give the search as 'params' (an object) or as 'query_string' (text), one of them")
    if query_string is not None:
        if not isinstance(query_string, str):
            raise ParamError("'query_string' must be text (the results page's URL after '?')")
        params = {}
        try:  # as every URL of the service is read: UTF-8, or a 400 (never U+FFFD in a saved query)
            pairs = parse_qsl(query_string.removeprefix("?"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise ParamError("'query_string' is not UTF-8 once its %-escapes are decoded") from None
        for key, value in pairs:
            params.setdefault(key, []).append(value)
    kept = check_params(params)
    twice = [name for name, values in kept.items() if len(values) > 1 and name not in REPEATABLE]
    if twice:  # which value was meant cannot be known (a search would read the first)
        raise ParamError(f"parameter {', '.join(repr(n) for n in twice)} given more than once: a search takes "
                         f"one value of it (only {', '.join(REPEATABLE)} repeat)")
    unknown = [name for name in params if name not in SAVED_PARAMS and name not in DROPPED]
    if unknown:
        parts = []
        for name in unknown:
            close = difflib.get_close_matches(str(name), SAVED_PARAMS, n=1, cutoff=0.6)
            parts.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise ParamError(f"a saved search does not take the parameter {', '.join(parts)}: "
                         f"it takes {', '.join(SAVED_PARAMS)}")
    if not kept:
        raise ParamError("a saved search needs a query or a filter ('q', or one of the filters)")
    search_request(MultiDict([(k, v) for k, vs in kept.items() for v in vs]), current_app.config)
    return kept


def results_url(search: SavedSearch) -> str:
    """The results page of a saved search (its parameters as a /search URL)."""
    return "/search?" + urlencode([(k, v) for k, vs in search.params.items() for v in vs])


def feed_url(search: SavedSearch) -> str:
    """The Atom feed URL of a saved search, secret token included (owner only)."""
    return f"/feeds/saved/{search.id}.atom?" + urlencode([("token", search.feed_token)])


def describe(search: SavedSearch, viewer: str, store: SavedSearchStore) -> dict:
    """A saved search as the API answers it: ``SavedSearch.to_dict``, its
    ``new_count`` (alerts since ``viewer``'s last visit), ``results_url``,
    ``mine``, and for the owner its ``feed_url``."""
    out = search.to_dict(viewer)
    out.update(mine=search.owner == viewer, new_count=store.count_new(search.id, viewer),
               results_url=results_url(search))
    if search.owner == viewer:
        out["feed_url"] = feed_url(search)
    return out


def alert_json(alert) -> dict:
    """One alert as the API answers it."""
    return {"article_id": alert.article_id, "title": alert.title, "published": alert.published, "url": alert.url,
            "matched_at": alert.matched_at, "article_url": "/articles/" + alert.article_id}


def _json_body(allowed: tuple[str, ...]) -> dict:
    """The request's JSON object (``web.writes.json_body``: 415 for another
    Content-Type or a Content-Encoding), ParamError (400) for what is not
    one JSON object or a field not in ``allowed`` (named, with the one it
    may misspell)."""
    try:
        data = json_body(JSON_ONLY)
    except RecordError as exc:
        raise ParamError(f"the body must be one JSON object: {exc}") from None
    if not isinstance(data, dict):
        raise ParamError("the body must be one JSON object")
    unknown = [name for name in data if name not in allowed]
    if unknown:
        parts = []
        for name in unknown:
            close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
            parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ParamError(f"unknown field {', '.join(parts)}: a saved search takes {', '.join(allowed)}")
    if "shared" in data and not isinstance(data["shared"], bool):
        raise ParamError("'shared' must be true or false")
    return data


guard(bp)


def _answer(body, status: int = 200):
    resp = jsonify(body)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/api/saved-searches")
@auth.required(allow_session=True)
def create():
    data = _json_body(CREATE_FIELDS)
    params = read_params(data.get("params"), data.get("query_string"))
    store, viewer = saved_store(), auth.principal()
    search = store.create(viewer, data.get("name"), params, shared=bool(data.get("shared", False)))
    resp = _answer(describe(search, viewer, store), 201)
    resp.headers["Location"] = f"/api/saved-searches/{search.id}"
    return resp


@bp.get("/api/saved-searches")
@auth.required(allow_session=True)
def listing():
    store, viewer = saved_store(), auth.principal()
    return _answer({"saved_searches": [describe(s, viewer, store) for s in store.list_for(viewer)]})


@bp.get("/api/saved-searches/<search_id>")
@auth.required(allow_session=True)
def one(search_id):
    store, viewer = saved_store(), auth.principal()
    search = store.visible(search_id, viewer)
    return _answer({**describe(search, viewer, store),
                    "alerts": [alert_json(a) for a in store.feed(search_id, ALERTS_SHOWN)]})


@bp.patch("/api/saved-searches/<search_id>")
@auth.required(allow_session=True)
def change(search_id):
    store, viewer = saved_store(), auth.principal()
    store.owned(search_id, viewer)
    data = _json_body(PATCH_FIELDS)
    if not data:
        raise ParamError(f"nothing to change: give {' or '.join(PATCH_FIELDS)}")
    if "name" in data and not isinstance(data["name"], str):
        raise SavedSearchError("'name' must be text")
    search = store.update(search_id, viewer, name=data.get("name"), shared=data.get("shared"))
    return _answer(describe(search, viewer, store))


@bp.delete("/api/saved-searches/<search_id>")
@auth.required(allow_session=True)
def delete(search_id):
    store, viewer = saved_store(), auth.principal()
    store.delete(search_id, viewer)
    return _answer({"id": search_id, "deleted": True})
