"""The searches readers ran: for hot searches, zero-result reports and
popular completions.

Privacy: a row is the query text, the time and the number of results;
never an address, a cookie or anything else about who searched.  Stored
in SQLite (one file; WAL mode, so every gunicorn worker can write while
others read).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time

MAX_QUERY_CHARS = 100


def clean_query(q: str) -> str:
    return " ".join((q or "").split())[:MAX_QUERY_CHARS]


class QueryLog:
    def __init__(self, path: str):
        self.path = path
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._local = threading.local()
        with self._conn() as c:
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("CREATE TABLE IF NOT EXISTS queries (ts REAL NOT NULL, q TEXT NOT NULL, total INTEGER NOT NULL)")
            c.execute("CREATE INDEX IF NOT EXISTS queries_ts ON queries (ts)")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=5.0)
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def record(self, q: str, total: int, ts: float | None = None) -> None:
        q = clean_query(q)
        if not q:
            return
        try:
            with self._conn() as c:
                c.execute("INSERT INTO queries (ts, q, total) VALUES (?, ?, ?)",
                          (time.time() if ts is None else ts, q, int(total)))
        except sqlite3.Error:
            pass  # the log must never break a search

    def top(self, since: float, until: float, limit: int = 20, zero_only: bool = False,
            blocked=None) -> list[dict]:
        """Most frequent queries in [since, until): {"q", "count", "results"}
        (results: the latest result count), optionally only those that found
        nothing, without blocked ones."""
        # One pass: with MAX(ts), SQLite takes the bare column ``total`` from
        # the latest row of each group (a correlated subquery per query text
        # rescanned the log for every group, on every home page view).
        sql = ("SELECT q, COUNT(*) AS n, total, MAX(ts) FROM queries WHERE ts >= ? AND ts < ?"
               + (" AND total = 0" if zero_only else "")
               + " GROUP BY q ORDER BY n DESC, q LIMIT ?")
        rows = self._conn().execute(sql, (since, until, limit * 4 + 20)).fetchall()
        out = [{"q": q, "count": n, "results": total} for q, n, total, _ in rows
               if not (blocked and blocked(q))]
        return out[:limit]

    def popular(self, since: float, limit: int = 5000) -> dict[str, int]:
        """Queries that found something, with how often they were run."""
        rows = self._conn().execute(
            "SELECT q, COUNT(*) AS n FROM queries WHERE ts >= ? AND total > 0 GROUP BY q "
            "ORDER BY n DESC LIMIT ?", (since, limit)).fetchall()
        return dict(rows)
