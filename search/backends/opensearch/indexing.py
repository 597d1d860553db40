"""Bulk indexing into OpenSearch with retries (opensearch-py's helpers)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from collections.abc import Iterable

from ...documents import PreparedDoc
from .mapping import to_source


@dataclass
class SourceDoc:
    """A document already turned into its OpenSearch source (by an indexing
    worker process, so that the process sending bulk requests does not)."""

    id: str
    source: dict


def bulk_index(client, index: str, docs: Iterable[PreparedDoc | SourceDoc], chunk_size: int = 500) -> int:
    """Index ``docs`` (replacing same ids); returns the count."""
    return sum(len(ids) for ids in apply(client, index, docs, chunk_size=chunk_size).values())


def apply(client, index: str, puts: Iterable[PreparedDoc | SourceDoc], deletes: Iterable[str] = (),
          chunk_size: int = 500, refresh: bool = False) -> dict[str, list[str]]:
    """Index ``puts`` (replacing same ids) and delete ``deletes`` in bulk,
    retrying rejected chunks with backoff (raises if a document still
    fails); a delete of an id that is not there is no error.  Returns
    the ids by outcome ("created", "updated", "deleted", "not_found")."""
    from opensearchpy import helpers

    actions = [{"_op_type": "delete", "_index": index, "_id": doc_id} for doc_id in deletes]
    puts_actions = ({"_op_type": "index", "_index": index, "_id": d.id,
                     "_source": d.source if isinstance(d, SourceDoc) else to_source(d)} for d in puts)
    outcomes: dict[str, list[str]] = {}
    for ok, item in helpers.streaming_bulk(client, itertools.chain(actions, puts_actions), chunk_size=chunk_size,
                                           max_retries=5, initial_backoff=1, raise_on_error=True,
                                           ignore_status=(404,)):
        (outcome,) = item.values()
        outcomes.setdefault(outcome.get("result", "error"), []).append(outcome["_id"])
    if refresh:
        client.indices.refresh(index=index)
    return outcomes


def ensure_alias(client, alias: str, shards: int = 1, replicas: int = 1) -> None:
    """Create an empty index behind ``alias`` unless the alias exists (the
    first build, or the writer's first start, on a new cluster).  Raises
    ValueError when the existing index was written by another analysis
    version (adding to it would mix terms of two versions)."""
    from .backend import IncompatibleIndex, OpenSearchBackend
    from .mapping import index_body

    if client.indices.exists_alias(name=alias):
        try:
            OpenSearchBackend("", alias, client=client).check_version()
        except IncompatibleIndex as exc:
            raise ValueError(str(exc)) from None
        return
    if client.indices.exists(index=alias):
        raise ValueError(f"{alias!r} is an index, not an alias: give the alias another name")
    name = _new_name(alias)
    client.indices.create(index=name, body={**index_body(shards, replicas), "aliases": {alias: {}}})


def _new_name(alias: str) -> str:
    import time

    return f"{alias}-{time.strftime('%Y%m%d%H%M%S')}-{time.monotonic_ns() % 10**6:06d}"


def create_generation(client, alias: str, shards: int = 1, replicas: int = 1) -> str:
    """Create an empty index ``<alias>-<timestamp>`` with this version's
    mapping, not yet behind ``alias``; returns its name."""
    from .mapping import index_body

    name = _new_name(alias)
    client.indices.create(index=name, body=index_body(shards, replicas))
    return name


def swap_alias(client, alias: str, name: str, replicas: int = 1) -> None:
    """Point ``alias`` at the index ``name`` (once its shards are allocated:
    green, or yellow without replicas) in one atomic alias update, then
    delete the indexes it pointed to before.  Raises ValueError when
    ``alias`` is an index, not an alias."""
    client.cluster.health(index=name, wait_for_status="green" if replicas else "yellow")
    old = list(client.indices.get_alias(name=alias).keys()) if client.indices.exists_alias(name=alias) else []
    if client.indices.exists(index=alias) and not old:
        raise ValueError(f"{alias!r} is an index, not an alias: give the alias another name")
    actions = [{"remove": {"index": o, "alias": alias}} for o in old] + [{"add": {"index": name, "alias": alias}}]
    client.indices.update_aliases(body={"actions": actions})
    for o in old:
        client.indices.delete(index=o)


def rebuild_alias(client, alias: str, docs: Iterable[PreparedDoc | SourceDoc], shards: int = 1, replicas: int = 1,
                  regroup: bool = True) -> str:
    """Build a complete new index ``<alias>-<timestamp>`` and point ``alias``
    at it in one atomic alias update: searches through the alias never see
    a half-built index.  The indexes the alias pointed to before are deleted
    afterwards.  Returns the new index's name."""
    name = create_generation(client, alias, shards, replicas)
    bulk_index(client, name, docs)
    client.indices.refresh(index=name)
    if regroup:  # near-duplicate groups before anyone searches the new index
        from .groups import regroup as group_documents

        group_documents(client, name)
    swap_alias(client, alias, name, replicas)
    return name


def stored_documents(client, alias: str):
    """The stored fields of every document behind ``alias`` (scrolled),
    whatever analysis version wrote them (a rebuild re-analyses them)."""
    from opensearchpy import helpers

    for hit in helpers.scan(client, index=alias, query={"query": {"match_all": {}}}, _source=["stored"], size=1000):
        yield hit["_source"]["stored"]


def known_hashes(client, index: str) -> dict[str, str | None]:
    """id -> record hash of every document of ``index`` (scrolled, 1000 a
    page, reading only those two stored fields)."""
    from opensearchpy import helpers

    return {hit["_id"]: (hit["_source"].get("stored") or {}).get("record_hash")
            for hit in helpers.scan(client, index=index, query={"query": {"match_all": {}}},
                                    _source=["stored.record_hash"], size=1000)}
