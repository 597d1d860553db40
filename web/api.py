"""The JSON API under /api, plus /healthz.  Thin: parameters come from
``params``, results from the engine, the shape from ``render``."""

from __future__ import annotations

import dataclasses

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import ClientDisconnected

from search.backends.base import IndexCorrupt
from search.timeline import INTERVALS

from . import auth, export
from .engine import IndexUnavailable
from .inputs import wants_json
from .openapi import spec
from .params import ParamError, choice_param, int_param, query_period, search_request
from .render import article_json

bp = Blueprint("api", __name__)

CACHE_SEARCH = "public, max-age=30"
CACHE_ARTICLE = "public, max-age=300"


def _engine():
    return current_app.extensions["search_engine"].get()


def error(status: int, message: str):
    resp = jsonify({"error": message, "status": status})
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.errorhandler(ParamError)
def _bad_param(exc):
    return error(400, str(exc))


@bp.errorhandler(IndexUnavailable)
def _unavailable(exc):
    resp = error(503, f"the search index is not available: {exc}")
    resp.headers["Retry-After"] = "5"
    return resp


@bp.get("/api/search")
def api_search():
    req = search_request(request.args, current_app.config)
    result = _engine().search(req)
    if req.page == 1:
        current_app.extensions["search_engine"].record(req.q, result.total, request.remote_addr)
    resp = jsonify(result.to_dict())
    resp.headers["Cache-Control"] = CACHE_SEARCH
    return resp


@bp.get("/api/timeline")
def api_timeline():
    """Matching articles per day, month or year: how coverage developed."""
    req = search_request(request.args, current_app.config, facets=())
    interval = choice_param(request.args, "interval", "auto", ("auto", *INTERVALS))
    # At most search.timeline.MAX_BUCKETS bars: a finer interval than that
    # allows is coarsened, and "interval" says which one was used.
    data = _engine().timeline(req, interval)
    resp = jsonify({"query": req.q, **data})
    resp.headers["Cache-Control"] = CACHE_SEARCH
    return resp


@bp.get("/api/export")
@auth.required(allow_session=True)
def api_export():
    """The result set (all pages, up to ``limit`` rows) as CSV or JSON Lines."""
    req = search_request(request.args, current_app.config, facets=())
    fmt = choice_param(request.args, "format", "csv", ("csv", "jsonl"))
    limit = int_param(request.args, "limit", 1000, 1, export.MAX_ROWS)
    # Every matching article, near-duplicates included: an export is a record.
    result = _engine().search(dataclasses.replace(req, page=1, size=limit, group=False))
    body = export.to_csv(result.hits) if fmt == "csv" else export.to_jsonl(result.hits)
    resp = current_app.response_class(
        body, mimetype="text/csv" if fmt == "csv" else "application/x-ndjson")
    resp.headers["Content-Disposition"] = f'attachment; filename="search-export.{fmt}"'
    resp.headers["X-Total-Count"] = str(result.total)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/api/suggest")
def api_suggest():
    q = (request.args.get("q") or "").strip()
    if len(q) > 50:
        raise ParamError(f"'q' too long for suggestions: {len(q)} characters (at most 50)")
    size = int_param(request.args, "size", 8, 1, 20)
    resp = jsonify({"query": q, "suggestions": _engine().suggest(q, size)})
    resp.headers["Cache-Control"] = "public, max-age=60"
    return resp


@bp.get("/api/queries")
@auth.required(allow_session=True)
def api_queries():
    """Top queries (or top zero-result queries) over a period, for staff."""
    since, until, limit, zero = query_period(request.args)
    rows = _engine().top_queries(since, until, limit, zero_only=zero, moderated=False)
    resp = jsonify({"from": since, "to": until, "zero_results_only": zero, "queries": rows})
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.delete("/api/queries")
@auth.required()
def api_remove_query():
    """Take a reader's query (``q``) out of hot searches and suggestions."""
    q = (request.args.get("q") or "").strip()
    if not q:
        raise ParamError("'q' is required: the query text to remove")
    holder = current_app.extensions["search_engine"]
    if holder.query_log is None:
        return error(409, "the query log is off (SEARCH_QUERY_LOG)")
    resp = jsonify({"removed": holder.query_log.remove(q)})
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/api/articles/<path:doc_id>/related")
def api_related(doc_id):
    size = int_param(request.args, "size", 5, 1, 50)
    hits = _engine().related(doc_id, size=size)
    if hits is None:
        return error(404, f"no article with id {doc_id!r}")
    resp = jsonify({"id": doc_id, "hits": [h.to_dict() for h in hits]})
    resp.headers["Cache-Control"] = CACHE_ARTICLE
    return resp


@bp.get("/api/articles/<path:doc_id>/coverage")
def api_coverage(doc_id):
    """How the story developed: earlier and later related coverage in date
    order, and the article's near-duplicates."""
    size = int_param(request.args, "size", 10, 1, 50)
    data = _engine().coverage(doc_id, size=size)
    if data is None:
        return error(404, f"no article with id {doc_id!r}")
    resp = jsonify(data)
    resp.headers["Cache-Control"] = CACHE_ARTICLE
    return resp


@bp.get("/api/articles/<path:doc_id>")
def api_article(doc_id):
    stored = _engine().get(doc_id)
    if stored is None:
        return error(404, f"no article with id {doc_id!r}")
    resp = jsonify(article_json(stored))
    resp.headers["Cache-Control"] = CACHE_ARTICLE
    return resp


@bp.get("/api/openapi.json")
def openapi():
    resp = jsonify(spec(current_app.config))
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp


@bp.get("/healthz")
def healthz():
    """Can searches and indexing work?  See ``web/health.py``."""
    from .health import report

    status, body = report(current_app)
    resp = jsonify(body)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.app_errorhandler(404)
def _not_found(exc):
    if wants_json():
        return error(404, f"no such endpoint: {request.path}")
    from .pages import render_error

    return render_error(404, "页面不存在")


@bp.app_errorhandler(405)
def _method(exc):
    return error(405, f"method {request.method} not allowed here")


def _index_damaged(message: str):
    """503 with the reason: JSON for the API, the error page for pages."""
    if wants_json():
        resp = error(503, f"the search index is not available: {message}")
    else:
        from flask import make_response

        from .pages import render_error

        resp = make_response(render_error(503, f"搜索索引已损坏，正在等待重建，请稍后再试。（{message}）"))
    resp.headers["Retry-After"] = "30"
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.app_errorhandler(IndexCorrupt)
def _corrupt(exc):
    return _index_damaged(str(exc))


@bp.app_errorhandler(ClientDisconnected)
def _body_stopped(exc):
    """A body longer than what gunicorn's worker buffers (web/worker.py) is
    read by the app with a timeout per read; a client that stops sending
    (Werkzeug's ClientDisconnected) gets 408 in the API's or the pages'
    form, not Werkzeug's HTML 400."""
    from .worker import CLIENT_TIMEOUT

    message = f"the request body did not arrive: nothing came for {CLIENT_TIMEOUT:g} s, or the client went away"
    if wants_json():
        return error(408, message)
    from .pages import render_error

    return render_error(408, "请求内容未能及时送达。")


@bp.app_errorhandler(500)
def _internal(exc):
    # An unexpected failure may come from a damaged index (a segment
    # truncated under a running worker): then say so, with 503.
    damage = current_app.extensions["search_engine"].damage()
    if damage:
        return _index_damaged(damage)
    if wants_json():
        return error(500, "internal error")
    from .pages import render_error

    return render_error(500, "服务器内部错误")
