"""An analysed query, ready for a backend to execute.

The engine turns the parsed ``search.query`` tree into these clauses by
running the analysis pipeline over each leaf, so every backend receives the
same terms and never needs jieba itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


def _fields_label(fields: tuple[str, ...]) -> str:
    return "title:" if fields == ("title",) else ""


@dataclass
class WordClause:
    """One query word: matches documents having it as a word, or (discounted)
    as a substring of a longer word. ``grams``: (gram, offset) pairs.
    ``whole``: only where the text has it as a whole word (regional
    alternatives: 软体 for 软件, never inside 软体动物)."""

    word: str
    grams: list[tuple[str, int]]
    fields: tuple[str, ...] = ("title", "body")
    # Pieces of a long word (齐齐哈尔市 -> 齐齐, 哈尔): a document with some of
    # them but not the word itself gets partial credit among partial matches.
    parts: tuple[str, ...] = ()
    whole: bool = False

    def label(self) -> str:
        return _fields_label(self.fields) + self.word

    def needles(self) -> list[str]:
        return [self.word]

    def describe(self) -> dict:
        out = {"op": "word", "text": self.word, "fields": list(self.fields)}
        if self.whole:
            out["whole_word"] = True
        return out


@dataclass
class PhraseClause:
    """Exact text (its grams at their offsets).  ``words``: the text's
    accurate-mode words (backends that match proximity on words use them)."""

    text: str
    grams: list[tuple[str, int]]
    fields: tuple[str, ...] = ("title", "body")
    words: tuple[str, ...] = ()

    def label(self) -> str:
        return f'{_fields_label(self.fields)}"{self.text}"'

    def needles(self) -> list[str]:
        from .normalize import normalize_query

        return [normalize_query(self.text).strip()]

    def describe(self) -> dict:
        return {"op": "phrase", "text": self.text, "fields": list(self.fields)}


@dataclass
class LeadClause:
    """``inner`` (matched in the body) with every needle in the first paragraph."""

    inner: object
    needles_: list[str]

    def label(self) -> str:
        return "lead:" + self.inner.label()

    def needles(self) -> list[str]:
        return self.inner.needles()

    def describe(self) -> dict:
        return {"op": "lead", "clause": self.inner.describe()}


@dataclass
class MentionsClause:
    """``term`` (a PhraseClause over title and body) occurs at least
    ``min_count`` times in the article."""

    term: PhraseClause
    min_count: int

    def label(self) -> str:
        return f'atleast{self.min_count}:"{self.term.text}"'

    def needles(self) -> list[str]:
        return self.term.needles()

    def describe(self) -> dict:
        return {"op": "atleast", "count": self.min_count, "clause": self.term.describe()}


@dataclass
class NearClause:
    """A term of ``left`` and a term of ``right`` (each a list of
    alternative PhraseClauses over title and body) close together in the
    title or in the body: ``unit`` "word" (at most ``distance`` words apart,
    counted as the index counts words; ``ordered``: the left term first),
    "sentence" or "paragraph" (within one; the title is one of each)."""

    left: list
    right: list
    unit: str = "word"
    distance: int = 0
    ordered: bool = False

    @property
    def operator(self) -> str:
        if self.unit == "sentence":
            return "w/s"
        if self.unit == "paragraph":
            return "w/p"
        return f"{'pre' if self.ordered else 'w'}/{self.distance}"

    def label(self) -> str:
        def side(terms):
            inner = " OR ".join(t.label() for t in terms)
            return inner if len(terms) == 1 else f"({inner})"

        return f"{side(self.left)} {self.operator} {side(self.right)}"

    def needles(self) -> list[str]:
        return [n for t in self.left + self.right for n in t.needles()]

    def describe(self) -> dict:
        out = {"op": "near", "operator": self.operator, "unit": self.unit,
               "left": [t.describe() for t in self.left], "right": [t.describe() for t in self.right]}
        if self.unit == "word":
            out.update(distance=self.distance, ordered=self.ordered)
        return out


@dataclass
class ValueClause:
    field: str  # category | source | author | tag
    value: str

    def label(self) -> str:
        return f"{self.field}:{self.value}"

    def needles(self) -> list[str]:
        return []

    def describe(self) -> dict:
        return {"op": "field", "field": self.field, "value": self.value}


@dataclass
class AllClause:
    """Every child, and none of ``exclude``."""

    children: list
    exclude: list = field(default_factory=list)

    def label(self) -> str:
        parts = [c.label() for c in self.children] + [f"-{c.label()}" for c in self.exclude]
        return "(" + " ".join(parts) + ")" if len(parts) > 1 else " ".join(parts)

    def needles(self) -> list[str]:
        return [n for c in self.children for n in c.needles()]

    def describe(self) -> dict:
        out = {"op": "and", "clauses": [c.describe() for c in self.children]}
        if self.exclude:
            out["not"] = [c.describe() for c in self.exclude]
        return out


@dataclass
class AnyClause:
    options: list

    def label(self) -> str:
        return " OR ".join(o.label() for o in self.options)

    def needles(self) -> list[str]:
        return [n for o in self.options for n in o.needles()]

    def describe(self) -> dict:
        return {"op": "or", "clauses": [o.describe() for o in self.options]}


def is_soft(clause) -> bool:
    """May a partial match lack this clause?  Only plain words (and the
    alternatives synonyms, pinyin and regional vocabulary add to them) are
    ever relaxed; phrases, fields, operators and exclusions always hold."""
    if isinstance(clause, WordClause):
        return clause.fields == ("title", "body")
    if isinstance(clause, AnyClause):
        return all(is_soft(o) for o in clause.options)
    if isinstance(clause, AllClause):
        return not clause.exclude and all(is_soft(c) for c in clause.children)
    return False


def anchors(clause) -> bool:
    """Can matching this soft clause anywhere admit a partial match?  A word
    of two or more characters can.  Single characters (``lone_character``)
    only two together, each where the document has it as a word of its
    own: a partial match through one character of a longer word (欧 of 欧洲
    for 欧巴马) is no match."""
    if isinstance(clause, WordClause):
        return len(clause.word) >= 2
    if isinstance(clause, AnyClause):
        return any(anchors(o) for o in clause.options)
    if isinstance(clause, AllClause):
        return any(anchors(c) for c in clause.children)
    return True


def lone_character(clause) -> str | None:
    """The character of a one-character query word (see ``anchors``)."""
    if isinstance(clause, WordClause) and len(clause.word) == 1:
        return clause.word
    return None


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
    # Include partial matches (of the soft clauses: ``is_soft``) when fewer
    # full matches than this; 0 for exact queries (``query.Query.exact``).
    relax_below: int = 10
    # Character bigrams of the query's plain text: a proximity bonus for
    # documents that have the words next to each other, and the last-resort
    # fallback (documents with most of these bigrams) when words find too little.
    proximity_grams: tuple[str, ...] = ()
    exclude_docs: tuple = ()  # article ids (str) to leave out (related articles)
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
    # Indexes into plan.must of the clauses this hit lacks (a partial
    # match); empty for a full match.
    missing: list = field(default_factory=list)


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
    # How many of ``total`` (same unit: groups or articles) match every
    # clause; the rest are partial matches.
    total_full: int | None = None
