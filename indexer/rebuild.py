"""``python -m indexer rebuild``: re-analyse every article into a new index
and switch to it atomically, never dropping an article the index holds.

Two sources:

* the index itself (``--from-index``, and the default without an article
  store): every live article's stored fields, re-analysed by this version.
  This is how an index written by an older analysis version
  (``search.analysis.ANALYSIS_VERSION``) is brought up to date;
* the article store (``--store``), the source of truth of the write API.
  Refused when the index holds articles the store lacks (an index built
  from files without ``--store``): the refusal says how many, and how to
  keep them (``--from-index``, or import the files with ``--store``).

Everything backend-specific (reading the stored documents, the new
generation and its swap) is the target's (``search.backends.base.IndexTarget``).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

from search.backends import open_target
from search.documents import article_from_stored

from . import pipeline


def as_record(stored: dict) -> dict:
    """An indexed document's stored fields as an input record (the fields
    of ``records.to_article``, ``extra`` spread, None left out)."""
    article = article_from_stored(stored)
    record = {**(article.extra or {}), "id": article.id, "title": article.title, "body": article.body,
              "published": article.published_text, "category": article.category, "source": article.source,
              "author": article.author, "url": article.url, "tags": article.tags, "lang": article.lang}
    return {k: v for k, v in record.items() if v is not None}


@contextmanager
def _target(backend: str, index: str, opensearch_url: str | None, userdict: str | None = None, **options):
    """The index's target, opened without writing to it (an index of another
    analysis version can be read and rebuilt), closed after the block."""
    target = open_target(backend, index, opensearch_url=opensearch_url, userdict=userdict, create=False, **options)
    try:
        yield target
    finally:
        target.close()


def index_exists(backend: str, index: str, opensearch_url: str | None = None) -> bool:
    """Is there an index (a Whoosh index directory, an OpenSearch alias or index)?"""
    with _target(backend, index, opensearch_url) as target:
        return target.exists()


def index_ids(backend: str, index: str, opensearch_url: str | None = None, damaged: list | None = None) -> set[str]:
    """Ids of every article the index holds (empty when there is no index).
    ``damaged``: see ``store_lacks``."""
    with _target(backend, index, opensearch_url) as target:
        if not target.exists():
            return set()
        return {s["id"] for s in target.stored_documents(damaged)}


def rebuild_from_index(backend: str, index: str, userdict: str | None, opensearch_url: str | None = None,
                       workers: int | None = None) -> int:
    """Re-analyse the index's own articles into a new generation, swapped in
    (an OpenSearch index keeps its shards and replicas); returns the count.
    Raises ``IndexCorrupt`` for a damaged Whoosh segment (nothing changed)."""
    with _target(backend, index, opensearch_url, userdict, shards=None, replicas=None) as target:
        count = [0]

        def records():  # streamed: readers see the old index until the swap
            for stored in target.stored_documents():
                count[0] += 1
                yield as_record(stored)

        pipeline.rebuild_from_records(target, records(), report=lambda msg: print(msg, file=sys.stderr),
                                      workers=workers)
    return count[0]


def store_lacks(backend: str, index: str, store, opensearch_url: str | None = None,
                damaged: list | None = None) -> list[str]:
    """The ids (sorted) of the index's articles that the article store does
    not hold.  An id whose latest change in the store is a delete (still
    pending for the writer, or applied) is not lacking: the store withdrew
    it.  The index is read first, then the store, so that a change made
    meanwhile (the store is written before the index) is never mistaken
    for a lack.  ``damaged``: a list to collect the damaged segments of a
    Whoosh index (their articles cannot be read, so they are not counted);
    without it a damaged segment raises ``IndexCorrupt``."""
    in_index = index_ids(backend, index, opensearch_url, damaged)
    lacking = in_index - set(store.ids())
    return sorted(lacking - store.withdrawn_ids()) if lacking else []


def rebuild_from_store_directly(backend: str, index: str, store, userdict: str | None,
                                opensearch_url: str | None = None) -> None:
    """Rebuild from the article store without opening the old index for
    writing (it may be of another analysis version, which the writer refuses
    to open, or damaged): the store's records built into a new generation,
    swapped in."""
    snapshot = store.last_seq()
    with _target(backend, index, opensearch_url, userdict) as target:
        pipeline.rebuild_from_records(target, store.records(), report=lambda msg: print(msg, file=sys.stderr))
    store.set_applied(snapshot)


def damage(backend: str, index: str, opensearch_url: str | None = None) -> list[str]:
    """What is damaged in the index: one sentence per damaged file ([] if nothing)."""
    with _target(backend, index, opensearch_url) as target:
        found = target.damage() if target.exists() else None
        return [] if found is None else list(getattr(found, "problems", [str(found)]))


def is_current(backend: str, index: str, opensearch_url: str | None = None) -> bool:
    """Can this version's writer open the index (missing counts as yes)?
    Not when it is of another analysis version, nor when it is damaged
    (a damaged segment or sidecar file: the writer refuses to open it)."""
    with _target(backend, index, opensearch_url) as target:
        return target.is_current() and (not target.exists() or target.damage() is None)
