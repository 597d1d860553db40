"""Percolation on OpenSearch: which articles of a batch each plan fully
matches, as one multi-search of the plans' full-match queries (the
backend's own ``query``) each filtered to the batch's ids.

Not the cluster's percolator: it would need our compiled queries stored
as documents of a percolator field, re-registered whenever the analysis,
the synonyms, the pinyin lexicon or a relative date moves, and its
candidate extraction does not cover the span and script queries the
proximity operators compile to.  A filtered search per plan touches only
the batch's documents (the ``ids`` filter leads the conjunction), so the
cost grows with the batch and the number of plans, not with the archive.
"""

from __future__ import annotations

from ...plan import Plan

SEARCHES_PER_REQUEST = 200  # plans per msearch request (chosen: bodies of well under 1 MB)


def match_batch(backend, plans: list[Plan], ids: list[str]) -> list[list[str]]:
    """For each plan (compiled for a full match), the ids among ``ids`` it
    fully matches, in the order of ``ids``.  ``backend``: an
    ``OpenSearchBackend``.  Raises RuntimeError for a failed search (its
    error), and the client's errors."""
    ids = list(dict.fromkeys(ids))
    if not ids or not plans:
        return [[] for _ in plans]
    backend.check_version()
    order = {doc_id: i for i, doc_id in enumerate(ids)}
    out: list[list[str]] = []
    for start in range(0, len(plans), SEARCHES_PER_REQUEST):
        lines = []
        for plan in plans[start:start + SEARCHES_PER_REQUEST]:
            query = {"bool": {"must": [backend.query(plan)], "filter": [{"ids": {"values": ids}}]}}
            lines += [{}, {"query": query, "size": len(ids), "_source": False, "track_total_hits": False}]
        res = backend.client.msearch(index=backend.index, body=lines)
        for r in res["responses"]:
            if "error" in r:
                raise RuntimeError(f"percolation search failed: {r['error']}")
            out.append(sorted((h["_id"] for h in r["hits"]["hits"]), key=order.__getitem__))
    return out


def stored_many(backend, doc_ids: list[str]) -> dict[str, dict | None]:
    """The stored fields of each id (None: not in the index), in one
    multi-get (``OpenSearchBackend.get_many``)."""
    ids = list(dict.fromkeys(doc_ids))
    if not ids:
        return {}
    res = backend.client.mget(index=backend.index, body={"ids": ids}, _source_includes=["stored"])
    return {d["_id"]: (d["_source"]["stored"] if d.get("found") else None) for d in res["docs"]}
