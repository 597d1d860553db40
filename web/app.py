"""The Flask app factory: reader pages, JSON API, health check, wired
with their security and hooks.

``create_app()`` opens nothing at import time; each worker process opens
the index once, on first use, and the engine refreshes it when the indexer
commits."""

from __future__ import annotations

import json
import logging
import secrets
import time

from flask import Flask, g, request

from . import api_params, errors, i18n, inputs, limits, metrics, proxies, same_origin, secret, staff_sessions
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
    from .saved import bp as saved_bp
    from .saved_pages import bp as saved_pages_bp
    from .feeds import bp as feeds_bp
    from . import webhooks

    # An id may contain "//" (canonical URLs): never redirect a request for
    # one article to another's URL by merging slashes (a PUT would follow).
    app.url_map.merge_slashes = False
    _install_security(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(writes_bp)
    app.register_blueprint(metrics_bp)
    webhooks.install(app)  # saved searches' webhooks: API and staff page
    app.register_blueprint(saved_bp)  # saved searches: API, staff pages, Atom feeds
    app.register_blueprint(saved_pages_bp)
    app.register_blueprint(feeds_bp)
    errors.install(app)
    i18n.install(app)
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
    sessions_path = config["SEARCH_STAFF_SESSIONS"] or staff_sessions.default_path(config)
    sessions = app.extensions["staff_sessions"] = staff_sessions.StaffSessions(
        sessions_path, config["SEARCH_STAFF_SESSION_HOURS"] * 3600)
    try:
        sessions.keep_only(config["SEARCH_WRITE_TOKENS"])  # a revoked token's sessions end for good
    except staff_sessions.SessionStoreError as exc:
        # Readers are unaffected; staff sessions are still checked against the tokens per request.
        logging.getLogger(__name__).warning("could not end revoked staff sessions: %s", exc)
    app.session_interface = staff_sessions.SessionInterface()


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
        api_params.check()
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
