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

from ...errors import SearchServiceError
from ...plan import Plan

SEARCHES_PER_REQUEST = 200  # plans per msearch request (chosen: bodies of well under 1 MB)


def match_batch(backend, plans: list[Plan], ids: list[str]) -> list[list[str]]:
    """For each plan (compiled for a full match), the ids among ``ids`` it
    fully matches, in the order of ``ids``, or, for a plan this backend
    cannot run, its exception in its place (``UnsupportedQuery`` raised
    building its query; ``PlanFailed`` for its failed search in the
    multi-search): the other plans are answered.  ``backend``: an
    ``OpenSearchBackend``.  Raises the client's errors (the cluster
    unreachable: every plan failed)."""
    ids = list(dict.fromkeys(ids))
    if not ids or not plans:
        return [[] for _ in plans]
    backend.check_version()
    order = {doc_id: i for i, doc_id in enumerate(ids)}
    out: list[list[str] | Exception] = []
    for start in range(0, len(plans), SEARCHES_PER_REQUEST):
        lines, chunk = [], []
        for plan in plans[start:start + SEARCHES_PER_REQUEST]:
            try:
                query = {"bool": {"must": [backend.query(plan)], "filter": [{"ids": {"values": ids}}]}}
            except SearchServiceError as exc:  # this plan alone: not sent
                chunk.append(exc)
                continue
            chunk.append(None)
            lines += [{}, {"query": query, "size": len(ids), "_source": False, "track_total_hits": False}]
        responses = iter(backend.client.msearch(index=backend.index, body=lines)["responses"] if lines else ())
        for refused in chunk:
            if refused is not None:
                out.append(refused)
                continue
            r = next(responses)
            if "error" in r:
                out.append(PlanFailed(_reason(r["error"])))
            else:
                out.append(sorted((h["_id"] for h in r["hits"]["hits"]), key=order.__getitem__))
    return out


class PlanFailed(RuntimeError, SearchServiceError, status=503):
    """One search of a percolation multi-search failed in the cluster
    (its message: the cluster's reason)."""


def _reason(error) -> str:
    """The reasons of an msearch item's ``error`` (a dict, or a string), root causes first."""
    if not isinstance(error, dict):
        return str(error)
    reasons = [c.get("reason") for c in error.get("root_cause") or () if isinstance(c, dict)]
    reasons.append(error.get("reason"))
    reasons = [r for r in dict.fromkeys(reasons) if r]
    return "; ".join(reasons) or str(error)


def stored_many(backend, doc_ids: list[str]) -> dict[str, dict | None]:
    """The stored fields of each id (None: not in the index), in one
    multi-get (``OpenSearchBackend.get_many``)."""
    ids = list(dict.fromkeys(doc_ids))
    if not ids:
        return {}
    res = backend.client.mget(index=backend.index, body={"ids": ids}, _source_includes=["stored"])
    return {d["_id"]: (d["_source"]["stored"] if d.get("found") else None) for d in res["docs"]}
