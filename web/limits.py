"""Rate limits per client address (the `limits` library, moving windows).

* ``SEARCH_RATE_LIMIT`` (default "20/second;600/minute"; "off" disables):
  one budget per client over every endpoint (pages, the API, any method),
  except static files, ``/healthz`` and ``/metrics`` (monitoring) and
  requests of signed-in staff or with a valid bearer token.  New endpoints
  are limited without being listed anywhere.
* ``SEARCH_LOGIN_RATE_LIMIT`` (default "5/minute;30/hour"): failed staff
  logins per client.  Over it, ``POST /staff/login`` answers 429 before
  looking at the token: guessing is slowed per client, and nobody can lock
  a token (or the newsroom) out, since nothing is counted per token.
* ``SEARCH_RATE_LIMIT_STORAGE`` (default ``memory://``): where counters
  live, as a `limits` storage URI.  ``memory://`` counts in each gunicorn
  worker (N workers allow up to N times the figures); a shared store
  (``redis://host:6379``, ``memcached://host:11211``, with the `redis` or
  `pymemcache` package installed) makes one count for every worker.

The client is ``request.remote_addr``, as rewritten from the forwarding
headers of trusted proxies only (``web/proxies.py``).  Over a limit:
RateLimited, answered 429 with ``Retry-After`` (seconds).
"""

from __future__ import annotations

import functools
import math
import time

from flask import current_app, request, session
from limits import parse_many, storage, strategies
from search.errors import SearchServiceError

EXEMPT_PATHS = ("/static/", "/favicon.ico", "/healthz", "/metrics")


class RateLimited(SearchServiceError, status=429):
    def __init__(self, retry_after: int, limit: str, what: str = "requests"):
        super().__init__(f"too many {what}: at most {limit} per client; retry in {retry_after} s")
        self.retry_after = retry_after


class Limiter:
    """Counters in the storage at ``uri`` (a `limits` storage URI).

    Raises ValueError naming the URI when `limits` cannot use it."""

    def __init__(self, uri: str):
        try:
            self.storage = storage.storage_from_string(uri)
        except Exception as exc:  # noqa: BLE001 - limits raises several kinds
            raise ValueError(f"SEARCH_RATE_LIMIT_STORAGE {uri!r} cannot be used: {exc}") from None
        self.window = strategies.MovingWindowRateLimiter(self.storage)

    def hit(self, spec: str, scope: str, client: str, what: str) -> None:
        """Count one event; raise RateLimited if that exceeds any limit."""
        for item in _parsed(spec):
            if not self.window.hit(item, scope, client):
                self._refuse(item, scope, client, what)

    def test(self, spec: str, scope: str, client: str, what: str) -> None:
        """Raise RateLimited if one more event would exceed a limit (counts nothing)."""
        for item in _parsed(spec):
            if not self.window.test(item, scope, client):
                self._refuse(item, scope, client, what)

    def _refuse(self, item, scope, client, what):
        reset = self.window.get_window_stats(item, scope, client).reset_time
        raise RateLimited(max(1, math.ceil(reset - time.time())), str(item), what)


@functools.lru_cache(maxsize=16)
def _parsed(spec: str):
    """The configured limits, parsed once (not on every request)."""
    return tuple(parse_many(spec))


def validate_spec(name: str, spec: str) -> None:
    """Raise ValueError naming the setting if ``spec`` is not "off" or a
    `limits` rate string ("20/second;600/minute")."""
    if spec == "off":
        return
    try:
        if not _parsed(spec):
            raise ValueError(spec)
    except ValueError:
        raise ValueError(f"{name} {spec!r} is not a rate limit such as '20/second;600/minute' or 'off'") from None


def _limiter() -> Limiter:
    return current_app.extensions["rate_limiter"]


def _client() -> str:
    return request.remote_addr or "unknown"


def check() -> None:
    """before_request hook (after the staff session is validated): raise
    RateLimited when this client is over its budget."""
    spec = current_app.config["SEARCH_RATE_LIMIT"]
    if spec == "off" or request.path.startswith(EXEMPT_PATHS) or session.get("staff"):
        return
    from . import auth

    token = auth.bearer()
    if token is not None and current_app.config["SEARCH_WRITE_TOKENS"] and auth.check_token(token):
        return
    _limiter().hit(spec, "public", _client(), "requests")


def check_login() -> None:
    """Before a staff login is checked: RateLimited if this client has used
    up its failed attempts."""
    spec = current_app.config["SEARCH_LOGIN_RATE_LIMIT"]
    if spec != "off":
        _limiter().test(spec, "login", _client(), "failed logins")


def failed_login() -> None:
    """Count a failed staff login for this client."""
    spec = current_app.config["SEARCH_LOGIN_RATE_LIMIT"]
    if spec != "off":
        try:
            _limiter().hit(spec, "login", _client(), "failed logins")
        except RateLimited:
            pass  # this attempt is answered 403; the next one 429
