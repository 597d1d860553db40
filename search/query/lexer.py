"""The query language's lexer: query text -> tokens (terms with their
sign, field, count and phrase; parentheses; OR, AND, NOT; proximity
operators), with a ``Notice`` for what cannot be read as typed (an empty
field, an unclosed quote, a malformed or out-of-range operator)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..fields import MAX_DISTANCE
from ..fields import TEXT_RESTRICTIONS as TEXT_FIELDS, VALUE_RESTRICTIONS as VALUE_FIELDS
from .tree import Notice

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<lp>[(（])
  | (?P<rp>[)）])
  | (?P<bar>[|｜])
  | (?P<emptyfield>[A-Za-z]+[0-9]{0,3}[:：])(?=\s|$)
  | (?P<neg>[-－])?
    (?:(?P<field>[A-Za-z]+)(?P<count>[0-9]{1,3})?[:：])?
    (?:
        (?P<q>["“「『＂])(?P<phrase>[^"”」』＂]*)(?P<qend>["”」』＂]|$)
      | (?P<group>[(（])
      | (?P<word>[^\s"“「『＂()（）|｜]+)
    )
    """,
    re.VERBOSE,
)
FIELD_NAMES = TEXT_FIELDS + VALUE_FIELDS + ("atleast",)
PROXIMITY = re.compile(r"^(?:(w|near|pre)/([0-9]+|s|p)|(SAME))$", re.IGNORECASE)
_LOOKS_LIKE_PROXIMITY = re.compile(r"^(?:w|near|pre)/", re.IGNORECASE)


@dataclass
class Token:
    """One token of a query: ``raw`` as typed; a term's sign, field,
    count (``atleast3:``), phrase or word; ``prox``: a proximity operator's
    (unit, distance, ordered)."""

    kind: str  # term | lp | rp | or | and | not | prox
    raw: str
    neg: bool = False
    field: str | None = None
    count: str | None = None
    phrase: str | None = None
    word: str | None = None
    group: bool = False  # field:( or -( : a group follows
    unclosed: bool = False
    prox: tuple | None = None  # (unit, distance, ordered)


def lex(text: str, notices: list) -> list[Token]:
    """The tokens of ``text`` (spaces dropped); notices are appended to
    ``notices``.  A token the parser must drop (an empty field, a
    malformed operator) has kind "bad".  Never raises."""
    toks: list[Token] = []
    for m in _TOKEN.finditer(text):
        if m.group("space"):
            continue
        raw = m.group()
        if m.group("lp"):
            toks.append(Token("lp", raw))
            continue
        if m.group("rp"):
            toks.append(Token("rp", raw))
            continue
        if m.group("bar"):
            toks.append(Token("or", raw))
            continue
        if m.group("emptyfield"):
            name = re.sub(r"[0-9]*[:：]$", "", raw).lower()
            if name in FIELD_NAMES:
                toks.append(Token("bad", raw))
                notices.append(Notice("empty_field", raw, f"'{raw}' has nothing after it: ignored"))
            else:
                toks.append(Token("term", raw, word=raw))
            continue
        word = m.group("word")
        plain = not m.group("neg") and not m.group("field")
        if plain and word in ("OR", "|", "｜"):
            toks.append(Token("or", word))
            continue
        if plain and word == "AND":
            toks.append(Token("and", word))
            continue
        if plain and word == "NOT":
            toks.append(Token("not", word))
            continue
        if plain and word is not None:
            pm = PROXIMITY.match(word)
            if pm:
                toks.append(Token("prox", word, prox=_proximity(pm, word, notices)))
                continue
            if _LOOKS_LIKE_PROXIMITY.match(word):
                toks.append(Token("bad", word))
                notices.append(Notice("malformed_operator", word,
                                      f"'{word}' is not an operator (w/N, pre/N need a number of words; "
                                      "w/s and w/p mean same sentence and same paragraph): ignored"))
                continue
        if m.group("q") and m.group("qend") and not (m.group("phrase") or "").strip():
            toks.append(Token("bad", raw))
            notices.append(Notice("empty_phrase", raw, f"{raw} quotes nothing: ignored"))
            continue
        if word and _WILDCARD.search(word):
            notices.append(Notice("no_wildcard", raw, f"'*' and '?' are no wildcards here: in {raw} they are "
                                                      "read as spaces"))
        tok = Token("term", raw, neg=bool(m.group("neg")), field=m.group("field"), count=m.group("count"),
                   phrase=m.group("phrase"), word=word, group=bool(m.group("group")))
        if m.group("q") and not m.group("qend"):
            tok.unclosed = True
            notices.append(Notice("unclosed_quote", raw, f"the quote in {raw} is not closed: read to the end"))
        toks.append(tok)
    return toks


# Wildcard characters some readers type (香*, 选?): read as spaces, as any
# punctuation is, and said so.
_WILDCARD = re.compile(r"[*?＊？]")


def _proximity(pm, word: str, notices: list) -> tuple:
    if pm.group(3):
        if pm.group(3) != "SAME":
            return ("word-same", 0, False)  # lower-case "same": a word (see _Parser)
        return ("sentence", 0, False)
    kind, arg = pm.group(1).lower(), pm.group(2).lower()
    if arg == "s":
        return ("sentence", 0, False)
    if arg == "p":
        return ("paragraph", 0, False)
    n = int(arg)
    if not 1 <= n <= MAX_DISTANCE:
        clamped = min(max(n, 1), MAX_DISTANCE)
        notices.append(Notice("distance_out_of_range", word,
                              f"{word}: the distance must be 1 to {MAX_DISTANCE} words; read as {kind}/{clamped}"))
        n = clamped
    return ("word", n, kind == "pre")
