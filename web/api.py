"""The JSON API under /api, plus /healthz.  Thin: parameters come from
``params``, results from the engine, the shape from ``render``."""

from __future__ import annotations

import dataclasses

from flask import Blueprint, current_app, jsonify, request

from search.significant import DEFAULT_SIZE, MAX_SIZE
from search.timeline import INTERVALS

from . import auth, export, series
from .errors import json_error as error
from .openapi import spec
from .params import ParamError, choice_param, int_param, query_period, search_request
from .render import article_json

bp = Blueprint("api", __name__)

CACHE_SEARCH = "public, max-age=30"
CACHE_ARTICLE = "public, max-age=300"


def _engine():
    return current_app.extensions["search_engine"].get()


def _explain_requested(req):
    """``explain=1`` (staff only: a bearer token or the staff session; 401
    or 403 naming the parameter otherwise): ``req`` asking for each hit's
    score explained (``search.explain``); ``explain=0`` or none: ``req``."""
    if choice_param(request.args, "explain", "0", ("0", "1")) == "0":
        return req
    try:
        auth.authorize(allow_session=True)
    except auth.AuthError as exc:
        raise auth.AuthError(exc.status, f"'explain' is for staff: {exc.message}") from None
    return dataclasses.replace(req, explain=True)


@bp.get("/api/search")
def api_search():
    req = _explain_requested(search_request(request.args, current_app.config))
    result = _engine().search(req)
    if req.page == 1:
        current_app.extensions["search_engine"].record_search(req, result.total, request.remote_addr,
                                                                request.args.get("range") or None)
    resp = jsonify(result.to_dict())
    resp.headers["Cache-Control"] = "private, no-store" if req.explain else CACHE_SEARCH
    return resp


@bp.get("/api/timeline")
def api_timeline():
    """Matching articles per day, week, month or year: how coverage
    developed; with several ``q``, one series per query on the same
    buckets (``web/series.py``, ``search/comparison.py``)."""
    queries = request.args.getlist("q")
    reqs = series.requests_for(request.args, current_app.config, queries)
    interval = choice_param(request.args, "interval", "auto", ("auto", *INTERVALS))
    normalize = choice_param(request.args, "normalize", "none", ("none", "share"))
    fmt = choice_param(request.args, "format", "json", ("json", "csv"))
    # At most search.timeline.MAX_BUCKETS bars: a finer interval than that
    # allows is coarsened, and "interval" says which one was used.
    data = _engine().compare(reqs, interval, share=normalize == "share")
    if fmt == "csv":
        resp = current_app.response_class(series.to_csv(data), mimetype="text/csv")
        resp.headers["Content-Disposition"] = 'attachment; filename="timeline.csv"'
    elif len(reqs) == 1:  # the one-query answer as it always was, and its series
        only = data["series"][0]
        resp = jsonify({"query": reqs[0].q, "interval": data["interval"], "total": only["total"],
                        "undated": only["undated"], "buckets": only["buckets"], "normalize": normalize,
                        "series": data["series"]})
    else:
        resp = jsonify({"queries": [r.q for r in reqs], "interval": data["interval"], "normalize": normalize,
                        "series": data["series"]})
    resp.headers["Cache-Control"] = CACHE_SEARCH
    return resp


@bp.get("/api/significant")
def api_significant():
    """What is distinctive in the results: their significant terms
    (``search/significant.py``)."""
    req = search_request(request.args, current_app.config, facets=())
    size = int_param(request.args, "size", DEFAULT_SIZE, 1, MAX_SIZE)
    resp = jsonify(_engine().significant(req, size))
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
    """Top queries over a period, for staff; ``zero=1``: those whose words
    found nothing; ``zero=filters``: searches whose filters left nothing."""
    since, until, limit, zero = query_period(request.args)
    if zero == "filters":
        rows = [{**row, "results": 0} for row in _engine().filtered_out_queries(since, until, limit, moderated=False)]
    else:
        rows = _engine().top_queries(since, until, limit, zero_only=zero == "1", moderated=False)
    resp = jsonify({"from": since, "to": until, "zero_results_only": zero != "0",
                    "zero_cause": {"0": None, "1": "words", "filters": "filters"}[zero], "queries": rows})
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
