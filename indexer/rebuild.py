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
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

from search.documents import article_from_stored


def _record(stored: dict) -> dict:
    """An indexed document's stored fields as an input record."""
    article = article_from_stored(stored)
    record = {**(article.extra or {}), "id": article.id, "title": article.title, "body": article.body,
              "published": article.published_text, "category": article.category, "source": article.source,
              "author": article.author, "url": article.url, "tags": article.tags, "lang": article.lang}
    return {k: v for k, v in record.items() if v is not None}


def index_ids(backend: str, index: str, opensearch_url: str | None = None, damaged: list | None = None) -> set[str]:
    """Ids of every article the index holds (empty when there is no index).
    ``damaged``: see ``store_lacks``."""
    return {s["id"] for s in _stored(backend, index, opensearch_url, missing_ok=True, damaged=damaged)}


def _stored(backend: str, index: str, opensearch_url: str | None, missing_ok: bool = False,
            damaged: list | None = None):
    if backend == "opensearch":
        from search.backends.opensearch.indexing import stored_documents

        from .opensearch_target import connect

        client = connect(opensearch_url)
        if missing_ok and not client.indices.exists(index=index):
            return iter(())
        return stored_documents(client, index)
    from search.backends.whoosh import store

    if missing_ok and not store.exists(index):
        return iter(())
    return store.stored_documents(index, damaged)


def rebuild_from_index(backend: str, index: str, userdict: str | None, opensearch_url: str | None = None,
                       workers: int | None = None) -> int:
    """Re-analyse the index's own articles into a new index; returns the count."""
    if backend == "opensearch":
        from search.backends.opensearch.indexing import rebuild_alias

        from .opensearch_target import connect, prepared

        client = connect(opensearch_url)
        settings = client.indices.get_settings(index=index)
        first = next(iter(settings.values()))["settings"]["index"]
        count = [0]

        def articles():  # streamed: the alias points at the old index until the swap
            for stored in _stored(backend, index, opensearch_url):
                count[0] += 1
                yield article_from_stored(stored)

        rebuild_alias(client, index, prepared(articles(), userdict, workers),
                      int(first.get("number_of_shards", 1)), int(first.get("number_of_replicas", 1)))
        return count[0]
    from . import pipeline

    parent = os.path.dirname(os.path.abspath(index.rstrip("/")))
    n = 0
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", dir=parent, delete=False, encoding="utf-8") as f:
        dump = f.name
        for stored in _stored(backend, index, opensearch_url):
            f.write(json.dumps(_record(stored), ensure_ascii=False) + "\n")
            n += 1
    try:
        pipeline.rebuild(index, [dump], userdict=userdict, workers=workers, progress=False,
                         report=lambda msg: print(msg, file=sys.stderr), acknowledged=True)
    finally:
        os.remove(dump)
    return n


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
    to open): the store dumped to a file, built into a new index, swapped."""
    snapshot = store.last_seq()
    parent = os.path.dirname(os.path.abspath(index.rstrip("/"))) if backend != "opensearch" else None
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", dir=parent, delete=False, encoding="utf-8") as f:
        dump = f.name
        for record in store.records():
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    try:
        if backend == "opensearch":
            from .opensearch_target import build

            build(opensearch_url, index, [dump], userdict=userdict, rebuild=True, acknowledged=True)
        else:
            from . import pipeline

            pipeline.rebuild(index, [dump], userdict=userdict, progress=False,
                             report=lambda msg: print(msg, file=sys.stderr), acknowledged=True)
    finally:
        os.remove(dump)
    store.set_applied(snapshot)


def is_current(backend: str, index: str, opensearch_url: str | None = None) -> bool:
    """Can this version's writer open the index (missing counts as yes)?"""
    if backend == "opensearch":
        from search.backends.opensearch.backend import IncompatibleIndex, OpenSearchBackend

        from .opensearch_target import connect

        client = connect(opensearch_url)
        if not client.indices.exists_alias(name=index):
            return True
        try:
            OpenSearchBackend("", index, client=client).check_version()
        except IncompatibleIndex:
            return False
        return True
    from search.backends.whoosh import store

    if not store.exists(index):
        return True
    try:
        store.open_index(index)
    except store.IncompatibleIndex:
        return False
    return True
