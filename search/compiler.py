"""The query compiler: the parsed query tree (``search.query``) -> plan
clauses (``search.plan``), by running the analysis pipeline over each leaf.

One compile function per node type, in one table (``_COMPILE``, keyed by
the node's class): adding an operator is one parser rule, one clause class
in ``search/plan.py``, one entry here and one per backend's execution
table.  Each function takes (compiler, node, default fields) and returns a
list of clauses (empty: nothing searchable in the node, e.g. punctuation).
"""

from __future__ import annotations

import dataclasses

from . import query as q
from . import regional
from .analysis import Analyzer
from .fields import SEARCHED_FIELDS as TEXT_FIELDS
from .plan import (AllClause, AnyClause, Clause, LeadClause, MentionsClause, NearClause, PhraseClause,
                   ValueClause, WordClause)

# Words that carry no topic: in a query with other words they only add to
# the score and are never required ("香港的选举" needs 香港 and 选举).
FUNCTION_WORDS = frozenset(
    "的 了 是 在 和 与 及 或 吗 么 呢 啊 吧 把 被 对 为 从 向 于 等 着 过 也 都 就 还 又 很 "
    "最 更 个 之 其 将 以 而 且 但 并 即 呀 哪 啥 有 没 不 能 会 要 可 该 这 那 此 "
    "什么 怎么 怎样 如何 哪些 哪里 为什么 多少 是否 是不是 可以 能否 一个 一下".split()
)


class QueryCompiler:
    """Compiles parsed queries with one ``Analyzer`` (the engine's: jieba
    and the user dictionary).  Thread-safe: it keeps no state per query."""

    def __init__(self, analyzer: Analyzer, split=None):
        self.analyzer = analyzer
        # word -> the words a run-together Latin word is read as, or ()
        # (``search.wordbreak.WordBreaker.split``); None: words as typed.
        self.split = split

    def splitting(self, split) -> "QueryCompiler":
        """This compiler reading run-together Latin words with ``split``
        (None: as typed; exact queries are never read otherwise)."""
        return QueryCompiler(self.analyzer, split)

    def compile(self, parsed: q.Query, fields: str = "all") -> tuple[list[Clause], list[Clause]]:
        """(must, must_not) clauses of ``parsed``; ``fields`` "title"
        searches unrestricted text in titles only, anything else in titles
        and bodies.  Never raises on a parsed query."""
        default_fields = ("title",) if fields == "title" else TEXT_FIELDS[None]
        must, must_not = [], []
        for node in parsed.must:
            must.extend(self.node(node, default_fields))
        for node in parsed.must_not:
            clause = self.one(node, default_fields)
            if clause is not None:
                must_not.append(clause)
        return must, must_not

    def node(self, node, default_fields: tuple[str, ...]) -> list[Clause]:
        """The clauses of one parsed node (its class's entry of ``_COMPILE``;
        an unknown node compiles to nothing)."""
        compile_node = _COMPILE.get(type(node))
        return compile_node(self, node, default_fields) if compile_node else []

    def one(self, node, default_fields: tuple[str, ...]) -> Clause | None:
        """``node`` as one clause (several words become an AllClause), or
        None when nothing in it is searchable."""
        cl = self.node(node, default_fields)
        if not cl:
            return None
        return cl[0] if len(cl) == 1 else AllClause(cl)

    def proximity_grams(self, parsed: q.Query) -> tuple[str, ...]:
        """The character bigrams of the query's unrestricted plain words, in
        order, each once (``Plan.proximity_grams``)."""
        grams: dict[str, None] = {}
        for node in parsed.must:
            if type(node) is q.Words and node.field is None:
                for g, _ in self.analyzer.phrase_grams(node.text):
                    if len(g) == 2:
                        grams[g] = None
        return tuple(grams)

    # ---- pieces shared by several node types -------------------------------------
    def substring(self, node) -> PhraseClause | None:
        """A term of an operator (at least N mentions, proximity) as the
        exact text to find, in title and body; None if nothing searchable."""
        grams = self.analyzer.phrase_grams(node.text)
        words = tuple(self.analyzer.query_words(node.text))
        return PhraseClause(node.text, grams, ("title", "body"), words) if grams else None

    def terms(self, node) -> list[PhraseClause]:
        """One side of a proximity operator (a term or an AnyOf of them):
        its alternative texts."""
        if type(node) is q.AnyOf:
            return [t for o in node.options for t in self.terms(o)]
        term = self.substring(node)
        return [term] if term else []

    def word(self, w: str, fields: tuple[str, ...]) -> Clause:
        """One query word; with its regional alternatives (软件 / 软体,
        特朗普 / 川普) an AnyClause, the other forms as whole words only, so
        软件 never finds 软体动物.  A run-together Latin word gets the words
        ``self.split`` reads it as (``WordClause.split``)."""
        split = tuple(WordClause(s, self.analyzer.phrase_grams(s), fields)
                      for s in (self.split(w) if self.split is not None else ()))
        clause = WordClause(w, self.analyzer.phrase_grams(w), fields, parts=self.analyzer.word_parts(w), split=split)
        alternatives = regional.alternatives(w)
        if not alternatives:
            return clause
        return AnyClause([clause] + [WordClause(a, self.analyzer.phrase_grams(a), fields, whole=True)
                                     for a in alternatives])


# ---- one compile function per node type ---------------------------------------------
def _lead(compiler: QueryCompiler, node) -> list[Clause]:
    """``lead:`` text: the clauses of the same text in the body, each
    checked to be in the first paragraph."""
    inner = compiler.node(dataclasses.replace(node, field="lead_body"), ("body",))
    return [LeadClause(c, c.needles()) for c in inner]


def _words(compiler: QueryCompiler, node: q.Words, default_fields) -> list[Clause]:
    """Plain text: one clause per word (function words dropped next to
    content words: their idf is near zero yet they have the longest
    posting lists)."""
    if node.field == "lead":
        return _lead(compiler, node)
    fields = default_fields if node.field is None else TEXT_FIELDS[node.field]
    words = compiler.analyzer.query_words(node.text)
    content = [w for w in words if w not in FUNCTION_WORDS]
    return [compiler.word(w, fields) for w in words if not (content and w in FUNCTION_WORDS)]


def _phrase(compiler: QueryCompiler, node: q.Phrase, default_fields) -> list[Clause]:
    """A quoted phrase: its grams at their offsets."""
    if node.field == "lead":
        return _lead(compiler, node)
    fields = default_fields if node.field is None else TEXT_FIELDS[node.field]
    grams = compiler.analyzer.quoted_phrase_grams(node.text)
    return [PhraseClause(node.text, grams, fields)] if grams else []


def _at_least(compiler: QueryCompiler, node: q.AtLeast, default_fields) -> list[Clause]:
    """``atleastN:term``."""
    term = compiler.substring(node.term)
    return [MentionsClause(term, node.count)] if term else []


def _near(compiler: QueryCompiler, node: q.Near, default_fields) -> list[Clause]:
    """``a w/N b``, ``a pre/N b``, ``a w/s b``, ``a w/p b``."""
    left, right = compiler.terms(node.left), compiler.terms(node.right)
    return [NearClause(left, right, node.unit, node.distance, node.ordered)] if left and right else []


def _field_value(compiler: QueryCompiler, node: q.FieldValue, default_fields) -> list[Clause]:
    """``author:``, ``source:``, ``category:``, ``tag:``."""
    return [ValueClause(node.field, node.value)]


def _any_of(compiler: QueryCompiler, node: q.AnyOf, default_fields) -> list[Clause]:
    """OR: one option per alternative (several clauses of one option
    become an AllClause)."""
    options = []
    for opt in node.options:
        cl = compiler.node(opt, default_fields)
        if len(cl) == 1:
            options.append(cl[0])
        elif cl:
            options.append(AllClause(cl))
    return [AnyClause(options)] if options else []


def _all_of(compiler: QueryCompiler, node: q.AllOf, default_fields) -> list[Clause]:
    """A group: its required clauses and exclusions (a group of exclusions
    only has nothing to match: no clause)."""
    children = [c for n in node.must for c in compiler.node(n, default_fields)]
    exclude = [compiler.one(n, default_fields) for n in node.must_not]
    exclude = [c for c in exclude if c is not None]
    if not children:
        return []
    return [AllClause(children, exclude)] if exclude or len(children) > 1 else children


_COMPILE = {
    q.Words: _words,
    q.Phrase: _phrase,
    q.AtLeast: _at_least,
    q.Near: _near,
    q.FieldValue: _field_value,
    q.AnyOf: _any_of,
    q.AllOf: _all_of,
}
