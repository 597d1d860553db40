"""One SearchEngine per worker process, opened on first use.

A missing or unreadable index is not fatal: the service starts, /healthz
reports why it is unhealthy, and the next request tries again (so it
recovers as soon as the index is built)."""

from __future__ import annotations

import os
import threading
import time

from search.engine import SearchEngine
from search.query_filters import filters_of, without_filters
from search.querylog import QueryLog
from search.errors import SearchServiceError


class IndexUnavailable(SearchServiceError, status=503, retry_after=5):
    pass


def article_store(app, existing_only: bool = False):
    """The app's article store (one per process), or None when the write
    API is off; ``existing_only``: None too while no write has created it
    (read-only reports must not create one)."""
    store = app.extensions.get("article_store")
    if store is None:
        path = app.config.get("SEARCH_ARTICLE_STORE")
        if not path or path == "off" or (existing_only and not os.path.exists(path)):
            return None
        from indexer.article_store import ArticleStore

        store = app.extensions["article_store"] = ArticleStore(
            path, busy_timeout=app.config.get("SEARCH_STORE_BUSY_TIMEOUT", 3.0))
    return store


class EngineHolder:
    RETRY_SECONDS = 2.0

    def __init__(self, config, store=None):
        """``store``: a callable returning the article store (or None), for
        read-your-own-writes."""
        self.config = config
        self._store = store or (lambda: None)
        self._applied_seen = -1
        self._engine: SearchEngine | None = None
        self._error: str | None = None
        self._failed_at = 0.0
        self._lock = threading.Lock()
        path = config.get("SEARCH_QUERY_LOG") or "off"
        self.query_log = None if path == "off" else QueryLog(
            path, retention_days=config.get("SEARCH_QUERY_LOG_DAYS", 90),
            min_clients=config.get("SEARCH_HOT_MIN_CLIENTS", 3), hot_ttl=config.get("SEARCH_HOT_REFRESH", 60.0))

    def record(self, q: str, total: int, client: str | None = None, filters: dict | None = None,
               words_total: int | None = None) -> None:
        """Log a reader's query: text, time, result count, filters and a
        keyed hash of ``client`` (the address) and the day, never the
        address (``QueryLog.record``)."""
        if self.query_log is not None:
            self.query_log.record(q, total, client=client, filters=filters, words_total=words_total)

    def record_search(self, req, total: int, client: str | None = None, range_name: str | None = None,
                      words_total: int | None = None) -> None:
        """Log the search ``req`` (a ``SearchRequest``) that found ``total``
        with its filters (``query_filters.filters_of``; ``range_name``: the
        relative period its dates came from).  When filters leave nothing,
        the log also keeps what the words find without them
        (``words_total``, counted here by ``words_only_total`` unless the
        caller already has it), so it tells "the words find nothing" from
        "the filters leave nothing"."""
        if self.query_log is None:
            return
        filters = filters_of(req, range_name)
        if words_total is None:
            words_total = self.words_only_total(req, total)
        self.record(req.q, total, client, filters, words_total)

    def words_only_total(self, req, total: int) -> int | None:
        """What the words of ``req`` find without its filters, when its
        filters left nothing (``total`` 0); else None.  One count
        (``query_filters.without_filters``: no hit, facet, highlight or
        correction; grouped as ``req``); blank words and a failing count
        give None (this must never break a search)."""
        if total != 0 or not req.q.strip() or not set(filters_of(req)) - {"sort"}:
            return None
        try:
            return self.get().search(without_filters(req)).total
        except Exception:  # noqa: BLE001 - a hint for the page and the log only
            return None

    def get(self) -> SearchEngine:
        """The engine, up to date with every write acknowledged as indexed:
        see ``_catch_up``."""
        if self._engine is not None:
            self._catch_up(self._engine)
            return self._engine
        with self._lock:
            if self._engine is None:
                if self._error and time.monotonic() - self._failed_at < self.RETRY_SECONDS:
                    raise IndexUnavailable(self._error)
                try:
                    self._engine = SearchEngine.open(
                        self.config["SEARCH_INDEX"], self.config["SEARCH_USERDICT"],
                        refresh_interval=self.config["SEARCH_REFRESH_INTERVAL"],
                        backend=self.config.get("SEARCH_BACKEND", "whoosh"),
                        opensearch_url=self.config.get("OPENSEARCH_URL"),
                        synonyms_path=self.config["SEARCH_SYNONYMS"],
                        blocklist_path=self.config["SEARCH_BLOCKLIST"], query_log=self.query_log,
                        query_timeout=self.config.get("SEARCH_QUERY_TIMEOUT") or None,
                        embed_model=self.config.get("SEARCH_EMBED_MODEL"))
                    self._error = None
                    self._engine.index_userdict = self._index_userdict
                    self._catch_up(self._engine)
                except Exception as exc:  # noqa: BLE001 - reported on /healthz
                    self._error = f"{type(exc).__name__}: {exc}"
                    self._failed_at = time.monotonic()
                    raise IndexUnavailable(self._error) from exc
        return self._engine

    USERDICT_STATE_TTL = 0.5  # seconds the store's user dictionary state is reused (chosen, not measured)

    def _index_userdict(self):
        """(words of the user dictionary the index was cut with, words being
        re-indexed, that dictionary's version) from the article store (``indexer.userdict_reindex``;
        re-read at most every ``USERDICT_STATE_TTL`` s), or None without a
        store or before the writer recorded one.  A stale value only widens
        the queries (``search.pending_words``).  While the stored words
        are the same, the same value object is returned, so the engine's
        remembered pending words are found by identity."""
        now = time.monotonic()
        cached = getattr(self, "_userdict_state", None)
        # Re-read at once when the served index moved: the writer records the
        # words it re-indexes before committing them, so the state read after
        # a commit is never older than the cut that commit serves.
        index_version = self._engine.backend.version() if self._engine is not None else None
        if cached is not None and now - cached[0] < self.USERDICT_STATE_TTL and cached[2] == index_version:
            return cached[1]
        value = None
        try:
            store = self._store()
            if store is not None:
                from indexer.userdict_reindex import read_state

                state = read_state(store)
                if state is not None:
                    value = (tuple(state.get("words") or ()), tuple((state.get("reindex") or {}).get("words") or ()),
                             state.get("version"))
                    if cached is not None and cached[1] == value:
                        value = cached[1]  # unchanged (the re-index's counters aside)
        except Exception:  # noqa: BLE001 - the store unreadable: queries are not widened
            value = None
        self._userdict_state = (now, value, index_version)
        return value

    def _catch_up(self, engine: SearchEngine) -> None:
        """Read-your-own-writes in every worker: the writer records a change
        as applied (``applied`` in the article store) only after its index
        commit, and a write is answered "indexed" only once it is applied.
        So a worker that sees ``applied`` move refreshes at once, instead of
        waiting up to ``SEARCH_REFRESH_INTERVAL``.  The cost is one indexed
        SQLite read per request (measured in README.md, "Live ingestion")."""
        try:
            store = self._store()
            if store is None:
                return
            applied = store.applied()
        except Exception:  # noqa: BLE001 - the store unreadable: the periodic refresh still runs
            return
        if applied != self._applied_seen:
            engine.backend.refresh(force=True)
            self._applied_seen = applied

    def damage(self) -> str | None:
        """Why the open index is damaged (``IndexCorrupt``'s message), or
        None when it is intact or not open."""
        from search.backends.base import IndexCorrupt

        engine = self._engine
        if engine is None:
            return None
        try:
            engine.check()
        except IndexCorrupt as exc:
            return str(exc)
        except Exception:  # noqa: BLE001 - not damage we can name
            return None
        return None
