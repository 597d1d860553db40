"""The durable article store: the source of truth the index is derived from.

One SQLite file (standard library; WAL mode, ``synchronous=FULL`` so that a
write acknowledged to a client survives a crash or power loss):

* ``articles``: the latest accepted record of every live article, as JSON;
* ``changes``: an append-only log of puts and deletes with an increasing
  ``seq``: the queue the single index writer drains (``writer.py``);
* ``state``: the last ``seq`` the writer has committed to the index.

Any process may append (the web workers, the indexer CLI); only the writer
applies changes to the index, so there is never a second Whoosh writer.
The whole index can be rebuilt from ``articles`` at any time.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass


@dataclass
class Change:
    seq: int
    id: str
    op: str  # "put" | "delete"
    record: dict | None  # the record for "put"


class ArticleStore:
    def __init__(self, path: str):
        self.path = path
        os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
        self._local = threading.local()
        with self._conn() as c:
            c.execute("PRAGMA journal_mode=WAL")
            c.executescript("""
                CREATE TABLE IF NOT EXISTS articles (
                    id TEXT PRIMARY KEY, record TEXT NOT NULL, updated REAL NOT NULL);
                CREATE TABLE IF NOT EXISTS changes (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL,
                    op TEXT NOT NULL CHECK (op IN ('put', 'delete')), at REAL NOT NULL);
                CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            """)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0)
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    # ---- writing (any process) ------------------------------------------
    def put(self, records: list[dict], already_indexed: bool = False) -> int:
        """Store ``records`` (validated, each with an ``id``) and queue them
        for indexing, in one transaction; returns the last change's seq.
        ``already_indexed``: see ``_record``."""
        def change(c, r, now):
            c.execute("INSERT INTO articles (id, record, updated) VALUES (?, ?, ?) "
                      "ON CONFLICT(id) DO UPDATE SET record = excluded.record, updated = excluded.updated",
                      (r["id"], json.dumps(r, ensure_ascii=False), now))
            return c.execute("INSERT INTO changes (id, op, at) VALUES (?, 'put', ?)", (r["id"], now)).lastrowid

        return self._record(records, change, already_indexed)

    def delete(self, ids: list[str], already_indexed: bool = False) -> int:
        def change(c, doc_id, now):
            c.execute("DELETE FROM articles WHERE id = ?", (doc_id,))
            return c.execute("INSERT INTO changes (id, op, at) VALUES (?, 'delete', ?)", (doc_id, now)).lastrowid

        return self._record(ids, change, already_indexed)

    def _record(self, items, change, already_indexed: bool) -> int:
        """Apply ``change`` to every item in one transaction; returns the
        last change's seq.  ``already_indexed``: the index was just written
        directly (no writer running), so the changes are only recorded here,
        the source of truth, and marked as applied when nothing else was
        pending."""
        now = time.time()
        with self._conn() as c:
            caught_up = already_indexed and (
                (c.execute("SELECT MAX(seq) FROM changes").fetchone()[0] or 0)
                <= (c.execute("SELECT value FROM state WHERE key = 'applied'").fetchone() or (0,))[0])
            seq = 0
            for item in items:
                seq = change(c, item, now)
            if caught_up and seq:
                c.execute("INSERT INTO state (key, value) VALUES ('applied', ?) "
                          "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (seq,))
        return seq

    # ---- reading -------------------------------------------------------------
    def get(self, doc_id: str) -> dict | None:
        row = self._conn().execute("SELECT record FROM articles WHERE id = ?", (doc_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def count(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM articles").fetchone()[0]

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

    def last_seq(self) -> int:
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
        return self.state("applied")

    def set_applied(self, seq: int) -> None:
        self.set_state("applied", seq)

    def state(self, key: str) -> int:
        row = self._conn().execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else 0

    def set_state(self, key: str, value: int) -> None:
        """The writer's progress and status ("applied", "merging"), for /healthz."""
        with self._conn() as c:
            c.execute("INSERT INTO state (key, value) VALUES (?, ?) "
                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, int(value)))

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
