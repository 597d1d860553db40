"""The one error handler: every error the app answers, in one place.

``install(app)`` registers ``handle`` for the project's exception base
(``search.errors.SearchServiceError``: its ``status``, ``retry_after`` and
``public_message``), for Flask's HTTP errors 404, 405, 413 and 500 and for
Werkzeug's ``ClientDisconnected`` (408).  The answer's form follows the
path (``inputs.is_json_path``): the API's JSON ``{"error", "status"}`` for
``/api/``, ``/healthz`` and ``/metrics``, the HTML error page elsewhere
(405 and 413 answer the API's JSON on every path, as they always have).
Every error answer is ``Cache-Control: no-store`` and carries
``Retry-After`` when the error has one.

The wording a reader sees on a page (the interface language, gettext:
``web/i18n.py``) differs from the API's (English, for developers); ``PAGE_WORDING`` and ``JSON_WORDING`` hold the
exceptions to "the exception's own message", keyed by class (the most
specific class listed in the exception's MRO wins).  An error whose status
is 500 (no declared status: a failure of the service) is re-raised, so
Flask logs it and answers it through the 500 branch, which first checks
whether the index is damaged (then 503, ``Retry-After: 30``).
"""

from __future__ import annotations

from flask import current_app, jsonify, make_response, render_template, request
from flask_babel import gettext, lazy_gettext
from werkzeug.exceptions import ClientDisconnected, HTTPException

from search.backends.base import IndexCorrupt
from search.errors import SearchServiceError
from search.plan import QueryTimeout, UnsupportedQuery

from .auth import AuthError
from .engine import IndexUnavailable
from .inputs import is_json_path, query_url
from .limits import RateLimited
from .params import ParamError
from .same_origin import CrossOrigin
from .secret import SecretKeyError
from .staff_sessions import SessionStoreError

DAMAGED_RETRY_AFTER = IndexCorrupt.retry_after  # seconds (chosen, not measured: a rebuild takes longer)

# Page wording per class ("{exc}": the exception's public message).
PAGE_WORDING: dict[type, str] = {
    ParamError: lazy_gettext("请求参数有误：{exc}"),
    IndexUnavailable: lazy_gettext("搜索服务暂时不可用，请稍后再试。"),
    UnsupportedQuery: lazy_gettext("不支持的查询：{exc}"),
    QueryTimeout: lazy_gettext("查询耗时过长，已停止：请增加关键词或缩小时间范围。"),
    CrossOrigin: lazy_gettext("请求被拒绝：表单必须从本站提交。（{exc}）"),
    RateLimited: lazy_gettext("请求太频繁，请稍后再试。"),
    SessionStoreError: lazy_gettext("编辑登录暂时不可用，请稍后再试。"),
    SecretKeyError: lazy_gettext("编辑登录暂时不可用，请稍后再试。"),
    IndexCorrupt: lazy_gettext("搜索索引已损坏，正在等待重建，请稍后再试。（{exc}）"),
}
# API wording per class, where it is not the exception's own message.
JSON_WORDING: dict[type, str] = {
    IndexUnavailable: "the search index is not available: {exc}",
    IndexCorrupt: "the search index is not available: {exc}",
    QueryTimeout: ("the query took longer than {timeout:g} s and was stopped: "
                   "add words or a date range to narrow it"),
    SessionStoreError: "staff login is unavailable for now: retry later",
    SecretKeyError: "staff login is unavailable for now: retry later",
}
# Errors whose cause is logged (the client sees only that it failed).
LOGGED = (SessionStoreError, SecretKeyError)


def json_error(status: int, message: str, retry_after: int | None = None):
    """The API's error answer: JSON ``{"error": message, "status": status}``
    with that status, ``Cache-Control: no-store`` and, when given,
    ``Retry-After`` (seconds)."""
    resp = jsonify({"error": message, "status": status})
    resp.status_code = status
    return _finish(resp, retry_after)


def page_error(status: int, message: str, retry_after: int | None = None):
    """The HTML error page (``error.html``) saying ``message``, with that
    status, ``Cache-Control: no-store`` and, when given, ``Retry-After``."""
    html = render_template("error.html", status=status, message=message, q=request.args.get("q", ""))
    return _finish(make_response(html, status), retry_after)


def error_answer(status: int, json_message: str, page_message: str, retry_after: int | None = None):
    """``json_error`` for a JSON path (``inputs.is_json_path``), else ``page_error``."""
    if is_json_path(request.path):
        return json_error(status, json_message, retry_after)
    return page_error(status, page_message, retry_after)


def _finish(resp, retry_after: int | None):
    resp.headers["Cache-Control"] = "no-store"
    if retry_after is not None:
        resp.headers["Retry-After"] = str(retry_after)
    return resp


def _wording(table: dict[type, str], exc: BaseException) -> str | None:
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return None


def _service_error(exc: SearchServiceError):
    if exc.status == 500:
        raise exc  # a failure of the service: Flask logs it and answers 500 (``_internal``)
    if isinstance(exc, LOGGED):
        current_app.logger.error("staff login unavailable: %s", exc)
    message = exc.public_message
    if isinstance(exc, AuthError):
        resp = _auth_answer(exc)
    else:
        json_message = (_wording(JSON_WORDING, exc) or "{exc}").format(
            exc=message, timeout=current_app.config["SEARCH_QUERY_TIMEOUT"])
        page_message = (_wording(PAGE_WORDING, exc) or "{exc}").format(exc=message)
        resp = error_answer(exc.status, json_message, page_message, exc.retry_after)
    return resp


def _auth_answer(exc: AuthError):
    """JSON for the API; for pages, the staff login form with the message."""
    if is_json_path(request.path):
        resp = json_error(exc.status, exc.public_message)
    else:
        html = render_template("staff_login.html", q="", message=_auth_page_wording(exc),
                               next=query_url(request.path, request.args.items(multi=True)))
        resp = _finish(make_response(html, exc.status), None)
    if exc.status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="news-search"'
    return resp


def _auth_page_wording(exc: AuthError) -> str:
    """What the staff login form says, in the interface language: staff
    tools switched off (no token configured), sign in first (401), or the
    token sent is not valid (403)."""
    if not current_app.config["SEARCH_WRITE_TOKENS"]:
        return gettext("编辑工具没有开启：服务没有配置编辑令牌。")
    if exc.status == 401:
        return gettext("这个页面只对编辑部开放，请先登录。")
    return gettext("令牌无效。")


def _internal():
    # An unexpected failure may come from a damaged index (a segment
    # truncated under a running worker): then say so, with 503.
    damage = current_app.extensions["search_engine"].damage()
    if damage:
        return error_answer(503, JSON_WORDING[IndexCorrupt].format(exc=damage),
                            PAGE_WORDING[IndexCorrupt].format(exc=damage), DAMAGED_RETRY_AFTER)
    return error_answer(500, "internal error", gettext("服务器内部错误。"))


def handle(exc: BaseException):
    """Answer ``exc`` (a ``SearchServiceError`` or one of the HTTP errors
    ``install`` registers) as described in the module docstring.
    Re-raises a ``SearchServiceError`` of status 500 (Flask's 500 path)."""
    if isinstance(exc, SearchServiceError):
        return _service_error(exc)
    if isinstance(exc, ClientDisconnected):
        # A body longer than what gunicorn's worker buffers (web/worker.py) is
        # read by the app with a timeout per read; a client that stops sending
        # gets 408 in the API's or the pages' form, not Werkzeug's HTML 400.
        timeout = current_app.config["SEARCH_CLIENT_TIMEOUT"]
        return error_answer(408, f"the request body did not arrive: nothing came for {timeout:g} s, "
                                 "or the client went away", gettext("请求内容未能及时送达。"))
    code = exc.code if isinstance(exc, HTTPException) else 500
    if code == 404:
        return error_answer(404, f"no such endpoint: {request.path}", gettext("页面不存在。"))
    if code == 405:
        return json_error(405, f"method {request.method} not allowed here")
    if code == 413:
        return json_error(413, f"request body too large (at most {current_app.config['MAX_CONTENT_LENGTH']} bytes)")
    return _internal()


def install(app) -> None:
    """Register ``handle`` on ``app`` for every error it answers."""
    for key in (SearchServiceError, ClientDisconnected, 404, 405, 413, 500):
        app.register_error_handler(key, handle)
