"""OpenSearch query builders: each plan clause class (``search.plan``) ->
its OpenSearch query, in one table (``BUILDERS``; the Whoosh backend's
counterpart is ``search.backends.whoosh.clauses.EVALUATORS``).

Queries run over the pre-segmented token fields (``mapping.py``): a word
matches as a word (``*_w``) or as a substring through its character
bigrams in order (``*_g``); phrases are bigram sequences; ``lead:`` looks
the text up in the first paragraph's own grams (``lead_g``); ``atleastN:``
counts occurrences with span queries; ``w/s`` is a span of both terms
closer than the position gap between the body's sentences
(``mapping.SENTENCE_GAP``); ``w/N``, ``pre/N`` and ``w/p`` are spans over the
accurate-mode words (``*_a``, ``body_pa``), one position per word as the
Whoosh backend counts them, a term found inside a word through a wildcard
(``span_multi``) and a term of several words as those words in order;
whole-word alternatives (regional vocabulary) are terms of ``*_a``.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from typing import Callable

from ...plan import (AllClause, AnyClause, LeadClause, MentionsClause, NearClause, PhraseClause, UnsupportedQuery,
                     ValueClause, WordClause)
from ...values import value_key
from .mapping import PARAGRAPH_GAP, SENTENCE_GAP, VALUE_FIELDS

TITLE_BOOST = 2.0
MAX_MENTIONS = 20  # capability: atleastN up to 20 (one span query per split of N between title and body; the language allows fields.MAX_MENTIONS)
# Proximity terms up to this many characters are also looked for across
# two or three of the article's words, split anywhere (28 ways at 8).
SPLIT_MAX = 8


def _gram_phrase(grams: list[tuple[str, int]]) -> tuple[str, int]:
    """The bigram tokens of a phrase in order, and the slop that lets a
    punctuation break (where the index has a run's last character as an
    extra token) pass."""
    tokens = [g for g, _ in grams]
    breaks = sum(1 for (a, oa), (b, ob) in zip(grams, grams[1:]) if ob - oa != 1)
    return " ".join(tokens), breaks


def wildcard_escape(text: str) -> str:
    """``text`` as literal characters of a wildcard pattern."""
    return re.sub(r"([\\*?])", r"\\\1", text)


class ClauseBuilder:
    """Builds OpenSearch queries (dicts) of plan clauses for one index.
    ``value_keys()``: does the index carry the folded facet keys
    (``*_key``)?  (asked per value clause; the backend caches it)."""

    def __init__(self, value_keys: Callable[[], bool]):
        self.value_keys = value_keys

    def _text(self, field: str, grams, word: str | None = None) -> list[dict]:
        """Queries matching ``word`` in ``field`` as a word or a substring."""
        boost = TITLE_BOOST if field == "title" else 1.0
        out = []
        if word is not None:
            out.append({"term": {f"{field}_w": {"value": word, "boost": boost}}})
        if grams and len(grams) == 1 and len(grams[0][0]) == 1:
            out.append({"term": {f"{field}_c": {"value": grams[0][0], "boost": boost}}})
        elif grams and not (word is not None and word.isascii()):
            phrase, slop = _gram_phrase(grams)
            out.append({"match_phrase": {f"{field}_g": {"query": phrase, "slop": slop, "boost": boost * 0.5}}})
        return out

    def build(self, c) -> dict:
        """The OpenSearch query (a dict) of clause ``c``.  Raises
        ``UnsupportedQuery`` beyond this backend's capabilities, ``TypeError``
        for a clause class without an entry in ``BUILDERS``."""
        builder = BUILDERS.get(type(c))
        if builder is None:
            raise TypeError(f"unknown clause {c!r}")
        return builder(self, c)

    def word(self, c: WordClause) -> dict:
        """A word as a word or a substring; a whole-word alternative as a
        term of the accurate-mode words (``*_a``); a run-together Latin
        word read as words (``c.split``) also as all of them."""
        if c.split:
            return {"bool": {"should": [self.word(dataclasses.replace(c, split=())),
                                        self.all_of(AllClause(list(c.split)))], "minimum_should_match": 1}}
        if c.whole:
            return {"bool": {"should": [{"term": {f"{f}_a": c.word}} for f in c.fields], "minimum_should_match": 1}}
        should = [q for f in c.fields for q in self._text(f, c.grams, c.word)]
        return {"bool": {"should": should, "minimum_should_match": 1}}

    def phrase(self, c: PhraseClause) -> dict:
        """Exact text: its bigrams in order (``_text``)."""
        should = [q for f in c.fields for q in self._text(f, c.grams)]
        return {"bool": {"should": should, "minimum_should_match": 1}}

    def any_of(self, c: AnyClause) -> dict:
        """Any of the options."""
        return {"bool": {"should": [self.build(o) for o in c.options], "minimum_should_match": 1}}

    def all_of(self, c: AllClause) -> dict:
        """Every child, none of the exclusions."""
        out = {"bool": {"must": [self.build(o) for o in c.children]}}
        if c.exclude:
            out["bool"]["must_not"] = [self.build(o) for o in c.exclude]
        return out

    def lead(self, c: LeadClause) -> dict:
        """The inner clause, its text also in the first paragraph."""
        return {"bool": {"must": [self.build(c.inner)], "filter": [self._in_lead(c.inner)]}}

    def value(self, c: ValueClause) -> dict:
        """``author:林``: the value's folded key contains the typed text's."""
        if not self.value_keys():
            original = VALUE_FIELDS[c.field][0]
            return {"wildcard": {original: {"value": f"*{wildcard_escape(c.value.strip())}*",
                                            "case_insensitive": True}}}
        want = value_key(c.value)
        if not want:
            return {"match_none": {}}
        return {"wildcard": {VALUE_FIELDS[c.field][1]: {"value": f"*{wildcard_escape(want)}*"}}}

    def near(self, c: NearClause) -> dict:
        """Both sides in the title, or in the body: within ``distance``
        words (spans over ``*_a``, slop = distance - 1: the words between),
        in one body sentence (gram spans closer than the sentence gap) or in
        one paragraph (word spans within one value of ``body_pa``)."""
        if not c.left or not c.right:
            return {"match_none": {}}

        def either(spans: list[dict]) -> dict:
            return spans[0] if len(spans) == 1 else {"span_or": {"clauses": spans}}

        if c.unit == "sentence":
            title = {"bool": {"must": [either([self._occurrence("title", t.grams) for t in side])
                                       for side in (c.left, c.right)]}}
            body = {"span_near": {"clauses": [either([self._occurrence("body", t.grams) for t in side])
                                              for side in (c.left, c.right)],
                                  "slop": SENTENCE_GAP // 2, "in_order": False}}
            return {"bool": {"should": [title, body], "minimum_should_match": 1}}
        if c.unit == "paragraph":
            title = {"bool": {"must": [either([self._word_span("title_a", t) for t in side])
                                       for side in (c.left, c.right)]}}
            body = {"span_near": {"clauses": [either([self._word_span("body_pa", t) for t in side])
                                              for side in (c.left, c.right)],
                                  "slop": PARAGRAPH_GAP // 2, "in_order": False}}
            return {"bool": {"should": [title, body], "minimum_should_match": 1}}
        should = [{"span_near": {"clauses": [either([self._word_span(f"{f}_a", t) for t in side])
                                             for side in (c.left, c.right)],
                                 "slop": max(c.distance - 1, 0), "in_order": c.ordered}}
                  for f in ("title", "body")]
        return {"bool": {"should": should, "minimum_should_match": 1}}

    @staticmethod
    def _word_span(field: str, term: PhraseClause) -> dict:
        """Where ``term`` occurs among the words of ``field``, at the
        positions of the words it falls in (as the Whoosh backend counts
        them): inside one word (a wildcard: sub-words and pieces of words
        count), or across two or three words, however the article's
        segmentation cut it (特首 in 特|首选, 林郑月娥 in 林|郑月|娥): the first
        word ending with the term's beginning, a middle word exactly, the
        last word starting with the term's end.  Terms longer than
        SPLIT_MAX characters are split only where the query's own words end."""
        text = "".join(term.words) or term.text

        def multi(pattern: str) -> dict:
            return {"span_multi": {"match": {"wildcard": {field: {"value": pattern}}}}}

        def split(parts: list[str]) -> dict:
            clauses = [multi(f"*{wildcard_escape(parts[0])}")]
            clauses += [{"span_term": {field: p}} for p in parts[1:-1]]
            clauses.append(multi(f"{wildcard_escape(parts[-1])}*"))
            return {"span_near": {"clauses": clauses, "slop": 0, "in_order": True}}

        options = [multi(f"*{wildcard_escape(text)}*")]
        n = len(text)
        if n <= SPLIT_MAX:
            cuts = [(i,) for i in range(1, n)] + [(i, j) for i in range(1, n) for j in range(i + 1, n)]
        else:
            ends = list(itertools.accumulate(len(w) for w in term.words))[:-1]
            cuts = [tuple(ends)] if ends else []
        for cut in cuts:
            bounds = (0, *cut, n)
            options.append(split([text[a:b] for a, b in zip(bounds, bounds[1:])]))
        return options[0] if len(options) == 1 else {"span_or": {"clauses": options}}

    def _in_lead(self, c) -> dict:
        """The clause's text occurs in the first paragraph (``lead_g``)."""
        if isinstance(c, (WordClause, PhraseClause)):
            return {"bool": {"should": self._text("lead", c.grams), "minimum_should_match": 1}}
        if isinstance(c, AnyClause):
            return {"bool": {"should": [self._in_lead(o) for o in c.options], "minimum_should_match": 1}}
        if isinstance(c, AllClause):
            return {"bool": {"must": [self._in_lead(o) for o in c.children]}}
        raise UnsupportedQuery("this lead: query is not supported by the OpenSearch backend")

    @staticmethod
    def _occurrence(field: str, grams) -> dict:
        """One occurrence of a text in ``field`` as a span: its bigrams in order."""
        if len(grams) == 1 and len(grams[0][0]) == 1:
            return {"span_term": {f"{field}_c": grams[0][0]}}
        if len(grams) == 1:
            return {"span_term": {f"{field}_g": grams[0][0]}}
        _, slop = _gram_phrase(grams)
        return {"span_near": {"clauses": [{"span_term": {f"{field}_g": g}} for g, _ in grams],
                              "slop": slop, "in_order": True}}

    def mentions(self, c: MentionsClause) -> dict:
        """At least ``min_count`` occurrences, title and body together: for
        each split k + (n - k), k distinct occurrences in the title (an
        ordered span of k copies, which cannot overlap) and n - k in the body."""
        t = c.term
        n = c.min_count
        if not t.grams:
            return {"match_none": {}}
        if n > MAX_MENTIONS:
            raise UnsupportedQuery(f"atleastN: is limited to N <= {MAX_MENTIONS} on the OpenSearch backend")

        def at_least(field: str, k: int) -> dict | None:
            if k == 0:
                return None
            one = self._occurrence(field, t.grams)
            if k == 1:
                return one
            return {"span_near": {"clauses": [one] * k, "slop": 1_000_000, "in_order": True}}

        options = []
        for k in range(n + 1):
            parts = [q for q in (at_least("title", k), at_least("body", n - k)) if q is not None]
            options.append({"bool": {"must": parts}})
        return {"bool": {"should": options, "minimum_should_match": 1}}


# The one table: plan clause class -> query builder (an unbound ClauseBuilder method).
BUILDERS = {
    WordClause: ClauseBuilder.word,
    PhraseClause: ClauseBuilder.phrase,
    ValueClause: ClauseBuilder.value,
    AnyClause: ClauseBuilder.any_of,
    AllClause: ClauseBuilder.all_of,
    LeadClause: ClauseBuilder.lead,
    MentionsClause: ClauseBuilder.mentions,
    NearClause: ClauseBuilder.near,
}
