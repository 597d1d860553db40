"""An analysed query, ready for a backend to execute.

The engine turns the parsed ``search.query`` tree into these clauses by
running the analysis pipeline over each leaf, so every backend receives the
same terms and never needs jieba itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class WordClause:
    """One query word: matches documents having it as a word, or (discounted)
    as a substring of a longer word. ``grams``: (gram, offset) pairs."""

    word: str
    grams: list[tuple[str, int]]
    fields: tuple[str, ...] = ("title", "body")
    # Pieces of a long word (齐齐哈尔市 -> 齐齐, 哈尔): a document with some of
    # them but not the word itself gets partial credit among partial matches.
    parts: tuple[str, ...] = ()


@dataclass
class PhraseClause:
    text: str
    grams: list[tuple[str, int]]
    fields: tuple[str, ...] = ("title", "body")


@dataclass
class LeadClause:
    """``inner`` (matched in the body) with every needle in the first paragraph."""

    inner: object
    needles: list[str]


@dataclass
class MentionsClause:
    """``term`` (a PhraseClause over title and body) occurs at least
    ``min_count`` times in the article."""

    term: PhraseClause
    min_count: int


@dataclass
class SameSentenceClause:
    """Both phrases within one sentence (the title is a sentence of its own)."""

    left: PhraseClause
    right: PhraseClause


@dataclass
class ValueClause:
    field: str  # category | source | author | tag
    value: str


@dataclass
class AllClause:
    children: list


@dataclass
class AnyClause:
    options: list


@dataclass
class Plan:
    must: list = field(default_factory=list)
    must_not: list = field(default_factory=list)
    filters: dict[str, list[str]] = field(default_factory=dict)  # exact facet values
    date_from: datetime | None = None
    date_to: datetime | None = None
    sort: str = "relevance"
    offset: int = 0
    limit: int = 10
    facets: tuple[str, ...] = ()
    facet_size: int = 20
    histogram: str | None = None  # "day" | "month" | "year" | "auto": count matches over time
    relax_below: int = 10  # include partial matches when fewer full matches
    # Character bigrams of the query's plain text: a proximity bonus for
    # documents that have the words next to each other, and the last-resort
    # fallback (documents with most of these bigrams) when words find too little.
    proximity_grams: tuple[str, ...] = ()
    exclude_docs: tuple = ()  # backend doc keys to leave out (related articles)
    now: float | None = None
    # Near-duplicates as one result: the group's earliest matching article,
    # ranked by the group's best score; total counts groups, facets articles.
    group: bool = False
    similar_limit: int = 20  # near-duplicates listed per hit
    deadline: float | None = None  # time.monotonic() past which the backend gives up (QueryTimeout)


class UnsupportedQuery(ValueError):
    """A query feature this backend does not support (answered with 400)."""


class QueryTimeout(Exception):
    """The query ran past its deadline (an expensive query, stopped so that
    it cannot hold a worker)."""


@dataclass
class BackendHit:
    key: object  # backend's handle for fetching the stored document
    score: float
    stored: dict
    # Grouped results: the other matching near-duplicates, (key, stored) in
    # date order (at most plan.similar_limit), and how many there are.
    similar: list = field(default_factory=list)
    similar_count: int = 0


@dataclass
class BackendResult:
    total: int
    hits: list[BackendHit]
    facets: dict[str, list[tuple[str, int]]]
    relaxed: bool = False
    histogram: list[tuple[str, int]] | None = None  # (bucket, matches) when the plan asked
    histogram_interval: str | None = None
    undated: int = 0  # matches without a date (not in the histogram)
    total_articles: int | None = None  # when grouped: matching articles (total counts groups)
