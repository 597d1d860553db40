"""The query language's parser: tokens (``lexer.py``) -> the query tree
(``tree.py``), precedence NOT > AND > OR, proximity between terms, field
restrictions and ``atleastN:``; never raises, every repair gets a
``Notice``.  ``parse`` is the language's entry point (``search.query.parse``)."""

from __future__ import annotations

import re

from ..chars import strip_ignorable
from ..fields import MAX_MENTIONS, MAX_QUERY_LENGTH
from ..fields import TEXT_RESTRICTIONS as TEXT_FIELDS, VALUE_RESTRICTIONS as VALUE_FIELDS
from ..normalize import fold_chars
from .lexer import FIELD_NAMES, Token, lex
from .tree import AllOf, AnyOf, AtLeast, FieldValue, Near, Notice, Phrase, Query, Words

_CJK = re.compile(r"[\u3400-\u9fff]")


def _is_term(node) -> bool:
    """Can ``node`` be one side of a proximity operator?"""
    if isinstance(node, (Words, Phrase)):
        return node.field is None
    if isinstance(node, AnyOf):
        return all(_is_term(o) for o in node.options)
    return False



def _exclude(node, must: list, must_not: list) -> None:
    """Add ``node`` to ``must_not``, except that excluding a group of
    exclusions only (``-(-a)``, ``NOT (NOT a)``, ``-(-a -b)``) requires what
    that group excluded: not (not a and not b) = a or b.  (Dropping such a
    group, as the compiler drops a group with nothing to match, read
    ``-(-香港)`` as "every article".)"""
    if isinstance(node, AllOf) and not node.must and node.must_not:
        options = node.must_not
        must.append(options[0] if len(options) == 1 else AnyOf(tuple(options)))
    else:
        must_not.append(node)

class _Parser:
    def __init__(self, toks: list[Token], notices: list):
        self.toks = toks
        self.i = 0
        self.notices = notices
        self.exact = False

    def peek(self) -> Token | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> Token:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def notice(self, code: str, text: str, message: str) -> None:
        self.notices.append(Notice(code, text, message))

    @staticmethod
    def starts_operand(tok: Token | None) -> bool:
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
                if neg:  # NOT -x: x required
                    must.append(node)
                else:
                    _exclude(node, must, must_not)
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
            elif neg:
                _exclude(node, must, must_not)
            else:
                must.append(node)
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

    def with_field(self, tok: Token, node):
        """``title:(a OR b)``: the field applies to every term of the group."""
        fname = tok.field.lower()
        if fname not in TEXT_FIELDS:
            self.notice("field_group", tok.raw, f"'{tok.field}:' cannot take a group: the group is searched as it is")
            return node
        self.exact = True
        return _set_field(node, fname)

    def leaf(self, tok: Token):
        phrase, word = tok.phrase, tok.word
        text = (phrase if phrase is not None else word or "").strip()
        if not text:
            return None
        field_name, count = tok.field, tok.count
        fname = field_name.lower() if field_name else None
        if phrase is not None:
            self.exact = True
        if fname and not count and fname not in FIELD_NAMES and not text.startswith("/"):
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

    for known in FIELD_NAMES:
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
    toks = lex(text, notices)
    parser = _Parser(toks, notices)
    q = parser.parse()
    _lowercase_operator_notices(text, notices)
    if q.must_not:
        parser.exact = True
    q.exact = parser.exact
    q.notices = list({(n.code, n.text): n for n in notices}.values())  # each once
    return q
