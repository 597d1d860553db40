"""Execute a ``search.plan.Plan`` against an ``IndexView`` with numpy.

``Executor.run`` is the entry point; the stages live in their own modules:

* ``matchers``: postings, positions and phrases (set algebra over doc ids
  and position keys); ``textchecks``: what must be read from stored texts;
* ``clauses``: each plan clause class -> its evaluator (one table,
  ``clauses.EVALUATORS``); ``scorer``: BM25F from the postings;
* ``tiers``: the must clauses combined in match tiers, with relaxation to
  partial matches (weights in ``search.ranking``);
* ``collectors``: top k, near-duplicate collapse, facets, histogram, the
  deadline.

Each clause evaluates to (global doc ids, scores), sorted by doc id.  Totals
and facet counts are computed over exactly the documents returned.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from ... import ranking
from ...plan import BackendHit, BackendResult, Plan
from ...timeutil import year_span
from ...values import value_key
from . import collectors, dense, explain, tiers
from .clauses import ClauseEvaluator
from .collectors import Deadline
from .matchers import Matcher, contains, mask as mask_of
from .reader import IndexView


@dataclass(frozen=True)
class Ranked:
    """All matches of a plan in page order (``Executor.ranked``): global doc
    numbers, match tier (2 = full), final score, and (partial matches only)
    the full-match doc ids of each must clause, for what a hit lacks."""

    docs: np.ndarray
    matched: np.ndarray
    scores: np.ndarray
    full_parts: list | None

    def missing(self, i: int) -> list[int]:
        """Indexes into the plan's must clauses the ``i``-th match lacks."""
        if self.full_parts is None or self.matched[i] == 2:
            return []
        return [k for k, ids in enumerate(self.full_parts) if not contains(ids, int(self.docs[i]))]


class Executor:
    """Runs plans over one ``IndexView`` (one per query: not thread-safe).
    ``deadline``: a ``time.monotonic()`` instant past which the query
    raises ``QueryTimeout`` (``run`` takes ``plan.deadline``)."""

    def __init__(self, view: IndexView, deadline: float | None = None):
        self.view = view
        self.deadline = Deadline(deadline)
        self.evaluator = ClauseEvaluator(Matcher(view, self.deadline))
        self.last_mask = None  # the filter mask of the last plan matched (``dense.run`` reuses it)

    def filter_mask(self, plan: Plan) -> np.ndarray:
        """Bool mask (length ``n_all``) of the live documents the plan's
        filters keep: facet values (compared by folded keys), years of
        publication (``timeutil.year_span``), the date
        window (epoch seconds; an undated article is outside any upper
        bound), and not one of ``plan.exclude_docs`` (article ids)."""
        v = self.view
        mask = v.live.copy()
        for fname, values in plan.filters.items():
            if not values:
                continue
            if fname == "year":  # publication in any of these years, newsroom time
                spans = [year_span(int(y)) for y in values]
                mask &= np.logical_or.reduce([(v.published >= a) & (v.published < b) for a, b in spans])
                continue
            # Values are compared by their folded keys: 众闻 selects 眾聞.
            number = v.facet_keys(fname).number
            wanted = {number[k] for k in map(value_key, values) if k in number}
            mask &= self.evaluator.matcher.docs_with_keys(fname, sorted(wanted))
        if plan.date_from is not None:
            mask &= v.published >= int(plan.date_from.timestamp())
        if plan.date_to is not None:
            mask &= (v.published < int(plan.date_to.timestamp())) & (v.published != ranking.NO_DATE)
        for doc_id in plan.exclude_docs:
            g = v.id_to_doc(doc_id)
            if g is not None:
                mask[g] = False
        return mask

    def _matches(self, plan: Plan):
        """(docs sorted, match tier of each (2 = full), scores, relaxed?,
        the full-match doc ids of each must clause or None)."""
        v = self.view
        self.deadline.at = plan.deadline
        if plan.explain and plan.now is None:
            plan.now = time.time()  # the same instant for the ranking and its explanation
        mask = self.last_mask = self.filter_mask(plan)
        relaxed = False
        full_parts = None
        if plan.must:
            docs, tier, scores, relaxed, full_parts = tiers.match(self.evaluator, plan, mask)
        else:
            docs = np.flatnonzero(mask)
            tier = np.full(len(docs), 2, np.int64)
            scores = np.zeros(len(docs))
        matched = tier
        if plan.must_not and len(docs):
            for c in plan.must_not:
                bad, _ = self.evaluator.evaluate(c)
                if len(bad):
                    keep = ~mask_of(bad, v.n_all)[docs]
                    docs, matched, scores = docs[keep], matched[keep], scores[keep]
        return docs, matched, scores, relaxed, full_parts

    def ranked(self, plan: Plan) -> "Ranked":
        """Every match of ``plan`` in the order of its pages, ungrouped
        (``collectors.top_k`` over all of them: tier, score with recency at
        ``plan.now``, ties by doc number; or by date), without reading a
        stored field: what a cursor walks (``WhooshBackend.walk``)."""
        docs, matched, scores, relaxed, full_parts = self._matches(plan)
        ordered = dataclasses.replace(plan, offset=0, limit=len(docs), group=False)
        order = collectors.top_k(self.view, ordered, docs, matched, scores)
        self.deadline.check()
        return Ranked(docs[order], matched[order], scores[order], full_parts if relaxed else None)

    def run(self, plan: Plan) -> BackendResult:
        """The plan's result page, totals, facets, timeline and grouping.
        Raises ``QueryTimeout`` past ``plan.deadline``, ``UnsupportedQuery``
        for an operator this index cannot answer; a plan with ``dense``
        (hybrid, semantic) runs in ``dense.run``."""
        if plan.dense is not None:
            return dense.run(self, plan)
        v = self.view
        docs, matched, scores, relaxed, full_parts = self._matches(plan)
        total = len(docs)
        raw = scores.copy() if plan.explain else None  # top_k writes the final scores in place
        facets = collectors.facets(v, docs, plan.facets, plan.facet_size)
        shown, shown_matched, shown_scores = docs, matched, scores
        if plan.group:
            keys = v.group_rep[docs]
            shown, shown_matched, shown_scores = collectors.collapse(v, docs, keys, matched, scores)
        order = collectors.top_k(v, plan, shown, shown_matched, shown_scores)
        page = order[plan.offset : plan.offset + plan.limit]
        self.deadline.check()
        hits = [BackendHit(int(shown[i]), float(shown_scores[i]), v.stored(int(shown[i]))) for i in page.tolist()]
        if full_parts is not None and relaxed:
            for h, i in zip(hits, page.tolist()):
                if shown_matched[i] != 2:
                    h.missing = [k for k, ids in enumerate(full_parts) if not contains(ids, h.key)]
        if plan.explain:
            explain.explain_hits(self.evaluator, plan, hits, docs, matched, raw, keys if plan.group else None)
        result = BackendResult(len(shown), hits, facets, relaxed, total_full=int((shown_matched == 2).sum()))
        if plan.group:
            result.total_articles = total
            collectors.attach_similar(v, hits, docs, keys, plan.similar_limit)
        if plan.histogram:
            collectors.histogram(v, docs, plan.histogram, result)
        return result
