"""Staff sessions, kept on the server so that they can end there.

The cookie (signed with the secret key, ``web/secret.py``) carries a random
session id, ``session["staff"] = True`` and ``session["principal"] =
"token:" + digest[:12]`` (the first 12 hex characters of the SHA-256 digest
of the token that signed in: who did it, for audit logs).  The server keeps
each live session in a small SQLite file shared by every worker
(``SEARCH_STAFF_SESSIONS``, default named after the article store, beside
it: ``default_path``) with the token's full digest and an expiry
(``SEARCH_STAFF_SESSION_HOURS``, default 12).  A session counts only while

* its row exists: logging out deletes it, so a copy of the cookie taken
  before the logout opens nothing afterwards;
* it has not expired;
* its token's digest is still in ``SEARCH_WRITE_TOKENS``: removing a digest
  (and restarting) ends every session opened with that token, for good
  (the app deletes them when it starts).

Otherwise the cookie is cleared on the request that presents it.  Own code
(stdlib ``sqlite3``): Flask-Session would add a dependency for a table of
three columns.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time

from flask import current_app, session
from flask.sessions import SecureCookieSessionInterface

from . import secret
from search.errors import SearchServiceError

_SCHEMA = ("CREATE TABLE IF NOT EXISTS staff_sessions (sid TEXT PRIMARY KEY, digest TEXT NOT NULL, "
           "created REAL NOT NULL, expires REAL NOT NULL)")


class SessionStoreError(SearchServiceError, status=503, retry_after=5):
    """The session file cannot be read or written (message says which)."""


class StaffSessions:
    """Live staff sessions in SQLite at ``path`` (created on first use);
    ``lifetime`` in seconds."""

    def __init__(self, path: str, lifetime: float):
        self.path, self.lifetime = path, lifetime
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        try:
            if not self._ready:
                os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=5, isolation_level=None)
            if not self._ready:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(_SCHEMA)
                os.chmod(self.path, 0o600)
                self._ready = True
            return conn
        except (OSError, sqlite3.Error) as exc:
            raise SessionStoreError(f"staff session store {self.path}: {exc}") from exc

    def open(self, token_digest: str) -> str:
        """A new session for the token with this SHA-256 hex digest -> its id.

        Raises SessionStoreError when the file cannot be written."""
        sid = secrets.token_urlsafe(32)
        now = time.time()
        conn = self._connect()
        try:
            with conn:
                conn.execute("DELETE FROM staff_sessions WHERE expires < ?", (now,))
                conn.execute("INSERT INTO staff_sessions VALUES (?, ?, ?, ?)",
                             (sid, token_digest, now, now + self.lifetime))
        except sqlite3.Error as exc:
            raise SessionStoreError(f"staff session store {self.path}: {exc}") from exc
        finally:
            conn.close()
        return sid

    def digest_of(self, sid: str) -> str | None:
        """The token digest of a live (unexpired) session, else None.

        Raises SessionStoreError when the file cannot be read."""
        conn = self._connect()
        try:
            row = conn.execute("SELECT digest FROM staff_sessions WHERE sid = ? AND expires >= ?",
                               (sid, time.time())).fetchone()
        except sqlite3.Error as exc:
            raise SessionStoreError(f"staff session store {self.path}: {exc}") from exc
        finally:
            conn.close()
        return row[0] if row else None

    def keep_only(self, digests) -> int:
        """End every session whose token digest is not in ``digests`` (at
        start: a revoked token's sessions end for good, even if its digest
        is configured again later) -> how many ended.  A missing file is left
        missing.  Raises SessionStoreError."""
        if not os.path.exists(self.path):
            return 0
        digests = tuple(digests)
        conn = self._connect()
        try:
            with conn:
                marks = ",".join("?" * len(digests))
                cur = conn.execute(f"DELETE FROM staff_sessions WHERE digest NOT IN ({marks})" if digests
                                   else "DELETE FROM staff_sessions", digests)
                return cur.rowcount
        except sqlite3.Error as exc:
            raise SessionStoreError(f"staff session store {self.path}: {exc}") from exc
        finally:
            conn.close()

    def close(self, sid: str) -> None:
        """End a session (logout).  Raises SessionStoreError on failure."""
        conn = self._connect()
        try:
            with conn:
                conn.execute("DELETE FROM staff_sessions WHERE sid = ?", (sid,))
        except sqlite3.Error as exc:
            raise SessionStoreError(f"staff session store {self.path}: {exc}") from exc
        finally:
            conn.close()


def default_path(config: dict) -> str:
    """Where the staff sessions live when ``SEARCH_STAFF_SESSIONS`` is unset:
    beside the article store, named after it (``data/index.articles.sqlite``
    -> ``data/index.staff_sessions.sqlite``), so that two services on two
    indexes never share them: a service removes at its start the sessions
    of tokens it does not know, which would sign the other's staff out.
    Without a store: ``staff_sessions.sqlite`` beside the secret key file."""
    store = config.get("SEARCH_ARTICLE_STORE")
    if store and store != "off":
        base = store[:-len(".articles.sqlite")] if store.endswith(".articles.sqlite") else os.path.splitext(store)[0]
        return os.path.abspath(base + ".staff_sessions.sqlite")
    key_file = config.get("SEARCH_SECRET_KEY_FILE") or secret.default_key_file(config)
    return os.path.join(os.path.dirname(os.path.abspath(key_file)), "staff_sessions.sqlite")


def _store() -> StaffSessions:
    return current_app.extensions["staff_sessions"]


def sign_in(token_digest: str) -> None:
    """Start a staff session for the token with this digest (the cookie is
    set on the response).  Raises SessionStoreError, secret.SecretKeyError."""
    current_app.session_interface.ensure_key(current_app)
    sid = _store().open(token_digest)
    session.clear()
    session.update(sid=sid, staff=True, principal="token:" + token_digest[:12])


def sign_out() -> None:
    """End this request's staff session on the server and clear its cookie."""
    sid = session.get("sid")
    session.clear()
    if sid:
        _store().close(sid)


def validate() -> None:
    """before_request hook: clear a session whose id is unknown, expired or
    whose token was revoked, so that every later check (``session["staff"]``)
    sees only live sessions.  A session store that cannot be read counts as
    no session (staff sign in again; readers are unaffected)."""
    if not session:
        return
    sid = session.get("sid")
    try:
        token_digest = _store().digest_of(sid) if isinstance(sid, str) else None
    except SessionStoreError:
        current_app.logger.exception("staff session check failed")
        token_digest = None
    if token_digest is None or token_digest not in current_app.config["SEARCH_WRITE_TOKENS"]:
        session.clear()


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, marked ``Secure`` whenever the request came
    over HTTPS (directly or through a trusted proxy: ``web/proxies.py``).

    The key is read (or generated: ``web/secret.py``) on first need, when a
    request brings a cookie or staff sign in, never for readers' requests,
    so a service without staff never writes a key file."""

    def ensure_key(self, app) -> None:
        """Load the key if not yet done.  Raises secret.SecretKeyError."""
        if app.secret_key is None:
            app.secret_key = secret.configured_key(app.config)

    def open_session(self, app, request):
        if request.cookies.get(self.get_cookie_name(app)) is None:
            return self.session_class()
        try:
            self.ensure_key(app)
        except secret.SecretKeyError as exc:
            app.logger.error("staff session ignored: %s", exc)
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app) -> bool:
        from flask import request

        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.scheme == "https"
