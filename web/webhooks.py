"""Webhooks of saved searches: the API that sets and clears them and the
staff page that shows their deliveries.

    GET    /api/saved-searches/<id>/webhook   the URL and the latest deliveries (owner)
    PUT    /api/saved-searches/<id>/webhook   {"url": "https://..."}: set it; answers the secret once
    DELETE /api/saved-searches/<id>/webhook   clear it
    GET    /staff/webhooks                    the caller's saved searches, their webhooks and deliveries
    POST   /staff/webhooks                    the page's form: set (url) or clear (clear=1) one

Staff only (``web/auth.py``: a bearer token, or the staff session on the
page); only a saved search's owner (``auth.principal()``) sees or changes
its webhook (``SavedSearchStore.owned``: 404 for a search the caller
cannot see, 403 for someone else's shared one).  A URL is checked by
``search.ssrf.check`` before it is stored (400 naming why it is refused);
setting a URL makes a new signing secret (``SavedSearchStore.set_webhook``),
answered once.  A failure of the saved-search file (locked, damaged) is a
503, saved searches switched off a 404 (``web.saved.guard``, as on the
other saved-search blueprints).  The deliveries themselves are made by the
writer process (``indexer.deliveries``).
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, jsonify, render_template, request
from flask_babel import gettext

from indexer.records import RecordError
from search.saved_searches import Delivery
from search.settings import SettingError
from search.ssrf import WebhookURLRefused, check, parse_allow_hosts
from search.timeutil import NEWSROOM_TZ

from . import auth
from .inputs import JSON_ONLY, json_body
from .saved import guard, saved_store

bp = guard(Blueprint("webhooks", __name__))  # the store's errors: 503 (SQLite), 404 (saved searches off)
BODY_FIELDS = ("url",)
SHOWN = 100  # deliveries listed on the page and in the API (newest first)


def install(app) -> None:
    """Register the blueprint; check ``SEARCH_WEBHOOK_ALLOW_HOSTS`` now
    (raises ``SettingError`` naming a bad entry: the worker stops at start)."""
    try:
        app.extensions["webhook_allow_hosts"] = parse_allow_hosts(app.config["SEARCH_WEBHOOK_ALLOW_HOSTS"])
    except ValueError as exc:
        raise SettingError(str(exc)) from None
    app.register_blueprint(bp)


def delivery_json(d: Delivery) -> dict:
    """A delivery as the API answers it (times: epoch seconds; ``next_attempt``
    only while pending)."""
    return {"id": d.id, "search_id": d.search_id, "status": d.status, "attempts": d.attempts,
            "created": d.created, "last_attempt": d.last_attempt, "last_error": d.last_error,
            "next_attempt": d.next_attempt if d.status == "pending" else None,
            "articles": len(d.payload.get("articles", ())) if isinstance(d.payload, dict) else 0}


def _checked_url(url) -> str:
    """``url`` when the webhook policy allows it; raises WebhookURLRefused."""
    check(url, current_app.extensions["webhook_allow_hosts"])
    return url


def _url_from_body() -> str:
    """The ``url`` of the JSON body; 415 for a body that says it is not
    JSON, 400 for anything but an object holding exactly ``url``."""
    try:
        data = json_body(JSON_ONLY)
    except RecordError as exc:
        raise WebhookURLRefused(f'the body must be one JSON object {{"url": "https://..."}}: {exc}') from None
    if not isinstance(data, dict):
        raise WebhookURLRefused('the body must be one JSON object {"url": "https://..."}')
    unknown = sorted(str(k) for k in data if k not in BODY_FIELDS)
    if unknown:
        raise WebhookURLRefused(f"unknown field(s) {', '.join(map(repr, unknown))}: the body takes only 'url'")
    if "url" not in data:
        raise WebhookURLRefused("the body needs 'url': the https URL to post alerts to")
    return data["url"]


def _no_store(resp):
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/api/saved-searches/<search_id>/webhook")
@auth.required(allow_session=True)
def get_webhook(search_id):
    found = saved_store().owned(search_id, auth.principal())
    deliveries = saved_store().deliveries([found.id], limit=SHOWN)
    return _no_store(jsonify({"id": found.id, "name": found.name, "webhook_url": found.webhook_url,
                              "deliveries": [delivery_json(d) for d in deliveries]}))


@bp.put("/api/saved-searches/<search_id>/webhook")
@auth.required(allow_session=True)
def put_webhook(search_id):
    store, viewer = saved_store(), auth.principal()
    store.owned(search_id, viewer)  # 404/403 before the body is judged
    url = _checked_url(_url_from_body())
    saved = store.set_webhook(search_id, viewer, url)
    return _no_store(jsonify({"id": saved.id, "webhook_url": saved.webhook_url,
                              "webhook_secret": saved.webhook_secret}))


@bp.delete("/api/saved-searches/<search_id>/webhook")
@auth.required(allow_session=True)
def delete_webhook(search_id):
    saved = saved_store().set_webhook(search_id, auth.principal(), None)
    return _no_store(jsonify({"id": saved.id, "webhook_url": None}))


def local_time(epoch: float | None) -> str:
    """Epoch seconds as newsroom time (``YYYY-MM-DD HH:MM:SS``), or ''."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, NEWSROOM_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _page(status: int = 200, secret: dict | None = None, problem: str | None = None):
    viewer = auth.principal()
    store = saved_store()
    own = [s for s in store.list_for(viewer) if s.owner == viewer]
    names = {s.id: s.name for s in own}
    deliveries = store.deliveries(list(names), limit=SHOWN)
    status_words = {"pending": gettext("等待重试"), "delivered": gettext("已送达"), "failed": gettext("失败")}
    html = render_template("staff_webhooks.html", q="", searches=own, names=names, deliveries=deliveries,
                           status_words=status_words, when=local_time, secret=secret, problem=problem)
    resp = current_app.make_response((html, status))
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.get("/staff/webhooks")
@auth.required(allow_session=True)
def staff_webhooks():
    """The caller's saved searches with their webhooks, and their latest
    deliveries (status, attempts, last error, next attempt)."""
    return _page()


@bp.post("/staff/webhooks")
@auth.required(allow_session=True)
def staff_set_webhook():
    """The page's form: ``search_id`` and ``url`` sets a webhook (the
    secret is shown once on the answer), ``clear=1`` clears it.  A refused
    URL answers the page again, 400, saying why."""
    store, viewer = saved_store(), auth.principal()
    search_id = request.form.get("search_id", "")
    saved = store.owned(search_id, viewer)
    if request.form.get("clear"):
        store.set_webhook(saved.id, viewer, None)
        return _page()
    try:
        url = _checked_url((request.form.get("url") or "").strip())
    except WebhookURLRefused as exc:
        return _page(400, problem=gettext("没有保存：这个网址不能用作 webhook（%(reason)s）", reason=exc.public_message))
    saved = store.set_webhook(saved.id, viewer, url)
    return _page(secret={"name": saved.name, "url": saved.webhook_url, "secret": saved.webhook_secret})
