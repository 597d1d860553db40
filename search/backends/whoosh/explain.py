"""Explanations of the top hits' scores on a Whoosh index (``explain=1``).

Only the page's hits are explained, after the search: matching is run
again once per additive part of BM25F (``ranking.BM25F_PARTS``: title
share, body share, title bonus) with the scorer returning only that part
(``ranking.only_part``) and the filter mask narrowed to the hits.  Every
score is a sum of BM25F values times factors that do not depend on them
(phrase length, partial credit, coverage, the proximity weight; then
recency), so the parts recombine to the score exactly (to float
rounding).  A search without ``explain`` runs none of this."""

from __future__ import annotations

import numpy as np

from ... import ranking
from ...explain import MATCH_TIERS, component, explanation, factor
from ...plan import Plan
from . import tiers
from .clauses import ClauseEvaluator

_SCALED = ["bm25f.title", "bm25f.body", "title_bonus"]


def explain_hits(ev: ClauseEvaluator, plan: Plan, hits, docs: np.ndarray, matched: np.ndarray, raw: np.ndarray,
                 keys: np.ndarray | None) -> None:
    """Set ``explain`` (``search.explain``) on each of ``hits`` (``BackendHit``
    with int doc keys, shown in ``plan``'s order): ``docs`` the sorted
    matches (after exclusions), ``matched`` their tiers, ``raw`` their
    scores before recency, ``keys`` their near-duplicate representatives
    when grouped (a group's score is its best member's: that member is
    explained, ``scored_by``, with its own match tier), else None.  Raises ``QueryTimeout`` past
    the plan's deadline."""
    v = ev.view
    if not hits:
        return
    rows = []
    for h in hits:
        if keys is not None:
            members = np.flatnonzero(keys == v.group_rep[h.key])
            i = int(members[np.argmax(raw[members])])
        else:
            i = int(np.searchsorted(docs, h.key))
        rows.append((int(docs[i]), int(matched[i])))  # the tier of the article whose score it is
    if not plan.must:
        for h, (_, tier) in zip(hits, rows):
            h.explain = explanation("whoosh", h.score, MATCH_TIERS[tier], [])
        return
    narrow = np.zeros(v.n_all, bool)
    narrow[[d for d, _ in rows]] = True
    runs = {}
    for part in ranking.BM25F_PARTS:
        explained = {}
        with ranking.only_part(part):
            found, _, _, _, _ = tiers.match(ev, plan, narrow, explained)
        runs[part] = (found, explained)
    for h, (doc, tier) in zip(hits, rows):
        h.explain = _one(v, plan, h, doc, tier, runs)


def _one(v, plan: Plan, h, doc: int, tier: int, runs: dict) -> dict:
    """The explanation of hit ``h`` scored by ``doc`` (module docstring)."""
    at = {}
    for part, (found, explained) in runs.items():
        j = int(np.searchsorted(found, doc))
        at[part] = {name: float(arr[j]) for name, arr in explained.items()}
    first = at[ranking.BM25F_PARTS[0]]
    cover = first["coverage"]
    factors = []
    if tier == 1:
        factors.append(factor("coverage", cover, list(_SCALED), covered_idf=first["covered"],
                              query_idf=first["query_idf"], power=ranking.COVERAGE_POWER))
    recency = 1.0
    if plan.sort == "relevance":
        published = int(v.published[h.key])
        recency = float(ranking.recency_factor(np.array([published]), plan.now)[0])
        age = None if published == ranking.NO_DATE else max(plan.now - published, 0) / 86400.0
        factors.append(factor("recency", recency, _SCALED + ["proximity", "fallback"],
                              weight=ranking.RECENCY_WEIGHT, half_life_days=ranking.RECENCY_HALF_LIFE_DAYS,
                              age_days=age))
    components = []
    for part in ranking.BM25F_PARTS:
        name = "title_bonus" if part == "title_bonus" else f"bm25f.{part}"
        raw = at[part]["clauses"]
        extra = ({"weight": ranking.TITLE_BONUS, "k1": ranking.K1} if part == "title_bonus" else
                 {"weight": ranking.FIELD_WEIGHTS[part], "b": ranking.FIELD_B[part], "k1": ranking.K1})
        components.append(component(name, raw * cover * recency, raw=raw, **extra))
    prox = {part: at[part]["proximity"] for part in ranking.BM25F_PARTS}
    weight = ranking.PROXIMITY_WEIGHT if tier == 2 else ranking.PARTIAL_GRAM_WEIGHT
    components.append(component("proximity", sum(prox.values()) * recency, raw=sum(prox.values()), weight=weight,
                                grams=list(plan.proximity_grams), **prox))
    if tier == 0:
        fb = {part: at[part]["fallback"] for part in ranking.BM25F_PARTS}
        components.append(component("fallback", sum(fb.values()) * recency, raw=sum(fb.values()),
                                    weight=ranking.FALLBACK_WEIGHT, **fb))
    extra = {}
    if doc != h.key:
        extra["scored_by"] = v.stored(doc).get("id")
    if tier == 1:
        extra["coverage"] = {"covered_idf": first["covered"], "query_idf": first["query_idf"],
                             "power": ranking.COVERAGE_POWER, "factor": cover}
    return explanation("whoosh", h.score, MATCH_TIERS[tier], components, factors, **extra)
