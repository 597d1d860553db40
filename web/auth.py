"""Who may write: bearer tokens from configuration, stored only as hashes.

``SEARCH_WRITE_TOKENS`` holds comma-separated SHA-256 hex digests of the
accepted tokens (``python -m web.tokens new`` prints a fresh token and its
digest).  No digest configured: writes and staff tools are disabled.  A
request without credentials gets 401, a wrong token 403.  Staff pages also
accept a session cookie set by /staff/login with the same token (a
server-side session: ``web/staff_sessions.py``).
"""

from __future__ import annotations

import functools
import hashlib
import hmac

from flask import current_app, request, session
from search.errors import SearchServiceError


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_digests(value: str | None) -> tuple[str, ...]:
    return tuple(d.strip().lower() for d in (value or "").split(",") if d.strip())


def check_token(token: str | None) -> bool:
    if not token:
        return False
    presented = digest(token)
    # Compare against every digest in constant time.
    return any(hmac.compare_digest(presented, d) for d in current_app.config["SEARCH_WRITE_TOKENS"])


class AuthError(SearchServiceError, status=401):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authorize(allow_session: bool = False) -> None:
    """Raise AuthError unless the request carries a valid token (or, for
    staff pages, a logged-in session)."""
    if not current_app.config["SEARCH_WRITE_TOKENS"]:
        raise AuthError(403, "writes and staff tools are disabled: no token is configured (SEARCH_WRITE_TOKENS)")
    if allow_session and session.get("staff"):
        return
    token = bearer()
    if token is None:
        raise AuthError(401, "authentication required: send 'Authorization: Bearer <token>'")
    if not check_token(token):
        raise AuthError(403, "the token is not valid")


def principal() -> str:
    """Who makes this request, for the audit log: ``"token:"`` + the first
    12 hex characters of the SHA-256 digest of the bearer token when the
    request carries one, else the staff session's ``principal`` (stored in
    that same form at login), else ``"staff"``."""
    token = bearer()
    if token is not None:
        return "token:" + digest(token)[:12]
    return str(session.get("principal", "staff"))


def required(allow_session: bool = False):
    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            authorize(allow_session)
            return view(*args, **kwargs)
        return inner
    return wrap

