"""The write API: articles in from the newsroom's CMS.

    PUT    /api/articles/<id>      create or replace (JSON object)
    DELETE /api/articles/<id>      withdraw
    POST   /api/articles:bulk      JSON Lines body, one article per line
    POST   /api/pages              a saved article page (HTML), read like ``indexer build page.html``
    GET    /api/changes/<seq>      has this change reached the index?
    GET    /api/audit              the audit log of withdrawals and replacements (staff)

Every write needs a bearer token (auth.py).  A write is durable once it is
acknowledged: it is committed to the article store before the answer.  The
answer waits up to ``SEARCH_WRITE_WAIT`` seconds for the single index
writer to commit it (200/201, ``"status": "indexed"``); past that it is 202
with a status URL to poll.  Validation errors list every bad field; in a
bulk upload bad lines are reported by line number and the rest is stored
(lines end at ``\n`` only; one line that is not UTF-8, not JSON, nested too
deep or holding a lone surrogate costs only itself).  Ids follow the id
rule (``indexer/ids.py``): anything else is a 400 naming the rule.  A store
that cannot commit answers 503 with ``Retry-After``, never 500.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, jsonify, request

from indexer import ids
from indexer.article_store import ArticleStore
from indexer.html_pages import page_record
from indexer.records import FIELDS, RecordError, parse_json, to_article

from . import auth
from .api import _engine, error
from .engine import article_store
from .inputs import JSON_TYPES, request_bytes

bp = Blueprint("writes", __name__)
MAX_SEQ = 2**63 - 1  # change and audit numbers are SQLite integers


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
    problems = []  # a misspelt field is one of to_article's problems (records.misspelt_fields)
    if doc_id is not None:
        if "id" in record and record["id"] != doc_id:
            problems.append(f"'id' in the body ({record['id']!r}) differs from the URL ({doc_id!r})")
        record["id"] = doc_id
    try:
        record["id"] = to_article(record).id  # a JSON number id is stored as its string
    except RecordError as exc:
        problems.extend(str(exc).split("; "))
    return (None if problems else record), problems


def ignored_fields(record: dict) -> list[str]:
    """The fields of ``record`` an article does not take (a CMS's own
    metadata), named in the answer: accepted, not stored."""
    return sorted((str(k) for k in set(record) - FIELDS), key=str)


def _index_damage() -> str | None:
    """Why the index cannot be read now (a damaged segment), or None: a
    change the writer applied to a damaged index is stored, not readable."""
    return current_app.extensions["search_engine"].damage()


def _answer(seq: int, payload: dict, created: bool = False):
    """200/201 "indexed" once the change is in the index and readable there;
    else 202 "queued" with a status URL (and the ``problem`` when the index
    is damaged: the change is safe in the store and comes back with the
    rebuild)."""
    store = _store()
    applied = store.wait_applied(seq, current_app.config["SEARCH_WRITE_WAIT"])
    damage = _index_damage() if applied else None
    if applied and damage is None:
        resp = jsonify({**payload, "seq": seq, "status": "indexed"})
        resp.status_code = 201 if created else 200
    else:
        extra = {"problem": f"stored, but the index cannot be read: {damage}"} if damage else {}
        resp = jsonify({**payload, "seq": seq, "status": "queued", "status_url": f"/api/changes/{seq}", **extra})
        resp.status_code = 202
        resp.headers["Location"] = f"/api/changes/{seq}"
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.before_app_request
def _leading_slash():
    """An id starting with "/" cannot travel in the path converter
    (``/api/articles//x``): answer what the id rule says, not a 404."""
    path = request.path
    if request.method in ("PUT", "DELETE") and path.startswith("/api/articles//"):
        auth.authorize()
        doc_id = path[len("/api/articles/"):]
        return error(400, f"invalid id {doc_id!r}: {ids.problem(doc_id)} ({ids.RULE})")
    return None


def _body() -> bytes:
    """The body of an article write: JSON for /api/articles, HTML for /api/pages."""
    return request_bytes(JSON_TYPES if request.path.startswith("/api/articles") else None)


@bp.put("/api/articles/<path:doc_id>")
@auth.required()
def put_article(doc_id):
    why = ids.problem(doc_id)
    if why:
        return error(400, f"invalid id {doc_id!r}: {why} ({ids.RULE})")
    try:
        data = parse_json(_body())
    except RecordError as exc:
        return error(400, f"the body must be one JSON object (an article): {exc}")
    record, problems = _validate(data, doc_id)
    if problems:
        resp = jsonify({"error": "invalid article: " + "; ".join(problems), "status": 400, "errors": problems})
        resp.status_code = 400
        return resp
    store = _store()
    created = store.get(doc_id) is None
    seq = store.put([record], principal=auth.principal())
    ignored = ignored_fields(record)
    return _answer(seq, {"id": doc_id, **({"ignored_fields": ignored} if ignored else {})}, created=created)


@bp.delete("/api/articles/<path:doc_id>")
@auth.required()
def delete_article(doc_id):
    """Withdraw an article.  An id breaking the id rule is a 400, unless an
    article stored or indexed under exactly that id exists (one written
    before the rule): it can be withdrawn."""
    store = _store()
    if store.get(doc_id) is None and not _indexed(doc_id):
        why = ids.problem(doc_id)
        if why:
            return error(400, f"invalid id {doc_id!r}: {why} ({ids.RULE})")
        return error(404, f"no article with id {doc_id!r}")
    seq = store.delete([doc_id], principal=auth.principal())
    return _answer(seq, {"id": doc_id, "deleted": True})


def _indexed(doc_id: str) -> bool:
    try:
        return _engine().get(doc_id) is not None
    except Exception:  # noqa: BLE001 - no index: only the store counts
        return False


@bp.post("/api/articles:bulk")
@auth.required()
def bulk():
    body = _body()
    records, rejected = [], []
    # JSON Lines: lines end at "\n" only (U+2028, U+2029, U+0085 and a lone
    # "\r" may be inside a line), so line numbers are the client's.
    for n, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            data = parse_json(line)
        except RecordError as exc:
            rejected.append({"line": n, "errors": [str(exc)]})
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
    seq = _store().put(records, principal=auth.principal())
    ignored = sorted({name for r in records for name in ignored_fields(r)})
    return _answer(seq, {"accepted": len(records), "rejected": rejected,
                         **({"ignored_fields": ignored} if ignored else {})})


HTML_TYPES = ("text/html", "application/xhtml+xml")


@bp.post("/api/pages")
@auth.required()
def post_page():
    """A saved article page (the body: its HTML, ``Content-Type: text/html``)
    -> an article, through the same extraction as ``indexer build page.html``
    (``indexer.html_pages.page_record``) and the same store -> writer path
    as ``PUT /api/articles/<id>``, answered like it (201/200 "indexed", 202
    "queued"; ``{"id", "seq", "status"}``).  The id is the canonical URL
    without its scheme: the ``url`` query parameter, else the page's
    ``<link rel="canonical">`` / ``og:url``, normalised by
    ``indexer.html_pages.page_url`` (a relative canonical link resolved
    against ``url`` / ``og:url``, scheme and host lower-cased, percent-encoded
    UTF-8 decoded).  400 when the page has no article (no title or text),
    names no absolute URL (only a relative one and nothing to resolve it
    against: the message asks for ``url``), or the id breaks the id rule;
    413 above ``SEARCH_MAX_BODY_BYTES``; 415 for another content type."""
    if request.mimetype not in HTML_TYPES:
        return error(415, f"the body must be an HTML page (Content-Type text/html), not {request.mimetype or 'none'!r}")
    url = request.args.get("url")
    if url is not None and not _http_url(url):
        return error(400, f"'url' must be an absolute http(s) URL, not {url!r}")
    record, problem = page_record(_body(), "", url=url)
    if record is None:
        return error(400, f"no article in the page: {problem}")
    if not record.get("url"):
        return error(400, "the page names no absolute canonical URL (<link rel=\"canonical\"> or og:url; a relative "
                          "one such as '/news/1.html' needs the page's address): pass the page's URL as the 'url' "
                          "query parameter")
    record, problems = _validate(record)
    if problems:
        resp = jsonify({"error": "invalid article: " + "; ".join(problems), "status": 400, "errors": problems})
        resp.status_code = 400
        return resp
    store = _store()
    created = store.get(record["id"]) is None
    seq = store.put([record], principal=auth.principal())
    return _answer(seq, {"id": record["id"]}, created=created)


def _http_url(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in url)


@bp.get("/api/changes/<int:seq>")
@auth.required()
def change_status(seq):
    store = _store()
    if seq < 1 or seq > store.last_seq():
        return error(404, f"no change {seq}")
    applied = store.applied() >= seq
    damage = _index_damage() if applied else None
    body = {"seq": seq, "status": "indexed" if applied and damage is None else "queued",
            "backlog": store.backlog()}
    if damage:
        body["problem"] = f"stored, but the index cannot be read: {damage}"
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/api/audit")
@auth.required(allow_session=True)
def audit_log():
    """Staff: the audit log, oldest first.  ``id=`` one article's entries;
    ``after=`` a seq (to page); ``limit=`` 1 to 1000 (default 100) ->
    ``{"entries": [{"seq", "at" (ISO 8601, UTC), "principal", "action", "id", "detail"}], "next_after"}``."""
    store = article_store(current_app, existing_only=True)
    try:
        after = int(request.args.get("after", "0"))
        limit = int(request.args.get("limit", "100"))
    except ValueError:
        return error(400, "'after' and 'limit' must be whole numbers")
    if not 1 <= limit <= 1000 or not 0 <= after <= MAX_SEQ:
        return error(400, f"'limit' must be 1 to 1000 and 'after' 0 to {MAX_SEQ}")
    entries = [] if store is None else store.audit_entries(request.args.get("id"), after, limit)
    for e in entries:
        e["at"] = dt.datetime.fromtimestamp(e["at"], dt.timezone.utc).isoformat(timespec="milliseconds")
    resp = jsonify({"entries": entries, "next_after": entries[-1]["seq"] if entries else after})
    resp.headers["Cache-Control"] = "no-store"
    return resp
