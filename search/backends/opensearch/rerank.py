"""Hybrid search on OpenSearch (issue 20): the lexical top candidates
re-ranked in the service by reciprocal-rank fusion with their dense rank,
computed from the vectors kept in their sources (``vectors.py`` says why
the cluster's k-NN is not used: the test cluster has no k-NN plugin).

For a plan with ``Plan.dense`` in hybrid mode (``execute`` of the
backend):

* the lexical search runs as in lexical mode (full matches, relaxation,
  filters, facets, the timeline, grouping), for its first
  ``RERANK_DEPTH`` results (articles, or groups when grouped: a group is
  its shown article), their vectors read with them;
* the dense rank of a candidate is its rank among the candidates that
  have a vector, by cosine with the query descending, ties by lexical
  rank; the fused score is ``search.hybrid.rrf`` of the lexical rank and
  that dense rank (``DenseQuery.rrf_k``, ``dense_weight``); the
  candidates are listed by fused score descending, ties by lexical rank;
* results beyond the first ``RERANK_DEPTH`` follow in their lexical order
  (their dense rank is unknown: their fused score, 1 / (k + lexical rank),
  is below every candidate's);
* no dense-only hit is added (``dense_total`` 0) and the result says how
  many candidates were re-ranked (``BackendResult.dense_reranked``: the
  ``dense_rerank_only`` notice); ``total``, facets and the timeline are
  the lexical search's;
* sorted by date: the lexical results in date order, each with its
  cosine (``similarity``).

Unlike the Whoosh backend, whose dense rank is over every live article
the filters keep, the dense rank here is over the candidates only, so
the two backends' hybrid orders differ as their BM25 orders do.

Semantic mode needs the nearest articles over the whole index: it is
refused (``DenseNotSupported``, 501, the message says why).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...embedding.record import mismatch
from ...hybrid import DenseNotSupported, SemanticModeUnavailable, rrf
from ...plan import BackendResult, Plan, UnsupportedQuery
from . import vectors

# Lexical results re-ranked per hybrid search: each is read with its
# stored fields and its 2 KB vector (dimension 384).  A result page past
# this depth is in lexical order.  PROVISIONAL: a cost bound, not tuned
# on the evaluation.
RERANK_DEPTH = 200

SEMANTIC_REFUSED = ("mode=semantic is not available on this OpenSearch index: it needs the nearest articles "
                    "by meaning over the whole index, and the cluster has no k-NN plugin (the vectors are kept "
                    "in the documents and only re-rank word matches); use mode=hybrid, or the Whoosh backend")


def run(backend, plan: Plan) -> BackendResult:
    """``execute`` of a plan with ``plan.dense`` on ``backend`` (an
    ``OpenSearchBackend``); the module docstring says what it answers.
    Raises ``DenseNotSupported`` (semantic mode), ``UnsupportedQuery``
    (explain), ``SemanticModeUnavailable`` (no vectors in the index),
    ``VectorsModelMismatch`` (vectors of another model than the query's),
    and what a lexical ``execute`` raises."""
    dq = plan.dense
    if dq.mode == "semantic":
        raise DenseNotSupported(SEMANTIC_REFUSED)
    if plan.explain:
        raise UnsupportedQuery("explain is available in lexical mode only")
    backend.check_version()
    model, backlog = backend.dense_state()
    if model is None:
        raise SemanticModeUnavailable(
            "semantic mode is unavailable: this index has no dense vectors yet; run "
            f"`python -m indexer embed --backend opensearch --index {backend.index}` to compute them")
    if model.model_id != dq.model_id or model.dim != len(dq.vector):
        raise mismatch(model, dataclasses.replace(model, model_id=dq.model_id, dim=len(dq.vector)),
                       backend.index, "the service embeds queries with")
    query = np.asarray(dq.vector, np.float32)
    if plan.sort != "relevance":
        found: list = []
        res = backend.lexical(plan, found)
        _similarities(res.hits, found, query, model.dim)
        reranked = 0
    else:
        found = []
        res = backend.lexical(dataclasses.replace(plan, offset=0, limit=RERANK_DEPTH), found)
        cos = _similarities(res.hits, found, query, model.dim)
        n = len(res.hits)
        with_vector = [i for i in range(n) if cos[i] is not None]
        dense_rank = np.zeros(n, np.int64)
        dense_rank[sorted(with_vector, key=lambda i: (-cos[i], i))] = np.arange(1, len(with_vector) + 1)
        fused = rrf(np.arange(1, n + 1), dense_rank, dq.rrf_k, dq.dense_weight)
        ranked = [res.hits[i] for i in sorted(range(n), key=lambda i: (-fused[i], i))]
        for h, i in zip(ranked, sorted(range(n), key=lambda i: (-fused[i], i))):
            h.score = float(fused[i])
        page = ranked[plan.offset: plan.offset + plan.limit]
        end = plan.offset + plan.limit
        if end > n == RERANK_DEPTH:  # the page reaches past the candidates: the lexical order goes on
            start = max(plan.offset, n)
            tail_found: list = []
            tail = backend.lexical(dataclasses.replace(plan, offset=start, limit=end - start, facets=(),
                                                       histogram=None), tail_found)
            _similarities(tail.hits, tail_found, query, model.dim)
            page += tail.hits
        res.hits = page
        reranked = n
    res.dense_total = 0
    res.dense_backlog = backlog
    res.dense_reranked = reranked
    return res


def _similarities(hits, found: list, query: np.ndarray, dim: int) -> list:
    """Set each hit's ``similarity`` (cosine of its stored vector with
    ``query``; None without a vector) from ``found`` (the encoded vectors,
    in hit order); returns the cosines."""
    out = []
    for h, text in zip(hits, found):
        h.similarity = None if text is None else float(vectors.decode(text, dim) @ query)
        out.append(h.similarity)
    return out
