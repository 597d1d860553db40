"""Clause evaluation: each plan clause class (``search.plan``) -> the
documents it matches, with scores.

``EVALUATORS`` is the one table from clause class to evaluator: adding a
clause type to the query language is one entry here (and one in the
OpenSearch backend's ``search.backends.opensearch.clauses.BUILDERS``).
Each evaluator returns (sorted int64 global doc ids, float64 BM25F scores
aligned with them), built on the ``Matcher``'s postings and positions."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np

from ... import ranking
from ...chars import squeeze
from ...normalize import normalize_query
from ...plan import (AllClause, AnyClause, LeadClause, MentionsClause, NearClause, PhraseClause, UnsupportedQuery,
                     ValueClause, WordClause)
from ...values import value_key
from . import textchecks
from .matchers import (EMPTY, POS_PAD, POS_STRIDE, Matcher, align, intersect_all, mask, sum_by_doc, union_ids,
                       union_scored)
from .scorer import bm25f, gram_scores

_LATIN_PIECES = re.compile(r"[0-9a-z]+")  # the letter-and-digit pieces of a Latin term


def fuzzy_latin(c: WordClause) -> bool:
    """A long Latin word (not a number) gets partial credit by shared bigrams."""
    return len(c.grams) >= 3 and c.word.isascii() and any(ch.isalpha() for ch in c.word)


class ClauseEvaluator:
    """Evaluates plan clauses over one ``IndexView`` through ``matcher``.

    ``evaluate(clause)`` -> (docs, scores) as described in the module
    docstring.  Raises ``QueryTimeout`` past the deadline, ``UnsupportedQuery``
    for an operator this index cannot answer (no word or sentence
    boundaries, too many text checks), ``TypeError`` for a clause class
    without an entry in ``EVALUATORS``."""

    def __init__(self, matcher: Matcher):
        self.matcher = matcher
        self.view = matcher.view
        self.deadline = matcher.deadline

    def evaluate(self, c):
        """The documents ``c`` matches and their scores (see the class)."""
        self.deadline.check()
        evaluator = EVALUATORS.get(type(c))
        if evaluator is None:
            raise TypeError(f"unknown clause {c!r}")
        return evaluator(self, c)

    # ---- words and phrases -----------------------------------------------------
    def word(self, c: WordClause):
        """A word: documents having it as a word, or (discounted by
        ``ranking.SUBSTRING_DISCOUNT``) inside a longer word; with a
        ``split`` (a run-together Latin word), also documents having all
        its words as words (their scores summed)."""
        if c.split:
            return union_scored([self.word(dataclasses.replace(c, split=())),
                                 self.all_of(AllClause(list(c.split)))], self.view.n_all)
        if c.whole:
            return self.whole_word(c)
        m, v = self.matcher, self.view
        per_field = {}
        all_docs = []
        for f in c.fields:
            w_ids, w_tf = v.postings(f + "_w", c.word)
            if not c.grams or (c.word.isascii() and c.word.isalnum()):
                # Latin and digit runs are indexed under their parts too
                # (analysis.latin_parts), so the word field already has every
                # occurrence; the bigram check for "2002" read every
                # "20"/"00"/"02" position.  A term with symbols (www.cctv.com
                # inside www.cctv.com/news) is checked through its grams.
                sub_docs, sub_tf = EMPTY
            elif len(c.grams) == 1:
                g_docs, g_tf = m.gram_docs(f + "_g", c.grams)
                extra = ~mask(w_ids, v.n_all)[g_docs]
                sub_docs, sub_tf = g_docs[extra], g_tf[extra]
            else:
                # Only documents without the word itself need the (costlier)
                # substring check; for a Latin term with symbols, only those
                # having each of its pieces as a word (baidu, com for baidu.com).
                exclude = w_ids
                if c.word.isascii():
                    pieces = _LATIN_PIECES.findall(c.word)
                    have = intersect_all([v.postings(f + "_w", p)[0] for p in pieces], v.n_all) \
                        if pieces else np.empty(0, np.int64)
                    outside = ~mask(have, v.n_all)
                    outside[w_ids] = True
                    exclude = np.flatnonzero(outside)
                sub_docs, sub_tf = m.substring_docs_excluding(f + "_g", c.grams, c.word, exclude)
            docs = np.concatenate([w_ids, sub_docs])
            tfs = np.concatenate([w_tf.astype(np.float64), sub_tf * ranking.SUBSTRING_DISCOUNT])
            order = np.argsort(docs, kind="stable")
            per_field[f] = (docs[order], tfs[order])
            all_docs.append(docs)
        if not all_docs:
            return EMPTY
        docs = union_ids(all_docs, v.n_all)
        if not len(docs):
            return EMPTY
        return docs, bm25f(v, docs, per_field)

    def whole_word(self, c: WordClause):
        """Documents where ``c.word`` occurs as a whole word (its start a
        word start, its end a token boundary), counted per field."""
        m, v = self.matcher, self.view
        per_field, all_docs = {}, []
        for f in c.fields:
            present, _ = m.substring_docs(f + "_g", c.grams, c.word)
            d, s, e = m.occurrences(f, c.grams, c.word, present)
            whole = v.whole_words(f, d, s, e)
            if whole is None:
                raise UnsupportedQuery("this index has no word boundaries: run python -m indexer rebuild")
            docs, counts = np.unique(d[whole], return_counts=True)
            per_field[f] = (docs, counts.astype(np.float64))
            all_docs.append(docs)
        docs = union_ids(all_docs, v.n_all)
        if not len(docs):
            return EMPTY
        return docs, bm25f(v, docs, per_field)

    def partial(self, c: WordClause, full_docs: np.ndarray):
        """Documents without the word (not in ``full_docs``) but with some
        of its parts: (docs, scores, strength = share of parts present,
        below ``ranking.PARTIAL_MAX``)."""
        v = self.view
        if not c.parts and fuzzy_latin(c):
            # A long Latin run (terraexplorer6): credit by shared bigrams.
            grams = [g for g, _ in c.grams if len(g) == 2]
            docs, score, count = gram_scores(v, grams, c.fields)
            strength = np.minimum(count / max(len(grams), 1), ranking.PARTIAL_MAX)
            keep = (strength >= 0.5) & ~mask(full_docs, v.n_all)[docs]
            keep[keep] = self.has_chunk(c.word, docs[keep], c.split)  # never "structure" for trump
            return docs[keep], ranking.PART_CREDIT * score[keep] / max(len(grams), 1), strength[keep]
        if not c.parts:
            return EMPTY + (np.empty(0),)
        results = []
        for part in c.parts:
            grams = [(part, 0)] if len(part) == 1 else []
            results.append(self.word(WordClause(part, grams, c.fields)))
        results = [r for r in results if len(r[0])]
        if not results:
            return EMPTY + (np.empty(0),)
        ids = np.concatenate([r[0] for r in results])
        sc = np.concatenate([r[1] for r in results])
        docs, count, (score,) = sum_by_doc(ids, v.n_all, sc)
        keep = ~mask(full_docs, v.n_all)[docs]
        # Even all the parts are not the word (人民 + 共和国 apart is not 人民共和国).
        strength = np.minimum(count[keep] / len(c.parts), ranking.PARTIAL_MAX)
        return docs[keep], ranking.PART_CREDIT * score[keep] / len(c.parts), strength

    def has_chunk(self, word: str, docs: np.ndarray, split: tuple = ()) -> np.ndarray:
        """For each of ``docs``: does its title or body contain a piece of
        the Latin ``word`` of at least ``ranking.LATIN_PIECE`` of its length
        (and five characters), as one run of text?  (dribbble for dribble,
        followme for follow; never truth for trump.)  For a run-together
        word read as words (``split``: WordClauses, ``search.wordbreak``),
        its words are such pieces: those of two letters or more that the
        text holds, each as one run, making up ``ranking.FALLBACK_MIN_GRAMS``
        (40 %) of its letters, the share of its bigrams the fallback asks
        for: a whole word of the query is one piece already
        (roughguidemorocco in "roughguidetomorocco": rough, guide, morocco;
        gnomeopen in "gnome-open").  A bool array."""
        found = self._has_piece(word, docs)
        todo = ~found
        if split and todo.any():
            found[todo] = self._has_words(word, [w.word for w in split], docs[todo])
        return found

    def _has_words(self, word: str, words: list[str], docs: np.ndarray) -> np.ndarray:
        """``has_chunk``'s test of the words of ``word`` over ``docs``."""
        letters = np.zeros(len(docs))
        for w in dict.fromkeys(w for w in words if len(w) >= 2):
            grams = [(w[i:i + 2], i) for i in range(len(w) - 1)]
            held = union_ids([self.matcher.substring_docs(f + "_g", grams, w)[0] for f in ("title", "body")],
                             self.view.n_all)
            letters += mask(held, self.view.n_all)[docs] * len(w) * words.count(w)
        return letters >= ranking.FALLBACK_MIN_GRAMS * len(word)

    def _has_piece(self, word: str, docs: np.ndarray) -> np.ndarray:
        """``has_chunk``'s test of one piece of ``word`` over ``docs``."""
        n = len(word)
        size = min(n, max(5, math.ceil(ranking.LATIN_PIECE * n)))
        found = np.zeros(self.view.n_all, bool)
        for start in range(n - size + 1):
            piece = word[start:start + size]
            grams = [(piece[i:i + 2], i) for i in range(size - 1)]
            for f in ("title", "body"):
                todo = docs[~found[docs]]
                if not len(todo):
                    return found[docs]
                d, _ = self.matcher.substring_docs(f + "_g", grams, piece)
                found[np.intersect1d(d, todo)] = True
        return found[docs]

    def phrase(self, c: PhraseClause):
        """Exact text: its grams at their offsets; scored x (1 + 0.1 per gram)."""
        if not c.grams:
            return EMPTY
        per_field = {}
        all_docs = []
        for f in c.fields:
            docs, tf = self.matcher.substring_docs(f + "_g", c.grams, c.text)
            per_field[f] = (docs, tf)
            all_docs.append(docs)
        docs = union_ids(all_docs, self.view.n_all)
        if not len(docs):
            return EMPTY
        return docs, bm25f(self.view, docs, per_field) * (1.0 + 0.1 * len(c.grams))

    # ---- operators ---------------------------------------------------------------
    def mentions(self, c: MentionsClause):
        """Documents where the term occurs at least ``min_count`` times
        (title and body together), counted from its character positions."""
        t = c.term
        if not t.grams:
            return EMPTY
        v = self.view
        per_field = {f: self.matcher.substring_docs(f + "_g", t.grams, t.text) for f in t.fields}
        docs = union_ids([d for d, _ in per_field.values()], v.n_all)
        if not len(docs):
            return EMPTY
        count = sum(align(d, tf, docs, v.n_all) for d, tf in per_field.values())
        keep = count >= c.min_count
        docs = docs[keep]
        if not len(docs):
            return EMPTY
        return docs, bm25f(v, docs, per_field)

    def lead(self, c: LeadClause):
        """The inner clause's matches whose term starts in the first
        paragraph, judged from its body positions and the recorded lead end
        (from the stored text where those are missing)."""
        docs, scores = self.evaluate(c.inner)
        if not len(docs):
            return docs, scores
        v = self.view
        keys = self.matcher.phrase_keys("body_g", c.inner.grams, docs)
        lead_end = v.lead_end(docs)
        if keys is None or (lead_end < 0).any():
            needles = [squeeze(normalize_query(n)) for n in c.needles_]
            keep = textchecks.text_filter(v, self.deadline, docs, lambda st: textchecks.in_lead(st, needles))
            return docs[keep], scores[keep]
        kd = keys // POS_STRIDE
        starts = keys % POS_STRIDE - POS_PAD
        ends = lead_end[np.searchsorted(docs, kd)]
        keep = mask(kd[starts < ends], v.n_all)[docs]
        return docs[keep], scores[keep]

    def near(self, c: NearClause):
        """A left and a right term close together in the title or in the
        body: within ``c.distance`` words (word ordinals from the recorded
        boundaries), or in one sentence / paragraph (recorded ends)."""
        m, n_all = self.matcher, self.view.n_all
        left = union_scored([self.phrase(t) for t in c.left], n_all)
        right = union_scored([self.phrase(t) for t in c.right], n_all)
        if not len(left[0]) or not len(right[0]):
            return EMPTY
        docs = intersect_all([left[0], right[0]], n_all)
        if not len(docs):
            return EMPTY
        found = []
        for field in ("title", "body"):
            lo = [m.occurrences(field, t.grams, t.text, docs) for t in c.left]
            ro = [m.occurrences(field, t.grams, t.text, docs) for t in c.right]
            ld, ls, le = (np.concatenate(x) for x in zip(*lo))
            rd, rs, re_ = (np.concatenate(x) for x in zip(*ro))
            if not len(ld) or not len(rd):
                continue
            lorder, rorder = np.argsort(ld, kind="stable"), np.argsort(rd, kind="stable")
            ld, ls, le = ld[lorder], ls[lorder], le[lorder]
            rd, rs, re_ = rd[rorder], rs[rorder], re_[rorder]
            if c.unit == "word":
                found.append(m.within_words(field, c.distance, c.ordered, (ld, ls, le), (rd, rs, re_)))
            elif field == "title":
                # The title is one sentence and one paragraph of its own.
                found.append(np.intersect1d(ld, rd))
            else:
                found.append(m.same_unit(c.unit, docs, (ld, ls), (rd, rs)))
        keep = mask(np.concatenate(found) if found else np.empty(0, np.int64), n_all)[docs]
        docs = docs[keep]
        score = align(left[0], left[1], docs, n_all) + align(right[0], right[1], docs, n_all)
        return docs, score

    def value(self, c: ValueClause):
        """``author:林`` and the like: documents whose value's folded key
        contains the typed text's (``search.values.contains``); score 0."""
        want = value_key(c.value)
        keys = self.view.facet_keys(c.field)
        matching = [k for k, key in enumerate(keys.keys) if want and want in key]
        if not matching:
            return EMPTY
        docs = np.flatnonzero(self.matcher.docs_with_keys(c.field, matching))
        return docs, np.zeros(len(docs))

    # ---- boolean -------------------------------------------------------------------
    def any_of(self, c: AnyClause):
        """Any option: the union, scores summed over the options matched."""
        return union_scored([self.evaluate(o) for o in c.options], self.view.n_all)

    def all_of(self, c: AllClause):
        """Every child (scores summed), none of ``c.exclude``."""
        n_all = self.view.n_all
        parts = [self.evaluate(o) for o in c.children]
        if not parts or any(not len(p[0]) for p in parts):
            return EMPTY
        docs = intersect_all([p[0] for p in parts], n_all)
        score = sum(p[1][np.searchsorted(p[0], docs)] for p in parts)
        for ex in c.exclude:
            bad, _ = self.evaluate(ex)
            if len(bad) and len(docs):
                keep = ~mask(bad, n_all)[docs]
                docs, score = docs[keep], score[keep]
        return docs, score


# The one table: plan clause class -> evaluator (an unbound ClauseEvaluator method).
EVALUATORS = {
    WordClause: ClauseEvaluator.word,
    PhraseClause: ClauseEvaluator.phrase,
    ValueClause: ClauseEvaluator.value,
    AnyClause: ClauseEvaluator.any_of,
    AllClause: ClauseEvaluator.all_of,
    LeadClause: ClauseEvaluator.lead,
    MentionsClause: ClauseEvaluator.mentions,
    NearClause: ClauseEvaluator.near,
}
