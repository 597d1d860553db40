"""Why a hit ranks where it does: the explanation of its score, one shape
for both backends (``explain=1`` on ``/api/search``).

An explanation is a dict of JSON values::

    {"backend": "whoosh" | "opensearch",
     "combine": "sum",            # total = the sum of the components' values
     "total": 7.41,               # the hit's score, unrounded
     "match_tier": "full" | "partial" | "fallback",
     "components": [{"name": "bm25f.title", "value": 3.1, "detail": {...}}, ...],
     "factors": [{"name": "recency", "value": 1.04, "applies_to": [...], "detail": {...}}],
     "coverage": {...}}           # partial matches only

Each component's ``value`` is its contribution to the score, the factors
it is subject to (``applies_to``) already multiplied in (``detail.raw``
is the value before them); the factors are listed to show how.  The
component names (``COMPONENTS``) are the ranking's as each backend
computes it: Whoosh's BM25F per field with the title bonus, proximity,
fallback, coverage and recency (``search.ranking``), OpenSearch's Lucene
BM25 per field as the cluster's own explanation gives it."""

from __future__ import annotations

COMBINE = "sum"
MATCH_TIERS = {2: "full", 1: "partial", 0: "fallback"}

# name -> what it is (the OpenAPI document and the results page show these).
COMPONENTS = {
    "bm25f.title": "Whoosh: the title's share of the BM25F of the query's terms (idf x weighted title "
                   "frequency / (k1 + weighted frequency of all fields))",
    "bm25f.body": "Whoosh: the body's share of the BM25F of the query's terms",
    "title_bonus": "Whoosh: the title saturated on its own (TITLE_BONUS x idf x tf / (k1 + tf))",
    "proximity": "Whoosh: BM25F of the query's character bigrams (words standing together), times the "
                 "proximity weight of the match tier",
    "fallback": "Whoosh: a bigram-only match's score (FALLBACK_WEIGHT x BM25F of the bigrams found)",
    "bm25.title": "OpenSearch: Lucene BM25 of the title fields' clauses (title_w, title_g, ...), boosts included",
    "bm25.body": "OpenSearch: Lucene BM25 of the body fields' clauses (body_w, body_g, lead, ...)",
    "constant": "OpenSearch: clauses scoring a constant (value filters such as author:)",
}
FACTORS = {
    "coverage": "Whoosh, partial matches: (idf of the query words found / idf of all) ** COVERAGE_POWER",
    "recency": "Whoosh, relevance order: 1 + RECENCY_WEIGHT x 2 ** (-age days / RECENCY_HALF_LIFE_DAYS)",
}


def component(name: str, value: float, **detail) -> dict:
    """One component (``name`` from ``COMPONENTS``; KeyError otherwise)."""
    COMPONENTS[name]  # noqa: B018 - only documented names
    return {"name": name, "value": float(value), "detail": detail}


def factor(name: str, value: float, applies_to: list[str], **detail) -> dict:
    """One factor (``name`` from ``FACTORS``; KeyError otherwise)."""
    FACTORS[name]  # noqa: B018 - only documented names
    return {"name": name, "value": float(value), "applies_to": applies_to, "detail": detail}


def explanation(backend: str, total: float, tier: str, components: list[dict], factors: list[dict] = (),
                **extra) -> dict:
    """The explanation dict (module docstring)."""
    out = {"backend": backend, "combine": COMBINE, "total": float(total), "match_tier": tier,
           "components": components, "factors": list(factors)}
    out.update(extra)
    return out


def recombine(explain: dict) -> float:
    """The score the components give: their sum (``COMBINE``)."""
    return float(sum(c["value"] for c in explain["components"]))
