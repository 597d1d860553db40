"""Explanations of hits' scores on OpenSearch, from the cluster's own
explanation (the search request's ``explain`` flag: Lucene's tree of how
each hit's ``_score`` was summed).

The tree's scoring leaves (``weight(field:term ...)``: BM25 of one clause
in one field, boost included) are summed per field into the components
``bm25.title`` (``title_*`` fields) and ``bm25.body`` (``body_*``,
``lead_*``), ``bm25.other`` for any other field, ``constant`` for leaves
scoring a constant (``author:`` and the like).  Inner nodes are sums
("sum of:"); a node scoring 0 (a filter: "match on required clause,
product of: 0 = # clause") contributes nothing; any other inner node's
value is shared among its children in proportion to theirs, so the
components always add up to the tree's value.  The partial-match tier's
ranking bonus (``FULL_MATCH_BONUS``, a ``ConstantScore(...)^10000``
leaf) only ranks: it is left out, and the hit's score is the rest of
the tree (exact, where subtracting it from the float32 ``_score`` loses
up to 0.0005)."""

from __future__ import annotations

import re

from ...explain import component, explanation
from ...plan import Plan

_FIELD = re.compile(r"([a-z]+)_[a-z]+:")
_MAX_TERMS = 20  # per component, the clauses listed in its detail


def leaves(node: dict, scale: float = 1.0):
    """(leaf node, its share of the score) for every scoring leaf of a
    Lucene explanation ``node`` (a dict: value, description, details),
    ``scale`` times its value (module docstring)."""
    value = float(node["value"])
    details = node.get("details") or []
    if value == 0.0:
        return
    if node["description"].startswith("weight(") or not details:
        yield node, value * scale
        return
    total = sum(float(d["value"]) for d in details)
    if total == 0.0:
        yield node, value * scale
        return
    for d in details:
        yield from leaves(d, scale * value / total)


def _name(leaf: dict) -> tuple[str, str | None]:
    """(component name, Lucene field) of a scoring leaf."""
    desc = leaf["description"]
    if not desc.startswith("weight("):
        return "constant", None
    m = _FIELD.search(desc)
    if m is None:
        return "bm25.other", None
    prefix = m.group(1)
    field = desc[m.start():].split(":", 1)[0]
    return {"title": "bm25.title", "body": "bm25.body", "lead": "bm25.body"}.get(prefix, "bm25.other"), field


def _term(leaf: dict, share: float) -> dict:
    """A clause of a component's detail: its Lucene description, share of
    the score, and BM25's boost, idf and tf where the tree gives them."""
    out = {"clause": leaf["description"].split(" in ", 1)[0].removeprefix("weight("), "value": share}
    for d in leaf.get("details") or []:
        for p in d.get("details") or []:
            key = p["description"].split(",", 1)[0]
            if key in ("boost", "idf", "tf"):
                out[key] = float(p["value"])
    return out


def explain_hit(tree: dict, tier: str, score: float, tier_bonus: float | None = None,
                **extra) -> tuple[float, dict]:
    """(the hit's score, its explanation) from Lucene's ``tree``: ``tier``
    "full" or "partial", ``score`` the hit's score as searched (the
    explanation's total); ``tier_bonus``: the relaxed query's bonus of a
    full match, whose ConstantScore leaf is left out, the score then being
    the rest of the tree; ``extra``: more keys of the explanation."""
    sums: dict[str, float] = {}
    fields: dict[str, dict[str, float]] = {}
    terms: dict[str, list] = {}
    bonus = 0.0
    for leaf, share in leaves(tree):
        if tier_bonus is not None and leaf["description"].startswith("ConstantScore(") \
                and float(leaf["value"]) >= tier_bonus:
            bonus += share
            continue
        name, field = _name(leaf)
        sums[name] = sums.get(name, 0.0) + share
        if field:
            fields.setdefault(name, {})
            fields[name][field] = fields[name].get(field, 0.0) + share
        terms.setdefault(name, []).append(_term(leaf, share))
    order = ["bm25.title", "bm25.body", "bm25.other", "constant"]
    components = [component(n, sums[n], fields=fields.get(n, {}),
                            clauses=sorted(terms[n], key=lambda t: -t["value"])[:_MAX_TERMS])
                  for n in order if n in sums]
    extra["lucene_score"] = float(tree["value"])
    if bonus:
        extra["tier_bonus"] = bonus
        score = float(sum(sums.values()))
    return score, explanation("opensearch", score, tier, components, [], **extra)


def explain_search_hit(plan: Plan, h: dict, shown: str, score: float, missing: list,
                       tier_bonus: float | None) -> tuple[float, dict]:
    """(score, explanation) of search hit ``h`` (a hit of the response,
    shown as article ``shown``) from its ``_explanation``: ``missing``
    the soft clauses it lacks (a partial match), ``tier_bonus`` the
    partial-match query's bonus its score had (a full match), else None.
    A grouped hit is scored by its group's best-scoring article: named as
    ``scored_by`` when not the one shown."""
    extra = {"scored_by": h["_id"]} if h["_id"] != shown else {}
    if tier_bonus is not None:
        return explain_hit(h["_explanation"], "full", score, tier_bonus, **extra)
    if missing:
        soft = [i for i, c in enumerate(plan.must) if c.soft()]
        extra["coverage"] = {"soft_clauses": len(soft), "matched": len(soft) - len(missing), "missing": missing}
    return explain_hit(h["_explanation"], "partial" if missing else "full", score, **extra)
