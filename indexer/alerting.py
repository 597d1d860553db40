"""The writer's alerting thread: percolates what the writer committed
(``search.percolator``) without ever holding the writer up.

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


class Alerting:
    """Percolates the committed changes of ``articles`` (an
    ``ArticleStore``) against the saved searches in ``saved`` (a
    ``SavedSearchStore``).  ``open_engine()``: builds the
    ``search.engine.SearchEngine`` reading the index (called at the first
    batch when there are saved searches).  ``config``: see
    ``search_config``.  On a store never percolated, percolation starts at
    the changes applied now (older ones are not matched)."""

    def __init__(self, articles: ArticleStore, saved: SavedSearchStore, open_engine: Callable[[], object],
                 config: dict | None = None, chunk: int = CHUNK):
        self.articles = articles
        self.saved = saved
        self.state = PercolationState(saved)
        self.open_engine = open_engine
        self.config = config if config is not None else search_config()
        self.chunk = chunk
        self.percolator: Percolator | None = None
        self.batches = 0
        self.failures = 0
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.state.percolated() is None:
            self.state.set_percolated(articles.applied())

    def notify(self) -> None:
        """The writer committed: look for work now (never blocks)."""
        self._wake.set()

    def step(self, now: float | None = None) -> int:
        """Percolate the next chunk of committed, not yet percolated
        changes; returns how many changes (0: nothing to do).  Raises what
        the percolator raises (the progress mark then stays)."""
        applied = self.articles.applied()
        done = self.state.percolated() or 0
        if done >= applied:
            return 0
        changes = [c for c in self.articles.pending(done, self.chunk) if c.seq <= applied]
        if not changes:  # the log was cut below the mark: nothing left to match
            self.state.set_percolated(applied)
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
                         report.seconds, f"; unreadable saved searches: {report.errors}" if report.errors else "")
        elif deletes:
            self.saved.withdraw(deletes, now=now)
        self.state.set_percolated(seq)
        self.batches += 1
        return len(changes)

    def drain(self, now: float | None = None) -> None:
        """Percolate every committed change (tests, benchmarks)."""
        while self.step(now):
            pass

    def run(self, poll: float = 0.5) -> None:
        """Percolate until ``stop``; a failure is logged and the batch
        retried after a back-off (``RETRY_MIN`` .. ``RETRY_MAX`` s)."""
        delay = RETRY_MIN
        while not self._stop.is_set():
            try:
                busy = self.step()
                delay = RETRY_MIN
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - logged, retried: the writer must go on
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("percolation failed (retrying in %.0f s)", delay)
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            if not busy:
                self._wake.wait(poll)
                self._wake.clear()

    def start(self) -> "Alerting":
        """Run in a daemon thread of this process; returns self."""
        self._thread = threading.Thread(target=self.run, name="percolator", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread (after the batch under way) and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_percolated(self, seq: int, timeout: float = 30.0) -> bool:
        """Wait until every change up to ``seq`` was percolated (polling
        the store); False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while (self.state.percolated() or 0) < seq:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True
