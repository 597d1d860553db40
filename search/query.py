"""The query language, parsed into an explicit tree, with notices.

Syntax (no input is an error; what cannot be read as typed gets a notice
saying how it was read):

* words: ``香港 选举`` (all of them, ranked; for a query of plain words
  only, documents matching most of them follow when few match all); text
  without spaces is segmented by jieba;
* quoted phrases: ``"香港特别行政区"`` (also 「」, “” and 『』);
* exclusion: ``-word``, ``-"a phrase"``, ``-(a OR b)``, or ``x NOT y``;
* boolean operators, upper case only and only between terms (lower-case
  ``and``/``or``/``not`` stay words): ``AND`` (the default between terms),
  ``OR`` (also ``|``), ``NOT`` (also ``AND NOT``), precedence NOT > AND >
  OR, parentheses for grouping: ``(香港 OR 澳门) AND 选举 NOT 区议会``;
* proximity between two terms (a word, a "phrase" or a parenthesised OR of
  them): ``a w/5 b`` (at most 5 words apart, either order; also
  ``near/5``), ``a pre/5 b`` (a before b, at most 5 words on), ``a w/s b``
  (same sentence; ``SAME`` is a synonym) and ``a w/p b`` (same paragraph).
  Words are counted as the index counts them (jieba's words; punctuation
  is not a word); the title and the body are separate texts;
* field restriction: ``title:word``, ``title:"phrase"``, ``title:(a OR b)``,
  ``lead:`` (the first paragraph), and the value fields ``author:``,
  ``source:``, ``category:``, ``tag:`` (the value contains the text);
* at least N mentions in the article: ``atleast3:疫苗``.

A query containing an operator, a field restriction, a quoted phrase or an
exclusion is *exact* (``Query.exact``): staff asked for exactly those
articles, so it is never relaxed to partial matches.

``compose`` writes the advanced-search form's fields as such a query, so
what staff fill in becomes a query they can read, edit and share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .chars import strip_ignorable
from .normalize import fold_chars

from .fields import MAX_DISTANCE, MAX_MENTIONS, MAX_QUERY_LENGTH  # noqa: F401 - the language's limits
from .fields import TEXT_RESTRICTIONS as TEXT_FIELDS, VALUE_RESTRICTIONS as VALUE_FIELDS


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
        return not self.must and not self.must_not


# ---- lexer ---------------------------------------------------------------------
_OPEN_QUOTES = "\"“「『＂"
_CLOSE_QUOTES = "\"”」』＂"
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
_FIELD_NAMES = TEXT_FIELDS + VALUE_FIELDS + ("atleast",)
_PROXIMITY = re.compile(r"^(?:(w|near|pre)/([0-9]+|s|p)|(SAME))$", re.IGNORECASE)
_LOOKS_LIKE_PROXIMITY = re.compile(r"^(?:w|near|pre)/", re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass
class _Tok:
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


def _lex(text: str, notices: list) -> list[_Tok]:
    toks: list[_Tok] = []
    for m in _TOKEN.finditer(text):
        if m.group("space"):
            continue
        raw = m.group()
        if m.group("lp"):
            toks.append(_Tok("lp", raw))
            continue
        if m.group("rp"):
            toks.append(_Tok("rp", raw))
            continue
        if m.group("bar"):
            toks.append(_Tok("or", raw))
            continue
        if m.group("emptyfield"):
            name = re.sub(r"[0-9]*[:：]$", "", raw).lower()
            if name in _FIELD_NAMES:
                toks.append(_Tok("bad", raw))
                notices.append(Notice("empty_field", raw, f"'{raw}' has nothing after it: ignored"))
            else:
                toks.append(_Tok("term", raw, word=raw))
            continue
        word = m.group("word")
        plain = not m.group("neg") and not m.group("field")
        if plain and word in ("OR", "|", "｜"):
            toks.append(_Tok("or", word))
            continue
        if plain and word == "AND":
            toks.append(_Tok("and", word))
            continue
        if plain and word == "NOT":
            toks.append(_Tok("not", word))
            continue
        if plain and word is not None:
            pm = _PROXIMITY.match(word)
            if pm:
                toks.append(_Tok("prox", word, prox=_proximity(pm, word, notices)))
                continue
            if _LOOKS_LIKE_PROXIMITY.match(word):
                toks.append(_Tok("bad", word))
                notices.append(Notice("malformed_operator", word,
                                      f"'{word}' is not an operator (w/N, pre/N need a number of words; "
                                      "w/s and w/p mean same sentence and same paragraph): ignored"))
                continue
        tok = _Tok("term", raw, neg=bool(m.group("neg")), field=m.group("field"), count=m.group("count"),
                   phrase=m.group("phrase"), word=word, group=bool(m.group("group")))
        if m.group("q") and not m.group("qend"):
            tok.unclosed = True
            notices.append(Notice("unclosed_quote", raw, f"the quote in {raw} is not closed: read to the end"))
        toks.append(tok)
    return toks


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


# ---- parser --------------------------------------------------------------------
def _is_term(node) -> bool:
    """Can ``node`` be one side of a proximity operator?"""
    if isinstance(node, (Words, Phrase)):
        return node.field is None
    if isinstance(node, AnyOf):
        return all(_is_term(o) for o in node.options)
    return False


class _Parser:
    def __init__(self, toks: list[_Tok], notices: list):
        self.toks = toks
        self.i = 0
        self.notices = notices
        self.exact = False

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def notice(self, code: str, text: str, message: str) -> None:
        self.notices.append(Notice(code, text, message))

    @staticmethod
    def starts_operand(tok: _Tok | None) -> bool:
        return tok is not None and tok.kind in ("term", "lp")

    def parse(self) -> Query:
        if any(t.kind == "bad" for t in self.toks):
            self.exact = True  # an operator was meant, even if it could not be read
            self.toks = [t for t in self.toks if t.kind != "bad"]
        node = self.parse_or(top=True)
        while self.peek() is not None:  # a stray ")" ended the expression early
            tok = self.next()
            self.notice("unbalanced_parenthesis", tok.raw, "a ')' without its '(': ignored")
            more = self.parse_or(top=True)
            node = _and_of(node, more)
        if isinstance(node, AllOf):
            return Query(list(node.must), list(node.must_not), self.exact, self.notices)
        if node is None:
            return Query([], [], self.exact, self.notices)
        return Query([node], [], self.exact, self.notices)

    def parse_or(self, top: bool = False):
        options = []
        node = self.parse_and()
        if node is not None:
            options.append(node)
        while self.peek() is not None and self.peek().kind == "or":
            tok = self.next()
            self.exact = True
            if not options:
                self.notice("dangling_operator", tok.raw, f"'{tok.raw}' has nothing before it: ignored")
            node = self.parse_and()
            if node is None:
                self.notice("dangling_operator", tok.raw, f"'{tok.raw}' has nothing after it: ignored")
                continue
            options.append(node)
        if not options:
            return None
        if len(options) == 1:
            return options[0]
        flat = []
        for o in options:
            flat.extend(o.options if isinstance(o, AnyOf) else [o])
        return AnyOf(tuple(flat))

    def parse_and(self):
        must, must_not = [], []
        while True:
            tok = self.peek()
            if tok is None or tok.kind in ("or", "rp"):
                break
            if tok.kind == "and":
                self.next()
                self.exact = True
                nxt = self.peek()
                if nxt is not None and nxt.kind == "not":
                    continue  # AND NOT
                if not must and not must_not:
                    self.notice("dangling_operator", tok.raw, "'AND' has nothing before it: ignored")
                elif not self.starts_operand(nxt):
                    self.notice("dangling_operator", tok.raw, "'AND' has nothing after it: ignored")
                continue
            if tok.kind == "not":
                self.next()
                self.exact = True
                if not self.starts_operand(self.peek()):
                    self.notice("dangling_operator", tok.raw, "'NOT' has nothing after it: ignored")
                    continue
                node, neg = self.parse_proximity()
                if node is None:
                    continue
                if not must and not must_not:
                    self.notice("leading_not", tok.raw,
                                "'NOT' at the start excludes what follows (as '-' does)")
                (must if neg else must_not).append(node)  # NOT -x: x required
                continue
            if tok.kind == "prox":
                self.next()
                if tok.prox[0] == "word-same":  # lower-case "same": a word
                    must.append(Words(tok.raw))
                    continue
                self.exact = True
                self.notice("dangling_operator", tok.raw, f"'{tok.raw}' needs a term on each side: ignored")
                continue
            node, neg = self.parse_proximity()
            if node is None:
                continue
            if isinstance(node, AllOf) and not neg:
                must.extend(node.must)
                must_not.extend(node.must_not)
            else:
                (must_not if neg else must).append(node)
        if not must and not must_not:
            return None
        if len(must) == 1 and not must_not:
            return must[0]
        return AllOf(tuple(must), tuple(must_not))

    def parse_proximity(self):
        """An operand, or operands joined by proximity operators: returns
        (node, negated).  ``a w/5 b w/10 c`` is both pairs; a pair whose
        sides are not terms is read as AND, with a notice."""
        first, first_neg = self.parse_unary()
        if first is None:
            return None, False
        operands, ops = [(first, first_neg)], []
        while self.peek() is not None and self.peek().kind == "prox" and self.peek().prox[0] != "word-same":
            tok = self.next()
            self.exact = True  # an operator was meant, even a dangling one
            right, right_neg = self.parse_unary()
            if right is None:
                self.notice("dangling_operator", tok.raw, f"'{tok.raw}' has nothing after it: ignored")
                break
            operands.append((right, right_neg))
            ops.append(tok)
        if not ops:
            return first, first_neg
        must, must_not, covered = [], [], set()
        for i, tok in enumerate(ops):
            (left, lneg), (right, rneg) = operands[i], operands[i + 1]
            if lneg or rneg or not _is_term(left) or not _is_term(right):
                self.notice("proximity_operand", tok.raw,
                            f"'{tok.raw}' needs a word, a \"phrase\" or (a OR b) on each side: read as AND")
                continue
            unit, distance, ordered = tok.prox
            must.append(Near(left, right, unit, distance, ordered))
            covered.update((i, i + 1))
        for i, (node, neg) in enumerate(operands):
            if i not in covered:
                (must_not if neg else must).append(node)
        return _and_of(*must, AllOf((), tuple(must_not))), False

    def parse_unary(self):
        tok = self.peek()
        if tok is None or tok.kind not in ("term", "lp"):
            return None, False
        self.next()
        if tok.kind == "lp" or tok.group:
            node = self.parse_or()
            closing = self.peek()
            if closing is not None and closing.kind == "rp":
                self.next()
            else:
                self.notice("unbalanced_parenthesis", tok.raw, "a '(' without its ')': closed at the end")
            if node is None:
                self.notice("empty_group", tok.raw, "a group with nothing to search inside: ignored")
                return None, False
            neg = tok.kind == "term" and tok.neg
            if neg:
                self.exact = True
            if tok.kind == "term" and tok.field:
                node = self.with_field(tok, node)
            return node, neg
        node = self.leaf(tok)
        if node is not None and tok.neg:
            self.exact = True
        return node, tok.neg

    def with_field(self, tok: _Tok, node):
        """``title:(a OR b)``: the field applies to every term of the group."""
        fname = tok.field.lower()
        if fname not in TEXT_FIELDS:
            self.notice("field_group", tok.raw, f"'{tok.field}:' cannot take a group: the group is searched as it is")
            return node
        self.exact = True
        return _set_field(node, fname)

    def leaf(self, tok: _Tok):
        phrase, word = tok.phrase, tok.word
        text = (phrase if phrase is not None else word or "").strip()
        if not text:
            return None
        field_name, count = tok.field, tok.count
        fname = field_name.lower() if field_name else None
        if phrase is not None:
            self.exact = True
        if fname and not count and fname not in _FIELD_NAMES and not text.startswith("/"):
            meant = _near_field(fname)
            if meant is not None:
                self.notice("unknown_field", tok.raw, f"'{field_name}:' is not a field: read as {meant}:")
                field_name = fname = meant
        if fname == "atleast":
            if not count:
                self.exact = True
                self.notice("malformed_operator", tok.raw,
                            f"'atleast:' needs a number (atleast3:word): searched as {text}")
                return Words(text) if phrase is None else Phrase(text)
            n = int(count)
            if not 1 <= n <= MAX_MENTIONS:
                clamped = min(max(n, 1), MAX_MENTIONS)
                self.notice("count_out_of_range", tok.raw,
                            f"atleast{n}: the count must be 1 to {MAX_MENTIONS}; read as atleast{clamped}")
                n = clamped
            self.exact = True
            return AtLeast(n, Phrase(text) if phrase is not None else Words(text))
        if count:  # "abc12:" is not an operator: keep it as text
            field_name, fname = field_name + count, None
        if fname in VALUE_FIELDS:
            self.exact = True
            return FieldValue(fname, text)
        if fname in TEXT_FIELDS:
            self.exact = True
            return Phrase(text, fname) if phrase is not None else Words(text, fname)
        if field_name:
            # Unknown field ("http:" or "12:30"): keep the whole thing as text.
            text = f"{field_name}:{text}"
        return Phrase(text) if phrase is not None else Words(text)


def _set_field(node, fname: str):
    """``node`` with every word and phrase restricted to ``fname`` (operators
    that count in the whole article, atleastN: and proximity, stay as they are)."""
    if isinstance(node, (Words, Phrase)):
        return type(node)(node.text, fname)
    if isinstance(node, AnyOf):
        return AnyOf(tuple(_set_field(o, fname) for o in node.options))
    if isinstance(node, AllOf):
        return AllOf(tuple(_set_field(o, fname) for o in node.must), tuple(_set_field(o, fname) for o in node.must_not))
    return node


def _and_of(*nodes):
    must, must_not = [], []
    for n in nodes:
        if n is None:
            continue
        if isinstance(n, AllOf):
            must.extend(n.must)
            must_not.extend(n.must_not)
        else:
            must.append(n)
    if len(must) == 1 and not must_not:
        return must[0]
    return AllOf(tuple(must), tuple(must_not)) if must or must_not else None


def _near_field(name: str) -> str | None:
    """The field a misspelt field name means (``tittle`` -> title): one
    edit away, or two for names of five letters or more."""
    import difflib

    for known in _FIELD_NAMES:
        ratio = difflib.SequenceMatcher(None, name, known).ratio()
        if name[0] == known[0] and ratio >= 0.8:
            return known
    return None


def _lowercase_operator_notices(text: str, notices: list) -> None:
    """``香港 or 澳门``: an operator word not in upper case (or, Or, same)
    between two terms, one of them Chinese, is searched as a word; say so
    (operators are written in upper case)."""
    words = text.split()
    for i in range(1, len(words) - 1):
        w = words[i]
        if (w.lower() in ("and", "or", "not", "same") and w != w.upper()
                and (_CJK.search(words[i - 1]) or _CJK.search(words[i + 1]))):
            notices.append(Notice("lowercase_operator", w,
                                  f"'{w}' is searched as a word; the operator is written {w.upper()}"))


def parse(text: str) -> Query:
    """Parse a query string; never raises on any input.  Invisible format
    characters are ignored (``search.chars``), as they are in articles."""
    # Full-width forms read as their plain form (ＡＮＤ, ｗ／５, ｔｉｔｌｅ：),
    # as they are when searched.
    text = fold_chars(strip_ignorable((text or "")[:MAX_QUERY_LENGTH]))
    notices: list[Notice] = []
    toks = _lex(text, notices)
    parser = _Parser(toks, notices)
    q = parser.parse()
    _lowercase_operator_notices(text, notices)
    if q.must_not:
        parser.exact = True
    q.exact = parser.exact
    q.notices = list({(n.code, n.text): n for n in notices}.values())  # each once
    return q


# ---- the advanced form -------------------------------------------------------------
def _quoted(text: str) -> str:
    text = text.replace('"', " ").strip()
    return f'"{text}"' if text else ""


def _term(text: str) -> str:
    """One side of an operator: a single short word as is; anything longer,
    and anything the parser would read as an operator, an exclusion or a
    group, quoted."""
    text = " ".join(text.replace('"', " ").split())
    plain = _word(text) == text and ":" not in text and "：" not in text
    return text if plain and text and " " not in text and len(text) <= 4 else _quoted(text)


def _word(text: str) -> str:
    """A typed word as a query word (an operator-like word quoted)."""
    text = text.replace('"', "")
    if (text in ("AND", "OR", "NOT", "SAME", "|") or _PROXIMITY.match(text) or text[:1] in "-－"
            or any(ch in text for ch in "()（）")):
        return _quoted(text)
    return text


_FORM_ITEM = re.compile(r'["“「『＂]([^"”」』＂]*)["”」』＂]?|(\S+)')


def _form_items(text: str) -> list[str]:
    """A form field's words and "quoted phrases" as query terms: a phrase
    stays one term (none = ``"体育 新闻"`` excludes that phrase, not every
    article mentioning 新闻)."""
    items = []
    for m in _FORM_ITEM.finditer(text):
        if m.group(2) is not None:
            items.append(_word(m.group(2)))
        elif m.group(1).strip():
            items.append(_quoted(m.group(1)))
    return [i for i in items if i]


def compose(all_words: str = "", exact: str = "", any_words: str = "", none_words: str = "",
            scope: str = "all", mentions: str = "", min_mentions: int = 0,
            same_left: str = "", same_right: str = "", author: str = "", source: str = "",
            category: str = "", near_left: str = "", near_right: str = "", near_distance: int = 0,
            near_ordered: bool = False, same_unit: str = "sentence") -> str:
    """The advanced-search form's fields as one ordinary query string.

    ``scope``: "all" (title and body), "title" or "lead" (first paragraph)
    for the all/exact/any words.  ``near_*``: two terms at most
    ``near_distance`` words apart (``near_ordered``: in that order);
    ``same_*``: two terms in one sentence or paragraph (``same_unit``)."""
    prefix = {"title": "title:", "lead": "lead:"}.get(scope, "")
    parts = []
    for item in _form_items(all_words):
        parts.append(prefix + item)
    if exact.strip():
        parts.append(prefix + _quoted(exact))
    options = [prefix + item for item in _form_items(any_words)]
    if len(options) == 1:
        parts.append(options[0])
    elif options:
        parts.append("(" + " OR ".join(options) + ")")
    for item in _form_items(none_words):
        parts.append("-" + item)
    if mentions.strip() and min_mentions >= 1:
        parts.append(f"atleast{min(min_mentions, MAX_MENTIONS)}:{_term(mentions)}")
    if same_left.strip() and same_right.strip():
        op = "w/p" if same_unit == "paragraph" else "w/s"
        parts.append(f"{_term(same_left)} {op} {_term(same_right)}")
    if near_left.strip() and near_right.strip() and near_distance >= 1:
        op = f"{'pre' if near_ordered else 'w'}/{min(near_distance, MAX_DISTANCE)}"
        parts.append(f"{_term(near_left)} {op} {_term(near_right)}")
    for name, value in (("author", author), ("source", source), ("category", category)):
        if value.strip():
            parts.append(f"{name}:{_quoted(value) if ' ' in value.strip() else value.strip()}")
    return " ".join(p for p in parts if p)
