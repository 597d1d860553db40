"""Saved searches and what they found: the store behind alerts, feeds and
webhooks (the percolator writes alerts into it, the web app reads them).

One SQLite file (WAL mode: every gunicorn worker and the writer process use
it at once; ``indexer.paths.saved_searches_path`` says where), in four
tables:

* ``searches`` (id, owner, name, shared, params, feed_token, webhook_url,
  webhook_secret, created, updated, feed_changes): a saved search.
  ``feed_changes`` counts the changes of its alerts (new, copy, ended,
  withdrawn): ``feed_version`` (the feed's ETag) is built on it, since an
  alert ending changes no count or time of the alerts table.  ``params`` is the
  search as request parameters, a JSON object of lists of strings in
  query-string form (``{"q": ["香港 选举"], "category": ["时政"],
  "range": ["week"]}``), read back by ``web.params.search_request``, the one
  reading of parameters for pages, API and saved searches: relative
  periods (``range``) are therefore evaluated whenever the search runs.
  ``owner`` is who saved it: ``web.auth.principal()`` (``"token:"`` + the
  first 12 hex digits of the token's SHA-256 digest, for a bearer token or
  the staff login made with it).  Staff see their own searches and the
  ones marked ``shared``; only the owner renames, shares or deletes.
  ``feed_token`` is the secret in the Atom feed's URL (a feed reader polls
  it without the login).
* ``alerts`` (search_id, article_id, group_key, state, title, published,
  url, matched_at, commit_seq, withdrawn_at): what a saved search found
  among newly indexed articles, one row per (search, article).  ``state``:
  ``alert`` (a new match: in the feed, counted as new, sent to the
  webhook), ``copy`` (a near-duplicate of an alert of the same search,
  same ``group_key``: recorded, never alerted again), ``ended`` (the
  article, updated, no longer matches; matching again later alerts again).
  ``withdrawn_at``: the article was deleted; it leaves the feed.  When a
  group's alert ends or is withdrawn, its earliest live copy becomes the
  alert (``_promote``): the story stays in the feed while a copy of it is
  in the index.
* ``visits`` (search_id, viewer, at): when a viewer last looked at a saved
  search's alerts ("new since last visit").
* ``deliveries`` (id, search_id, payload, created, attempts, next_attempt,
  status, last_error, last_attempt): webhook posts waiting, done or
  failed; ``status``: ``pending``, ``delivered`` or ``failed`` (gave up).

Times are epoch seconds (float).  Errors: ``SavedSearchNotFound`` (404)
for an unknown id or one the caller may not see, ``NotOwner`` (403) for a
change by someone else than the owner, ``SavedSearchError`` (400) for a
bad name or parameters.

Size: one store of four related tables behind one connection per thread;
an alert and the webhook delivery it queues are written in one
transaction, so the tables stay in one module.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field

from .errors import SearchServiceError

MAX_NAME = 200  # characters of a saved search's name (chosen)
MAX_PARAMS_CHARS = 4000  # characters of its parameters as JSON (chosen: far above the query's 200)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS searches (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL,
    shared INTEGER NOT NULL DEFAULT 0, params TEXT NOT NULL,
    feed_token TEXT NOT NULL, webhook_url TEXT, webhook_secret TEXT,
    created REAL NOT NULL, updated REAL NOT NULL, feed_changes INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS searches_owner ON searches(owner);
CREATE TABLE IF NOT EXISTS alerts (
    search_id TEXT NOT NULL, article_id TEXT NOT NULL, group_key TEXT NOT NULL,
    state TEXT NOT NULL, title TEXT, published TEXT, url TEXT,
    matched_at REAL NOT NULL, commit_seq INTEGER, withdrawn_at REAL,
    PRIMARY KEY (search_id, article_id));
CREATE INDEX IF NOT EXISTS alerts_feed ON alerts(search_id, state, matched_at);
CREATE INDEX IF NOT EXISTS alerts_group ON alerts(search_id, group_key);
CREATE INDEX IF NOT EXISTS alerts_article ON alerts(article_id);
CREATE TABLE IF NOT EXISTS visits (
    search_id TEXT NOT NULL, viewer TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (search_id, viewer));
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, search_id TEXT NOT NULL, payload TEXT NOT NULL,
    created REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', last_error TEXT, last_attempt REAL);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(status, next_attempt);
"""

_ALERT_COLUMNS = "search_id, article_id, group_key, state, title, published, url, matched_at, commit_seq, withdrawn_at"


class SavedSearchError(SearchServiceError, status=400):
    """A saved search that cannot be stored as given (name, parameters)."""


class SavedSearchNotFound(SearchServiceError, status=404):
    """No saved search of that id that the caller may see."""


class NotOwner(SearchServiceError, status=403):
    """Only the owner of a saved search may change or delete it."""


@dataclass
class SavedSearch:
    """One saved search (see the module docstring for the fields)."""
    id: str
    owner: str
    name: str
    shared: bool
    params: dict[str, list[str]]
    feed_token: str
    webhook_url: str | None
    webhook_secret: str | None
    created: float
    updated: float

    def to_dict(self, viewer: str | None = None) -> dict:
        """The saved search as ``viewer`` may see it (no secrets: the feed
        token and the webhook URL, often a credential itself such as a
        Slack or Teams hook, only for the owner; the webhook secret never)."""
        out = {"id": self.id, "name": self.name, "owner": self.owner, "shared": self.shared,
               "params": self.params, "created": self.created, "updated": self.updated}
        if viewer is not None and viewer == self.owner:
            out["feed_token"] = self.feed_token
            out["webhook_url"] = self.webhook_url
        return out


@dataclass
class Alert:
    """One row of ``alerts``."""
    search_id: str
    article_id: str
    group_key: str
    state: str  # "alert", "copy" or "ended"
    title: str | None = None
    published: str | None = None
    url: str | None = None
    matched_at: float = 0.0
    commit_seq: int | None = None
    withdrawn_at: float | None = None


@dataclass
class NewMatch:
    """An article of a batch that a saved search fully matches, as the
    percolator reports it: ``group_key`` is its near-duplicate group's key
    (its own id when it has no copies)."""
    article_id: str
    group_key: str
    title: str | None = None
    published: str | None = None
    url: str | None = None


@dataclass
class Delivery:
    """One webhook post (``payload``: the JSON object to send)."""
    id: int
    search_id: str
    payload: dict
    created: float
    attempts: int
    next_attempt: float
    status: str
    last_error: str | None = None
    last_attempt: float | None = None
    extra: dict = field(default_factory=dict)


def control_character(text: str) -> str | None:
    """The first control character of ``text`` (C0 but tab, newline and
    carriage return; DEL; C1), None when it has none: such characters
    cannot be written in XML 1.0 (the Atom feeds) nor be typed in a name."""
    for c in text:
        code = ord(c)
        if (code < 32 and c not in "\t\n\r") or 127 <= code < 160:
            return c
    return None


def check_params(params) -> dict[str, list[str]]:
    """``params`` as a saved search keeps them: a dict of str -> list of
    str (a single string becomes a one-item list), without paging
    (``page``, ``size``) and empty values.  Raises SavedSearchError.
    Control characters in values are kept: ``web.params.search_request``,
    which reads the parameters for pages, API and saved searches alike,
    takes them (a query's ``\x01`` separates words as a space does), so a
    search that ran can be saved; what is shown in a feed is cleaned there."""
    if not isinstance(params, dict):
        raise SavedSearchError("'params' must be an object of search parameters")
    out: dict[str, list[str]] = {}
    for key, value in params.items():
        if not isinstance(key, str):
            raise SavedSearchError("parameter names must be text")
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise SavedSearchError(f"parameter '{key}' must be text or a list of text")
        values = [v for v in values if v.strip()]
        if key in ("page", "size") or not values:
            continue
        out[key] = values
    if len(json.dumps(out, ensure_ascii=False)) > MAX_PARAMS_CHARS:
        raise SavedSearchError(f"parameters too long (at most {MAX_PARAMS_CHARS} characters as JSON)")
    return out


def check_name(name) -> str:
    """A saved search's name, stripped; SavedSearchError when empty, not
    text, longer than ``MAX_NAME`` characters or holding a control
    character (a tab or line break included: a name is one line)."""
    if not isinstance(name, str) or not name.strip():
        raise SavedSearchError("a saved search needs a 'name' (text)")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise SavedSearchError(f"name too long: {len(name)} characters (at most {MAX_NAME})")
    bad = control_character(name) or next((c for c in name if c in "\t\n\r"), None)
    if bad:
        raise SavedSearchError(f"a name may not contain control characters (U+{ord(bad):04X})")
    return name


class SavedSearchStore:
    """The saved-search file at ``path`` (created when missing).  Safe to
    use from several threads and processes (one connection per thread,
    WAL, ``busy_timeout`` seconds waiting for a lock)."""

    def __init__(self, path: str, busy_timeout: float = 5.0):
        self.path = path
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        with self._conn() as conn:
            conn.executescript(_SCHEMA)
            _add_column(conn, "searches", "feed_changes", "INTEGER NOT NULL DEFAULT 0")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.row_factory = sqlite3.Row
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ---- saved searches -------------------------------------------------

    @staticmethod
    def _search(row) -> SavedSearch:
        return SavedSearch(id=row["id"], owner=row["owner"], name=row["name"], shared=bool(row["shared"]),
                           params=json.loads(row["params"]), feed_token=row["feed_token"],
                           webhook_url=row["webhook_url"], webhook_secret=row["webhook_secret"],
                           created=row["created"], updated=row["updated"])

    def create(self, owner: str, name: str, params: dict, shared: bool = False,
               now: float | None = None) -> SavedSearch:
        """Save a search for ``owner``; returns it (with its new id and feed
        token).  Raises SavedSearchError for a bad name or parameters."""
        name, params = check_name(name), check_params(params)
        if not params:
            raise SavedSearchError("a saved search needs a query or a filter")
        now = time.time() if now is None else now
        sid = secrets.token_urlsafe(9)
        token = secrets.token_urlsafe(24)
        self._conn().execute(
            "INSERT INTO searches (id, owner, name, shared, params, feed_token, created, updated)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (sid, owner, name, int(bool(shared)), json.dumps(params, ensure_ascii=False), token, now, now))
        return self.get(sid)

    def get(self, search_id: str) -> SavedSearch | None:
        """The saved search ``search_id``, or None."""
        row = self._conn().execute("SELECT * FROM searches WHERE id = ?", (search_id,)).fetchone()
        return self._search(row) if row else None

    def visible(self, search_id: str, viewer: str) -> SavedSearch:
        """The saved search if ``viewer`` may see it (its owner, or shared);
        else SavedSearchNotFound (403 would tell that the id exists)."""
        found = self.get(search_id)
        if found is None or (found.owner != viewer and not found.shared):
            raise SavedSearchNotFound(f"no saved search {search_id!r}")
        return found

    def owned(self, search_id: str, viewer: str) -> SavedSearch:
        """The saved search if ``viewer`` owns it; SavedSearchNotFound when
        ``viewer`` cannot see it, NotOwner when it is someone else's shared
        search."""
        found = self.visible(search_id, viewer)
        if found.owner != viewer:
            raise NotOwner(f"saved search {search_id!r} belongs to someone else: only its owner may change it")
        return found

    def list_for(self, viewer: str) -> list[SavedSearch]:
        """``viewer``'s saved searches and those shared by others, by name."""
        rows = self._conn().execute(
            "SELECT * FROM searches WHERE owner = ? OR shared = 1 ORDER BY name, created", (viewer,)).fetchall()
        return [self._search(r) for r in rows]

    def all(self) -> list[SavedSearch]:
        """Every saved search (the percolator runs them all)."""
        return [self._search(r) for r in self._conn().execute("SELECT * FROM searches ORDER BY created")]

    def update(self, search_id: str, viewer: str, name: str | None = None, shared: bool | None = None,
               params: dict | None = None, now: float | None = None) -> SavedSearch:
        """Rename, share/unshare or change the parameters (owner only)."""
        self.owned(search_id, viewer)
        sets, values = [], []
        if name is not None:
            sets.append("name = ?"), values.append(check_name(name))
        if shared is not None:
            sets.append("shared = ?"), values.append(int(bool(shared)))
        if params is not None:
            sets.append("params = ?"), values.append(json.dumps(check_params(params), ensure_ascii=False))
        sets.append("updated = ?"), values.append(time.time() if now is None else now)
        self._conn().execute(f"UPDATE searches SET {', '.join(sets)} WHERE id = ?", (*values, search_id))
        return self.get(search_id)

    def set_webhook(self, search_id: str, viewer: str, url: str | None) -> SavedSearch:
        """Set (a new signing secret is made) or clear (None) the webhook of
        a saved search (owner only).  The URL is checked by the caller
        (``search.webhooks``); this only stores it."""
        self.owned(search_id, viewer)
        secret = secrets.token_hex(32) if url else None
        self._conn().execute("UPDATE searches SET webhook_url = ?, webhook_secret = ?, updated = ? WHERE id = ?",
                             (url, secret, time.time(), search_id))
        return self.get(search_id)

    def delete(self, search_id: str, viewer: str) -> None:
        """Delete a saved search with its alerts, visits and deliveries
        (owner only)."""
        self.owned(search_id, viewer)
        conn = self._conn()
        with _transaction(conn):
            for table, column in (("alerts", "search_id"), ("visits", "search_id"),
                                  ("deliveries", "search_id"), ("searches", "id")):
                conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (search_id,))

    def by_feed_token(self, search_id: str, token: str) -> SavedSearch | None:
        """The saved search when ``token`` is its feed token (compared in
        constant time), else None."""
        found = self.get(search_id)
        if found is None or not token or not hmac.compare_digest(found.feed_token, token):
            return None
        return found

    # ---- alerts (written by the percolator) -----------------------------

    def known(self, search_id: str, article_ids) -> dict[str, Alert]:
        """The alert rows of ``search_id`` for these articles (id -> Alert)."""
        ids = list(article_ids)
        out = {}
        conn = self._conn()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            rows = conn.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE search_id = ? AND article_id IN"
                                f" ({','.join('?' * len(chunk))})", (search_id, *chunk)).fetchall()
            out.update((r["article_id"], Alert(**dict(r))) for r in rows)
        return out

    def record(self, search_id: str, alerts: list[NewMatch], copies: list[NewMatch], ended: list[str],
               commit_seq: int | None, now: float | None = None, payload: dict | None = None) -> int:
        """Record one batch's outcome for a saved search in one transaction:
        ``alerts`` (new matches: in the feed), ``copies`` (near-duplicates of
        an alert: kept, not alerted), ``ended`` (article ids that no longer
        match after an update).  When the search has a webhook and there is
        at least one alert, ``payload`` (the JSON object to post; the caller
        builds it) is queued as a delivery.  Returns the number of alerts."""
        now = time.time() if now is None else now
        conn = self._conn()
        with _transaction(conn):
            if alerts or copies or ended:
                conn.execute("UPDATE searches SET feed_changes = feed_changes + 1 WHERE id = ?", (search_id,))
            for state, rows in (("alert", alerts), ("copy", copies)):
                conn.executemany(
                    f"INSERT OR REPLACE INTO alerts ({_ALERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                    [(search_id, m.article_id, m.group_key, state, m.title, m.published, m.url, now, commit_seq)
                     for m in rows])
            groups = {(search_id, r[0]) for a in ended for r in conn.execute(
                "SELECT group_key FROM alerts WHERE search_id = ? AND article_id = ? AND state = 'alert'",
                (search_id, a))}
            conn.executemany("UPDATE alerts SET state = 'ended' WHERE search_id = ? AND article_id = ?",
                             [(search_id, a) for a in ended])
            _promote(conn, groups)
            if alerts and payload is not None:
                hook = conn.execute("SELECT webhook_url FROM searches WHERE id = ?", (search_id,)).fetchone()
                if hook and hook[0]:
                    conn.execute("INSERT INTO deliveries (search_id, payload, created, next_attempt)"
                                 " VALUES (?, ?, ?, ?)",
                                 (search_id, json.dumps(payload, ensure_ascii=False), now, now))
        return len(alerts)

    def withdraw(self, article_ids, now: float | None = None) -> int:
        """Mark the alerts of deleted articles withdrawn (they leave every
        feed); returns the number of rows changed."""
        now = time.time() if now is None else now
        ids = list(article_ids)
        changed = 0
        conn = self._conn()
        with _transaction(conn):
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                conn.execute("UPDATE searches SET feed_changes = feed_changes + 1 WHERE id IN (SELECT search_id"
                             " FROM alerts WHERE withdrawn_at IS NULL AND article_id IN"
                             f" ({','.join('?' * len(chunk))}))", chunk)
                groups = {(r[0], r[1]) for r in conn.execute(
                    "SELECT search_id, group_key FROM alerts WHERE withdrawn_at IS NULL AND state = 'alert'"
                    f" AND article_id IN ({','.join('?' * len(chunk))})", chunk)}
                cur = conn.execute(f"UPDATE alerts SET withdrawn_at = ? WHERE withdrawn_at IS NULL AND article_id IN"
                                   f" ({','.join('?' * len(chunk))})", (now, *chunk))
                changed += cur.rowcount
                _promote(conn, groups)
        return changed

    def feed(self, search_id: str, limit: int = 20) -> list[Alert]:
        """The latest alerts of a saved search still in its feed (not
        withdrawn, not ended), newest first."""
        rows = self._conn().execute(
            f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE search_id = ? AND state = 'alert' AND withdrawn_at IS NULL"
            " ORDER BY matched_at DESC, commit_seq DESC, article_id LIMIT ?", (search_id, limit)).fetchall()
        return [Alert(**dict(r)) for r in rows]

    def feed_version(self, search_id: str) -> str:
        """A value (text) that changes whenever the feed of ``search_id`` may
        have changed (for ETags): the search's ``feed_changes`` counter
        (every recorded batch, ending and withdrawal), with the alerts'
        count, last match time and last withdrawal."""
        row = self._conn().execute(
            "SELECT (SELECT feed_changes FROM searches WHERE id = ?), COUNT(*), MAX(matched_at), MAX(withdrawn_at)"
            " FROM alerts WHERE search_id = ?", (search_id, search_id)).fetchone()
        return f"{row[0] or 0}-{row[1]}-{row[2] or 0}-{row[3] or 0}"

    def count_new(self, search_id: str, viewer: str) -> int:
        """Alerts in the feed of ``search_id`` since ``viewer`` last visited
        it (all of them before a first visit)."""
        visit = self._conn().execute("SELECT at FROM visits WHERE search_id = ? AND viewer = ?",
                                     (search_id, viewer)).fetchone()
        since = visit[0] if visit else float("-inf")
        return self._conn().execute(
            "SELECT COUNT(*) FROM alerts WHERE search_id = ? AND state = 'alert' AND withdrawn_at IS NULL"
            " AND matched_at > ?", (search_id, since)).fetchone()[0]

    def visit(self, search_id: str, viewer: str, now: float | None = None) -> None:
        """Record that ``viewer`` has seen the alerts of ``search_id`` now."""
        self._conn().execute("INSERT OR REPLACE INTO visits (search_id, viewer, at) VALUES (?, ?, ?)",
                             (search_id, viewer, time.time() if now is None else now))

    # ---- webhook deliveries ---------------------------------------------

    @staticmethod
    def _delivery(row) -> Delivery:
        return Delivery(id=row["id"], search_id=row["search_id"], payload=json.loads(row["payload"]),
                        created=row["created"], attempts=row["attempts"], next_attempt=row["next_attempt"],
                        status=row["status"], last_error=row["last_error"], last_attempt=row["last_attempt"])

    def due(self, now: float | None = None, limit: int = 50) -> list[Delivery]:
        """Pending deliveries whose next attempt is due, oldest first."""
        now = time.time() if now is None else now
        rows = self._conn().execute("SELECT * FROM deliveries WHERE status = 'pending' AND next_attempt <= ?"
                                    " ORDER BY next_attempt, id LIMIT ?", (now, limit)).fetchall()
        return [self._delivery(r) for r in rows]

    def attempted(self, delivery_id: int, error: str | None, next_attempt: float | None,
                  now: float | None = None) -> None:
        """Record an attempt: ``error`` None means delivered; otherwise the
        delivery is retried at ``next_attempt``, or marked failed when that
        is None (no more retries)."""
        now = time.time() if now is None else now
        if error is None:
            status, nxt = "delivered", now
        else:
            status, nxt = ("pending", next_attempt) if next_attempt is not None else ("failed", now)
        self._conn().execute("UPDATE deliveries SET attempts = attempts + 1, last_attempt = ?, last_error = ?,"
                             " status = ?, next_attempt = ? WHERE id = ?", (now, error, status, nxt, delivery_id))

    def deliveries(self, search_ids, limit: int = 100) -> list[Delivery]:
        """The latest deliveries of these saved searches, newest first
        (failures and retries included: what the staff page shows)."""
        ids = list(search_ids)
        if not ids:
            return []
        rows = self._conn().execute(
            f"SELECT * FROM deliveries WHERE search_id IN ({','.join('?' * len(ids))})"
            " ORDER BY created DESC, id DESC LIMIT ?", (*ids, limit)).fetchall()
        return [self._delivery(r) for r in rows]


def _add_column(conn: sqlite3.Connection, table: str, column: str, declaration: str) -> None:
    """Add ``column`` to ``table`` of a file made before it existed (a
    migration; another process adding it at the same time is fine)."""
    if any(row[1] == column for row in conn.execute(f"PRAGMA table_info({table})")):
        return
    try:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
    except sqlite3.OperationalError as exc:
        if "duplicate column" not in str(exc):
            raise


def _promote(conn: sqlite3.Connection, groups) -> None:
    """For each (search id, group key) whose alert just ended or was
    withdrawn: when no live alert of that group is left, its earliest live
    copy becomes the alert (the story is still there: the feed keeps it,
    found when its copy was; no new webhook, it is no new story)."""
    for search_id, group_key in groups:
        if conn.execute("SELECT 1 FROM alerts WHERE search_id = ? AND group_key = ? AND state = 'alert'"
                        " AND withdrawn_at IS NULL LIMIT 1", (search_id, group_key)).fetchone():
            continue
        conn.execute("UPDATE alerts SET state = 'alert' WHERE rowid = (SELECT rowid FROM alerts WHERE search_id = ?"
                     " AND group_key = ? AND state = 'copy' AND withdrawn_at IS NULL"
                     " ORDER BY matched_at, article_id LIMIT 1)", (search_id, group_key))


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


# ---- percolation: progress and near-duplicate signatures ----------------------
# (The percolator's section: two tables of their own, added beside the four
# above, which it does not change.)

_PERCOLATION_SCHEMA = """
CREATE TABLE IF NOT EXISTS percolation (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS signatures (
    article_id TEXT PRIMARY KEY, published INTEGER, installment INTEGER NOT NULL, signature BLOB NOT NULL);
"""


@dataclass
class AlertSignature:
    """What near-duplicate judgement needs of an alerted article (the
    percolator's copy of ``search.dedupe``'s inputs): ``published`` epoch
    seconds or None (undated: never a copy), ``installment``
    (``dedupe.installment_key`` of its headline), ``signature`` (MinHash,
    ``dedupe.NUM_PERM`` uint32 as bytes), and the ``group_key`` of its alert."""
    article_id: str
    group_key: str
    published: int | None
    installment: int
    signature: bytes


class PercolationState:
    """The percolator's part of the saved-search file (``SavedSearchStore``
    ``store``): the last change of the article store percolated, and each
    matched article's near-duplicate signature (a batch's matches are
    compared with a search's earlier alerts without waiting for the index's
    background regrouping)."""

    def __init__(self, store: SavedSearchStore):
        self.store = store
        store._conn().executescript(_PERCOLATION_SCHEMA)

    def percolated(self) -> int | None:
        """The seq of the last change percolated, None before the first run."""
        row = self.store._conn().execute("SELECT value FROM percolation WHERE key = 'seq'").fetchone()
        return None if row is None else int(row[0])

    def set_percolated(self, seq: int) -> None:
        """Record that every change up to ``seq`` was percolated."""
        self.set_mark("seq", seq)

    def mark(self, key: str) -> int | None:
        """The progress mark ``key`` (a change seq: "seq" of the matching,
        "withdrawn" of the withdrawals), None before the first."""
        row = self.store._conn().execute("SELECT value FROM percolation WHERE key = ?", (key,)).fetchone()
        return None if row is None else int(row[0])

    def set_mark(self, key: str, seq: int) -> None:
        """Record the progress mark ``key`` at change ``seq``."""
        self.store._conn().execute("INSERT INTO percolation (key, value) VALUES (?, ?)"
                                   " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, int(seq)))

    def keep_signatures(self, rows) -> None:
        """Store (article id, published epoch seconds or None, installment,
        signature bytes) of matched articles (replacing older versions)."""
        self.store._conn().executemany(
            "INSERT OR REPLACE INTO signatures (article_id, published, installment, signature) VALUES (?, ?, ?, ?)",
            list(rows))

    def rows_of_articles(self, article_ids) -> dict[str, dict[str, Alert]]:
        """Every alert row of these articles, of any saved search: search
        id -> article id -> Alert (one query per 500 ids, not one per search)."""
        ids = list(article_ids)
        out: dict[str, dict[str, Alert]] = {}
        conn = self.store._conn()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            rows = conn.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE article_id IN"
                                f" ({','.join('?' * len(chunk))})", chunk).fetchall()
            for r in rows:
                out.setdefault(r["search_id"], {})[r["article_id"]] = Alert(**dict(r))
        return out

    def signatures_between(self, search_ids, since: int, until: int) -> dict[str, list[AlertSignature]]:
        """The signatures of the live alerts (state ``alert``, not withdrawn)
        of these saved searches published within [since, until] (epoch
        seconds): search id -> the articles a new match may be a copy of."""
        ids = list(search_ids)
        out: dict[str, list[AlertSignature]] = {}
        conn = self.store._conn()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            rows = conn.execute(
                "SELECT a.search_id, a.article_id, a.group_key, s.published, s.installment, s.signature FROM alerts a"
                " JOIN signatures s ON s.article_id = a.article_id WHERE a.state = 'alert' AND a.withdrawn_at IS NULL"
                f" AND s.published BETWEEN ? AND ? AND a.search_id IN ({','.join('?' * len(chunk))})",
                (since, until, *chunk)).fetchall()
            for r in rows:
                out.setdefault(r[0], []).append(AlertSignature(*r[1:]))
        return out
