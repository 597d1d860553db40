"""The writer's alerting: percolates what the writer committed
(``search.percolator``) without ever holding the writer up (in a process
of its own: ``indexer.alerting_process``).

The thread follows the article store's change log on its own: every change
up to the writer's ``applied`` mark that is past the saved-search store's
``percolated`` mark is percolated, a chunk at a time, and only then is
``percolated`` moved on.  So the writer's loop and the writes'
acknowledgements (which wait for ``applied``) never wait for matching; a
writer restarted after a commit percolates the committed batches it had
not percolated yet (none is lost), and re-percolating a batch records
nothing twice (the percolator recognises what it recorded).  A failed
batch is logged and retried with back-off; the writer goes on meanwhile.

Saved parameters are read by ``web.params.search_request`` (pages, API and
saved searches share one reading), through ``ParamArgs``, a mapping with
the ``get``/``getlist`` of the request arguments it expects (no werkzeug).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import fields
from datetime import datetime
from typing import Callable

from search.percolator import Percolator
from search.saved_searches import PercolationState, SavedSearchStore

from .article_store import ArticleStore

log = logging.getLogger("indexer.alerting")

CHUNK = 1000  # changes percolated at a time (the writer's batch)
RETRY_MIN, RETRY_MAX = 1.0, 60.0  # seconds between attempts at a failing batch (doubling)


class ParamArgs:
    """Saved parameters (dict of str -> list of str) read like request
    arguments: ``get(name)`` the first value or None, ``getlist(name)``
    every value."""

    def __init__(self, params: dict[str, list[str]]):
        self.params = params

    def get(self, name: str, default=None):
        """The first value of ``name``, else ``default``."""
        values = self.params.get(name)
        return values[0] if values else default

    def getlist(self, name: str) -> list[str]:
        """Every value of ``name`` ([] when absent)."""
        return list(self.params.get(name) or [])


def search_config(settings=None) -> dict:
    """The settings as the web's config keys (``SEARCH_MAX_QUERY_LENGTH``
    ...), for ``web.params`` (``settings``: a ``search.settings.Settings``,
    default this process's)."""
    from search.settings import current

    settings = settings or current()
    return {f.metadata["env"]: getattr(settings, f.name) for f in fields(settings)}


def request_reader(config: dict) -> Callable[[dict, datetime], object]:
    """``to_request(params, now)`` for ``search.percolator.Percolator``:
    ``web.params.search_request`` over ``ParamArgs`` (raises its
    ``ParamError`` for parameters that do not read)."""
    from web.params import search_request

    def to_request(params: dict, now: datetime):
        return search_request(ParamArgs(params), config, now=now, facets=())

    return to_request


def engine_opener(index: str, backend: str, opensearch_url: str | None, userdict: str | None,
                  articles: ArticleStore, settings=None) -> Callable[[], object]:
    """``open_engine()`` for ``Alerting``: the engine of ``index`` as the
    web's workers open it (same synonyms and blocklist of ``settings``,
    default this process's; the words the index holds cut either way
    while a dictionary change is being re-indexed: ``search.pending_words``,
    read from ``articles``)."""
    from search.settings import current

    settings = settings or current()

    def open_engine():
        from search.engine import SearchEngine

        from .userdict_reindex import read_state

        engine = SearchEngine.open(index, userdict, refresh_interval=0, backend=backend,
                                   opensearch_url=opensearch_url, synonyms_path=settings.synonyms,
                                   blocklist_path=settings.blocklist)

        def index_userdict():
            state = read_state(articles)
            if state is None:
                return None
            return (tuple(state.get("words") or ()), tuple((state.get("reindex") or {}).get("words") or ()),
                    state.get("version"))

        engine.index_userdict = index_userdict
        return engine

    return open_engine


class Alerting:
    """Percolates the committed changes of ``articles`` (an
    ``ArticleStore``) against the saved searches of ``saved`` (a
    ``SavedSearchStore``, or the path of its file: the writer passes the
    path, so that a locked, unreadable or corrupt file is opened, and
    retried, inside the threads, never in the writer's start; a retry
    comes at once when the file changes).
    ``open_engine()``: builds the ``search.engine.SearchEngine`` reading
    the index (called at the first batch when there are saved searches).
    ``config``: see ``search_config``.  On a store never percolated,
    percolation starts after change ``start_at`` (default: the changes
    applied when this object was made; older ones are not matched).

    Two threads (``start``): the matching, and the withdrawals (the alerts
    of deleted articles withdrawn at their commit, whatever the matching's
    state: ``withdraw_step``).  A failure of either is logged, kept in
    ``last_error`` and in the article store's meta ``alerting_error`` (for
    ``/healthz``; cleared when it works again), and retried with back-off;
    the writer never waits for them."""

    def __init__(self, articles: ArticleStore, saved: SavedSearchStore | str,
                 open_engine: Callable[[], object], config: dict | None = None, chunk: int = CHUNK,
                 start_at: int | None = None):
        self.articles = articles
        self.saved_path = saved if isinstance(saved, str) else saved.path
        self.saved: SavedSearchStore | None = None if isinstance(saved, str) else saved
        self.state: PercolationState | None = None
        self.open_engine = open_engine
        self.config = config if config is not None else search_config()
        self.chunk = chunk
        self.percolator: Percolator | None = None
        self.batches = 0
        self.failures = 0
        self.last_error: str | None = None
        self._start_mark = articles.applied() if start_at is None else start_at  # where a new store starts
        self._wake = threading.Event()
        self._wake_withdrawals = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._errors: dict[str, str] = {}  # thread -> its current failure
        self._open_lock = threading.Lock()
        if self.saved is not None:
            self._ready()

    def _ready(self) -> PercolationState:
        """The saved-search store and its percolation state, opened at the
        first call (raises what opening the file raises: retried by ``run``)."""
        with self._open_lock:
            if self.state is None:
                saved = self.saved if self.saved is not None else SavedSearchStore(self.saved_path)
                state = PercolationState(saved)
                if state.percolated() is None:
                    state.set_percolated(self._start_mark)
                self.saved, self.state = saved, state
            return self.state

    def notify(self) -> None:
        """The writer committed: look for work now (never blocks)."""
        self._wake.set()
        self._wake_withdrawals.set()

    def step(self, now: float | None = None) -> int:
        """Percolate the next chunk of committed, not yet percolated
        changes; returns how many changes (0: nothing to do).  Raises what
        the percolator raises (the progress mark then stays)."""
        state = self._ready()
        applied = self.articles.applied()
        done = state.percolated() or 0
        if done >= applied:
            return 0
        changes = [c for c in self.articles.pending(done, self.chunk) if c.seq <= applied]
        if not changes:  # the log was cut below the mark: nothing left to match
            state.set_percolated(applied)
            return 0
        final = {c.id: c for c in changes}  # the last change of an id wins
        puts = [i for i, c in final.items() if c.op == "put"]
        deletes = [i for i, c in final.items() if c.op != "put"]
        seq = changes[-1].seq
        if self.percolator is None and self.saved.all():
            self.percolator = Percolator(self.open_engine(), self.saved, request_reader(self.config))
        if self.percolator is not None:
            report = self.percolator.percolate(puts, deletes, seq, now=now)
            if report.alerts or report.copies or report.ended or report.errors:
                log.info("percolated changes %d-%d: %d searches, %d alerts, %d copies, %d ended, %.3f s%s",
                         changes[0].seq, seq, report.searches, report.alerts, report.copies, report.ended,
                         report.seconds, f"; saved searches not run: {report.errors}" if report.errors else "")
        elif deletes:
            self.saved.withdraw(deletes, now=now)
        state.set_percolated(seq)
        self.batches += 1
        return len(changes)

    def withdraw_step(self, now: float | None = None) -> int:
        """Withdraw the alerts of the articles deleted by the next chunk of
        committed changes past the ``withdrawn`` mark (one UPDATE, no
        matching); returns how many changes were read (0: nothing to do)."""
        state = self._ready()
        applied = self.articles.applied()
        done = state.mark("withdrawn")
        if done is None:
            done = state.percolated() or 0
        if done >= applied:
            return 0
        changes = [c for c in self.articles.pending(done, self.chunk) if c.seq <= applied]
        final = {c.id: c for c in changes}
        deletes = [i for i, c in final.items() if c.op != "put"]
        if deletes:
            self.saved.withdraw(deletes, now=now)
        state.set_mark("withdrawn", changes[-1].seq if changes else applied)
        return len(changes)

    def drain(self, now: float | None = None) -> None:
        """Percolate every committed change (tests, benchmarks)."""
        while self.step(now):
            pass

    def _report(self, name: str, error: str | None) -> None:
        """Keep the current failure of thread ``name`` (None: it works) in
        ``last_error`` and in the article store's meta ``alerting_error``
        (what ``/healthz`` shows); never raises."""
        if self._errors.get(name) == error:
            return
        if error is None:
            self._errors.pop(name, None)
        else:
            self._errors[name] = error
        self.last_error = "; ".join(self._errors.values()) or None
        try:
            self.articles.set_meta("alerting_error", self.last_error or "")
        except Exception:  # noqa: BLE001 - the log has it
            log.warning("the alerting state could not be recorded in the article store", exc_info=True)

    def run(self, poll: float = 0.5) -> None:
        """Percolate until ``stop``; a failure is logged and the batch
        retried after a back-off (``RETRY_MIN`` .. ``RETRY_MAX`` s)."""
        self._loop("percolation", self.step, self._wake, poll)

    def run_withdrawals(self, poll: float = 0.5) -> None:
        """Withdraw the alerts of deleted articles until ``stop`` (``withdraw_step``)."""
        self._loop("withdrawals", self.withdraw_step, self._wake_withdrawals, poll)

    def _loop(self, name: str, step: Callable[[], int], wake: threading.Event, poll: float) -> None:
        delay = RETRY_MIN
        while not self._stop.is_set():
            try:
                busy = step()
                delay = RETRY_MIN
                self._report(name, None)
            except Exception as exc:  # noqa: BLE001 - logged, retried: the writer must go on
                if name == "percolation":
                    self.failures += 1
                self._report(name, f"{name}: {type(exc).__name__}: {exc}")
                log.exception("%s failed (saved searches %s; retrying in %.0f s, or when the file changes)",
                              name, self.saved_path, delay)
                self._back_off(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            if not busy:
                wake.wait(poll)
                wake.clear()

    def _back_off(self, delay: float) -> None:
        """Wait ``delay`` s, or less: until ``stop`` or a change of the
        saved-search file (replaced, repaired, its permissions changed)."""
        def seen():
            try:
                st = os.stat(self.saved_path)
                return st.st_ino, st.st_mtime_ns, st.st_size, st.st_mode
            except OSError as exc:
                return exc.errno
        before = seen()
        deadline = time.monotonic() + delay
        while not self._stop.is_set() and time.monotonic() < deadline and seen() == before:
            self._stop.wait(min(0.2, max(0.0, deadline - time.monotonic())))

    def start(self, poll: float = 0.5) -> "Alerting":
        """Run the matching and the withdrawals in daemon threads of this
        process, each looking for work every ``poll`` s (and at ``notify``); returns self."""
        try:
            self.articles.set_meta("alerting_error", "")
        except Exception:  # noqa: BLE001 - the log has it
            log.warning("the alerting state could not be recorded in the article store", exc_info=True)
        for name, target in (("percolator", self.run), ("withdrawals", self.run_withdrawals)):
            thread = threading.Thread(target=target, args=(poll,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the threads (after the batch under way) and wait for them."""
        self._stop.set()
        self._wake.set()
        self._wake_withdrawals.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]
        if not self._threads:
            self._stop.clear()  # may start again

    def wait_percolated(self, seq: int, timeout: float = 30.0) -> bool:
        """Wait until every change up to ``seq`` was percolated (polling
        the store); False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.state is None or (self.state.percolated() or 0) < seq:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True
