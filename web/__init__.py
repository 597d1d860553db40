"""The Flask web app: reader pages, JSON API, health check.

``create_app()`` opens nothing at import time; each worker process opens
the index once, on first use, and the engine refreshes it when the indexer
commits."""

from __future__ import annotations

import json
import logging
import os
import secrets
import time

from flask import Flask, g, request

from search.plan import QueryTimeout, UnsupportedQuery

from . import auth, inputs, limits, metrics, proxies, same_origin, secret, staff_sessions
from . import config as config_module
from .engine import EngineHolder

log = logging.getLogger("web.access")


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    # Staff session cookie: never sent cross-site, never readable by scripts.
    app.config.update(SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_HTTPONLY=True)
    app.config.update(config_module.from_env())
    if test_config:
        app.config.update(test_config)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    from .engine import article_store

    app.extensions["search_engine"] = EngineHolder(app.config, store=lambda: article_store(app, existing_only=True))

    from .api import bp as api_bp
    from .metrics import bp as metrics_bp
    from .pages import bp as pages_bp
    from .writes import bp as writes_bp

    # An id may contain "//" (canonical URLs): never redirect a request for
    # one article to another's URL by merging slashes (a PUT would follow).
    app.url_map.merge_slashes = False
    _install_security(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(writes_bp)
    app.register_blueprint(metrics_bp)
    app.register_error_handler(auth.AuthError, _auth_error)
    app.register_error_handler(limits.RateLimited, _rate_limited)
    app.register_error_handler(same_origin.CrossOrigin, _cross_origin)
    app.register_error_handler(staff_sessions.SessionStoreError, _session_store_error)
    app.register_error_handler(secret.SecretKeyError, _session_store_error)
    app.register_error_handler(413, _too_large)
    app.register_error_handler(QueryTimeout, _query_timeout)
    app.register_error_handler(UnsupportedQuery, _unsupported)
    _install_hooks(app)
    return app


def _install_security(app: Flask) -> None:
    """Trusted proxies, rate-limit storage, the cookie key and staff sessions.

    Raises ValueError (or secret.SecretKeyError for a SEARCH_SECRET_KEY
    too short) naming a setting that cannot be used, so a misconfigured
    worker stops at start."""
    config = app.config
    for name in ("SEARCH_RATE_LIMIT", "SEARCH_LOGIN_RATE_LIMIT"):
        limits.validate_spec(name, config[name])
    app.extensions["rate_limiter"] = limits.Limiter(config["SEARCH_RATE_LIMIT_STORAGE"])
    networks = config["SEARCH_TRUSTED_PROXIES"]
    if isinstance(networks, str):
        networks = proxies.parse_networks(networks)
    app.wsgi_app = proxies.TrustedProxies(inputs.RawPath(app.wsgi_app), networks)
    # Staff can sign in only with tokens configured; only then is a lasting
    # key needed (without, nothing is signed: a throwaway key).  A configured
    # key is checked now; a key file is read or made on first staff use.
    if not config["SEARCH_WRITE_TOKENS"]:
        app.secret_key = secrets.token_hex(32)
    elif config["SEARCH_SECRET_KEY"]:
        app.secret_key = secret.configured_key(config)
    sessions_path = config["SEARCH_STAFF_SESSIONS"] or os.path.join(
        os.path.dirname(os.path.abspath(config["SEARCH_SECRET_KEY_FILE"] or secret.default_key_file(config))),
        "staff_sessions.sqlite")
    sessions = app.extensions["staff_sessions"] = staff_sessions.StaffSessions(
        sessions_path, config["SEARCH_STAFF_SESSION_HOURS"] * 3600)
    try:
        sessions.keep_only(config["SEARCH_WRITE_TOKENS"])  # a revoked token's sessions end for good
    except staff_sessions.SessionStoreError as exc:
        # Readers are unaffected; staff sessions are still checked against the tokens per request.
        logging.getLogger(__name__).warning("could not end revoked staff sessions: %s", exc)
    app.session_interface = staff_sessions.SessionInterface()


def _cross_origin(exc: "same_origin.CrossOrigin"):
    if inputs.wants_json():
        from .api import error

        return error(403, str(exc))
    from flask import make_response

    from .pages import render_error

    return make_response(render_error(403, f"请求被拒绝：表单必须从本站提交。（{exc}）"))


def _session_store_error(exc):
    """Staff sessions cannot be kept (key or session file): 503, logged."""
    from flask import current_app

    from .pages import render_error

    current_app.logger.error("staff login unavailable: %s", exc)
    resp = app_response(*render_error(503, "编辑登录暂时不可用，请稍后再试。"))
    resp.headers["Retry-After"] = "5"
    return resp


def _auth_error(exc: "auth.AuthError"):
    """JSON for the API; for pages, the staff login form."""
    if inputs.wants_json():
        from .api import error

        resp = error(exc.status, exc.message)
    else:
        from flask import render_template

        resp = app_response(render_template("staff_login.html", q="", message=exc.message,
                                            next=inputs.query_url(request.path, request.args.items(multi=True))),
                           exc.status)
    if exc.status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="news-search"'
    return resp


def _rate_limited(exc: "limits.RateLimited"):
    if inputs.wants_json():
        from .api import error

        resp = error(429, str(exc))
    else:
        from flask import make_response

        from .pages import render_error

        resp = make_response(render_error(429, "请求太频繁，请稍后再试。"))
    resp.headers["Retry-After"] = str(exc.retry_after)
    return resp


def _query_timeout(exc):
    from flask import current_app

    message = (f"the query took longer than {current_app.config['SEARCH_QUERY_TIMEOUT']:g} s and was stopped: "
               "add words or a date range to narrow it")
    if inputs.wants_json():
        from .api import error

        return error(503, message)
    from .pages import render_error

    return render_error(503, "查询耗时过长，已停止：请增加关键词或缩小时间范围。")


def _unsupported(exc):
    if inputs.wants_json():
        from .api import error

        return error(400, str(exc))
    from flask import make_response

    from .pages import render_error

    return make_response(render_error(400, f"不支持的查询：{exc}"))


def _too_large(exc):
    from flask import current_app

    from .api import error

    return error(413, f"request body too large (at most {current_app.config['MAX_CONTENT_LENGTH']} bytes)")


def app_response(html: str, status: int):
    from flask import make_response

    resp = make_response(html, status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _install_hooks(app: Flask) -> None:
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False

    @app.before_request
    def _start_timer():
        g.t0 = time.perf_counter()
        bad_input = inputs.check_path() or inputs.check_query_string()  # before anything reads request.args
        if bad_input is not None:
            return bad_input
        staff_sessions.validate()
        limits.check()
        same_origin.check()

    @app.after_request
    def _headers_and_log(resp):
        if request.path.startswith("/api/") or request.path == "/healthz":
            origins = app.config["SEARCH_CORS_ORIGINS"]
            origin = request.headers.get("Origin")
            if request.method == "GET" and origin and ("*" in origins or origin in origins):
                resp.headers["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
                resp.headers["Vary"] = "Origin"
        else:
            resp.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            )
            resp.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        metrics.observe(resp)
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "method": request.method,
            "path": request.path,
            "status": resp.status_code,
            "ms": round((time.perf_counter() - g.get("t0", time.perf_counter())) * 1000, 1),
        }
        if request.args.get("q"):
            entry["q"] = request.args.get("q")[:200]
        if app.config["SEARCH_LOG_CLIENT_IP"]:
            entry["ip"] = request.remote_addr
        log.info(json.dumps(entry, ensure_ascii=False))
        return resp
