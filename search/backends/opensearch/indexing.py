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
