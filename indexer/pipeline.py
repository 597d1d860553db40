"""The indexing run: read -> validate -> analyse (worker processes) -> commit.

The parent process reads and validates records, skips unchanged ones, and
streams the rest, interleaved, to worker processes, which segment them with
jieba as they arrive.  At the end of a batch each worker writes a complete
segment; the parent then deletes the replaced versions and commits a new
index generation.  Each batch is a commit, so an
interrupted run (Ctrl-C, kill -9) leaves a readable index with every batch
committed so far, and re-running it finishes the job (unchanged records are
skipped).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import sys
import time
import traceback
from dataclasses import dataclass

from search.analysis import Analyzer
from search.backends.whoosh import groups, store
from search.backends.whoosh.segwriter import write_segment
from search.documents import prepare
from search.models import Article
from search.segmenter import get_segmenter

from . import bylines, lifeline
from .records import RecordError, record_hash, to_article
from .sources import read_file

DEFAULT_BATCH = 16000


@dataclass
class Summary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0
    characters: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
                f"deleted {self.deleted}, skipped {self.skipped} bad record(s) "
                f"in {self.seconds:.1f} s")


# ---- worker side ------------------------------------------------------------
_worker_state: dict = {}


def _init_worker(index_dir: str, userdict: str | None) -> None:
    _worker_state["analyzer"] = Analyzer(get_segmenter(userdict))
    ix = store.open_index(index_dir)
    _worker_state["storage"] = ix.storage
    _worker_state["schema"] = ix.schema


def _warm_up(userdict: str | None) -> None:
    from search.analysis import _run_char_table

    _run_char_table()
    get_segmenter(userdict)


def _index_batch(batch: list[tuple[Article, str]]):
    analyzer = _worker_state["analyzer"]
    docs = [prepare(a, analyzer, h) for a, h in batch]
    return write_segment(_worker_state["storage"], store.INDEXNAME, _worker_state["schema"], docs)


def _worker_main(inbox, outbox, index_dir: str, userdict: str | None) -> None:
    """A worker process: analyse articles as they arrive, write a segment on
    "flush".  Analysis thus overlaps the parent's reading of the input."""
    _init_worker(index_dir, userdict)
    analyzer = _worker_state["analyzer"]
    docs, error = [], None
    while True:
        msg = inbox.get()
        if msg[0] == "docs":
            if error is None:
                try:
                    docs.extend(prepare(a, analyzer, h) for a, h in msg[1])
                except Exception:  # noqa: BLE001 - reported to the parent at flush
                    error = traceback.format_exc()
        elif msg[0] == "flush":
            if error is None and docs:
                try:
                    segment = write_segment(_worker_state["storage"], store.INDEXNAME,
                                            _worker_state["schema"], docs)
                    outbox.put(("ok", segment))
                except Exception:  # noqa: BLE001
                    outbox.put(("error", traceback.format_exc()))
            elif error is None:
                outbox.put(("ok", None))
            else:
                outbox.put(("error", error))
            docs, error = [], None
        else:
            return


class _ProcessWorkers:
    """Worker processes fed through queues; one segment per worker per batch."""

    CHUNK = 64  # articles per message

    def __init__(self, n: int, index_dir: str, userdict: str | None):
        if sys.platform.startswith("linux"):
            _warm_up(userdict)  # load dictionary and tables once, before forking
            ctx = multiprocessing.get_context("fork")
        else:
            ctx = multiprocessing.get_context("spawn")
        self.n = n
        self.inboxes = [ctx.Queue() for _ in range(n)]
        self.outboxes = [ctx.Queue() for _ in range(n)]
        self.buffers: list[list] = [[] for _ in range(n)]
        self.procs = [
            ctx.Process(target=_worker_main, args=(self.inboxes[i], self.outboxes[i], index_dir, userdict),
                        daemon=True)
            for i in range(n)
        ]
        # Bound to this process (lifeline.py): a writer or CLI killed during
        # a build or rebuild leaves no worker behind holding the store and
        # the new index's lock.
        with lifeline.bound_children(os.getpid()):
            for p in self.procs:
                p.start()

    def send(self, part: int, item) -> None:
        buf = self.buffers[part]
        buf.append(item)
        if len(buf) >= self.CHUNK:
            self.inboxes[part].put(("docs", buf))
            self.buffers[part] = []

    def flush(self) -> list:
        for i in range(self.n):
            if self.buffers[i]:
                self.inboxes[i].put(("docs", self.buffers[i]))
                self.buffers[i] = []
            self.inboxes[i].put(("flush",))
        segments = []
        for i in range(self.n):
            while True:
                try:
                    status, value = self.outboxes[i].get(timeout=1.0)
                    break
                except queue.Empty:
                    if not self.procs[i].is_alive():
                        raise RuntimeError(f"indexing worker {i} died (exit code {self.procs[i].exitcode})")
            if status != "ok":
                raise RuntimeError(f"indexing worker {i} failed:\n{value}")
            segments.append(value)
        return segments

    def close(self) -> None:
        for i, p in enumerate(self.procs):
            if p.is_alive():
                try:
                    self.inboxes[i].put(("stop",))
                except Exception:  # noqa: BLE001
                    pass
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join()
        for q in self.inboxes + self.outboxes:
            q.close()
            q.join_thread()


class _InlineWorker:
    """The same interface in this process (``--workers 1``)."""

    n = 1

    def __init__(self, index_dir: str, userdict: str | None):
        _init_worker(index_dir, userdict)
        self.items: list = []

    def send(self, part: int, item) -> None:
        self.items.append(item)

    def flush(self) -> list:
        items, self.items = self.items, []
        return [_index_batch(items) if items else None]

    def close(self) -> None:
        pass


class _Batch:
    """Where each article of the current batch went: (part, docnum) per id,
    in reading order, so that the last record with an id wins."""

    def __init__(self, n_parts: int):
        self.n_parts = n_parts
        self.sizes = [0] * n_parts
        self.seen: dict[str, list[tuple[int, int]]] = {}
        self.count = 0
        self.characters = 0

    def add(self, doc_id: str, chars: int) -> int:
        part = self.count % self.n_parts  # interleave: every part gets the same mix
        self.seen.setdefault(doc_id, []).append((part, self.sizes[part]))
        self.sizes[part] += 1
        self.count += 1
        self.characters += chars
        return part


# ---- parent side -------------------------------------------------------------
def check_paths(paths: list[str]) -> None:
    """Raise UnsupportedFile or FileNotFoundError before any work starts."""
    for p in paths:
        read_file(p)
        if not os.path.exists(p):
            raise FileNotFoundError(p)


def valid_records(paths: list[str], summary: Summary, report, acknowledged: bool = False):
    """(raw record, Article) of every valid record; bad ones are reported
    with their location, counted as skipped, and left out.  ``acknowledged``:
    see ``records.to_article`` (rebuilds from the store or the index)."""
    for path in paths:
        for raw in read_file(path):
            if raw.error:
                summary.skipped += 1
                report(f"{raw.location}: skipped: {raw.error}")
                continue
            try:
                article = to_article(raw.data, acknowledged=acknowledged)
            except RecordError as exc:
                summary.skipped += 1
                report(f"{raw.location}: skipped: {exc}")
                continue
            yield raw, article


def iter_articles(paths: list[str], summary: Summary, report, acknowledged: bool = False):
    for _, article in valid_records(paths, summary, report, acknowledged):
        # Byline and source from the text, where the record has none.
        yield bylines.enrich(article)


def _count_lines(paths):
    import gzip

    n = 0
    for p in paths:
        if os.path.isdir(p) or p.lower().endswith((".html", ".htm")):
            from .html_pages import html_files

            n += len(html_files(p))  # one article per page
            continue
        opener = gzip.open if p.endswith(".gz") else open
        with opener(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                n += chunk.count(b"\n")
    return n


def build(index_dir: str, paths: list[str], userdict: str | None = None, workers: int | None = None,
          batch_size: int = DEFAULT_BATCH, progress: bool | None = None, report=None,
          acknowledged: bool = False) -> Summary:
    """Add or update the records of ``paths`` in the index at ``index_dir``.
    ``acknowledged``: the files are dumps of the store or the index (rebuild):
    ids written before the id rule are kept."""
    report = report or (lambda msg: print(msg, file=sys.stderr))
    check_paths(paths)  # before taking the lock
    workers = workers or min(2, os.cpu_count() or 1)
    if progress is None:
        progress = sys.stderr.isatty()
    summary = Summary()
    t0 = time.monotonic()
    session = store.WriteSession(index_dir, userdict)
    bar = None
    runner = None
    try:
        ids = session.id_map()
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=_count_lines(paths), unit="doc", smoothing=0.05, file=sys.stderr)
        runner = _ProcessWorkers(workers, index_dir, userdict) if workers > 1 else _InlineWorker(index_dir, userdict)

        def commit(batch: _Batch) -> None:
            segments = runner.flush()
            segno_of = {part: session.add_segment(seg) for part, seg in enumerate(segments) if seg is not None}
            for doc_id, locations in batch.seen.items():
                *earlier, (part, docnum) = locations
                for p, d in earlier:  # the same id again later in this batch
                    session.delete(segno_of[p], d)
                old = ids.get(doc_id)
                if old is not None:
                    session.delete(old[0], old[1])
                    summary.updated += 1
                else:
                    summary.added += 1
                ids[doc_id] = (segno_of[part], docnum, None)
            session.commit()
            summary.characters += batch.characters
            if bar is not None:
                bar.update(batch.count)

        batch = _Batch(runner.n)
        for article in iter_articles(paths, summary, report, acknowledged):
            h = record_hash(article)
            old = ids.get(article.id)
            if old is not None and old[2] == h and article.id not in batch.seen:
                summary.unchanged += 1
                if bar is not None:
                    bar.update(1)
                continue
            part = batch.add(article.id, len(article.title) + len(article.body))
            runner.send(part, (article, h))
            if batch.count >= batch_size:
                commit(batch)
                batch = _Batch(runner.n)
        if batch.count:
            commit(batch)
        session.drop_empty_segments()
        changed = summary.added or summary.updated or summary.deleted
        session.commit(clean=True, regroup=bool(changed) or not groups.exists(index_dir))
    finally:
        if runner is not None:
            runner.close()
        if bar is not None:
            bar.close()
        session.close()
    summary.seconds = time.monotonic() - t0
    return summary


def rebuild(index_dir: str, paths: list[str], **kwargs) -> Summary:
    """Build a complete new index next to ``index_dir`` and switch to it atomically.

    ``index_dir`` becomes a symlink to ``<index_dir>.builds/<timestamp>``; the
    switch is a rename of a new symlink over the old one, so a running
    service keeps answering from the old build until it sees the new one.
    (If ``index_dir`` is still a plain directory from an earlier ``build``,
    it is first moved into the builds folder: a moment without an index.)
    The previous build is kept; older ones are removed.
    """
    index_dir = os.path.abspath(index_dir.rstrip("/"))
    builds = index_dir + ".builds"
    os.makedirs(builds, exist_ok=True)
    import tempfile

    target = tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=builds)
    stamp = os.path.basename(target)
    summary = build(target, paths, **kwargs)
    if os.path.isdir(index_dir) and not os.path.islink(index_dir):
        os.replace(index_dir, os.path.join(builds, "previous-" + stamp))
    tmp_link = index_dir + f".switch-{os.getpid()}"
    os.symlink(os.path.relpath(target, os.path.dirname(index_dir)), tmp_link)
    previous = os.path.realpath(index_dir) if os.path.islink(index_dir) else None
    os.replace(tmp_link, index_dir)
    keep = {target, previous}
    import shutil

    for name in os.listdir(builds):
        full = os.path.join(builds, name)
        if full not in keep and not name.startswith("previous-"):
            shutil.rmtree(full, ignore_errors=True)
    return summary


def delete(index_dir: str, doc_ids: list[str]) -> tuple[int, list[str]]:
    """Delete documents by id; returns (deleted count, ids not found)."""
    with store.WriteSession(index_dir) as session:
        ids = session.id_map()
        missing = []
        n = 0
        for doc_id in doc_ids:
            loc = ids.get(doc_id)
            if loc is None:
                missing.append(doc_id)
                continue
            session.delete(loc[0], loc[1])
            n += 1
        session.drop_empty_segments()
        session.commit(clean=True, regroup=n > 0)
    return n, missing


def hand_to_writer(store_path: str, paths: list[str], batch: int = 2000, timeout: float = 3600.0,
                   report=None, wait: bool = True) -> Summary:
    """While the service runs, its writer owns the index: validate the files
    here, append the records to the article store, and wait until the
    writer has committed them (same skipping and reporting as ``build``:
    added / updated / unchanged as the store counts them, a record identical
    to the stored one being unchanged and queuing nothing).

    ``wait=False``: the records were just indexed directly (no writer
    running): ``ArticleStore.put(already_indexed=True)``."""
    from .article_store import ArticleStore

    report = report or (lambda msg: print(msg, file=sys.stderr))
    check_paths(paths)
    store = ArticleStore(store_path)
    summary = Summary()
    t0 = time.monotonic()
    pending: list[dict] = []
    seq = 0

    def flush():
        nonlocal seq, pending
        if pending:
            done = store.put_counted(pending, already_indexed=not wait)
            seq = max(seq, done.seq)
            summary.added += done.added
            summary.updated += done.updated
            summary.unchanged += done.unchanged
            pending = []

    for raw, article in valid_records(paths, summary, report):
        summary.characters += len(article.title) + len(article.body)
        pending.append(raw.data if raw.data.get("id") == article.id else {**raw.data, "id": article.id})
        if len(pending) >= batch:
            flush()
    flush()
    if not wait:
        summary.seconds = time.monotonic() - t0
        return summary
    if seq and not store.wait_applied(seq, timeout):
        raise TimeoutError(f"the writer has not applied change {seq} after {timeout:.0f} s")
    summary.seconds = time.monotonic() - t0
    return summary
