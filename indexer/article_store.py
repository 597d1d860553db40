"""The durable article store: the source of truth the index is derived from
(backup and restore: ``backup.py``).

One SQLite file (standard library; WAL mode, ``synchronous=FULL`` so that a
write acknowledged to a client survives a crash or power loss):

* ``articles``: the latest accepted record of every live article, as JSON;
* ``changes``: an append-only log of puts and deletes with an increasing
  ``seq``: the queue the single index writer drains (``writer.py``);
* ``state``: the last ``seq`` the writer has committed to the index;
* ``meta``: which index the store feeds (``bind``: a store feeds one index),
  and the user dictionary version its articles were indexed with
  (``userdict``: ``userdict_reindex.py``);
* ``audit``: an append-only log of withdrawals and replacements (who, when,
  which id), written in the same transaction as the change itself; SQLite
  triggers refuse to update or delete its rows.

Ids are checked against the id rule (``indexer/ids.py``) before they are
stored.  A store that cannot commit (locked by another process past
``busy_timeout`` seconds, read-only, full disk) raises ``StoreUnavailable``.

Any process may append (the web workers, the indexer CLI); only the writer
applies changes to the index, so there is never a second Whoosh writer.
The whole index can be rebuilt from ``articles`` at any time.
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass

from . import ids
from search.errors import SearchServiceError


class StoreUnavailable(SearchServiceError, status=503):
    """The store cannot commit now (locked, read-only, disk full...): retry
    later.  ``retry_after``: seconds a client should wait."""

    def __init__(self, message: str, retry_after: int = 5):
        super().__init__(message)
        self.retry_after = retry_after


class StoreBound(ValueError, SearchServiceError):
    """The store feeds another index (``ArticleStore.bind``)."""


def cli_principal() -> str:
    """Who acts from the command line: ``cli:<OS user name>``."""
    try:
        return "cli:" + getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name (containers): the uid
        return f"cli:uid{os.getuid()}"


def index_key(index: str, backend: str = "whoosh") -> str:
    """How a store names the index it feeds: the absolute directory of a
    Whoosh index, the alias of an OpenSearch one."""
    if backend == "opensearch":
        return "opensearch:" + index
    return "whoosh:" + os.path.abspath(index.rstrip("/") or index)


@dataclass
class Change:
    """One entry of the change log: ``seq`` (its number, increasing), the article ``id``, ``op``
    ("put" or "delete") and, for a put, the article's current ``record`` (a dict; None for a
    delete, or for a put whose article was deleted since)."""
    seq: int
    id: str
    op: str  # "put" | "delete"
    record: dict | None  # the record for "put"


@dataclass
class PutResult:
    """What ``ArticleStore.put_counted`` did: ``seq`` to wait for, and how
    many records were new, replaced a different one, or were identical."""
    seq: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0


SCHEMA = """
    CREATE TABLE IF NOT EXISTS articles (
        id TEXT PRIMARY KEY, record TEXT NOT NULL, updated REAL NOT NULL);
    CREATE TABLE IF NOT EXISTS changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('put', 'delete')), at REAL NOT NULL);
    CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, principal TEXT NOT NULL,
        action TEXT NOT NULL, id TEXT NOT NULL, detail TEXT);
    CREATE INDEX IF NOT EXISTS audit_id ON audit (id);
    CREATE INDEX IF NOT EXISTS changes_id ON changes (id, seq);
    CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


class ArticleStore:
    """The article store in one SQLite file (see the module docstring): puts and deletes with their
    change log and audit, reads, the writer's progress.  Raises ``StoreUnavailable`` (with
    ``retry_after`` seconds) when SQLite cannot commit, ``StoreBound`` when asked to feed a
    second index, ``ids.InvalidId`` for an id breaking the rule."""
    def __init__(self, path: str, busy_timeout: float = 30.0):
        """Open (or create) the store at ``path``.  ``busy_timeout``: seconds
        a statement waits for another process's lock before
        ``StoreUnavailable`` (the web app uses a few seconds, so that a
        client gets 503 + Retry-After quickly; the CLI and writer wait longer)."""
        self.path = path
        self.busy_timeout = busy_timeout
        os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
        self._local = threading.local()
        with self._guard(), self._conn() as c:
            c.execute("PRAGMA journal_mode=WAL")
            c.executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout)
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            self._local.conn = conn
        return conn

    class _Guard:
        def __enter__(self):
            return self

        def __exit__(self, kind, exc, tb):
            if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.IntegrityError):
                raise StoreUnavailable(f"the article store cannot commit now ({exc}); nothing was stored, "
                                       "retry later") from exc
            return False

    def _guard(self):
        """Turn SQLite's "locked", "read-only", "disk full", "malformed" into
        StoreUnavailable (an IntegrityError is a bug, and stays one)."""
        return self._Guard()

    # ---- which index the store feeds ---------------------------------------------
    def bound_to(self) -> str | None:
        """The key of the index this store feeds (``index_key``: ``whoosh:<absolute dir>`` or
        ``opensearch:<alias>``), or None while unbound."""
        row = self._conn().execute("SELECT value FROM meta WHERE key = 'index'").fetchone()
        return row[0] if row else None

    def bind(self, index: str, backend: str = "whoosh") -> None:
        """Record that this store feeds ``index`` (the first caller binds
        it), in the store's ``meta`` and, beside the index, in its
        ``paths.store_marker`` (so that the CLI finds this store from the
        index alone); raises ``StoreBound`` when it already feeds another
        index."""
        from . import paths

        key = index_key(index, backend)
        with self._guard(), self._conn() as c:
            row = c.execute("SELECT value FROM meta WHERE key = 'index'").fetchone()
            if row is None:
                c.execute("INSERT INTO meta (key, value) VALUES ('index', ?)", (key,))
            elif row[0] != key:
                raise StoreBound(f"the article store {self.path} feeds the index {row[0].partition(':')[2]} "
                                 f"({row[0].partition(':')[0]}), not {index}: give the store of {index} "
                                 "(--store / SEARCH_ARTICLE_STORE), or a new file for a new index")
        paths.record_bound_store(index, backend, self.path)

    # ---- writing (any process) ------------------------------------------
    def put(self, records: list[dict], already_indexed: bool = False, principal: str | None = None) -> int:
        """Store ``records`` and queue them for indexing (``put_counted``);
        returns the seq to wait for (``wait_applied``) before every record
        is in the index: the last new change, or, for a record identical to
        the stored one, that id's last change."""
        return self.put_counted(records, already_indexed, principal).seq

    def put_counted(self, records: list[dict], already_indexed: bool = False,
                    principal: str | None = None) -> "PutResult":
        """Store ``records`` (validated, each with an ``id`` that keeps the
        id rule: else ``ids.InvalidId``) and queue them for indexing, in one
        transaction.  A record identical to the stored one (same JSON) is
        skipped: no change, no audit entry (re-running a file changes
        nothing).  A record that replaces a different one is written to the
        audit log as ``replace`` by ``principal`` (default:
        ``cli_principal()``).  ``already_indexed``: see ``_record``.
        Returns ``PutResult(seq, added, updated, unchanged)``: ``seq`` as
        for ``put``."""
        for r in records:
            ids.check(r["id"])
        who = principal or cli_principal()
        result = PutResult()

        def change(c, r, now):
            text = json.dumps(r, ensure_ascii=False)
            old = c.execute("SELECT record FROM articles WHERE id = ?", (r["id"],)).fetchone()
            if old is not None and old[0] == text:
                result.unchanged += 1
                last = c.execute("SELECT MAX(seq) FROM changes WHERE id = ?", (r["id"],)).fetchone()[0]
                result.seq = max(result.seq, last or 0)
                return None
            if old is not None:
                result.updated += 1
                self._audit(c, now, who, "replace", r["id"])
            else:
                result.added += 1
            c.execute("INSERT INTO articles (id, record, updated) VALUES (?, ?, ?) "
                      "ON CONFLICT(id) DO UPDATE SET record = excluded.record, updated = excluded.updated",
                      (r["id"], text, now))
            return c.execute("INSERT INTO changes (id, op, at) VALUES (?, 'put', ?)", (r["id"], now)).lastrowid

        new = self._record(records, change, already_indexed)
        result.seq = max(result.seq, new)
        return result

    def delete(self, doc_ids: list[str], already_indexed: bool = False, principal: str | None = None) -> int:
        """Withdraw ``doc_ids`` (any id, also one that breaks the id rule, so
        that such an existing article can be withdrawn); each is written to
        the audit log as ``withdraw`` by ``principal``."""
        who = principal or cli_principal()

        def change(c, doc_id, now):
            c.execute("DELETE FROM articles WHERE id = ?", (doc_id,))
            self._audit(c, now, who, "withdraw", doc_id)
            return c.execute("INSERT INTO changes (id, op, at) VALUES (?, 'delete', ?)", (doc_id, now)).lastrowid

        return self._record(doc_ids, change, already_indexed)

    @staticmethod
    def _audit(c, now: float, principal: str, action: str, doc_id: str, detail: str | None = None) -> None:
        c.execute("INSERT INTO audit (at, principal, action, id, detail) VALUES (?, ?, ?, ?, ?)",
                  (now, principal, action, doc_id, detail))

    def audit(self, principal: str, action: str, doc_id: str, detail: str | None = None) -> None:
        """Append one entry to the audit log (e.g. ``restore``)."""
        with self._guard(), self._conn() as c:
            self._audit(c, time.time(), principal, action, doc_id, detail)

    def audit_entries(self, doc_id: str | None = None, after: int = 0, limit: int = 100) -> list[dict]:
        """Audit entries, oldest first: ``{"seq", "at" (seconds since the
        epoch), "principal", "action" ("replace" | "withdraw" | "restore" | "drop"),
        "id", "detail"}``; only ``doc_id``'s when given; ``after``: a seq."""
        sql = "SELECT seq, at, principal, action, id, detail FROM audit WHERE seq > ?"
        args: list = [after]
        if doc_id is not None:
            sql += " AND id = ?"
            args.append(doc_id)
        rows = self._conn().execute(sql + " ORDER BY seq LIMIT ?", (*args, limit)).fetchall()
        return [{"seq": r[0], "at": r[1], "principal": r[2], "action": r[3], "id": r[4], "detail": r[5]}
                for r in rows]

    def _record(self, items, change, already_indexed: bool) -> int:
        """Apply ``change`` to every item in one transaction (``change``
        returns the new change's seq, or None when it wrote none); returns
        the last new change's seq (0: none).  ``already_indexed``: the index was just written
        directly (no writer running), so the changes are only recorded here,
        the source of truth, and marked as applied when nothing else was
        pending."""
        now = time.time()
        with self._guard(), self._conn() as c:
            caught_up = already_indexed and (
                (c.execute("SELECT MAX(seq) FROM changes").fetchone()[0] or 0)
                <= (c.execute("SELECT value FROM state WHERE key = 'applied'").fetchone() or (0,))[0])
            seq = 0
            for item in items:
                seq = change(c, item, now) or seq  # None: nothing to change
            if caught_up and seq:
                c.execute("INSERT INTO state (key, value) VALUES ('applied', ?) "
                          "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (seq,))
        return seq

    # ---- reading -------------------------------------------------------------
    def get(self, doc_id: str) -> dict | None:
        """The latest accepted record of ``doc_id`` (a dict, as received), or None when the store
        has no live article with that id."""
        row = self._conn().execute("SELECT record FROM articles WHERE id = ?", (doc_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def count(self) -> int:
        """How many live articles the store holds."""
        return self._conn().execute("SELECT COUNT(*) FROM articles").fetchone()[0]

    def ids(self):
        """Every live article's id, in id order."""
        return [r[0] for r in self._conn().execute("SELECT id FROM articles ORDER BY id")]

    def records(self, batch: int = 1000):
        """Every live record, in id order (for a full rebuild)."""
        last = ""
        while True:
            rows = self._conn().execute(
                "SELECT id, record FROM articles WHERE id > ? ORDER BY id LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            for doc_id, rec in rows:
                yield json.loads(rec)
            last = rows[-1][0]

    def withdrawn_ids(self) -> set[str]:
        """Ids whose latest change is a delete (applied to the index or still
        pending): the store withdrew them, it does not lack them."""
        return {r[0] for r in self._conn().execute(
            "SELECT id, op, MAX(seq) FROM changes GROUP BY id") if r[1] == "delete"}

    def last_seq(self) -> int:
        """The number of the latest change (0 for an empty log)."""
        row = self._conn().execute("SELECT MAX(seq) FROM changes").fetchone()
        return row[0] or 0

    def pending(self, after: int, limit: int = 2000) -> list[Change]:
        """Changes after ``after``, oldest first; a put carries the article's
        current record (None if it was deleted since: the delete follows)."""
        rows = self._conn().execute(
            "SELECT c.seq, c.id, c.op, a.record FROM changes c LEFT JOIN articles a ON a.id = c.id "
            "WHERE c.seq > ? ORDER BY c.seq LIMIT ?", (after, limit)).fetchall()
        return [Change(seq, doc_id, op, json.loads(rec) if rec and op == "put" else None)
                for seq, doc_id, op, rec in rows]

    # ---- the writer's progress -------------------------------------------------
    def applied(self) -> int:
        """The number of the last change the writer committed to the index (0: none)."""
        return self.state("applied")

    def set_applied(self, seq: int) -> None:
        """Record that the writer committed every change up to ``seq`` to the index.  Raises
        ``StoreUnavailable`` when SQLite cannot commit."""
        self.set_state("applied", seq)

    def state(self, key: str) -> int:
        """The integer kept under ``key`` in the ``state`` table ("applied", "merging"), 0 when
        unset."""
        row = self._conn().execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else 0

    def set_state(self, key: str, value: int) -> None:
        """The writer's progress and status ("applied", "merging"), for /healthz."""
        with self._guard(), self._conn() as c:
            c.execute("INSERT INTO state (key, value) VALUES (?, ?) "
                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, int(value)))

    def meta(self, key: str) -> str | None:
        """The text kept under ``key`` in the ``meta`` table, or None."""
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Keep ``value`` (text) under ``key`` in the ``meta`` table (the
        writer's user dictionary version and re-indexing, for /healthz and
        for its next start)."""
        with self._guard(), self._conn() as c:
            c.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, str(value)))

    def backlog(self) -> int:
        """Changes not yet in the index (the indexing queue's length)."""
        return max(0, self.last_seq() - self.applied())

    def oldest_pending_at(self) -> float | None:
        """When (epoch seconds) the oldest change not yet in the index was
        made, or None when the index is up to date."""
        row = self._conn().execute(
            "SELECT MIN(at) FROM changes WHERE seq > (SELECT COALESCE(MAX(value), 0) FROM state "
            "WHERE key = 'applied')").fetchone()
        return row[0]

    def wait_applied(self, seq: int, timeout: float) -> bool:
        """Block until the writer has committed ``seq`` (True) or ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            if self.applied() >= seq:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
