"""Percolation on a Whoosh index: which articles of a batch each plan
fully matches, evaluated on a view of only the segments holding the batch.

The writer writes each batch as a segment of its own, so the view is the
batch's segment (or the segment a background merge put it in: at most the
merge policy's ``merge_max_docs`` documents), whatever the archive's size:
the cost grows with the batch and the number of plans, not with the
archive.  Only the batch's documents are live in that view.

Whole-index statistics never decide a full match here: relaxation is off
(``relax_below = 0``), and the clause evaluators decide matches by set
algebra over postings and positions of each document alone (idf only
scores, and scores are not used); the plans were compiled against the whole
index (pinyin and synonyms read its document frequencies), by the engine.
"""

from __future__ import annotations

import numpy as np

from ...errors import SearchServiceError
from ...plan import Plan
from . import tiers
from .executor import Executor
from .matchers import mask as mask_of
from .view import IndexView


def batch_view(view: IndexView, ids) -> tuple[IndexView | None, dict[int, str]]:
    """A view over the segments of ``view`` holding the live articles
    ``ids`` (article ids), with only those documents live, and its doc
    number -> article id; (None, {}) when none is live."""
    found = {}
    for doc_id in dict.fromkeys(ids):
        g = view.id_to_doc(doc_id)
        if g is not None:
            found[g] = doc_id
    if not found:
        return None, {}
    docs = np.fromiter(found, np.int64, len(found))
    seg_idx = sorted(set((np.searchsorted(view.bases, docs, side="right") - 1).tolist()))
    segments, deleted, new_base = [], [], {}
    base = 0
    for si in seg_idx:
        lo, hi = int(view.bases[si]), int(view.bases[si + 1])
        segments.append(view.segments[si])
        deleted.append(frozenset(np.flatnonzero(~view.live[lo:hi]).tolist()))
        new_base[si] = (lo, base)
        base += hi - lo
    sub = IndexView(segments, deleted, view.generation)
    names = {}
    for g, doc_id in found.items():
        si = int(np.searchsorted(view.bases, g, side="right") - 1)
        lo, nb = new_base[si]
        names[g - lo + nb] = doc_id
    live = np.zeros(sub.n_all, bool)
    live[np.fromiter(names, np.int64, len(names))] = True
    sub.live = live
    sub.n_live = int(live.sum())
    return sub, names


def full_matches(executor: Executor, plan: Plan) -> np.ndarray:
    """Doc numbers (sorted int64) of the live documents of the executor's
    view that ``plan`` matches fully: its filters, every ``must`` clause,
    no ``must_not`` clause (``Executor.run``'s matching, without ranking,
    relaxation, grouping or stored fields)."""
    v = executor.view
    mask = executor.filter_mask(plan)
    if plan.must:
        docs, tier, _, _, _ = tiers.match(executor.evaluator, plan, mask)
        docs = docs[tier == 2]
    else:
        docs = np.flatnonzero(mask)
    for c in plan.must_not:
        if not len(docs):
            break
        bad, _ = executor.evaluator.evaluate(c)
        if len(bad):
            docs = docs[~mask_of(bad, v.n_all)[docs]]
    return docs


def match_batch(view: IndexView, plans: list[Plan], ids) -> list[list[str] | SearchServiceError]:
    """For each plan (compiled for a full match: ``relax_below = 0``), the
    ids among ``ids`` (live article ids) it fully matches, in the order of
    ``ids``, or, for a plan the index refuses (``UnsupportedQuery``, the
    ``SearchServiceError`` ``Executor.run`` raises), that exception in its
    place: the other plans are answered."""
    sub, names = batch_view(view, ids)
    if sub is None:
        return [[] for _ in plans]
    order = {doc_id: i for i, doc_id in enumerate(dict.fromkeys(ids))}
    executor = Executor(sub)
    out = []
    for plan in plans:
        executor.deadline.at = plan.deadline
        try:
            found = [names[g] for g in full_matches(executor, plan).tolist() if g in names]
        except SearchServiceError as exc:  # this plan alone
            out.append(exc)
            continue
        out.append(sorted(found, key=order.__getitem__))
    return out
