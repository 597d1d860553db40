"""Configuration from environment variables (documented in README.md)."""

from __future__ import annotations

import os

from indexer import paths
from search.engine import DEFAULT_BLOCKLIST, DEFAULT_SYNONYMS

from .auth import parse_digests


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def from_env(environ=os.environ) -> dict:
    index = environ.get("SEARCH_INDEX", "data/index")
    backend = environ.get("SEARCH_BACKEND", "whoosh")
    return {
        "SEARCH_INDEX": index,
        # Where the index lives: "whoosh" (SEARCH_INDEX is a directory) or "opensearch"
        # (SEARCH_INDEX is the index or alias name on the cluster at OPENSEARCH_URL).
        "SEARCH_BACKEND": environ.get("SEARCH_BACKEND", "whoosh"),
        "OPENSEARCH_URL": environ.get("OPENSEARCH_URL") or None,
        "SEARCH_USERDICT": environ.get("SEARCH_USERDICT") or None,
        # Query-time synonym groups (re-read when the file changes).
        "SEARCH_SYNONYMS": environ.get("SEARCH_SYNONYMS") or DEFAULT_SYNONYMS,
        # Terms kept out of suggestions and hot searches (re-read when the file changes).
        "SEARCH_BLOCKLIST": environ.get("SEARCH_BLOCKLIST") or DEFAULT_BLOCKLIST,
        # Where readers' queries are logged (text, time, result count; no IPs); "off" disables.
        # Default: beside the index (indexer/paths.py), one log per index.
        "SEARCH_QUERY_LOG": paths.query_log_path(environ, index, backend),
        # Days the query log keeps; distinct clients a day a query needs for
        # hot searches and suggestions; seconds a hot-search list is reused.
        "SEARCH_QUERY_LOG_DAYS": float(environ.get("SEARCH_QUERY_LOG_DAYS", "90")),
        "SEARCH_HOT_MIN_CLIENTS": int(environ.get("SEARCH_HOT_MIN_CLIENTS", "3")),
        "SEARCH_HOT_REFRESH": float(environ.get("SEARCH_HOT_REFRESH", "60")),
        "SEARCH_MAX_PAGE_SIZE": int(environ.get("SEARCH_MAX_PAGE_SIZE", "100")),
        "SEARCH_MAX_QUERY_LENGTH": int(environ.get("SEARCH_MAX_QUERY_LENGTH", "200")),
        "SEARCH_MAX_RESULT_WINDOW": int(environ.get("SEARCH_MAX_RESULT_WINDOW", "10000")),
        "SEARCH_REFRESH_INTERVAL": float(environ.get("SEARCH_REFRESH_INTERVAL", "1.0")),
        # Comma-separated origins allowed to call the GET API from browsers; "*" for any.
        "SEARCH_CORS_ORIGINS": [o.strip() for o in environ.get("SEARCH_CORS_ORIGINS", "").split(",") if o.strip()],
        # Access log: client IPs are not logged unless enabled.
        "SEARCH_LOG_CLIENT_IP": _bool(environ.get("SEARCH_LOG_CLIENT_IP")),
        "SEARCH_SITE_NAME": environ.get("SEARCH_SITE_NAME", "新闻搜索"),
        # The durable article store the write API appends to ("off": no write API).
        # Default: beside the index (indexer/paths.py), one store per index.
        "SEARCH_ARTICLE_STORE": paths.store_path(environ, index, backend),
        # Seconds a write waits for the store's lock before answering 503 + Retry-After.
        "SEARCH_STORE_BUSY_TIMEOUT": float(environ.get("SEARCH_STORE_BUSY_TIMEOUT", "3")),
        # SHA-256 digests of the bearer tokens allowed to write and use staff tools.
        "SEARCH_WRITE_TOKENS": parse_digests(environ.get("SEARCH_WRITE_TOKENS")),
        # How long a write waits for the index commit before answering 202.
        "SEARCH_WRITE_WAIT": float(environ.get("SEARCH_WRITE_WAIT", "5")),
        # Public read endpoints: requests per client IP (per worker process); "off" disables.
        # Every endpoint but static files and monitoring: requests per client ("off" disables).
        "SEARCH_RATE_LIMIT": environ.get("SEARCH_RATE_LIMIT", "20/second;600/minute"),
        # Failed staff logins per client (then 429 until the window passes); "off" disables.
        "SEARCH_LOGIN_RATE_LIMIT": environ.get("SEARCH_LOGIN_RATE_LIMIT", "5/minute;30/hour"),
        # Where rate-limit counters live (a `limits` storage URI): memory:// is per worker;
        # redis://host:6379 or memcached://host:11211 share them between workers.
        "SEARCH_RATE_LIMIT_STORAGE": environ.get("SEARCH_RATE_LIMIT_STORAGE", "memory://"),
        # Reverse proxies (addresses or CIDRs) whose X-Forwarded-For/-Proto/-Host are believed.
        "SEARCH_TRUSTED_PROXIES": environ.get("SEARCH_TRUSTED_PROXIES", ""),
        # The key that signs staff cookies (>= 32 characters); unset: generated once into
        # SEARCH_SECRET_KEY_FILE (default: secret_key beside the article store / query log).
        "SEARCH_SECRET_KEY": environ.get("SEARCH_SECRET_KEY") or None,
        "SEARCH_SECRET_KEY_FILE": environ.get("SEARCH_SECRET_KEY_FILE") or None,
        # Live staff sessions (SQLite, shared by the workers; default beside the key file)
        # and how long one lasts.
        "SEARCH_STAFF_SESSIONS": environ.get("SEARCH_STAFF_SESSIONS") or None,
        "SEARCH_STAFF_SESSION_HOURS": float(environ.get("SEARCH_STAFF_SESSION_HOURS", "12")),
        # A search still running after this many seconds is stopped with 503.
        "SEARCH_QUERY_TIMEOUT": float(environ.get("SEARCH_QUERY_TIMEOUT", "5")),
        # The writer supervisor's status file (gunicorn.conf.py sets it), read by /healthz.
        "SEARCH_WRITER_STATUS": environ.get("SEARCH_WRITER_STATUS") or None,
        # /healthz is degraded when the oldest change not yet indexed is older than this (seconds).
        "SEARCH_BACKLOG_MAX_AGE": float(environ.get("SEARCH_BACKLOG_MAX_AGE", "300")),
        # Request bodies larger than this are refused with 413 (bulk uploads included).
        "MAX_CONTENT_LENGTH": int(environ.get("SEARCH_MAX_BODY_BYTES", str(32 * 2**20))),
    }
