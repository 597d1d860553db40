"""The query language, parsed into an explicit tree.

Syntax (anything else is plain text, never an error):

* words: ``香港 选举`` (all of them, ranked; documents matching most of them
  follow when few match all); text without spaces is segmented by jieba;
* quoted phrases: ``"香港特别行政区"`` (also 「」, “” and 『』);
* exclusion: ``-word`` or ``-"a phrase"``;
* alternatives: ``a OR b`` (also ``|``);
* field restriction: ``title:word``, ``title:"phrase"``, and the exact-value
  fields ``author:``, ``source:``, ``category:``, ``tag:``.

The tree leaves room for later operators (lead paragraph, at least N
mentions, same sentence) as new node types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TEXT_FIELDS = ("title",)  # field restrictions that search text
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
    (?:(?P<field>[A-Za-z]+)[:：])?
    (?:
        (?P<q>["“「『＂])(?P<phrase>.*?)(?:["”」』＂]|$)
      | (?P<word>[^\s"“「『＂]+)
    )
    """,
    re.VERBOSE,
)


def _leaf(field_name: str | None, phrase: str | None, word: str | None):
    text = phrase if phrase is not None else word
    text = (text or "").strip()
    if not text:
        return None
    fname = field_name.lower() if field_name else None
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
        node = _leaf(m.group("field"), m.group("phrase"), word)
        if node is None:
            continue
        items.append(("clause", bool(m.group("neg")), node))
    q = Query()
    i = 0
    while i < len(items):
        item = items[i]
        if item[0] == "or":
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
