"""The Flask configuration, built from the service's settings
(``search/settings.py``: every environment variable, read once per process).

The keys are the variables' names (``SEARCH_INDEX`` ...), the values typed;
paths whose default depends on the index are placed by ``indexer/paths.py``
(beside the index), and ``SEARCH_MAX_BODY_BYTES`` is Flask's
``MAX_CONTENT_LENGTH``."""

from __future__ import annotations

from dataclasses import fields

from indexer import paths
from search.settings import SettingError, Settings, current

from .auth import parse_digests


def from_env(environ=None) -> dict:
    """The Flask config (a dict) from ``environ`` (a mapping; default: this
    process's settings, ``search.settings.current()``).  Raises
    ``search.settings.SettingError`` naming a variable that cannot be read."""
    settings = current() if environ is None else Settings.from_env(environ)
    config = {f.metadata["env"]: getattr(settings, f.name) for f in fields(settings)}
    config.update({
        "SEARCH_QUERY_LOG": paths.query_log_path(settings),
        "SEARCH_ARTICLE_STORE": paths.store_path(settings),
        "SEARCH_CORS_ORIGINS": list(settings.cors_origins),
        "SEARCH_WRITE_TOKENS": parse_digests(settings.write_tokens),
        "MAX_CONTENT_LENGTH": settings.max_body_bytes,
    })
    return config


def check(environ=None) -> dict:
    """The Flask config of ``environ`` (see ``from_env``), checked as a
    worker checks it at start (rate-limit rules, the cookie key's length),
    so that the service's commands refuse a bad setting before any worker
    starts.  Raises ``SettingError`` naming the variable."""
    from . import limits
    from .secret import MIN_LENGTH

    config = from_env(environ)
    try:
        for name in ("SEARCH_RATE_LIMIT", "SEARCH_LOGIN_RATE_LIMIT"):
            limits.validate_spec(name, config[name])
    except ValueError as exc:
        raise SettingError(str(exc)) from None
    from search.ssrf import parse_allow_hosts

    try:
        parse_allow_hosts(config["SEARCH_WEBHOOK_ALLOW_HOSTS"])
    except ValueError as exc:
        raise SettingError(str(exc)) from None
    key = config.get("SEARCH_SECRET_KEY")
    if key and len(key) < MIN_LENGTH:
        raise SettingError(f"SEARCH_SECRET_KEY is too short: at least {MIN_LENGTH} characters")
    return config

