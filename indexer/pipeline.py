"""The indexing run, for any index target: read -> validate -> clean ->
enrich (``records.read_article``) -> analyse (worker processes,
``workers.py``) -> apply and commit (``search.backends.base.IndexTarget``).

The parent process reads and validates records, skips unchanged ones (the
target's record hashes), and streams the rest, interleaved, to worker
processes, which analyse them as they arrive.  At the end of a batch each
worker hands back its unit of writing (a Whoosh segment, OpenSearch
sources); the target then replaces the earlier versions and commits.  Each
batch is a commit, so an interrupted run (Ctrl-C, kill -9) leaves a
readable index with every batch committed so far, and re-running it
finishes the job (unchanged records are skipped).  A rebuild runs the same
into a new generation of the index and swaps it in atomically.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

from search.backends import open_target

from . import workers as worker_pool
from .records import RecordError, read_article, record_hash
from .sources import read_file

DEFAULT_BATCH = 16000


@dataclass
class Summary:
    """Counts of a run (articles) and its duration (s)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0
    characters: int = 0
    seconds: float = 0.0
    generation: str | None = None  # a rebuild's new index (directory or OpenSearch index)
    optimized: dict | None = None  # the closing merge's figures (``WhooshTarget.optimize``), if any

    def line(self) -> str:
        """The CLI's summary line."""
        return (f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
                f"deleted {self.deleted}, skipped {self.skipped} bad record(s) "
                f"in {self.seconds:.1f} s")


class _Batch:
    """The ids sent to each worker in the current batch, in order (a
    worker's unit of writing holds its documents in that order)."""

    def __init__(self, n_parts: int):
        self.n_parts = n_parts
        self.ids: list[list[str]] = [[] for _ in range(n_parts)]
        self.seen: set[str] = set()
        self.count = 0
        self.characters = 0

    def add(self, doc_id: str, chars: int) -> int:
        """Count an article of ``chars`` characters; returns its worker."""
        part = self.count % self.n_parts  # interleave: every part gets the same mix
        self.ids[part].append(doc_id)
        self.seen.add(doc_id)
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


def valid_records(paths: list[str], summary: Summary, report, acknowledged: bool = False, cleaning=None):
    """(raw record, Article) of every valid record (``records.read_article``:
    validated, cleaned, enriched); bad ones are reported with their
    location, counted as skipped, and left out.  ``acknowledged``: see
    ``records.to_article`` (rebuilds from the store or the index).
    ``cleaning``: called as ``cleaning(article, removals)`` for each article
    the cleaning changed (``removals``: its ``furniture.Removal`` list)."""
    for path in paths:
        for raw in read_file(path):
            if raw.error:
                summary.skipped += 1
                report(f"{raw.location}: skipped: {raw.error}")
                continue
            removed: list = []
            try:
                article = read_article(raw.data, acknowledged=acknowledged, removed=removed)
            except RecordError as exc:
                summary.skipped += 1
                report(f"{raw.location}: skipped: {exc}")
                continue
            if removed and cleaning is not None:
                cleaning(article, removed)
            yield raw, article


def iter_articles(paths: list[str], summary: Summary, report, acknowledged: bool = False, cleaning=None):
    """The Articles of ``valid_records``."""
    for _, article in valid_records(paths, summary, report, acknowledged, cleaning):
        yield article


def stored_articles(records, summary: Summary, report):
    """The Articles of records kept by the article store or an index (ids
    written before the id rule are kept); a record that no longer reads
    is reported, counted as skipped and left out."""
    for record in records:
        try:
            yield read_article(record, acknowledged=True)
        except RecordError as exc:
            summary.skipped += 1
            report(f"stored article {record.get('id')!r}: skipped: {exc}")


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


def _report(report):
    return report or (lambda msg: print(msg, file=sys.stderr))


def run(target, articles, summary: Summary, workers: int | None = None, batch_size: int = DEFAULT_BATCH,
        bar=None, optimize: bool = False, report=None) -> Summary:
    """Write ``articles`` (an iterator of enriched Articles) to ``target``
    (``IndexTarget``), ``batch_size`` articles a commit, analysed by
    ``workers`` processes (default: up to 2); skips those whose record hash
    the target already holds; counts into ``summary``; ends with
    ``target.finish``.  ``bar``: a tqdm progress bar, or None.
    ``optimize``: when the run wrote more than one segment (Whoosh), merge
    the index into one at the end (``WhooshTarget.optimize``; its figures in
    ``summary.optimized``, a line through ``report``)."""
    workers = workers or min(2, os.cpu_count() or 1)
    known = target.known()
    runner = worker_pool.pool(workers, target.document_writers(), target.userdict)
    try:
        def commit(batch: _Batch) -> None:
            units = runner.flush()
            done = target.apply(list(zip(units, batch.ids)))
            summary.added += len(done.added)
            summary.updated += len(done.updated)
            target.commit(clean=False)
            for doc_id in batch.seen:
                known[doc_id] = None  # written again later in this run: not unchanged
            summary.characters += batch.characters
            if bar is not None:
                bar.update(batch.count)

        batch = _Batch(runner.n)
        for article in articles:
            h = record_hash(article)
            if known.get(article.id) == h and article.id not in batch.seen:
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
        target.finish(bool(summary.added or summary.updated or summary.deleted))
    finally:
        runner.close()
    if optimize and getattr(target, "segments_added", 0) > 1:
        release_free_memory()  # on the full corpora: 642 MB resident before, 231 MB after
        summary.optimized = target.optimize()
        if report is not None:
            report(optimized_line(summary.optimized))
    return summary


def release_free_memory() -> None:
    """Collect garbage and hand the allocator's free pages back to the
    system (glibc ``malloc_trim``; nothing elsewhere), so that a merge
    after a build starts from what the process still uses."""
    import ctypes
    import gc
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def optimized_line(done: dict) -> str:
    """What ``indexer optimize`` (and a build's closing merge) did, as the CLI says it."""
    if not done["merged"]:
        return f"nothing to merge: {done['segments_before']} segment(s), {done['documents']} documents"
    return (f"merged {done['merged']} segments into one: {done['segments_before']} -> {done['segments_after']} "
            f"segment(s), {done['documents']} documents ({done['dropped']} deleted dropped) "
            f"in {done['seconds']:.1f} s")


def run_new_generation(live, articles, summary: Summary, **kwargs) -> Summary:
    """``run`` into a new generation of ``live`` (``IndexTarget.new_generation``),
    swapped in atomically once complete; ``live`` then follows it.  A
    failed run leaves the live index as it was."""
    fresh = live.new_generation()
    try:
        run(fresh, articles, summary, **kwargs)
    except BaseException:
        fresh.close()
        raise
    summary.generation = fresh.swap_in()
    live.reopen()
    return summary


def build(index_dir: str, paths: list[str], userdict: str | None = None, workers: int | None = None,
          batch_size: int = DEFAULT_BATCH, progress: bool | None = None, report=None,
          acknowledged: bool = False, backend: str = "whoosh", opensearch_url: str | None = None,
          shards: int = 1, replicas: int = 1, new_generation: bool = False, cleaning=None,
          optimize: bool = False) -> Summary:
    """Add or update the records of ``paths`` (JSONL/CSV/HTML files) in the
    index ``index_dir`` (a directory, or an OpenSearch alias), created if
    missing.  ``acknowledged``: the files are dumps of the store or the
    index (rebuild): ids written before the id rule are kept.
    ``new_generation``: build a complete new index and swap it in
    (``rebuild``).  ``shards`` / ``replicas``: of a new OpenSearch index.
    ``cleaning``: see ``valid_records`` (``--report-cleaning``).
    ``optimize``: merge a Whoosh index into one segment at the end when the
    run wrote more than one (``run``; ``--no-optimize`` turns it off).  Raises UnsupportedFile / FileNotFoundError before any work, then the
    target's errors (``IndexTarget``)."""
    report = _report(report)
    check_paths(paths)  # before taking the lock
    if progress is None:
        progress = sys.stderr.isatty()
    summary = Summary()
    t0 = time.monotonic()
    bar = None
    target = open_target(backend, index_dir, opensearch_url=opensearch_url, userdict=userdict, shards=shards,
                         replicas=replicas, create=not new_generation)
    try:
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=_count_lines(paths), unit="doc", smoothing=0.05, file=sys.stderr)
        articles = iter_articles(paths, summary, report, acknowledged, cleaning)
        if new_generation:
            run_new_generation(target, articles, summary, workers=workers, batch_size=batch_size, bar=bar,
                               optimize=optimize, report=report)
        else:
            run(target, articles, summary, workers=workers, batch_size=batch_size, bar=bar, optimize=optimize,
                report=report)
    finally:
        if bar is not None:
            bar.close()
        target.close()
    summary.seconds = time.monotonic() - t0
    return summary


def rebuild(index_dir: str, paths: list[str], **kwargs) -> Summary:
    """``build`` into a new generation of ``index_dir``, switched in
    atomically: a running service keeps answering from the old one until
    it sees the new one (Whoosh: ``index_dir`` becomes a symlink to
    ``<index_dir>.builds/<timestamp>``, the previous build is kept, older
    ones removed; OpenSearch: a new index behind the alias)."""
    return build(index_dir, paths, new_generation=True, **kwargs)


def rebuild_from_records(live, records, report=None, workers: int | None = None) -> Summary:
    """Re-analyse ``records`` (dicts: the article store's, or an index's
    own as ``rebuild.as_record`` gives them) into a new generation of the
    target ``live`` and swap it in."""
    summary = Summary()
    t0 = time.monotonic()
    run_new_generation(live, stored_articles(records, summary, _report(report)), summary, workers=workers)
    summary.seconds = time.monotonic() - t0
    return summary


def delete(index_dir: str, doc_ids: list[str], backend: str = "whoosh",
           opensearch_url: str | None = None) -> tuple[int, list[str]]:
    """Delete documents by id; returns (deleted count, ids not found).
    Raises ValueError for an OpenSearch alias that does not exist."""
    target = open_target(backend, index_dir, opensearch_url=opensearch_url, create=False)
    try:
        done = target.apply([], doc_ids)
        target.finish(bool(done.deleted))
    finally:
        target.close()
    return len(done.deleted), done.not_found


def hand_to_writer(store_path: str, paths: list[str], batch: int = 2000, timeout: float = 3600.0,
                   report=None, wait: bool = True, cleaning=None) -> Summary:
    """While the service runs, its writer owns the index: validate the files
    here, append the records to the article store, and wait until the
    writer has committed them (same skipping and reporting as ``build``:
    added / updated / unchanged as the store counts them, a record identical
    to the stored one being unchanged and queuing nothing).

    ``wait=False``: the records were just indexed directly (no writer
    running): ``ArticleStore.put(already_indexed=True)``.  ``cleaning``:
    see ``valid_records``."""
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

    for raw, article in valid_records(paths, summary, report, cleaning=cleaning):
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
