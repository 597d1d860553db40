"""The single index writer: drains the article store's change log into the
index, for as long as the service runs, through the index's write seam
(``search.backends.base.IndexTarget``: Whoosh or OpenSearch alike).

    python -m indexer writer --index data/index --store data/articles.sqlite

On Whoosh the target holds the index's write lock for the writer's whole
life, so no second writer can ever open the index; everything else (the
web workers' write API, the indexer CLI while the service runs) appends to
the article store instead.

Each step takes the pending changes (last change per id wins), analyses the
new versions, applies them with the deletions as one unit (a segment; a
bulk request), commits, and only then records the last change as applied:
a crash anywhere re-applies the same changes on restart, which is harmless
(a put replaces, a delete of a missing id does nothing).  After each step
the target does its background maintenance (``IndexTarget.maintain``:
merging small segments, regrouping near-duplicates), off the write path,
and, after the user dictionary changed, a batch of the articles cut with
the old one is re-indexed from the store (``userdict_reindex``).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

from search.backends import LOCAL, open_target
from search.segmenter import get_segmenter

from . import pipeline
from .article_store import ArticleStore, StoreBound
from .records import RecordError, read_article, record_hash
from .userdict_reindex import UserDictReindex

log = logging.getLogger("indexer.writer")

PID_FILE = "writer.pid"  # in the index directory: "a writer is running"


def pid_file(index: str, backend: str = "whoosh", store: str | None = None) -> str:
    """Where the writer of ``index`` records its pid: in the Whoosh index
    directory, or beside the article store for an OpenSearch index."""
    if backend in LOCAL:
        return os.path.join(index, PID_FILE)
    return os.path.join(os.path.dirname(os.path.abspath(store or ".")), f"writer-{index}.pid")


def running_writer(index: str, backend: str = "whoosh", store: str | None = None) -> int | None:
    """The pid of the writer serving ``index``, if one is alive."""
    try:
        with open(pid_file(index, backend, store)) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return None
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


class ChangeLoop:
    """The writer: applies the article store's changes (``articles``, an
    ``ArticleStore``) to ``target`` (an ``IndexTarget``), at most ``batch``
    changes a step, for as long as the service runs.  ``pid_path``: where
    ``run`` records this process (default ``pid_file``)."""

    def __init__(self, target, articles: ArticleStore, batch: int = 1000, pid_path: str | None = None):
        self.target = target
        self.articles = articles
        self.batch = batch
        self.pid_path = pid_path or pid_file(target.location, target.backend, articles.path)
        self.documents = target.document_writers()()  # analysis in this process
        # The user dictionary is re-read when it changes; the articles cut
        # with an older one are re-indexed a batch per step.
        self.userdict = UserDictReindex(articles, get_segmenter(getattr(target, "userdict", None)))
        self.commits = 0
        self.rebuilds = 0
        # Called (without arguments) after each commit is recorded as
        # applied: must return at once (``indexer.alerting_process.AlertingProcess.notify``
        # wakes the alerting process; it never holds the writer up).
        self.after_commit: list = []
        self._running = False
        self._merging = False
        articles.set_state("merging", 0)  # a merge of an earlier run died with it

    def _latest(self, changes) -> tuple[dict, list]:
        """The last change of each id, and (Article, record hash) of each id
        whose last change is a put (a bad record is logged and skipped: it
        was validated on the way in, and the rest must not be lost)."""
        final = {ch.id: ch for ch in changes}  # the last change of an id wins
        puts = []
        for ch in final.values():
            if ch.op != "put" or ch.record is None:
                continue
            try:
                # the store checked the id rule on the way in; an id stored
                # before the rule is kept, never dropped
                article = read_article(ch.record, acknowledged=True)
            except RecordError as exc:
                log.error("change %s (%s) skipped: %s", ch.seq, ch.id, exc)
                continue
            puts.append((article, record_hash(article)))
        return final, puts

    def step(self) -> int:
        """Apply pending changes (a rebuild first, when one was requested);
        returns how many were applied."""
        if self.articles.state("rebuild_requested"):
            self.rebuild_from_store()
        changes = self.articles.pending(self.articles.applied(), self.batch)
        if not changes:
            self.target.maintain(changed=False)  # publishes finished background work now
            self._report_merging()
            self.userdict.step(self)  # not counted: the loop may rest between batches
            return 0
        final, puts = self._latest(changes)
        written = {article.id for article, _ in puts}
        # Every id whose last change is not a readable put is withdrawn.
        deletes = [doc_id for doc_id in final if doc_id not in written]
        for article, h in puts:
            self.documents.add(article, h)
        unit = self.documents.flush()
        self.target.apply([(unit, [article.id for article, _ in puts])] if unit is not None else [], deletes)
        self.target.commit()
        self.articles.set_applied(changes[-1].seq)
        self.commits += 1
        for notify in self.after_commit:
            notify()
        self.target.maintain(changed=True)
        self._report_merging()
        self.userdict.step(self)  # a re-index goes on under a steady stream of writes too
        return len(changes)

    def _report_merging(self) -> None:
        """Tell ``/healthz`` (the store's "merging" state) when a merge starts or ends."""
        if self.target.merging != self._merging:
            self._merging = self.target.merging
            self.articles.set_state("merging", int(self._merging))

    def rebuild_from_store(self) -> None:
        """Rebuild the whole index from the article store into a new
        generation and switch to it atomically (``pipeline.rebuild_from_records``);
        the service keeps answering from the old index meanwhile.  Writes
        arriving during the rebuild wait in the change log and are applied
        right after it (re-applying one already in the dump is harmless)."""
        snapshot = self.articles.last_seq()
        log.info("rebuilding %s from the article store (changes up to %d)", self.target.location, snapshot)
        summary = pipeline.rebuild_from_records(self.target, self.articles.records(),
                                                report=lambda msg: log.warning("%s", msg))
        self.documents = self.target.document_writers()()
        if self._running:
            self._write_pid()  # in the new index directory (Whoosh)
        self.articles.set_applied(snapshot)
        self.articles.set_state("rebuild_requested", 0)
        self.userdict.rebuilt()
        self.rebuilds += 1
        self._report_merging()
        log.info("rebuild done: %d documents", summary.added)

    def drain(self, timeout: float = 600.0) -> None:
        """Apply every pending change (used by tests and the CLI)."""
        deadline = time.monotonic() + timeout
        while self.step():
            if time.monotonic() > deadline:
                raise TimeoutError("changes still pending")

    def run(self, poll: float = 0.05, stop: threading.Event | None = None, parent: int | None = None) -> None:
        """Apply changes until ``stop`` is set, or until the process that
        started this one (``parent``: gunicorn's master) is gone."""
        stop = stop or threading.Event()
        self._running = True
        self._write_pid()
        try:
            while not stop.is_set():
                if parent is not None and os.getppid() != parent:
                    log.info("the service that started this writer is gone: stopping")
                    break
                if not self.step():
                    stop.wait(poll)
        finally:
            try:
                os.remove(self.pid_path)
            except OSError:
                pass
            self.close()

    def _write_pid(self) -> None:
        with open(self.pid_path, "w") as f:
            f.write(str(os.getpid()))


    def close(self) -> None:
        """Close the target (its lock, its connection)."""
        self.target.close()


class IndexWriter(ChangeLoop):
    """A ``ChangeLoop`` on the index ``index`` of ``backend``, opened through
    ``search.backends.open_target`` (``regroup_interval`` s, the Whoosh
    merge policy ``merge_at`` / ``merge_max_docs``)."""

    def __init__(self, index: str, articles: ArticleStore, userdict: str | None = None, batch: int = 1000,
                 regroup_interval: float = 1.0, merge_at: int = 10, merge_max_docs: int = 5000,
                 backend: str = "whoosh", opensearch_url: str | None = None, pid_path: str | None = None):
        target = open_target(backend, index, opensearch_url=opensearch_url, userdict=userdict,
                             regroup_interval=regroup_interval, merge_at=merge_at, merge_max_docs=merge_max_docs)
        try:
            super().__init__(target, articles, batch, pid_path)
        except BaseException:
            target.close()
            raise


def _start_webhook_deliveries(index: str, backend: str, stop: threading.Event) -> None:
    """Saved searches' webhook posts, in a thread beside the writer's loop
    (``indexer.deliveries``: it never blocks or crashes the writer)."""
    from dataclasses import replace

    from search.settings import current

    from . import deliveries

    try:
        deliveries.start(replace(current(), index=index, backend=backend), stop)
    except Exception:  # noqa: BLE001 - the writer runs on without webhooks
        log.exception("webhook deliveries not started")


def serve(index: str, store_path: str, userdict: str | None = None, backend: str = "whoosh",
          opensearch_url: str | None = None, error_file: str | None = None, batch: int = 1000, merge_at: int = 10,
          merge_max_docs: int = 5000, embed: str | None = None) -> int:
    """Run the writer until SIGTERM/SIGINT or until its parent is gone
    (exit status 0), with its alerting process: the percolation of saved
    searches (``indexer.alerting_process``) into ``SEARCH_SAVED_SEARCHES`` (else
    the index's own file; "off": none), which never stops the writer (a
    saved-search file that cannot be opened is retried in that process and
    reported in the article store's meta ``alerting_error``), and its
    thread of webhook posts.  Any failure (the store locked past its timeout, a
    read-only or corrupt index ...) ends the process with status 1 after
    writing its reason to ``error_file`` (one line of text): the process
    that started it (``indexer.supervisor``) restarts it with back-off
    and ``/healthz`` shows the reason.  ``embed`` (Whoosh): the model
    ("bundled" or an ONNX model directory) of the embedding runs started
    after commits (``indexer.embed_process``; a failed run is retried
    with back-off and described in the article store's meta
    ``embed_error`` until a run succeeds); None: none."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s writer %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if error_file:
        try:
            os.remove(error_file)
        except OSError:
            pass
    background: list = []  # the writer's threads, stopped with it
    try:
        writer: ChangeLoop
        articles = ArticleStore(store_path)
        # A store feeds one index: a writer of another index never applies
        # (or rebuilds from) its changes.
        articles.bind(index, backend)
        writer = IndexWriter(index, articles, userdict, batch=batch, merge_at=merge_at, merge_max_docs=merge_max_docs,
                             backend=backend, opensearch_url=opensearch_url,
                             pid_path=pid_file(index, backend, store_path))
        log.info("writing %s (%s) from %s (applied up to change %d)", index, backend, store_path,
                 writer.articles.applied())
        alerting = _start_alerting(index, backend, opensearch_url, userdict, articles)
        if alerting is not None:
            background.append(alerting)
            writer.after_commit.append(alerting.notify)
        # The writer process's second background thread: saved searches'
        # webhook posts (indexer.deliveries), stopped by `stop`.
        _start_webhook_deliveries(index, backend, stop)
        from .embed_process import EMBED_ERROR, EmbedProcess

        if embed is None and articles.meta(EMBED_ERROR):
            articles.set_meta(EMBED_ERROR, "")  # runs turned off: their last failure is no longer news
        if embed is not None:  # Whoosh only (the command line refuses it for OpenSearch)
            # a failed run's description stays in the store's meta for /healthz until a run succeeds
            embedding = EmbedProcess(index, embed,
                                     on_error=lambda text: articles.set_meta(EMBED_ERROR, text or "")).start()
            background.append(embedding)
            writer.after_commit.append(embedding.notify)
        writer.run(stop=stop, parent=os.getppid())
    except StoreBound as exc:  # configuration, not damage: said, exit 2
        log.error("%s", exc)
        if error_file:
            with open(error_file, "w", encoding="utf-8") as f:
                f.write(str(exc).replace("\n", " ")[:1000])
        return 2
    except Exception as exc:  # noqa: BLE001 - reported to the supervisor, then exit 1
        log.exception("the writer failed")
        reason = f"{type(exc).__name__}: {exc}"
        damage = None
        try:
            seen = open_target(backend, index, opensearch_url=opensearch_url, create=False)
            try:
                damage = seen.damage()
            finally:
                seen.close()
        except Exception:  # noqa: BLE001 - the reason above stands
            pass
        if damage is not None:  # name the damage, not the error it caused
            reason = str(damage)
        if error_file:
            with open(error_file, "w", encoding="utf-8") as f:
                f.write(reason.replace("\n", " ")[:1000])
        return 1
    finally:
        for thread in background:
            thread.stop(timeout=2)  # an unfinished batch is percolated again at the next start
    return 0


def _start_alerting(index: str, backend: str, opensearch_url: str | None, userdict: str | None,
                    articles: ArticleStore):
    """The alerting process (``indexer.alerting_process.AlertingProcess``:
    the percolation of saved searches and the withdrawals), started; None
    when ``SEARCH_SAVED_SEARCHES`` is "off" or it could not even be started
    (logged: the writer runs without it).  The saved-search file is opened
    in that process, retried with back-off until it opens."""
    from search.settings import current

    from .alerting_process import AlertingProcess
    from .paths import default_saved_searches

    path = current().saved_searches or default_saved_searches(index, backend)
    if path == "off":
        return None
    args = ["--index", index, "--store", articles.path, "--saved", path, "--backend", backend,
            "--start-at", str(articles.applied())]  # a new saved-search file: from the writer's start on
    if opensearch_url:
        args += ["--opensearch-url", opensearch_url]
    if userdict:
        args += ["--userdict", userdict]
    try:
        return AlertingProcess(args).start()
    except Exception:  # noqa: BLE001 - the writer runs on without alerts
        log.exception("percolation of saved searches not started")
        return None
