"""The single index writer: drains the article store's change log into the
Whoosh index, for as long as the service runs (``ChangeLoop`` is the part
shared with the OpenSearch writer, ``opensearch_target.OpenSearchWriter``).

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

Every step adds a small segment, so small segments are merged in the
background too: once there are ``merge_at`` segments under
``merge_max_docs`` documents, a thread re-analyses their live documents
(from the stored fields) into one segment while commits go on; the main
loop then swaps it in, dropping from it every document that was replaced
or withdrawn during the merge.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import traceback
import signal
import threading
import time

from search.analysis import Analyzer
from search.backends.whoosh import groups, store as index_store
from search.backends.whoosh.segwriter import write_segment
from search.documents import article_from_stored, prepare
from search.segmenter import get_segmenter

from . import bylines, lifeline
from .article_store import ArticleStore, StoreBound
from .records import RecordError, record_hash, to_article

log = logging.getLogger("indexer.writer")

PID_FILE = "writer.pid"  # in the index directory: "a writer is running"


def pid_file(index: str, backend: str = "whoosh", store: str | None = None) -> str:
    """Where the writer of ``index`` records its pid: in the Whoosh index
    directory, or beside the article store for an OpenSearch index."""
    if backend == "opensearch":
        return os.path.join(os.path.dirname(os.path.abspath(store or ".")), f"writer-{index}.pid")
    return os.path.join(index, PID_FILE)


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
    """What every writer shares: apply the article store's changes, step
    after step, for as long as the service runs.  Subclasses write to one
    backend (``step``) and say where their pid file is (``pid_path``)."""

    pid_path: str

    def step(self) -> int:
        """Apply pending changes; returns how many were applied."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def _latest(self, changes) -> tuple[dict, list]:
        """The last change of each id, and the analysed new version of each
        id whose last change is a put (a bad record is logged and skipped:
        it was validated on the way in, and the rest must not be lost)."""
        final = {ch.id: ch for ch in changes}  # the last change of an id wins
        docs = []
        for ch in final.values():
            if ch.op != "put" or ch.record is None:
                continue
            try:
                # the store checked the id rule on the way in; an id stored
                # before the rule is kept, never dropped
                article = bylines.enrich(to_article(ch.record, acknowledged=True))
            except RecordError as exc:
                log.error("change %s (%s) skipped: %s", ch.seq, ch.id, exc)
                continue
            docs.append(prepare(article, self.analyzer, record_hash(article)))
        return final, docs

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


class IndexWriter(ChangeLoop):
    def __init__(self, index_dir: str, articles: ArticleStore, userdict: str | None = None,
                 batch: int = 1000, regroup_interval: float = 30.0, merge_at: int = 10,
                 merge_max_docs: int = 5000):
        self.index_dir = index_dir
        self.pid_path = pid_file(index_dir)
        self.articles = articles
        self.batch = batch
        self.regroup_interval = regroup_interval
        self.merge_at = merge_at
        self.merge_max_docs = merge_max_docs
        self._merge_job: threading.Thread | None = None
        self._merge_result = None
        self.merges = 0
        self.userdict = userdict
        self.session = index_store.WriteSession(index_dir, userdict)
        self.analyzer = Analyzer(get_segmenter(userdict))
        self.rebuilds = 0
        self.locations = self._read_locations()
        articles.set_state("merging", 0)  # a merge of an earlier run died with it
        self._groups_job: threading.Thread | None = None
        self._groups_result: dict | None = None
        self._last_regroup = 0.0
        self._changed_since_regroup = False
        self.commits = 0

    # ---- where every live document is --------------------------------------
    def _read_locations(self) -> dict[str, tuple[str, int]]:
        """id -> (segment id, docnum).  Keyed by segment id, not position, so
        that segments can come and go (merges)."""
        return self.session.id_locations()

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
        if self.articles.state("rebuild_requested"):
            self.rebuild_from_store()
        applied = self.articles.applied()
        changes = self.articles.pending(applied, self.batch)
        if not changes:
            # Publish a finished merge or regrouping now, not with the next
            # write (copies written last would otherwise stay ungrouped while
            # no other article arrives).
            merged = self._merge_job is not None and not self._merge_job.is_alive()
            ready = self._groups_result
            if merged or ready is not None:
                if merged:
                    self._apply_merge()
                self._groups_result = None
                self.session.commit(groups_arrays=ready, clean=self._merge_job is None)
            self._maybe_regroup()
            return 0
        final, docs = self._latest(changes)
        for doc_id in final:
            self._delete(doc_id)
        if docs:
            segment = write_segment(self.session.storage, index_store.INDEXNAME, self.session.schema, docs)
            self.session.add_segment(segment)
            for i, d in enumerate(docs):
                self.locations[d.id] = (segment.segment_id(), i)
        self._apply_merge()
        ready, self._groups_result = self._groups_result, None
        # Old tables of contents and merged-away segments are removed at
        # once, except while a merge is writing its (not yet listed) segment.
        self.session.commit(groups_arrays=ready, clean=self._merge_job is None)
        self.articles.set_applied(changes[-1].seq)
        self.commits += 1
        self._changed_since_regroup = True
        self._maybe_regroup()
        self._maybe_merge()
        return len(changes)

    # ---- merging small segments ---------------------------------------------
    def _maybe_merge(self) -> None:
        if self._merge_job is not None or self._merge_result is not None:
            return
        small = [s for s in self.session.segments if s.doc_count_all() < self.merge_max_docs]
        if len(small) < self.merge_at:
            return
        sources = [(seg, frozenset(seg.deleted_docs())) for seg in small]
        storage, schema, generation = self.session.storage, self.session.schema, self.session.generation
        analyzer = self.analyzer
        lock_fd = getattr(self.session.lock, "fd", None)
        parent = os.getpid()

        def job():
            # The re-analysis runs in a child process at low priority, so it
            # neither holds this process's interpreter lock nor slows the
            # commits of new articles; this thread only waits for it.
            ctx = multiprocessing.get_context("fork")
            receive, send = ctx.Pipe(duplex=False)
            # The child dies with this process and keeps neither the write
            # lock nor the pipe's read end, from the instant it exists
            # (lifeline.py): no orphan can hold the index after its writer.
            proc = ctx.Process(target=_merge_main, args=(send, storage, schema, generation, sources, analyzer),
                               name="merge", daemon=True)
            with lifeline.bound_children(parent, (receive, lock_fd)):
                proc.start()
            send.close()
            try:
                status, value = receive.recv()
            except EOFError:
                status, value = "error", f"merge process died (exit code {proc.exitcode})"
            proc.join()
            if status == "ok":
                self._merge_result = ({seg.segment_id() for seg, _ in sources}, *value)
            else:
                log.error("merge failed: %s", value)

        log.info("merging %d small segments (%d documents)", len(sources),
                 sum(seg.doc_count() for seg, _ in sources))
        self._merge_job = threading.Thread(target=job, name="merge", daemon=True)
        self.articles.set_state("merging", 1)
        self._merge_job.start()

    def _apply_merge(self) -> None:
        """Swap a finished merge in (before this step's commit)."""
        if self._merge_job is None or self._merge_job.is_alive():
            return
        self._merge_job, result, self._merge_result = None, self._merge_result, None
        self.articles.set_state("merging", 0)
        if result is None:
            return
        old_ids, segment, origins = result
        if segment is not None:
            new_id = segment.segment_id()
            for i, (doc_id, old_segid, old_docnum) in enumerate(origins):
                if self.locations.get(doc_id) == (old_segid, old_docnum):
                    self.locations[doc_id] = (new_id, i)
                else:  # replaced or withdrawn while the merge ran
                    segment.delete_document(i)
        if segment is None:
            self.session.segments = [s for s in self.session.segments if s.segment_id() not in old_ids]
            self.session._dirty = True
        else:
            self.session.replace_segments(old_ids, segment)
        self.merges += 1
        self._changed_since_regroup = True

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

    def rebuild_from_store(self) -> None:
        """Rebuild the whole index from the article store into a new
        directory and switch to it atomically (``pipeline.rebuild``); the
        service keeps answering from the old index meanwhile.  Writes
        arriving during the rebuild wait in the change log and are applied
        right after it (re-applying one already in the dump is harmless)."""
        import tempfile

        from . import pipeline

        if self._merge_job is not None:
            self._merge_job.join()
        self._merge_job = self._merge_result = None
        self.articles.set_state("merging", 0)
        snapshot = self.articles.last_seq()
        parent = os.path.dirname(os.path.abspath(self.index_dir.rstrip("/")))
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", dir=parent, delete=False, encoding="utf-8") as f:
            dump = f.name
            for record in self.articles.records():
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        log.info("rebuilding %s from the article store (changes up to %d)", self.index_dir, snapshot)
        self.session.close()
        try:
            pipeline.rebuild(self.index_dir, [dump], userdict=self.userdict, progress=False,
                             report=lambda msg: log.warning("%s", msg), acknowledged=True)
        finally:
            os.remove(dump)
            self.session = index_store.WriteSession(self.index_dir, self.userdict)
            self.locations = self._read_locations()
            self._write_pid()
        self.articles.set_applied(snapshot)
        self.articles.set_state("rebuild_requested", 0)
        self.rebuilds += 1
        log.info("rebuild done: %d documents", self.session.doc_count())

    def close(self) -> None:
        self.session.close()


def serve(index: str, store_path: str, userdict: str | None = None, backend: str = "whoosh",
          opensearch_url: str | None = None, error_file: str | None = None, batch: int = 1000, merge_at: int = 10,
          merge_max_docs: int = 5000) -> int:
    """Run the writer until SIGTERM/SIGINT or until its parent is gone
    (exit status 0).  Any failure (the store locked past its timeout, a
    read-only or corrupt index ...) ends the process with status 1 after
    writing its reason to ``error_file`` (one line of text): the process
    that started it (``indexer.supervisor``) restarts it with back-off
    and ``/healthz`` shows the reason."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s writer %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if error_file:
        try:
            os.remove(error_file)
        except OSError:
            pass
    try:
        writer: ChangeLoop
        articles = ArticleStore(store_path)
        # A store feeds one index: a writer of another index never applies
        # (or rebuilds from) its changes.
        articles.bind(index, backend)
        if backend == "opensearch":
            from .opensearch_target import OpenSearchWriter

            writer = OpenSearchWriter(opensearch_url, index, articles, userdict,
                                      pid_path=pid_file(index, backend, store_path))
        else:
            if not index_store.exists(index):
                index_store.create(index, userdict)
            writer = IndexWriter(index, articles, userdict, batch=batch, merge_at=merge_at,
                                 merge_max_docs=merge_max_docs)
        log.info("writing %s (%s) from %s (applied up to change %d)", index, backend, store_path,
                 writer.articles.applied())
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
        if backend != "opensearch":
            from search.backends.whoosh import integrity

            found = integrity.problems(index) if index_store.exists(index) else []
            if found:  # name the damage, not the error it caused
                reason = str(integrity.corrupt_error(index, found))
        if error_file:
            with open(error_file, "w", encoding="utf-8") as f:
                f.write(reason.replace("\n", " ")[:1000])
        return 1
    return 0


def _merge_main(conn, storage, schema, generation, sources, analyzer) -> None:
    """The merge, in a child process (bound to the writer by
    ``lifeline.bound_children``): re-analyse the live documents of
    ``sources`` from their stored fields into one new segment."""
    from whoosh import index as whoosh_index

    try:
        os.nice(10)
        docs, origins = [], []
        for seg, deleted in sources:
            reader = whoosh_index.FileIndex._reader(storage, schema, [seg], generation)
            try:
                for docnum in range(seg.doc_count_all()):
                    if docnum in deleted:
                        continue
                    stored = reader.stored_fields(docnum)
                    docs.append(prepare(article_from_stored(stored), analyzer, stored.get("record_hash")))
                    origins.append((stored["id"], seg.segment_id(), docnum))
            finally:
                reader.close()
        segment = write_segment(storage, index_store.INDEXNAME, schema, docs) if docs else None
        conn.send(("ok", (segment, origins)))
    except Exception:  # noqa: BLE001 - reported by the parent
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()

