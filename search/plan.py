"""An analysed query, ready for a backend to execute.

``search/compiler.py`` turns the parsed ``search.query`` tree into these
clauses by running the analysis pipeline over each leaf, so every backend
receives the same terms and never needs jieba itself.

One home per clause type: each clause class carries what the engine and
the backends ask of it besides execution: its highlight terms
(``needles``), its readable label (``label``: the results' ``understood``
and a partial hit's ``missing``), its part of the understood tree
(``describe``), and whether a partial match may lack it (``soft``,
``anchors``, ``lone_character``).  Execution is each backend's table keyed
by clause class.  Adding an operator: one clause class here (with those
methods; ``tests/test_compiler.py`` checks every class has them), one
compile function in ``search/compiler.py``, one entry per backend table."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from .errors import SearchServiceError

from .normalize import normalize_query


def _fields_label(fields: tuple[str, ...]) -> str:
    return "title:" if fields == ("title",) else ""


class Clause:
    """What every clause of a plan answers besides its execution (each
    subclass defines ``label``, ``needles`` and ``describe`` itself; the
    relaxation defaults here fit every clause but plain words and their
    groups: an operator, phrase or field always holds)."""

    __slots__ = ()

    def label(self) -> str:
        """The clause as the query language writes it (``title:香港``,
        ``"a b"``, ``a w/5 b``): the results' ``understood`` list."""
        raise NotImplementedError

    def needles(self) -> list[str]:
        """The texts to highlight in titles and snippets (query text as
        typed or normalised; empty for value filters)."""
        raise NotImplementedError

    def describe(self) -> dict:
        """The clause as a node of the understood tree: a JSON-ready dict
        with ``op`` (word, phrase, field, lead, atleast, near, and, or) and
        the op's fields (see web/openapi.py's schema)."""
        raise NotImplementedError

    def soft(self) -> bool:
        """May a partial match lack this clause?  Only plain words (and the
        alternatives synonyms, pinyin and regional vocabulary add to them)
        are ever relaxed; phrases, fields, operators and exclusions always
        hold."""
        return False

    def anchors(self) -> bool:
        """Can matching this soft clause anywhere admit a partial match?
        A word of two or more characters can.  Single characters
        (``lone_character``) only two together, each where the document has
        it as a word of its own: a partial match through one character of a
        longer word (欧 of 欧洲 for 欧巴马) is no match."""
        return True

    def lone_character(self) -> str | None:
        """The character of a one-character query word (see ``anchors``),
        else None."""
        return None


@dataclass
class WordClause(Clause):
    """One query word: matches documents having it as a word, or (discounted)
    as a substring of a longer word. ``grams``: (gram, offset) pairs.
    ``whole``: only where the text has it as a whole word (regional
    alternatives: 软体 for 软件, never inside 软体动物).  ``split``: the
    words (WordClauses) a run-together Latin word no article has is read as
    (``search.wordbreak``: roughguidemorocco -> rough, guide, morocco):
    documents having them all match it too, and they are highlighted."""

    word: str
    grams: list[tuple[str, int]]
    fields: tuple[str, ...] = ("title", "body")
    # Pieces of a long word (齐齐哈尔市 -> 齐齐, 哈尔): a document with some of
    # them but not the word itself gets partial credit among partial matches.
    parts: tuple[str, ...] = ()
    whole: bool = False
    split: tuple = ()

    def label(self) -> str:
        return _fields_label(self.fields) + self.word

    def needles(self) -> list[str]:
        return [self.word] + [w.word for w in self.split]

    def describe(self) -> dict:
        out = {"op": "word", "text": self.word, "fields": list(self.fields)}
        if self.whole:
            out["whole_word"] = True
        return out

    def soft(self) -> bool:
        return self.fields == ("title", "body")

    def anchors(self) -> bool:
        return len(self.word) >= 2

    def lone_character(self) -> str | None:
        return self.word if len(self.word) == 1 else None


@dataclass
class PhraseClause(Clause):
    """Exact text (its grams at their offsets).  ``words``: the text's
    accurate-mode words (backends that match proximity on words use them)."""

    text: str
    grams: list[tuple[str, int]]
    fields: tuple[str, ...] = ("title", "body")
    words: tuple[str, ...] = ()

    def label(self) -> str:
        return f'{_fields_label(self.fields)}"{self.text}"'

    def needles(self) -> list[str]:
        return [normalize_query(self.text).strip()]

    def describe(self) -> dict:
        return {"op": "phrase", "text": self.text, "fields": list(self.fields)}


@dataclass
class LeadClause(Clause):
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
class MentionsClause(Clause):
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
class NearClause(Clause):
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
        """The operator as the query language writes it: w/N, pre/N, w/s, w/p."""
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
class ValueClause(Clause):
    """The value of a facet field contains ``value`` (compared like text:
    ``search/values.py``); no highlight terms."""

    field: str  # category | source | author | tag
    value: str

    def label(self) -> str:
        return f"{self.field}:{self.value}"

    def needles(self) -> list[str]:
        return []

    def describe(self) -> dict:
        return {"op": "field", "field": self.field, "value": self.value}


@dataclass
class AllClause(Clause):
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

    def soft(self) -> bool:
        return not self.exclude and all(c.soft() for c in self.children)

    def anchors(self) -> bool:
        return any(c.anchors() for c in self.children)


@dataclass
class AnyClause(Clause):
    """At least one of ``options`` (clauses): OR, and the alternatives
    synonyms, pinyin and regional vocabulary add to a word."""

    options: list

    def label(self) -> str:
        return " OR ".join(o.label() for o in self.options)

    def needles(self) -> list[str]:
        return [n for o in self.options for n in o.needles()]

    def describe(self) -> dict:
        return {"op": "or", "clauses": [o.describe() for o in self.options]}

    def soft(self) -> bool:
        return all(o.soft() for o in self.options)

    def anchors(self) -> bool:
        return any(o.anchors() for o in self.options)


@dataclass
class Plan:
    """What a backend executes (``IndexBackend.execute``): clauses that
    must all match (``must``, list of Clause) and must not (``must_not``),
    exact facet filters, a date range (aware datetimes, ``date_to``
    exclusive), ordering, the page (``offset``, ``limit`` hits), facets and
    histogram to count, relaxation, grouping and a deadline (monotonic
    seconds)."""

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
    # Include partial matches (of the soft clauses: ``Clause.soft``) when fewer
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
    # Explain each hit's score (``BackendHit.explain``; ``search.explain``).
    explain: bool = False
    # Hybrid or semantic search (``search.hybrid.DenseQuery``): the query's
    # vector, the mode, whether dense-only hits may be added; None: lexical.
    dense: object | None = None


class UnsupportedQuery(ValueError, SearchServiceError, status=400):
    """A query feature this backend does not support (answered with 400)."""


class QueryTimeout(SearchServiceError, status=503):
    """The query ran past its deadline (an expensive query, stopped so that
    it cannot hold a worker)."""


@dataclass
class BackendHit:
    """One hit of ``IndexBackend.execute``: the backend's document key, its
    score (BM25F with the recency preference; higher is better), the stored
    fields, and for grouped or partial results what the fields below say."""

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
    # With ``Plan.explain``: how the score is made (``search.explain``).
    explain: dict | None = None
    # With ``Plan.dense``: the cosine of the article's vector and the
    # query's (None: it has no vector), and is it a dense-only hit (found
    # by meaning, not a match of the query's words)?
    similarity: float | None = None
    dense_only: bool = False


@dataclass
class BackendResult:
    """What ``IndexBackend.execute`` returns for a Plan: the total (articles,
    or groups when grouped), the page of hits, facet counts ({field:
    [(value, count)]}, most frequent first) and what the plan asked for
    besides (histogram, relaxation, full-match totals)."""

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
    # Is ``total`` an estimate (OpenSearch's group count beyond its exact
    # cardinality)?  Every other total is exact.
    total_estimated: bool = False
    # With ``Plan.dense``: the dense-only results (articles, or groups when
    # grouped, none of whose members matches the words), never in ``total``.
    dense_total: int = 0
    dense_backlog: int = 0  # live articles without a vector (found by their words only)
    # A backend that only re-ranks word matches by their vectors (OpenSearch
    # without k-NN): how many were re-ranked; None where dense retrieval
    # covers the whole index (dense-only hits possible).
    dense_reranked: int | None = None


def understood(clauses) -> list[str]:
    """A readable account of how the query was segmented: each clause's
    ``label()``."""
    return [c.label() for c in clauses]


def understood_tree(must, must_not) -> dict:
    """How the query was understood, as a tree of the clauses searched
    (each clause ``describe()``s itself: ``op`` and, lead, atleast, near,
    word, phrase, field, or)."""
    tree = {"op": "and", "clauses": [c.describe() for c in must]}
    if must_not:
        tree["not"] = [c.describe() for c in must_not]
    return tree
