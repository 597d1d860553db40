"""The searches readers ran: for hot searches, zero-result reports and
popular completions.

Privacy: a row is the query text, the time, the number of results and a
*client tag*: a keyed hash (HMAC-SHA256, 16 hex digits) of the client
address and the newsroom day, so that distinct readers can be counted per
day without storing an address, and tags of two days cannot be linked.
The key is 32 random bytes generated beside the log (``<log>.key``, mode
0600) on first use; deleting it makes earlier tags unlinkable too.

Stored in SQLite (one file; WAL mode, so every gunicorn worker can write
while others read), in three tables:

* ``queries`` (ts, q, total, client, filters, words_total): the raw log,
  for staff reports over any instant range; ``filters`` is the canonical
  text of the search's filters (``search.query_filters.filter_key``, ""
  for none) and ``words_total`` what the words found without them (known
  when the filtered search found nothing, else NULL);
* ``daily`` (day, q, n, zero_n, filtered_zero_n, clients, results,
  listable): one row per newsroom day and query text, kept up to date by
  ``record``: what hot searches, suggestions and whole-day staff reports
  read, so that their cost follows the number of distinct queries, not of
  searches.  ``zero_n``: searches whose *words* found nothing;
  ``filtered_zero_n``: searches whose words found articles and whose
  *filters* left none; ``results``: the latest result count, where a
  filtered search that found nothing counts what its words find (so it
  never makes its words look empty to hot searches);
* ``daily_filters`` (day, q, filters, n, zero_n, words_results): the
  filtered searches of a day per query text and filters (``zero_n``: the
  filters left nothing);
* ``daily_clients`` (day, q, client): which tags searched a text that day
  (``clients`` counts them); ``removed`` (q): entries staff took out.

Rules (README "Hot searches"):

* **Retention**: rows older than ``retention_days`` (default 90) are
  deleted when the log opens and then at most once an hour.
* **Hot searches and suggestions** count a query on a day only when at
  least ``min_clients`` (default 3) distinct clients ran it that day, it
  found something, it is *listable* (``listable``: it asks for at least one
  word with a letter or digit; junk and operator-only input such as
  ``"``, ``OR``, ``-地铁`` never are) and staff have not removed it.
* Staff reports: ``querylog_reports.StaffReports`` (inherited).
* Hot searches are computed at most once per ``hot_ttl`` seconds per
  process, in the background once a value exists (a view never waits on
  the log: it gets the last value).

An older log file is migrated in place when opened, never losing a row:
the original (``queries`` of ts, q, total only) gets its columns and the
daily table filled from its rows (those rows have no client tag, so they
count for staff reports but never for hot searches); a log of version 2
gets the filter columns and table (its rows recorded no filters, so their
zero results count as the words finding nothing, as they were reported).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
import time
import unicodedata

from .chars import strip_ignorable
from .query_filters import filter_key
from .querylog_reports import StaffReports

MAX_QUERY_CHARS = 100  # characters of a query kept in the log (chosen, not measured)
SCHEMA_VERSION = 3  # PRAGMA user_version; 0: the original (ts, q, total) table; 2: without filters
DAY_SQL = "date(ts, 'unixepoch', '+8 hours')"  # the newsroom day of an epoch-seconds ts
NEWSROOM_OFFSET = 8 * 3600  # seconds: newsroom time is UTC+8
PRUNE_EVERY = 3600.0  # seconds between deletions of searches older than the retention (chosen, not measured)


def clean_query(q: str) -> str:
    """``q`` as one text however it was typed: invisible format characters
    removed (``search.chars``: 香港\u200b电台 is 香港电台, as the engine
    reads it), combining marks composed (NFC), control characters and runs
    of whitespace made one space, cut to 100 characters.  Hot searches,
    suggestions, staff reports and removals all key on this text."""
    text = unicodedata.normalize("NFC", strip_ignorable(q or ""))
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    return " ".join(text.split())[:MAX_QUERY_CHARS]


@functools.lru_cache(maxsize=8192)
def listable(q: str) -> bool:
    """May ``q`` be shown to readers (hot searches, suggestions)?  Only if
    the query language reads at least one required term in it and that
    text has a letter or a digit: ``"``, ``OR``, ``()``, ``-地铁`` (only an
    exclusion), ``!!!`` are not.  Remembered for the last 8,192 texts:
    every logged search asks (parsing is ~50 microseconds; popular queries
    repeat)."""
    from .query import parse

    parsed = parse(q)
    return bool(parsed.must) and any(ch.isalnum() for ch in q)


def newsroom_day(ts: float) -> str:
    """``YYYY-MM-DD``: the day (Beijing time) of epoch seconds ``ts``."""
    return time.strftime("%Y-%m-%d", time.gmtime(ts + NEWSROOM_OFFSET))


def _key_file(path: str) -> bytes:
    """The client-tag key beside the log: created once (O_EXCL, so two
    workers starting together agree), then read."""
    key_path = path + ".key"
    try:
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            with open(key_path, "rb") as f:
                key = f.read()
            if len(key) == 32:
                return key
            time.sleep(0.02)  # the other process is still writing it
        raise RuntimeError(f"query log key {key_path} is not 32 bytes: delete it to start a new one")
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


class QueryLog(StaffReports):
    """``path``: the SQLite file (created with its directory);
    ``retention_days``: rows kept (older ones deleted); ``min_clients``:
    distinct clients a day needed for hot searches and suggestions;
    ``hot_ttl``: seconds a computed hot-search list is reused (0: never).
    Raises ValueError for a retention that is not a positive finite number
    of days (a negative one would delete every row)."""

    def __init__(self, path: str, retention_days: float = 90, min_clients: int = 3, hot_ttl: float = 60.0):
        self.path = path
        self.retention_days = float(retention_days)
        if not 0 < self.retention_days < float("inf"):
            raise ValueError(f"the query log's retention must be a positive number of days, not {retention_days!r}")
        self.min_clients = int(min_clients)
        self.hot_ttl = float(hot_ttl)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._local = threading.local()
        self._key = _key_file(path)
        self._hot: dict = {}  # (days, limit) -> (computed at, rows)
        self._hot_lock = threading.Lock()
        self._hot_busy: set = set()
        self._removed = (0.0, frozenset())
        self._last_prune = 0.0
        self._migrate()
        self.prune()

    # ---- storage ---------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.create_function("listable", 1, lambda q: int(listable(q)), deterministic=True)
            self._local.conn = conn
        return conn

    def _migrate(self) -> None:
        c = self._conn()
        c.execute("PRAGMA journal_mode=WAL")
        # One process migrates (filling the daily table from a large older
        # log takes a while); the others wait for it, then see version 2.
        c.execute("PRAGMA busy_timeout=600000")
        c.execute("BEGIN IMMEDIATE")
        try:
            if c.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                c.execute("CREATE TABLE IF NOT EXISTS queries (ts REAL NOT NULL, q TEXT NOT NULL, total INTEGER NOT NULL)")
                columns = {row[1] for row in c.execute("PRAGMA table_info(queries)")}
                if "client" not in columns:
                    c.execute("ALTER TABLE queries ADD COLUMN client TEXT")
                if "filters" not in columns:
                    c.execute("ALTER TABLE queries ADD COLUMN filters TEXT NOT NULL DEFAULT ''")
                if "words_total" not in columns:
                    c.execute("ALTER TABLE queries ADD COLUMN words_total INTEGER")
                c.execute("CREATE INDEX IF NOT EXISTS queries_ts ON queries (ts)")
                c.execute("CREATE TABLE IF NOT EXISTS daily (day TEXT NOT NULL, q TEXT NOT NULL, "
                          "n INTEGER NOT NULL, zero_n INTEGER NOT NULL, clients INTEGER NOT NULL, "
                          "results INTEGER NOT NULL, last_ts REAL NOT NULL, listable INTEGER NOT NULL, "
                          "PRIMARY KEY (day, q))")
                daily_columns = {row[1] for row in c.execute("PRAGMA table_info(daily)")}
                if "filtered_zero_n" not in daily_columns:
                    c.execute("ALTER TABLE daily ADD COLUMN filtered_zero_n INTEGER NOT NULL DEFAULT 0")
                c.execute("CREATE INDEX IF NOT EXISTS daily_hot ON daily (day, clients)")
                c.execute("CREATE TABLE IF NOT EXISTS daily_filters (day TEXT NOT NULL, q TEXT NOT NULL, "
                          "filters TEXT NOT NULL, n INTEGER NOT NULL, zero_n INTEGER NOT NULL, "
                          "words_results INTEGER NOT NULL, last_ts REAL NOT NULL, PRIMARY KEY (day, q, filters))")
                c.execute("CREATE TABLE IF NOT EXISTS daily_clients (day TEXT NOT NULL, q TEXT NOT NULL, "
                          "client TEXT NOT NULL, PRIMARY KEY (day, q, client)) WITHOUT ROWID")
                c.execute("CREATE TABLE IF NOT EXISTS removed (q TEXT PRIMARY KEY, ts REAL NOT NULL)")
                # The older log's rows, per day (no client tags: staff reports only).
                c.execute("INSERT OR IGNORE INTO daily (day, q, n, zero_n, clients, results, last_ts, listable) "
                          f"SELECT {DAY_SQL} AS d, q, COUNT(*), SUM(total = 0), 0, "
                          "total, MAX(ts), listable(q) FROM queries GROUP BY d, q")
                c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        finally:
            c.execute("PRAGMA busy_timeout=10000")

    def client_tag(self, client: str, ts: float) -> str:
        """The keyed hash of ``client`` (an address) for the newsroom day of ``ts``."""
        msg = f"{newsroom_day(ts)}|{client}".encode("utf-8", "replace")
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()[:16]

    def record(self, q: str, total: int, ts: float | None = None, client: str | None = None,
               filters: dict | None = None, words_total: int | None = None) -> None:
        """Log one search: ``q`` (cleaned, at most 100 characters), its
        result count, when (epoch seconds, default now), who (an address,
        stored only as ``client_tag``; None: unknown, never counted as a
        distinct client), its ``filters`` (``query_filters.filters_of``'s
        dict; None or {}: none) and, for a filtered search that found
        nothing, ``words_total``: what its words find without the filters
        (None: not known; then the search counts as "the words find
        nothing", as before filters were logged).  Errors are swallowed:
        the log must never break a search."""
        q = clean_query(q)
        if not q:
            return
        ts = time.time() if ts is None else float(ts)
        tag = self.client_tag(client, ts) if client else None
        day = newsroom_day(ts)
        total = int(total)
        key = filter_key(filters)
        words = total if total or not key or words_total is None else int(words_total)
        filtered_out = int(total == 0 and words > 0)  # the words find articles, the filters leave none
        try:
            c = self._conn()
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute("INSERT INTO queries (ts, q, total, client, filters, words_total) VALUES (?, ?, ?, ?, ?, ?)",
                          (ts, q, total, tag, key, None if words_total is None or not key else int(words_total)))
                c.execute("INSERT INTO daily (day, q, n, zero_n, filtered_zero_n, clients, results, last_ts, listable) "
                          "VALUES (?, ?, 1, ?, ?, 0, ?, ?, listable(?)) ON CONFLICT (day, q) DO UPDATE SET "
                          "n = n + 1, zero_n = zero_n + excluded.zero_n, "
                          "filtered_zero_n = filtered_zero_n + excluded.filtered_zero_n, "
                          "results = CASE WHEN excluded.last_ts >= last_ts THEN excluded.results ELSE results END, "
                          "last_ts = MAX(last_ts, excluded.last_ts)",
                          (day, q, int(words == 0), filtered_out, words, ts, q))
                if key:
                    c.execute("INSERT INTO daily_filters (day, q, filters, n, zero_n, words_results, last_ts) "
                              "VALUES (?, ?, ?, 1, ?, ?, ?) ON CONFLICT (day, q, filters) DO UPDATE SET "
                              "n = n + 1, zero_n = zero_n + excluded.zero_n, "
                              "words_results = CASE WHEN excluded.last_ts >= last_ts THEN excluded.words_results "
                              "ELSE words_results END, last_ts = MAX(last_ts, excluded.last_ts)",
                              (day, q, key, filtered_out, words, ts))
                if tag and c.execute("INSERT OR IGNORE INTO daily_clients VALUES (?, ?, ?)", (day, q, tag)).rowcount:
                    c.execute("UPDATE daily SET clients = clients + 1 WHERE day = ? AND q = ?", (day, q))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        except sqlite3.Error:
            return
        if time.time() - self._last_prune > PRUNE_EVERY:
            self._last_prune = time.time()
            threading.Thread(target=self.prune, daemon=True, name="querylog-prune").start()

    def prune(self, now: float | None = None) -> int:
        """Delete rows older than the retention (in chunks: writers wait
        only a moment); returns the raw rows deleted."""
        now = time.time() if now is None else now
        self._last_prune = time.time()
        cutoff = now - self.retention_days * 86400
        day = newsroom_day(cutoff)
        deleted = 0
        try:
            c = self._conn()
            while True:
                cur = c.execute("DELETE FROM queries WHERE rowid IN "
                                "(SELECT rowid FROM queries WHERE ts < ? LIMIT 20000)", (cutoff,))
                deleted += cur.rowcount
                if cur.rowcount < 20000:
                    break
            c.execute("DELETE FROM daily WHERE day < ?", (day,))
            c.execute("DELETE FROM daily_filters WHERE day < ?", (day,))
            c.execute("DELETE FROM daily_clients WHERE day < ?", (day,))
        except sqlite3.Error:
            pass
        return deleted

    # ---- staff: removal --------------------------------------------------------
    def remove(self, q: str) -> str:
        """Take ``q`` (cleaned) out of hot searches and suggestions for
        good (staff reports still count it, flagged); returns the text."""
        q = clean_query(q)
        if q:
            with self._conn() as c:
                c.execute("INSERT OR REPLACE INTO removed VALUES (?, ?)", (q, time.time()))
            self._removed = (0.0, frozenset())
            self._hot.clear()
        return q

    def removed(self) -> frozenset:
        """Texts staff removed (re-read at most every 2 seconds: another
        worker may have removed one)."""
        at, texts = self._removed
        if time.monotonic() - at > 2.0:
            try:
                texts = frozenset(r[0] for r in self._conn().execute("SELECT q FROM removed"))
            except sqlite3.Error:
                pass
            self._removed = (time.monotonic(), texts)
        return texts

    # ---- hot searches and suggestions ---------------------------------------
    def _eligible(self, since_day: str, limit: int) -> list[tuple[str, int, int]]:
        """(q, searches, latest result count) of the days from ``since_day``
        on which the hot-search rule holds, most searched first."""
        sql = ("SELECT q, SUM(n) AS c, results, MAX(last_ts) FROM daily "
               "WHERE day >= ? AND clients >= ? AND listable = 1 AND results > 0 "
               "GROUP BY q ORDER BY c DESC, q LIMIT ?")
        gone = self.removed()
        rows = self._conn().execute(sql, (since_day, max(self.min_clients, 1), limit + len(gone))).fetchall()
        return [(q, n, total) for q, n, total, _ in rows if q not in gone]

    def hot(self, days: int = 7, limit: int = 10, now: float | None = None, blocked=None) -> list[dict]:
        """Hot searches: {"q", "count", "results"} of the last ``days``
        newsroom days under the hot-search rule, most searched first,
        without ``blocked`` ones.  Computed at most every ``hot_ttl``
        seconds; once a value exists, a newer one is computed in the
        background and the caller gets the last one."""
        key = (days, limit)
        if self.hot_ttl <= 0:  # no reuse: computed for this call
            self._compute_hot(key, now)
        cached = self._hot.get(key)
        fresh = cached is not None and (self.hot_ttl <= 0 or time.monotonic() - cached[0] < self.hot_ttl)
        if not fresh:
            with self._hot_lock:
                start = key not in self._hot_busy
                self._hot_busy.add(key)
            if start and cached is None:
                self._compute_hot(key, now)  # the first view of this process (others get [] meanwhile)
            elif start:
                threading.Thread(target=self._compute_hot, args=(key, now), daemon=True,
                                 name="querylog-hot").start()
            cached = self._hot.get(key, (0.0, []))
        rows = [dict(r) for r in cached[1] if not (blocked and blocked(r["q"]))]
        return rows[:limit]

    def _compute_hot(self, key, now) -> None:
        days, limit = key
        now = time.time() if now is None else now
        try:
            rows = [{"q": q, "count": n, "results": total}
                    for q, n, total in self._eligible(newsroom_day(now - (days - 1) * 86400), limit * 2 + 10)]
            self._hot[key] = (time.monotonic(), rows)
        except sqlite3.Error:
            pass
        finally:
            with self._hot_lock:
                self._hot_busy.discard(key)

    def popular(self, since: float, limit: int = 5000) -> dict[str, int]:
        """Queries for suggestions: those the hot-search rule lets through
        since ``since`` (epoch seconds), with how often they were run."""
        return {q: n for q, n, _ in self._eligible(newsroom_day(since), limit)}
