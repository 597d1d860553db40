"""Plain data passed between the indexer, the engine, backends and the web app."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .fields import DEFAULT_FACETS, FACET_FIELDS  # noqa: F401 - FACET_FIELDS re-exported


@dataclass
class Article:
    """One news article as the engine sees it (already validated and cleaned)."""

    id: str
    title: str
    body: str = ""
    published: datetime | None = None  # timezone-aware
    published_text: str | None = None  # as given: "2021-05-03" or full ISO time
    category: str | None = None
    source: str | None = None
    author: str | None = None
    url: str | None = None
    tags: list[str] = field(default_factory=list)
    lang: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_time(self) -> bool:
        """Was a time of day given with the publication date (``published_text`` holds a ``T``), or
        only a date?"""
        return bool(self.published_text and "T" in self.published_text)


SORTS = ("relevance", "newest", "oldest")


@dataclass
class SearchRequest:
    """Everything a search needs; built in one place from CLI or HTTP params."""

    q: str = ""
    page: int = 1
    size: int = 10
    sort: str = "relevance"
    category: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    author: list[str] = field(default_factory=list)
    tag: list[str] = field(default_factory=list)
    year: list[str] = field(default_factory=list)  # calendar years of publication, newsroom time ("2024")
    date_from: datetime | None = None  # inclusive
    date_to: datetime | None = None  # exclusive
    facets: tuple[str, ...] = DEFAULT_FACETS  # names from FACET_FIELDS: the facets counted
    facet_size: int = 20
    highlight: bool = True
    fields: str = "all"  # "all" or "title": where plain words are looked up
    correct: bool = True  # may a query with no full match be corrected (did you mean)?
    timeline: bool = False  # also count the matches per day/month/year (the results page's chart)
    group: bool = False  # near-duplicates as one result ("N 篇相似报道"); total then counts groups
    explain: bool = False  # each hit says how its score is made (``Hit.explain``; staff only on the web)
    mode: str = "lexical"  # lexical | hybrid | semantic: by words, fused with meaning, meaning only (search.hybrid)
    # ``mode`` is the service's default (SEARCH_DEFAULT_MODE), not asked for: where that
    # mode cannot run (no vectors, no extra, no query text for semantic) the search is lexical
    mode_default: bool = False


@dataclass
class FacetValue:
    """One facet bucket: the ``value`` as shown and the ``count`` of matching articles (or groups,
    for a grouped search) holding it."""
    value: str
    count: int


@dataclass
class Hit:
    """One result as the web and the CLI show it: stored fields, the highlighted title and snippet
    (HTML: the text escaped, only ``<mark>`` added), the ranking ``score`` and how fully it
    matched (``match``)."""
    id: str
    title: str
    title_highlight: str
    snippet: str
    published: str | None
    category: str | None
    source: str | None
    author: str | None
    url: str | None
    score: float
    tags: list[str] = field(default_factory=list)
    lang: str | None = None
    similar: list[dict] = field(default_factory=list)  # near-duplicates (grouped search), date order
    similar_count: int = 0
    # {"full": every clause matched?, "missing": the query words a partial match lacks}; in hybrid and
    # semantic mode also "by": "words" (a lexical match) or "dense" (found by meaning only) and
    # "similarity": the cosine of the query's and the article's vectors (None: no vector yet)
    match: dict = field(default_factory=lambda: {"full": True, "missing": []})
    # With ``SearchRequest.explain``: the score's components (``search.explain``), else None.
    explain: dict | None = None

    def to_dict(self) -> dict[str, Any]:
        """The hit as the JSON API answers it (a dict of JSON values; ``score`` rounded to 4
        decimals, ``explain.total`` not; ``similar`` only for a group, ``explain`` only when
        asked for)."""
        out = {
            "id": self.id,
            "title": self.title,
            "title_highlight": self.title_highlight,
            "snippet": self.snippet,
            "published": self.published,
            "category": self.category,
            "source": self.source,
            "author": self.author,
            "url": self.url,
            "score": round(self.score, 4),
            "tags": self.tags,
            "match": self.match,
        }
        if self.similar_count:
            out["similar_count"] = self.similar_count
            out["similar"] = self.similar
        if self.explain is not None:
            out["explain"] = self.explain
        return out


@dataclass
class SearchResult:
    """What a search answers: the page of hits, totals (all, full matches, articles when grouped),
    facets, timing in milliseconds, and how the query was read (understood tree, notices,
    synonyms, pinyin, corrections)."""
    request: SearchRequest
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]]
    took_ms: float
    understood: list[str] = field(default_factory=list)  # how the query was segmented
    relaxed: bool = False  # True when documents matching only most words are included
    synonyms: list[list[str]] = field(default_factory=list)  # synonym groups applied to the query
    pinyin: list[list[str]] = field(default_factory=list)  # [typed pinyin, Chinese words searched too]
    corrected_from: str | None = None  # results are for corrected_to, not for this query as typed
    corrected_to: str | None = None
    suggestion: str | None = None  # did you mean (not applied)
    timeline: dict | None = None  # {"interval", "undated", "buckets": [{"start", "count"}]} when asked
    total_articles: int | None = None  # grouped: matching articles (total counts groups)
    understood_tree: dict | None = None  # the clauses searched, as a tree (see plan.understood_tree)
    notices: list[dict] = field(default_factory=list)  # how parts of the query were read (query.Notice)
    exact: bool = False  # operators, fields, phrases or exclusions: never relaxed
    total_full: int = 0  # of total: full matches (the rest are partial matches)
    total_estimated: bool = False  # total is an estimate (grouped on OpenSearch beyond exact counting)
    # hybrid / semantic: results found by meaning only (articles, or groups when grouped), never in total;
    # None in lexical mode
    dense_total: int | None = None

    @property
    def grouped(self) -> bool:
        """Were near-duplicates grouped (``total`` then counts groups, ``total_articles`` articles)?"""
        return self.total_articles is not None

    def to_dict(self) -> dict[str, Any]:
        """The result as the JSON API answers it (a dict of JSON values, keys in the documented
        order)."""
        return {
            "query": self.request.q,
            "total": self.total,
            # What total and facet counts count: near-duplicate groups
            # (group=1) or articles.  Facets always count articles.
            "total_counts": "groups" if self.grouped else "articles",
            "total_articles": self.total_articles if self.grouped else self.total,
            "total_full": self.total_full,
            "total_partial": self.total - self.total_full,
            "facet_counts": "articles",
            "page": self.request.page,
            "size": self.request.size,
            "took_ms": round(self.took_ms, 2),
            "hits": [h.to_dict() for h in self.hits],
            "facets": {
                k: [{"value": f.value, "count": f.count} for f in v] for k, v in self.facets.items()
            },
            "understood": self.understood,
            "understood_tree": self.understood_tree,
            "notices": self.notices,
            "exact": self.exact,
            "relaxed": self.relaxed,
            "synonyms": self.synonyms,
            "pinyin": self.pinyin,
            "corrected_from": self.corrected_from,
            "corrected_to": self.corrected_to,
            "suggestion": self.suggestion,
            # hybrid and semantic only (lexical answers keep their form)
            **({"mode": self.request.mode, "dense_total": self.dense_total} if self.dense_total is not None else {}),
        }
