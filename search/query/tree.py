"""The query tree: what ``parse`` makes of a query string (nodes, the
``Query`` holding them, and the ``Notice``s saying how malformed parts were
read).  The compiler (``search/compiler.py``) turns it into plan clauses;
pinyin and synonyms (``search/pinyin.py``, ``search/synonyms.py``) rewrite it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Words:
    """Plain text: each word must match (as a word or, failing that, as a
    substring); ``field`` None = title and body."""

    text: str
    field: str | None = None


@dataclass(frozen=True)
class Phrase:
    """Quoted text, matched exactly (``field`` None = title and body)."""

    text: str
    field: str | None = None


@dataclass(frozen=True)
class FieldValue:
    """A value field restriction: the field's value contains ``value``."""

    field: str  # author | source | category | tag
    value: str


@dataclass(frozen=True)
class AnyOf:
    """OR: at least one of ``options`` (nodes)."""

    options: tuple


@dataclass(frozen=True)
class AllOf:
    """A parenthesised group: every node of ``must``, none of ``must_not``."""

    must: tuple
    must_not: tuple = ()


@dataclass(frozen=True)
class AtLeast:
    """``term`` (Words or Phrase) occurs at least ``count`` times in the article."""

    count: int
    term: object


@dataclass(frozen=True)
class Near:
    """``left`` and ``right`` (each a Words, a Phrase or an AnyOf of them)
    close together in the title or in the body: ``unit`` "word" (at most
    ``distance`` words apart; ``ordered``: left first), "sentence" or
    "paragraph" (in one sentence / paragraph)."""

    left: object
    right: object
    unit: str = "word"
    distance: int = 0
    ordered: bool = False


@dataclass(frozen=True)
class Notice:
    """How part of a query was read when it could not be read as typed.
    ``code``: a stable identifier; ``text``: the part concerned; ``message``:
    an English sentence (the pages show their own wording per code)."""

    code: str
    text: str
    message: str

    def to_dict(self) -> dict:
        """{"code", "text", "message"}: the API's and the pages' form."""
        return {"code": self.code, "text": self.text, "message": self.message}


@dataclass
class Query:
    """must: clauses that should all match; must_not: clauses that must not.
    ``exact``: the query used an operator, a field, a phrase or an exclusion
    (never relaxed to partial matches); ``notices``: how malformed parts
    were read."""

    must: list = field(default_factory=list)
    must_not: list = field(default_factory=list)
    exact: bool = False
    notices: list = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """True when nothing is required or excluded (an empty or
        all-punctuation query, or operators with no term)."""
        return not self.must and not self.must_not


def plain_words(query: Query) -> bool:
    """Is ``query`` made of plain words only: some ``Words`` searched in
    the title and the body, and nothing else (no phrase, operator, field
    restriction, exclusion or ``AtLeast``/``Near``; no notice either,
    since a notice means part of it was typed as an operator)?  The one
    test of "a plain-word query": hybrid search (``search.hybrid``) adds
    dense-only hits to these queries and to no other.  Filters given
    beside the query (category, dates ...) are not part of the tree and do
    not count: they hold for dense hits too."""
    return (not query.exact and not query.must_not and not query.notices and bool(query.must)
            and all(isinstance(node, Words) and node.field is None for node in query.must))


def meaning_text(query: Query) -> str:
    """The text a query means, for search by meaning (``search.hybrid``):
    the text of its positive parts (words, phrases, the terms of ``AnyOf``,
    groups, ``AtLeast`` and ``Near``) in order, space-separated; field
    *values* (``source:``, ``author:`` ...) and everything excluded are not
    meaning.  "" when nothing is left (an empty or all-punctuation query,
    or only exclusions)."""
    parts: list[str] = []

    def visit(node) -> None:
        if isinstance(node, (Words, Phrase)):
            parts.append(node.text)
        elif isinstance(node, AnyOf):
            for option in node.options:
                visit(option)
        elif isinstance(node, AllOf):
            for inner in node.must:
                visit(inner)
        elif isinstance(node, AtLeast):
            visit(node.term)
        elif isinstance(node, Near):
            visit(node.left)
            visit(node.right)

    for node in query.must:
        visit(node)
    return " ".join(p.strip() for p in parts if p.strip())


def restrictions(query: Query, fields: str = "all") -> Query | None:
    """What of ``query`` restricts the articles a search by meaning ranks
    (semantic mode): every part but its plain words searched everywhere
    (phrases, operators, field restrictions stay restrictions: what the
    reader typed as exact is never relaxed away), and every exclusion;
    with ``fields="title"`` the plain words too, as title words.  None when
    nothing restricts (a plain-word query)."""
    must = []
    for node in query.must:
        if isinstance(node, Words) and node.field is None:
            if fields == "title":
                must.append(Words(node.text, "title"))
            continue
        must.append(node)
    if not must and not query.must_not:
        return None
    return Query(must=must, must_not=list(query.must_not), exact=True)
