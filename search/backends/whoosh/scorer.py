"""Scorer: BM25F scores of matching documents, from an ``IndexView``'s
postings and field lengths (the formula and its constants:
``search.ranking``)."""

from __future__ import annotations

import numpy as np

from ... import ranking
from .matchers import align, sum_by_doc, union_ids
from .reader import IndexView


def bm25f(view: IndexView, docs: np.ndarray, tf_by_field: dict[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """BM25F of one term for ``docs`` (sorted doc ids, the term's matches):
    ``tf_by_field`` maps "title"/"body" to (sorted ids, float64 term
    frequencies); idf from the live documents among ``docs``.  Returns a
    float64 array aligned with ``docs``."""
    tf_aligned, len_aligned = {}, {}
    for f, (ids, tf) in tf_by_field.items():
        tf_aligned[f] = align(ids, tf, docs, view.n_all)
        len_aligned[f] = view.lengths[f][docs]
    live_df = int(view.live[docs].sum())
    return ranking.bm25f(ranking.idf(live_df, max(view.n_live, 1)), tf_aligned, len_aligned, view.avglen)


def gram_scores(view: IndexView, grams, fields=("title", "body")):
    """BM25F of each query bigram (a str) in ``fields``, summed per
    document: (docs sorted, float64 score, int64 number of the grams matched)."""
    parts = []
    for g in grams:
        per_field = {f: view.postings(f + "_g", g) for f in fields}
        ids = [p[0] for p in per_field.values() if len(p[0])]
        if not ids:
            continue
        docs = union_ids(ids, view.n_all)
        parts.append((docs, bm25f(view, docs, {f: (p[0], p[1].astype(np.float64))
                                               for f, p in per_field.items()})))
    if not parts:
        return np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64)
    ids = np.concatenate([p[0] for p in parts])
    sc = np.concatenate([p[1] for p in parts])
    docs, count, (score,) = sum_by_doc(ids, view.n_all, sc)
    return docs, score, count
