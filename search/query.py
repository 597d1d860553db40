"""The query language, parsed into an explicit tree.

Syntax (anything else is plain text, never an error):

* words: ``香港 选举`` (all of them, ranked; documents matching most of them
  follow when few match all); text without spaces is segmented by jieba;
* quoted phrases: ``"香港特别行政区"`` (also 「」, “” and 『』);
* exclusion: ``-word`` or ``-"a phrase"``;
* alternatives: ``a OR b`` (also ``|``);
* field restriction: ``title:word``, ``title:"phrase"``, ``lead:word`` (the
  first paragraph), and the exact-value fields ``author:``, ``source:``,
  ``category:``, ``tag:``;
* at least N mentions in the article: ``atleast3:疫苗`` or ``atleast3:"新冠疫苗"``;
* two terms in the same sentence: ``香港 SAME 选举`` (each side a word or a
  "phrase").

``compose`` writes the advanced-search form's fields as such a query, so
what staff fill in becomes a query they can read, edit and share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TEXT_FIELDS = ("title", "lead")  # field restrictions that search text
VALUE_FIELDS = ("author", "source", "category", "tag")
MAX_QUERY_LENGTH = 500


@dataclass(frozen=True)
class Words:
    """Plain text: each word must match (as a word or, failing that, as a
    substring); ``field`` None = title and body."""

    text: str
    field: str | None = None


@dataclass(frozen=True)
class Phrase:
    text: str
    field: str | None = None


@dataclass(frozen=True)
class FieldValue:
    field: str  # author | source | category | tag
    value: str


@dataclass(frozen=True)
class AnyOf:
    options: tuple


@dataclass(frozen=True)
class AtLeast:
    """``term`` (Words or Phrase) occurs at least ``count`` times in the article."""

    count: int
    term: object


@dataclass(frozen=True)
class SameSentence:
    """Both terms (Words or Phrase) in one sentence of the title or body."""

    left: object
    right: object


@dataclass
class Query:
    """must: clauses that should all match; must_not: clauses that must not."""

    must: list = field(default_factory=list)
    must_not: list = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.must and not self.must_not


_QUOTES = {'"': '"', "“": "”", "「": "」", "『": "』", "＂": "＂"}
_TOKEN = re.compile(
    r"""
    (?P<neg>[-－])?
    (?:(?P<field>[A-Za-z]+)(?P<count>[0-9]{1,3})?[:：])?
    (?:
        (?P<q>["“「『＂])(?P<phrase>.*?)(?:["”」』＂]|$)
      | (?P<word>[^\s"“「『＂]+)
    )
    """,
    re.VERBOSE,
)


MAX_MENTIONS = 100


def _leaf(field_name: str | None, phrase: str | None, word: str | None, count: str | None = None):
    text = phrase if phrase is not None else word
    text = (text or "").strip()
    if not text:
        return None
    fname = field_name.lower() if field_name else None
    if fname == "atleast" and count:
        term = Phrase(text) if phrase is not None else Words(text)
        return AtLeast(max(1, min(int(count), MAX_MENTIONS)), term)
    if count:  # "abc12:" is not an operator: keep it as text
        field_name, fname = field_name + count, None
    if fname in VALUE_FIELDS:
        return FieldValue(fname, text)
    if fname in TEXT_FIELDS:
        return Phrase(text, fname) if phrase is not None else Words(text, fname)
    if field_name:
        # Unknown field ("http:" or "12:30"): keep the whole thing as text.
        text = f"{field_name}:{text}"
    return Phrase(text) if phrase is not None else Words(text)


def parse(text: str) -> Query:
    """Parse a query string; never raises on any input."""
    text = (text or "")[:MAX_QUERY_LENGTH]
    items: list = []  # sequence of ("clause", neg, node) and ("or",)
    for m in _TOKEN.finditer(text):
        word = m.group("word")
        if word in ("OR", "|", "｜") and not m.group("field") and not m.group("neg"):
            items.append(("or",))
            continue
        if word == "SAME" and not m.group("field") and not m.group("neg"):
            items.append(("same",))
            continue
        node = _leaf(m.group("field"), m.group("phrase"), word, m.group("count"))
        if node is None:
            continue
        items.append(("clause", bool(m.group("neg")), node))
    items = _join_same(items)
    q = Query()
    i = 0
    while i < len(items):
        item = items[i]
        if item[0] in ("or", "same"):
            i += 1
            continue
        _, neg, node = item
        if neg:
            q.must_not.append(node)
            i += 1
            continue
        options = [node]
        j = i + 1
        while j + 1 < len(items) and items[j][0] == "or" and items[j + 1][0] == "clause" and not items[j + 1][1]:
            options.append(items[j + 1][2])
            j += 2
        q.must.append(AnyOf(tuple(options)) if len(options) > 1 else node)
        i = j
    return q


def _is_term(node) -> bool:
    return isinstance(node, (Words, Phrase)) and node.field is None


def _join_same(items: list) -> list:
    """``a SAME b`` -> one SameSentence clause (a stray SAME is dropped)."""
    out: list = []
    i = 0
    while i < len(items):
        if (items[i][0] == "same" and out and out[-1][0] == "clause" and not out[-1][1]
                and i + 1 < len(items) and items[i + 1][0] == "clause" and not items[i + 1][1]
                and _is_term(out[-1][2]) and _is_term(items[i + 1][2])):
            out[-1] = ("clause", False, SameSentence(out[-1][2], items[i + 1][2]))
            i += 2
            continue
        out.append(items[i])
        i += 1
    return out


def _quoted(text: str) -> str:
    text = text.replace('"', " ").strip()
    return f'"{text}"' if text else ""


def _term(text: str) -> str:
    """One side of an operator: a single word as is, anything longer quoted."""
    text = " ".join(text.replace('"', " ").split())
    return text if text and " " not in text and len(text) <= 4 else _quoted(text)


def compose(all_words: str = "", exact: str = "", any_words: str = "", none_words: str = "",
            scope: str = "all", mentions: str = "", min_mentions: int = 0,
            same_left: str = "", same_right: str = "", author: str = "", source: str = "",
            category: str = "") -> str:
    """The advanced-search form's fields as one ordinary query string.

    ``scope``: "all" (title and body), "title" or "lead" (first paragraph)
    for the all/exact/any words."""
    prefix = {"title": "title:", "lead": "lead:"}.get(scope, "")
    parts = []
    for word in all_words.split():
        parts.append(prefix + word.replace('"', ""))
    if exact.strip():
        parts.append(prefix + _quoted(exact))
    options = [prefix + w.replace('"', "") for w in any_words.split()]
    if len(options) == 1:
        parts.append(options[0])
    elif options:
        parts.append(" OR ".join(options))
    for word in none_words.split():
        parts.append("-" + word.replace('"', ""))
    if mentions.strip() and min_mentions >= 1:
        parts.append(f"atleast{min(min_mentions, MAX_MENTIONS)}:{_term(mentions)}")
    if same_left.strip() and same_right.strip():
        parts.append(f"{_term(same_left)} SAME {_term(same_right)}")
    for name, value in (("author", author), ("source", source), ("category", category)):
        if value.strip():
            parts.append(f"{name}:{_quoted(value) if ' ' in value.strip() else value.strip()}")
    return " ".join(p for p in parts if p)
