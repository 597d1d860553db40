"""The indexing run: read -> validate -> analyse (worker processes) -> commit.

The parent process reads and validates records, skips unchanged ones, and
hands batches to worker processes.  Each worker segments its batch with
jieba and writes a complete segment; the parent then deletes the replaced
versions and commits a new index generation.  Each batch is a commit, so an
interrupted run (Ctrl-C, kill -9) leaves a readable index with every batch
committed so far, and re-running it finishes the job (unchanged records are
skipped).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import deque
from dataclasses import dataclass, field

from search.analysis import Analyzer
from search.backends.whoosh import store
from search.backends.whoosh.segwriter import write_segment
from search.documents import prepare
from search.models import Article
from search.segmenter import get_segmenter

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
    errors: list[str] = field(default_factory=list)

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


# ---- parent side -------------------------------------------------------------
def iter_articles(paths: list[str], summary: Summary, report):
    for path in paths:
        for raw in read_file(path):
            if raw.error:
                summary.skipped += 1
                report(f"{raw.location}: skipped: {raw.error}")
                continue
            try:
                article = to_article(raw.data)
            except RecordError as exc:
                summary.skipped += 1
                report(f"{raw.location}: skipped: {exc}")
                continue
            yield article


def _count_lines(paths):
    import gzip

    n = 0
    for p in paths:
        opener = gzip.open if p.endswith(".gz") else open
        with opener(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                n += chunk.count(b"\n")
    return n


def build(index_dir: str, paths: list[str], userdict: str | None = None, workers: int | None = None,
          batch_size: int = DEFAULT_BATCH, progress: bool | None = None, report=None) -> Summary:
    """Add or update the records of ``paths`` in the index at ``index_dir``."""
    report = report or (lambda msg: print(msg, file=sys.stderr))
    for p in paths:
        read_file(p)  # raises UnsupportedFile early, before taking the lock
        if not os.path.exists(p):
            raise FileNotFoundError(p)
    workers = workers or min(2, os.cpu_count() or 1)
    if progress is None:
        progress = sys.stderr.isatty()
    summary = Summary()
    t0 = time.monotonic()
    session = store.WriteSession(index_dir, userdict)
    bar = None
    pool = None
    try:
        ids = session.id_map()
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=_count_lines(paths), unit="doc", smoothing=0.05, file=sys.stderr)
        pending: deque = deque()

        def finish(item):
            results, part_ids, chars = item
            for result, batch_ids in zip(results, part_ids):
                segment = result.get() if pool is not None else result
                for doc_id in batch_ids:
                    old = ids.get(doc_id)
                    if old is not None:
                        session.delete(old[0], old[1])
                        summary.updated += 1
                    else:
                        summary.added += 1
                segno = session.add_segment(segment)
                for docnum, doc_id in enumerate(batch_ids):
                    ids[doc_id] = (segno, docnum, None)
                if bar is not None:
                    bar.update(len(batch_ids))
            session.commit()
            summary.characters += chars

        if workers > 1:
            if sys.platform.startswith("linux"):
                # Load the dictionary and lookup tables once, before forking.
                _warm_up(userdict)
                ctx = multiprocessing.get_context("fork")
            else:
                ctx = multiprocessing.get_context("spawn")
            pool = ctx.Pool(workers, initializer=_init_worker, initargs=(index_dir, userdict))
        else:
            _init_worker(index_dir, userdict)

        def dispatch(batch: dict[str, tuple[Article, str]]):
            todo = []
            for doc_id, (article, h) in batch.items():
                old = ids.get(doc_id)
                if old is not None and old[2] == h:
                    summary.unchanged += 1
                    if bar is not None:
                        bar.update(1)
                    continue
                todo.append((article, h))
            if not todo:
                return
            chars = sum(len(a.title) + len(a.body) for a, _ in todo)
            # One segment per worker, from interleaved articles, so that both
            # halves carry the same mix of long and short articles.
            n_parts = min(workers, len(todo))
            parts = [todo[i::n_parts] for i in range(n_parts)]
            part_ids = [[a.id for a, _ in part] for part in parts]
            if pool is not None:
                results = [pool.apply_async(_index_batch, (part,)) for part in parts]
                pending.append((results, part_ids, chars))
                while len(pending) > 1:
                    finish(pending.popleft())
            else:
                finish(([_index_batch(part) for part in parts], part_ids, chars))

        batch: dict[str, tuple[Article, str]] = {}
        for article in iter_articles(paths, summary, report):
            batch.pop(article.id, None)  # a later record with the same id wins
            batch[article.id] = (article, record_hash(article))
            if len(batch) >= batch_size:
                dispatch(batch)
                batch = {}
        if batch:
            dispatch(batch)
        while pending:
            finish(pending.popleft())
        session.drop_empty_segments()
        session.commit(clean=True)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
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
        session.commit(clean=True)
    return n, missing
