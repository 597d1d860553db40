"""Bulk indexing into OpenSearch with retries (opensearch-py's helpers)."""

from __future__ import annotations

from collections.abc import Iterable

from ...documents import PreparedDoc
from .mapping import to_source


def bulk_index(client, index: str, docs: Iterable[PreparedDoc], chunk_size: int = 500) -> int:
    """Index ``docs`` (replacing same ids); retries rejected chunks with
    backoff and raises if any document still fails.  Returns the count."""
    from opensearchpy import helpers

    actions = ({"_op_type": "index", "_index": index, "_id": d.id, "_source": to_source(d)} for d in docs)
    n = 0
    for ok, item in helpers.streaming_bulk(client, actions, chunk_size=chunk_size, max_retries=5,
                                           initial_backoff=1, raise_on_error=True):
        n += ok
    return n


def rebuild_alias(client, alias: str, docs: Iterable[PreparedDoc], shards: int = 1, replicas: int = 1) -> str:
    """Build a complete new index ``<alias>-<timestamp>`` and point ``alias``
    at it in one atomic alias update: searches through the alias never see
    a half-built index.  The indexes the alias pointed to before are deleted
    afterwards.  Returns the new index's name."""
    import time

    from .mapping import index_body

    name = f"{alias}-{time.strftime('%Y%m%d%H%M%S')}-{time.monotonic_ns() % 10**6:06d}"
    client.indices.create(index=name, body=index_body(shards, replicas))
    bulk_index(client, name, docs)
    client.indices.refresh(index=name)
    client.cluster.health(index=name, wait_for_status="green" if replicas else "yellow")
    old = list(client.indices.get_alias(name=alias).keys()) if client.indices.exists_alias(name=alias) else []
    if client.indices.exists(index=alias) and not old:
        raise ValueError(f"{alias!r} is an index, not an alias: give the alias another name")
    actions = [{"remove": {"index": o, "alias": alias}} for o in old] + [{"add": {"index": name, "alias": alias}}]
    client.indices.update_aliases(body={"actions": actions})
    for o in old:
        client.indices.delete(index=o)
    return name
