"""The service's configuration: every environment variable it reads, once.

``Settings`` declares each setting once (its variable, type, default and
meaning: the field's metadata); ``Settings.from_env(environ)`` reads and
validates them, raising ``SettingError`` naming the variable and what it
should be; ``current()`` is this process's settings, read from
``os.environ`` on first use and kept (a process reads its environment
once).  README.md's "Configuration" table lists exactly these variables
(``tests/test_layout.py`` compares them).

An empty value is the same as an unset one.  Booleans accept
1/true/yes/on and 0/false/no/off.  Paths whose default depends on the
index (``SEARCH_QUERY_LOG``, ``SEARCH_ARTICLE_STORE``: beside it) are None
here when unset; ``indexer/paths.py`` places them (``search/`` does not
import ``indexer/``).

A frozen dataclass (standard library) rather than pydantic-settings: the
service needs types, defaults and one clear error per variable, which
forty lines give; a dependency would add a second validation model to
learn for no feature used.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from functools import cache

from .errors import SearchServiceError
from .fields import MAX_QUERY_LENGTH

_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
DEFAULT_SYNONYMS = os.path.join(_DATA, "synonyms.txt")
DEFAULT_BLOCKLIST = os.path.join(_DATA, "blocklist.txt")
BACKENDS = ("whoosh", "opensearch")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class SettingError(ValueError, SearchServiceError):
    """An environment variable holds a value the service cannot use; the
    message names the variable, the value and what is expected."""


def _var(env: str, default, meaning: str, choices: tuple[str, ...] | None = None,
         low: float | None = None, high: float | None = None):
    """A setting: a dataclass field read from variable ``env``; a number
    must be finite and within [``low``, ``high``] (either may be None)."""
    return field(default=default, metadata={"env": env, "meaning": meaning, "choices": choices,
                                            "low": low, "high": high})


@dataclass(frozen=True)
class Settings:
    """Every setting of the service, typed (see the module docstring).
    Units: seconds for times, bytes or MiB as named, counts otherwise."""

    index: str = _var("SEARCH_INDEX", "data/index",
                      "index directory the web app reads (with OpenSearch: the index or alias name)")
    backend: str = _var("SEARCH_BACKEND", "whoosh", "where the index lives: whoosh (a directory) or opensearch",
                        choices=BACKENDS)
    opensearch_url: str | None = _var("OPENSEARCH_URL", None, "the OpenSearch cluster (SEARCH_BACKEND=opensearch)")
    userdict: str | None = _var("SEARCH_USERDICT", None, "jieba user dictionary (indexer and queries)")
    synonyms: str = _var("SEARCH_SYNONYMS", DEFAULT_SYNONYMS, "query-time synonym groups (re-read when changed)")
    blocklist: str = _var("SEARCH_BLOCKLIST", DEFAULT_BLOCKLIST,
                          "terms kept out of suggestions and hot searches (re-read when changed)")
    query_log: str | None = _var("SEARCH_QUERY_LOG", None, "readers' query log, or off (unset: beside the index)")
    saved_searches: str | None = _var("SEARCH_SAVED_SEARCHES", None,
                                      "saved searches, their alerts and webhook deliveries (unset: beside the index)")
    webhook_allow_hosts: tuple[str, ...] = _var(
        "SEARCH_WEBHOOK_ALLOW_HOSTS", (),
        "hosts (name or address, optionally :port) webhooks may reach although private or over http")
    webhook_timeout: float = _var("SEARCH_WEBHOOK_TIMEOUT", 5.0, "seconds a webhook post may wait per network step",
                                  low=0.01, high=60)
    webhook_max_attempts: int = _var("SEARCH_WEBHOOK_MAX_ATTEMPTS", 8, "attempts of a webhook post before it fails",
                                     low=1, high=50)
    webhook_backoff: float = _var("SEARCH_WEBHOOK_BACKOFF", 30.0,
                                  "seconds before a failed webhook post's first retry (later ones wait longer)",
                                  low=0.001, high=86400)
    webhook_poll: float = _var("SEARCH_WEBHOOK_POLL", 1.0, "seconds between the writer's looks for due webhook posts",
                               low=0.01, high=3600)
    query_log_days: float = _var("SEARCH_QUERY_LOG_DAYS", 90.0, "days the query log keeps", low=1)
    hot_min_clients: int = _var("SEARCH_HOT_MIN_CLIENTS", 3, "distinct readers a day a query needs to count as hot",
                                low=1)
    hot_refresh: float = _var("SEARCH_HOT_REFRESH", 60.0, "seconds a computed hot-search list is reused", low=0)
    max_page_size: int = _var("SEARCH_MAX_PAGE_SIZE", 100, "largest size accepted", low=1)
    max_query_length: int = _var("SEARCH_MAX_QUERY_LENGTH", 200, "longest query accepted (characters)",
                                 low=1, high=MAX_QUERY_LENGTH)
    max_result_window: int = _var("SEARCH_MAX_RESULT_WINDOW", 10000, "deepest result reachable by paging", low=1)
    cursor_keep_alive: float = _var("SEARCH_CURSOR_KEEP_ALIVE", 600.0,
                                    "seconds a cursor's snapshot lives after its last use (then 410)", low=1,
                                    high=86400)
    refresh_interval: float = _var("SEARCH_REFRESH_INTERVAL", 1.0, "seconds between checks for new index commits",
                                   low=0)
    cors_origins: tuple[str, ...] = _var("SEARCH_CORS_ORIGINS", (), "origins allowed to call the GET API, or *")
    postings_cache_mb: float = _var("SEARCH_POSTINGS_CACHE_MB", 96.0, "decoded posting lists kept per process (MiB)",
                                    low=0)
    log_client_ip: bool = _var("SEARCH_LOG_CLIENT_IP", False, "add client IPs to the access log")
    site_name: str = _var("SEARCH_SITE_NAME", "新闻搜索", "the site's name on the reader pages")
    article_store: str | None = _var("SEARCH_ARTICLE_STORE", None, "the article store, or off (unset: beside the index)")
    store_busy_timeout: float = _var("SEARCH_STORE_BUSY_TIMEOUT", 3.0, "seconds a write waits for the store's lock",
                                     low=0, high=3600)
    write_tokens: str | None = _var("SEARCH_WRITE_TOKENS", None, "SHA-256 digests of the write and staff tokens")
    write_wait: float = _var("SEARCH_WRITE_WAIT", 5.0, "seconds a write waits for its index commit", low=0, high=3600)
    max_body_bytes: int = _var("SEARCH_MAX_BODY_BYTES", 32 * 2**20, "largest request body (bytes)", low=1)
    rate_limit: str = _var("SEARCH_RATE_LIMIT", "20/second;600/minute", "requests per client, or off")
    login_rate_limit: str = _var("SEARCH_LOGIN_RATE_LIMIT", "5/minute;30/hour", "failed staff logins per client")
    rate_limit_storage: str = _var("SEARCH_RATE_LIMIT_STORAGE", "memory://", "where rate-limit counters live")
    trusted_proxies: str = _var("SEARCH_TRUSTED_PROXIES", "", "reverse proxies whose forwarding headers count")
    secret_key: str | None = _var("SEARCH_SECRET_KEY", None, "the key that signs staff cookies")
    secret_key_file: str | None = _var("SEARCH_SECRET_KEY_FILE", None, "where the generated key is kept")
    staff_sessions: str | None = _var("SEARCH_STAFF_SESSIONS", None, "live staff sessions (SQLite)")
    staff_session_hours: float = _var("SEARCH_STAFF_SESSION_HOURS", 12.0, "how long a staff session lasts (hours)",
                                      low=0.01)
    query_timeout: float = _var("SEARCH_QUERY_TIMEOUT", 5.0, "seconds after which a search is stopped (503)", low=0.01)
    writer_restart_delay: float = _var("SEARCH_WRITER_RESTART_DELAY", 1.0, "seconds before the writer restarts", low=0)
    writer_restart_max: float = _var("SEARCH_WRITER_RESTART_MAX", 60.0, "longest restart delay of the writer (s)",
                                     low=0)
    writer_status: str | None = _var("SEARCH_WRITER_STATUS", None, "the writer supervisor's status file")
    embed_model: str | None = _var("SEARCH_EMBED_MODEL", None,
                                   "dense vectors computed after the writer's commits with this model: bundled or "
                                   "an ONNX model directory (Whoosh; unset: none)")
    default_mode: str = _var("SEARCH_DEFAULT_MODE", "lexical",
                             "the search mode when a request names none: lexical, hybrid or semantic (issue 20; "
                             "lexical until the evaluation shows hybrid is not below it)",
                             choices=("lexical", "hybrid", "semantic"))
    backlog_max_age: float = _var("SEARCH_BACKLOG_MAX_AGE", 300.0, "seconds of indexing backlog before degraded", low=1)
    client_timeout: float = _var("SEARCH_CLIENT_TIMEOUT", 10.0, "seconds a client has to send its request", low=0.1)
    buffer_body_bytes: int = _var("SEARCH_BUFFER_BODY_BYTES", 2**20, "bodies read in full before a thread takes them",
                                  low=0)
    port: int = _var("PORT", 8000, "port for scripts/serve and the Procfile", low=1, high=65535)
    web_concurrency: int = _var("WEB_CONCURRENCY", 2, "gunicorn worker processes", low=1)
    gunicorn_threads: int = _var("GUNICORN_THREADS", 2, "threads per gunicorn worker", low=1)
    gunicorn_timeout: int = _var("GUNICORN_TIMEOUT", 30, "gunicorn worker timeout (s)", low=1)
    prometheus_multiproc_dir: str | None = _var("PROMETHEUS_MULTIPROC_DIR", None,
                                                "prometheus_client's directory for every worker's metrics")

    @classmethod
    def from_env(cls, environ=os.environ) -> "Settings":
        """Read every setting from ``environ`` (a mapping of text to text).
        Raises ``SettingError`` naming the first variable that cannot be read."""
        values = {}
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is not None and raw.strip():
                values[f.name] = _parse(f, raw)
        settings = cls(**values)
        if settings.embed_model is not None and settings.backend != "whoosh":
            raise SettingError(f"SEARCH_EMBED_MODEL={settings.embed_model!r}: the writer computes dense vectors of a "
                               f"Whoosh index only, and SEARCH_BACKEND is {settings.backend}")
        return settings

    @classmethod
    def variables(cls) -> dict[str, str]:
        """``{variable: meaning}`` of every setting, in declaration order."""
        return {f.metadata["env"]: f.metadata["meaning"] for f in fields(cls)}


def _number(f, raw: str, value):
    """``value`` read from ``raw`` if finite and within the field's bounds."""
    low, high = f.metadata["low"], f.metadata["high"]
    env = f.metadata["env"]
    if not math.isfinite(value):
        raise SettingError(f"{env}={raw!r} is not a finite number")
    if (low is not None and value < low) or (high is not None and value > high):
        bound = (f"from {low:g} to {high:g}" if high is not None and low is not None
                 else f"at least {low:g}" if low is not None else f"at most {high:g}")
        raise SettingError(f"{env}={raw!r} is out of range: it must be {bound}")
    return value


def _parse(f, raw: str):
    env, kind = f.metadata["env"], f.type
    try:
        if kind in ("int", "float"):
            value = int(raw) if kind == "int" else float(raw)
        if kind == "bool":
            word = raw.strip().lower()
            if word not in _TRUE + _FALSE:
                raise ValueError(raw)
            return word in _TRUE
        if kind.startswith("tuple"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
    except ValueError:
        expected = {"int": "an integer", "float": "a number", "bool": "one of " + "/".join(_TRUE + _FALSE)}[kind]
        raise SettingError(f"{env}={raw!r} is not {expected}") from None
    if kind in ("int", "float"):
        return _number(f, raw, value)
    choices = f.metadata["choices"]
    if choices and raw not in choices:
        raise SettingError(f"{env}={raw!r} is not one of {', '.join(choices)}")
    return raw


@cache
def current() -> Settings:
    """This process's settings, read from ``os.environ`` on the first call
    and kept.  Raises ``SettingError`` (see ``Settings.from_env``)."""
    return Settings.from_env(os.environ)
