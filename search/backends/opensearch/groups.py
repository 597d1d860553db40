"""Near-duplicate groups on OpenSearch: the same grouping as the Whoosh
backend (``search.dedupe.group`` over each article's MinHash signature),
computed from the signatures kept in the documents' source and written back
as ``dup_rep``, the id of the group's representative, which searches
collapse on.  A document is its own representative until a regroup runs
(after a build or a delete, and in the background behind the writer)."""

from __future__ import annotations

import base64

import numpy as np

from ... import dedupe
from ...ranking import NO_DATE


def encode_signature(minhash) -> str | None:
    """A MinHash signature (``dedupe.NUM_PERM`` uint32) as base64 of its
    little-endian bytes, for the document's source; None stays None."""
    if minhash is None:
        return None
    return base64.b64encode(np.asarray(minhash, dtype="<u4").tobytes()).decode("ascii")


def decode_signature(value: str | None) -> np.ndarray:
    """``encode_signature`` reversed: uint32[``dedupe.NUM_PERM``]; a missing
    signature is all ``dedupe.NO_SIGNATURE`` (groups with nothing)."""
    if not value:
        return np.full(dedupe.NUM_PERM, dedupe.NO_SIGNATURE, np.uint32)
    return np.frombuffer(base64.b64decode(value), dtype="<u4").astype(np.uint32)


def regroup(client, index: str, page: int = 2000) -> dict:
    """Group every document of ``index`` (an index or alias) and update
    the ``dup_rep`` of those whose representative changed; returns counts."""
    from opensearchpy import helpers

    ids, where, stamps, signatures, installments, current = [], [], [], [], [], []
    for hit in helpers.scan(client, index=index, query={"query": {"match_all": {}}}, size=page,
                            _source=["signature", "published", "installment", "dup_rep"]):
        src = hit["_source"]
        ids.append(hit["_id"])
        where.append(hit["_index"])
        stamps.append(src.get("published") if src.get("published") is not None else NO_DATE)
        signatures.append(decode_signature(src.get("signature")))
        installments.append(src.get("installment") or 0)
        current.append(src.get("dup_rep"))
    if not ids:
        return {"documents": 0, "groups": 0, "changed": 0}
    rep = dedupe.group(np.asarray(stamps, np.int64), np.stack(signatures), np.asarray(installments, np.int64))
    actions = [{"_op_type": "update", "_index": where[i], "_id": ids[i], "retry_on_conflict": 3,
                "doc": {"dup_rep": ids[r]}}
               for i, r in enumerate(rep.tolist()) if current[i] != ids[r]]
    if actions:
        # A document deleted since the scan is simply not there any more.
        for _ in helpers.streaming_bulk(client, actions, chunk_size=1000, max_retries=5, initial_backoff=1,
                                        raise_on_error=True, ignore_status=(404,)):
            pass
        client.indices.refresh(index=index)
    members = int((rep != np.arange(len(rep))).sum())
    return {"documents": len(ids), "groups": len(set(rep[rep != np.arange(len(rep))].tolist())),
            "members": members, "changed": len(actions)}
