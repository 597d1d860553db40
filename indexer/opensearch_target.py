"""Indexing into OpenSearch (``SEARCH_BACKEND=opensearch``): the build and
delete commands, and the service's writer.

Records go through the same validation, byline enrichment and analysis
(``search.documents.prepare``) as on the Whoosh path, and reach the cluster
as bulk requests through the alias the service searches.  OpenSearch has no
single-writer lock, so ``build`` writes straight to the cluster even while
the service runs; the article store (``--store``) still records every
article, as the source of truth for rebuilds.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
import threading
import time

from search.analysis import Analyzer
from search.backends.opensearch.groups import regroup
from search.backends.opensearch.indexing import SourceDoc, apply, ensure_alias, rebuild_alias
from search.backends.opensearch.mapping import to_source
from search.documents import article_from_stored, prepare
from search.segmenter import get_segmenter

from . import bylines
from .article_store import ArticleStore
from .pipeline import Summary, check_paths, iter_articles
from .records import RecordError, record_hash, to_article
from .writer import ChangeLoop

log = logging.getLogger("indexer.opensearch")
PREPARE_BATCH = 2000  # articles analysed per round of the worker pool


def connect(url: str | None):
    from opensearchpy import OpenSearch

    if not url:
        raise ValueError("the opensearch backend needs --opensearch-url (or OPENSEARCH_URL)")
    return OpenSearch(url, timeout=120)


# ---- analysis, in worker processes (jieba is most of the cost) --------------
_analyzer: Analyzer | None = None


def _init_worker(userdict: str | None) -> None:
    global _analyzer
    _analyzer = Analyzer(get_segmenter(userdict))


def _prepare(article) -> SourceDoc:
    doc = prepare(article, _analyzer, record_hash(article))
    return SourceDoc(doc.id, to_source(doc))


def prepared(articles, userdict: str | None = None, workers: int | None = None):
    """The analysed documents of ``articles`` as OpenSearch sources, in order."""
    workers = workers if workers is not None else min(2, multiprocessing.cpu_count())
    if workers <= 1:
        _init_worker(userdict)
        yield from map(_prepare, articles)
        return
    with multiprocessing.get_context("fork").Pool(workers, _init_worker, (userdict,)) as pool:
        # A batch at a time, the next one analysed while the bulk requests
        # take this one: Pool.imap would read every article ahead and hold
        # every result the bulk requests have not taken yet (3 GB here).
        pending = None
        for batch in _batches(articles, PREPARE_BATCH):
            ahead = pool.map_async(_prepare, batch, chunksize=32)
            if pending is not None:
                yield from pending.get()
            pending = ahead
        if pending is not None:
            yield from pending.get()


def _batches(items, size: int):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# ---- the CLI's build and delete -----------------------------------------------
def build(url: str, alias: str, paths: list[str], userdict: str | None = None, workers: int | None = None,
          rebuild: bool = False, shards: int = 1, replicas: int = 1, report=None,
          acknowledged: bool = False) -> Summary:
    """Index the articles of ``paths`` through ``alias`` (created if
    missing); ``rebuild``: into a new index, swapped in atomically.
    ``acknowledged``: see ``records.to_article`` (dumps of the store)."""
    report = report or (lambda msg: print(msg, file=sys.stderr))
    check_paths(paths)
    client = connect(url)
    summary = Summary()
    t0 = time.monotonic()

    def articles():
        for article in iter_articles(paths, summary, report, acknowledged):
            summary.characters += len(article.title) + len(article.body)
            summary.added += rebuild  # a rebuild adds every article to a new index
            yield article

    docs = prepared(articles(), userdict, workers)
    if rebuild:
        rebuild_alias(client, alias, docs, shards, replicas)
    else:
        ensure_alias(client, alias, shards, replicas)
        outcomes = apply(client, alias, docs, refresh=True)
        summary.added, summary.updated = len(outcomes.get("created", [])), len(outcomes.get("updated", []))
        regroup(client, alias)
    summary.seconds = time.monotonic() - t0
    return summary


def delete(url: str, alias: str, doc_ids: list[str]) -> tuple[int, list[str]]:
    """Delete documents by id; returns (deleted count, ids not found)."""
    client = connect(url)
    if not client.indices.exists(index=alias):
        raise ValueError(f"no index or alias {alias!r} on the cluster")
    outcomes = apply(client, alias, (), doc_ids, refresh=True)
    deleted = outcomes.get("deleted", [])
    if deleted:
        regroup(client, alias)  # a withdrawn representative hands its group on
    return len(deleted), outcomes.get("not_found", [])


# ---- the service's writer -------------------------------------------------------
class OpenSearchWriter(ChangeLoop):
    """Drains the article store's change log into the alias: each step is
    one bulk request and one refresh, after which the changes are marked
    applied (a crash re-applies them, which is harmless: a put replaces, a
    delete of a missing id does nothing).  Near-duplicate groups are
    recomputed in a background thread, at most every ``regroup_interval``
    seconds after changes."""

    def __init__(self, url: str, alias: str, articles: ArticleStore, userdict: str | None = None,
                 batch: int = 1000, pid_path: str | None = None, shards: int = 1, replicas: int = 1,
                 regroup_interval: float = 30.0):
        self.client = connect(url)
        self.alias = alias
        self.articles = articles
        self.batch = batch
        self.userdict = userdict
        self.pid_path = pid_path or f"writer-{alias}.pid"
        self.shards, self.replicas = shards, replicas
        self.analyzer = Analyzer(get_segmenter(userdict))
        self.commits = 0
        self.rebuilds = 0
        self.regroup_interval = regroup_interval
        self.regroups = 0
        self._changed_since_regroup = False
        self._last_regroup = 0.0
        self._regroup_job: threading.Thread | None = None
        ensure_alias(self.client, alias, shards, replicas)

    def step(self) -> int:
        if self.articles.state("rebuild_requested"):
            self.rebuild_from_store()
        changes = self.articles.pending(self.articles.applied(), self.batch)
        if not changes:
            self._maybe_regroup()
            return 0
        final, docs = self._latest(changes)
        deletes = [doc_id for doc_id, ch in final.items() if ch.op != "put" or ch.record is None]
        apply(self.client, self.alias, docs, deletes, refresh=True)
        self.articles.set_applied(changes[-1].seq)
        self.commits += 1
        self._changed_since_regroup = True
        self._maybe_regroup()
        return len(changes)

    def _maybe_regroup(self) -> None:
        if not self._changed_since_regroup or (self._regroup_job is not None and self._regroup_job.is_alive()):
            return
        if time.monotonic() - self._last_regroup < self.regroup_interval:
            return
        self._changed_since_regroup = False
        self._last_regroup = time.monotonic()

        def job():
            try:
                regroup(self.client, self.alias)
                self.regroups += 1
            except Exception:  # noqa: BLE001 - groups are best effort; search works without
                log.exception("regrouping failed")

        self._regroup_job = threading.Thread(target=job, name="regroup", daemon=True)
        self._regroup_job.start()

    def rebuild_from_store(self) -> None:
        """Re-analyse every article of the store into a new index and swap
        the alias to it; searches go on against the old index meanwhile, and
        writes arriving during the rebuild are applied right after it."""
        snapshot = self.articles.last_seq()
        log.info("rebuilding %s from the article store (changes up to %d)", self.alias, snapshot)

        def articles():
            for record in self.articles.records():
                try:
                    yield bylines.enrich(to_article(record, acknowledged=True))
                except RecordError as exc:
                    log.error("stored article %s skipped: %s", record.get("id"), exc)

        # Analysed in this process: forked workers would inherit the
        # service process's signal handlers and open connections.
        rebuild_alias(self.client, self.alias, prepared(articles(), self.userdict, workers=1), self.shards,
                      self.replicas)
        self.articles.set_applied(snapshot)
        self.articles.set_state("rebuild_requested", 0)
        self.rebuilds += 1

    def close(self) -> None:
        if self._regroup_job is not None:
            self._regroup_job.join()
        self.client.close()


def migrate_docs(ix, userdict: str | None, workers: int | None = None, counter: list | None = None):
    """Every live article of a Whoosh index (``store.open_index``),
    re-analysed for OpenSearch."""
    def articles():
        with ix.searcher() as searcher:
            reader = searcher.reader()
            for docnum in reader.all_doc_ids():
                if counter is not None:
                    counter.append(1)
                yield article_from_stored(reader.stored_fields(docnum))

    return prepared(articles(), userdict, workers)
