"""The single index writer: drains the article store's change log into the
Whoosh index, for as long as the service runs.

    python -m indexer writer --index data/index --store data/articles.sqlite

It holds the index's write lock for its whole life, so no second writer
can ever open the index; everything else (the web workers' write API, the
indexer CLI while the service runs) appends to the article store instead.

Each step takes the pending changes (last change per id wins), analyses the
new versions, writes them as one segment, deletes the versions they
replace, commits a new index generation, and only then records the last
change as applied: a crash anywhere re-applies the same changes on restart,
which is harmless (a put replaces, a delete of a missing id does nothing).

Near-duplicate groups are recomputed in a background thread at most every
``regroup_interval`` seconds after changes, and published with a later
commit, so writes never wait for them.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

from search.analysis import Analyzer
from search.backends.whoosh import groups, store as index_store
from search.backends.whoosh.segwriter import write_segment
from search.documents import prepare
from search.segmenter import get_segmenter

from . import bylines
from .article_store import ArticleStore
from .records import RecordError, record_hash, to_article

log = logging.getLogger("indexer.writer")

PID_FILE = "writer.pid"  # in the index directory: "a writer is running"


def running_writer(index_dir: str) -> int | None:
    """The pid of the writer serving ``index_dir``, if one is alive."""
    try:
        with open(os.path.join(index_dir, PID_FILE)) as f:
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


class IndexWriter:
    def __init__(self, index_dir: str, articles: ArticleStore, userdict: str | None = None,
                 batch: int = 1000, regroup_interval: float = 30.0):
        self.index_dir = index_dir
        self.articles = articles
        self.batch = batch
        self.regroup_interval = regroup_interval
        self.session = index_store.WriteSession(index_dir, userdict)
        self.analyzer = Analyzer(get_segmenter(userdict))
        self.locations = self._read_locations()
        self._groups_job: threading.Thread | None = None
        self._groups_result: dict | None = None
        self._last_regroup = 0.0
        self._changed_since_regroup = False
        self.commits = 0

    # ---- where every live document is --------------------------------------
    def _read_locations(self) -> dict[str, tuple[str, int]]:
        """id -> (segment id, docnum).  Keyed by segment id, not position, so
        that segments can come and go (merges)."""
        by_pos = self.session.id_map()
        segids = [s.segment_id() for s in self.session.segments]
        return {doc_id: (segids[segno], docnum) for doc_id, (segno, docnum, _) in by_pos.items()}

    def _delete(self, doc_id: str) -> None:
        loc = self.locations.pop(doc_id, None)
        if loc is None:
            return
        for i, seg in enumerate(self.session.segments):
            if seg.segment_id() == loc[0]:
                self.session.delete(i, loc[1])
                return

    # ---- one step ------------------------------------------------------------
    def step(self) -> int:
        """Apply pending changes; returns how many were applied."""
        applied = self.articles.applied()
        changes = self.articles.pending(applied, self.batch)
        if not changes:
            self._maybe_regroup()
            return 0
        final = {}
        for ch in changes:  # the last change of an id wins
            final[ch.id] = ch
        docs = []
        for ch in final.values():
            if ch.op != "put" or ch.record is None:
                continue
            try:
                article = bylines.enrich(to_article(ch.record))
            except RecordError as exc:  # validated on the way in; never lose the rest
                log.error("change %s (%s) skipped: %s", ch.seq, ch.id, exc)
                continue
            docs.append(prepare(article, self.analyzer, record_hash(article)))
        for doc_id in final:
            self._delete(doc_id)
        if docs:
            segment = write_segment(self.session.storage, index_store.INDEXNAME, self.session.schema, docs)
            self.session.add_segment(segment)
            for i, d in enumerate(docs):
                self.locations[d.id] = (segment.segment_id(), i)
        ready, self._groups_result = self._groups_result, None
        self.session.commit(groups_arrays=ready)
        self.articles.set_applied(changes[-1].seq)
        self.commits += 1
        self._changed_since_regroup = True
        self._maybe_regroup()
        return len(changes)

    def _maybe_regroup(self) -> None:
        if self._groups_job is not None and not self._groups_job.is_alive():
            self._groups_job = None
        if (self._groups_job is None and self._changed_since_regroup
                and time.monotonic() - self._last_regroup >= self.regroup_interval):
            snapshot = self.session.snapshot()
            storage = self.session.storage
            self._changed_since_regroup = False
            self._last_regroup = time.monotonic()

            def job():
                try:
                    self._groups_result = groups.compute(storage, snapshot)
                except Exception:  # noqa: BLE001 - groups are best effort; search works without
                    log.exception("regrouping failed")

            self._groups_job = threading.Thread(target=job, name="regroup", daemon=True)
            self._groups_job.start()

    def drain(self, timeout: float = 600.0) -> None:
        """Apply every pending change (used by tests and the CLI)."""
        deadline = time.monotonic() + timeout
        while self.step():
            if time.monotonic() > deadline:
                raise TimeoutError("changes still pending")

    def close(self) -> None:
        self.session.close()

    # ---- the service loop ---------------------------------------------------------
    def run(self, poll: float = 0.05, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        pid_path = os.path.join(self.index_dir, PID_FILE)
        with open(pid_path, "w") as f:
            f.write(str(os.getpid()))
        try:
            while not stop.is_set():
                if not self.step():
                    stop.wait(poll)
        finally:
            try:
                os.remove(pid_path)
            except OSError:
                pass
            self.close()


def serve(index_dir: str, store_path: str, userdict: str | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s writer %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if not index_store.exists(index_dir):
        index_store.create(index_dir, userdict)
    writer = IndexWriter(index_dir, ArticleStore(store_path), userdict)
    log.info("writing %s from %s (applied up to change %d)", index_dir, store_path, writer.articles.applied())
    writer.run(stop=stop)
    return 0
