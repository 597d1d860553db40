"""The write API: articles in from the newsroom's CMS.

    PUT    /api/articles/<id>      create or replace (JSON object)
    DELETE /api/articles/<id>      withdraw
    POST   /api/articles:bulk      JSON Lines body, one article per line
    GET    /api/changes/<seq>      has this change reached the index?

Every write needs a bearer token (auth.py).  A write is durable once it is
acknowledged: it is committed to the article store before the answer.  The
answer waits up to ``SEARCH_WRITE_WAIT`` seconds for the single index
writer to commit it (200/201, ``"status": "indexed"``); past that it is 202
with a status URL to poll.  Validation errors list every bad field; in a
bulk upload bad lines are reported by line number and the rest is stored.
"""

from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify, request

from indexer.article_store import ArticleStore
from indexer.records import RecordError, to_article

from . import auth
from .api import _engine, error
from .engine import article_store

bp = Blueprint("writes", __name__)


def _store() -> ArticleStore:
    store = article_store(current_app)
    if store is None:
        raise auth.AuthError(403, "the write API is disabled (SEARCH_ARTICLE_STORE=off)")
    return store


def _validate(data, doc_id: str | None = None) -> tuple[dict | None, list[str]]:
    """(record, problems): every problem of the record, not just the first."""
    if not isinstance(data, dict):
        return None, ["the body must be a JSON object (an article)"]
    record = dict(data)
    problems = []
    if doc_id is not None:
        if "id" in record and record["id"] != doc_id:
            problems.append(f"'id' in the body ({record['id']!r}) differs from the URL ({doc_id!r})")
        record["id"] = doc_id
    try:
        to_article(record)
    except RecordError as exc:
        problems.extend(str(exc).split("; "))
    return (None if problems else record), problems


def _answer(seq: int, payload: dict, created: bool = False):
    store = _store()
    if store.wait_applied(seq, current_app.config["SEARCH_WRITE_WAIT"]):
        resp = jsonify({**payload, "seq": seq, "status": "indexed"})
        resp.status_code = 201 if created else 200
    else:
        resp = jsonify({**payload, "seq": seq, "status": "queued", "status_url": f"/api/changes/{seq}"})
        resp.status_code = 202
        resp.headers["Location"] = f"/api/changes/{seq}"
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.put("/api/articles/<path:doc_id>")
@auth.required()
def put_article(doc_id):
    data = request.get_json(silent=True)
    if data is None:
        return error(400, "the body must be JSON (Content-Type: application/json)")
    record, problems = _validate(data, doc_id)
    if problems:
        resp = jsonify({"error": "invalid article: " + "; ".join(problems), "status": 400, "errors": problems})
        resp.status_code = 400
        return resp
    store = _store()
    created = store.get(doc_id) is None
    seq = store.put([record])
    return _answer(seq, {"id": doc_id}, created=created)


@bp.delete("/api/articles/<path:doc_id>")
@auth.required()
def delete_article(doc_id):
    store = _store()
    if store.get(doc_id) is None:
        try:
            indexed = _engine().get(doc_id) is not None
        except Exception:  # noqa: BLE001 - no index: only the store counts
            indexed = False
        if not indexed:
            return error(404, f"no article with id {doc_id!r}")
    seq = store.delete([doc_id])
    return _answer(seq, {"id": doc_id, "deleted": True})


@bp.post("/api/articles:bulk")
@auth.required()
def bulk():
    text = request.get_data(as_text=True)
    records, rejected = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            rejected.append({"line": n, "errors": [f"not JSON: {exc}"]})
            continue
        record, problems = _validate(data)
        if problems:
            rejected.append({"line": n, "id": data.get("id") if isinstance(data, dict) else None,
                             "errors": problems})
        else:
            records.append(record)
    if not records:
        resp = jsonify({"error": "no valid article in the body", "status": 400, "rejected": rejected})
        resp.status_code = 400
        return resp
    seq = _store().put(records)
    return _answer(seq, {"accepted": len(records), "rejected": rejected})


@bp.get("/api/changes/<int:seq>")
@auth.required()
def change_status(seq):
    store = _store()
    if seq < 1 or seq > store.last_seq():
        return error(404, f"no change {seq}")
    resp = jsonify({"seq": seq, "status": "indexed" if store.applied() >= seq else "queued",
                    "backlog": store.backlog()})
    resp.headers["Cache-Control"] = "no-store"
    return resp
