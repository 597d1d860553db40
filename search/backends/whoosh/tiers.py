"""Match tiers and relaxation: the required clauses of a plan combined
into ranked matches, and the partial matches admitted when too few
documents match them all.  The weights are ranking's
(``search.ranking``: PROXIMITY_WEIGHT, PARTIAL_GRAM_WEIGHT,
FALLBACK_WEIGHT, FALLBACK_MIN_GRAMS, COVERAGE_POWER, RELAX_MIN_COVERAGE)."""

from __future__ import annotations

import math
import re

import numpy as np

from ... import ranking
from ...plan import Plan, WordClause
from .clauses import ClauseEvaluator, fuzzy_latin
from .matchers import intersect_all, mask as mask_of, sum_by_doc, union_ids
from .scorer import gram_scores

_CJK_GRAM = re.compile(r"^[\u3400-\u9fff]{2}$")


def match(ev: ClauseEvaluator, plan: Plan, mask: np.ndarray, explained: dict | None = None):
    """Combine ``plan.must`` into (docs, tier, score, relaxed, full matches
    per clause): docs sorted int64 ids within ``mask`` (bool, length
    ``n_all``), tier int64 (2, 1 or 0, below), score float64, relaxed bool
    (partial matches were admitted), and per must clause the sorted ids of
    its full matches (to name what a partial match lacks).

    Tier 2: every clause matches.  Only a query of plain words is ever
    relaxed (``plan.relax_below`` > 0, and only its soft clauses:
    ``Clause.soft``): when fewer than ``relax_below`` live documents
    are in tier 2, tier 1 admits documents that match every hard clause
    and a soft clause of two or more characters, or two one-character
    words that the document has as words of their own
    (``Clause.anchors``), scored by the share of the query's rarity (idf)
    they cover; and if that is still too few, tier 0 admits documents
    having 40 % of the query's character bigrams, and a
    Chinese one among them or two at least (a typo, a Latin run written
    without spaces; never G20 through "20").  The decision is taken
    before filters, so that a filter never changes which documents
    count as matches (facet counts then equal the filtered totals
    exactly).

    ``explained`` (a dict, for explaining a ranking): filled with float64
    arrays aligned with the returned docs, such that score = clauses *
    coverage + proximity + fallback: "clauses" (the clauses' scores
    summed), "coverage" (1.0, or a partial match's ``(covered idf /
    query idf) ** COVERAGE_POWER``), "covered" and "query_idf" (its
    terms), "proximity" (the weighted bigram bonus), "fallback" (a
    tier-0 match's weighted bigram score)."""
    v = ev.view
    n_live = max(v.n_live, 1)
    parts = [ev.evaluate(c) for c in plan.must]
    full_parts = [p[0] for p in parts]
    n = len(parts)
    relaxable = plan.relax_below > 0
    soft = np.array([relaxable and c.soft() for c in plan.must], dtype=bool)
    anchor = soft & np.array([c.anchors() for c in plan.must], dtype=bool)
    weights = np.array([
        ranking.idf(int(v.live[p[0]].sum()), n_live) if len(p[0]) else ranking.idf(0, n_live)
        for p in parts
    ])
    soft_weight = float(weights[soft].sum()) or 1.0
    # Partial matches of long words (some of their parts): strength < 1.
    # Only needed when partial matches will be admitted at all.
    strengths = [np.ones(len(p[0])) for p in parts]
    few_full = relaxable and soft.any() and n >= 2 and (
        any(not len(a) for a in full_parts)
        or int(v.live[intersect_all(full_parts, v.n_all)].sum()) < plan.relax_below)
    for i, c in enumerate(plan.must):
        if not few_full:
            break
        if soft[i] and isinstance(c, WordClause) and (c.parts or fuzzy_latin(c)):
            pd, ps, pst = ev.partial(c, parts[i][0])
            if len(pd):
                parts[i] = (np.concatenate([parts[i][0], pd]), np.concatenate([parts[i][1], ps]))
                strengths[i] = np.concatenate([strengths[i], pst])
    lens = [len(p[0]) for p in parts]
    clause_of = np.repeat(np.arange(n), lens)
    all_ids = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
    all_scores = np.concatenate([p[1] for p in parts]) if parts else np.empty(0)
    strength = np.concatenate(strengths) if parts else np.empty(0)
    whole = strength >= 1.0
    # What a partial match needs: a word of two or more characters
    # (weight 2), or two one-character words the article has as words
    # of their own (weight 1 each; never 欧 of 欧洲 alone for 欧巴马).
    anchored = [np.full(len(p[0]), 2.0 if anchor[i] else 0.0) for i, p in enumerate(parts)]
    for i, c in enumerate(plan.must):
        ch = c.lone_character() if few_full and soft[i] else None
        if ch is not None:
            as_word = union_ids([v.postings(f + "_w", ch)[0] for f in c.fields], v.n_all)
            anchored[i] = mask_of(as_word, v.n_all)[parts[i][0]].astype(np.float64)
    anchored = np.concatenate(anchored) if parts else np.empty(0)
    per_match = (all_scores, whole.astype(np.float64), (whole & ~soft[clause_of]).astype(np.float64),
                 np.where(strength > 0, anchored, 0.0), np.where(soft[clause_of], weights[clause_of] * strength, 0.0))
    if n == 1:
        # One clause (a related-articles query, a one-word search): its
        # docs are sorted and distinct already, there is nothing to add up.
        docs, (scores, n_matched, n_hard, n_anchor, covered) = all_ids, per_match
    else:
        docs, _, (scores, n_matched, n_hard, n_anchor, covered) = sum_by_doc(all_ids, v.n_all, *per_match)
    full = n_matched >= n
    live = v.live[docs]
    relaxed = False
    if few_full and int((full & live).sum()) < plan.relax_below:
        sel = full | ((n_hard >= int((~soft).sum())) & (n_anchor >= 2)
                      & (covered >= ranking.RELAX_MIN_COVERAGE * soft_weight))
        relaxed = bool((sel & ~full & live).any())
    else:
        sel = full
    docs, scores, full, covered = docs[sel], scores[sel], full[sel], covered[sel]
    tier = np.where(full, 2, 1)
    if explained is not None:
        cover = np.where(full, 1.0, (covered / soft_weight) ** ranking.COVERAGE_POWER)
        explained.update(clauses=scores, coverage=cover, covered=covered, query_idf=np.full(len(docs), soft_weight),
                         proximity=np.zeros(len(docs)), fallback=np.zeros(len(docs)))
    scores = np.where(full, scores, scores * (covered / soft_weight) ** ranking.COVERAGE_POWER)
    grams = plan.proximity_grams
    # Bigrams only add information across word boundaries (several
    # words), or as the fallback when the words found too little.
    fallback = relaxable and not (~soft).any() and int(v.live[docs].sum()) < plan.relax_below
    if grams and (n >= 2 or fallback):
        g_docs, g_scores, g_count = gram_scores(v, grams)
        if len(docs) and len(g_docs):
            pos = np.searchsorted(g_docs, docs)
            pos = np.minimum(pos, len(g_docs) - 1)
            found = g_docs[pos] == docs
            bonus = np.where(found, g_scores[pos], 0.0)
            weighted = np.where(tier == 2, ranking.PROXIMITY_WEIGHT, ranking.PARTIAL_GRAM_WEIGHT) * bonus
            scores = scores + weighted
            if explained is not None:
                explained["proximity"] = weighted
        if fallback and len(grams) >= 2 and len(g_docs):
            # 40 % of the bigrams, and a Chinese one or two of them: "20"
            # alone is no match for G20.
            need = math.ceil(len(grams) * ranking.FALLBACK_MIN_GRAMS)
            enough = g_count >= need
            if need < 2:
                cjk = [g for g in grams if _CJK_GRAM.match(g)]
                c_docs = gram_scores(v, cjk)[0] if cjk else np.empty(0, np.int64)
                enough &= (g_count >= 2) | mask_of(c_docs, v.n_all)[g_docs]
            extra = enough & ~mask_of(docs, v.n_all)[g_docs]
            extra &= _chinese_or_latin_piece(ev, plan, grams, g_docs, extra)
            if extra.any():
                relaxed = True
                docs = np.concatenate([docs, g_docs[extra]])
                tier = np.concatenate([tier, np.zeros(int(extra.sum()), np.int64)])
                scores = np.concatenate([scores, ranking.FALLBACK_WEIGHT * g_scores[extra]])
                order = np.argsort(docs, kind="stable")
                docs, tier, scores = docs[order], tier[order], scores[order]
                if explained is not None:
                    n_extra = int(extra.sum())
                    fill = {"coverage": 1.0, "query_idf": soft_weight}
                    for name, arr in explained.items():
                        added = (ranking.FALLBACK_WEIGHT * g_scores[extra] if name == "fallback"
                                 else np.full(n_extra, fill.get(name, 0.0)))
                        explained[name] = np.concatenate([arr, added])[order]
    keep = mask[docs]
    if explained is not None:
        for name in explained:
            explained[name] = explained[name][keep]
    return docs[keep], tier[keep], scores[keep], relaxed, full_parts


def _chinese_or_latin_piece(ev: ClauseEvaluator, plan: Plan, grams: list[str], g_docs: np.ndarray,
                            candidates: np.ndarray) -> np.ndarray:
    """Which of ``g_docs`` (where ``candidates``) may enter the bigram
    fallback: those having a Chinese bigram of the query, and those that
    only have Latin ones if they hold a contiguous piece of one of the
    query's Latin words (``ClauseEvaluator.has_chunk``: 60 % of it, five
    characters at least; or, for a run-together word read as words, those
    words making up 60 % of it), as a partial Latin match needs.  Latin bigrams
    scattered through other words (``ic`` of justice, ``cp`` elsewhere)
    are no trace of ``icp``.  A bool array over ``g_docs``."""
    v = ev.view
    cjk = [g for g in grams if _CJK_GRAM.match(g)]
    ok = mask_of(gram_scores(v, cjk)[0], v.n_all)[g_docs] if cjk else np.zeros(len(g_docs), bool)
    latin_only = candidates & ~ok
    if latin_only.any():
        words = [c for c in plan.must if isinstance(c, WordClause) and c.word.isascii() and len(c.word) >= 5]
        found = np.zeros(len(g_docs), bool)
        for c in words:
            todo = latin_only & ~found
            if todo.any():
                found[todo] = ev.has_chunk(c.word, g_docs[todo], c.split)
        ok |= found
    return ok
