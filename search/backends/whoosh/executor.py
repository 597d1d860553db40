"""Execute a ``search.plan.Plan`` against an ``IndexView`` with numpy.

Each clause evaluates to (global doc ids, scores), sorted by doc id.  Must
clauses are combined in tiers (see ``Executor._match``): documents matching
every required clause rank first; when fewer than ``plan.relax_below`` do,
partial matches follow, ranked by the share of the query's idf they cover.
Totals and facet counts are computed over exactly the documents returned,
with vectorised counting, so they are exact for the most frequent terms too.
"""

from __future__ import annotations

import math
import re
import time

import numpy as np

from ... import ranking, timeline
from ...chars import runs, squeeze
from ...normalize import normalize, normalize_query
from ...plan import (AllClause, AnyClause, BackendHit, BackendResult, LeadClause, MentionsClause, NearClause,
                     PhraseClause, Plan, QueryTimeout, UnsupportedQuery, ValueClause, WordClause, anchors, is_soft,
                     lone_character)
from ...values import shown_form, value_key
from .reader import IndexView

_EMPTY = (np.empty(0, np.int64), np.empty(0, np.float64))
MAX_TEXT_CHECKS = 2000  # stored texts read to confirm an odd phrase
_POS_STRIDE = 1 << 32  # (doc, start) -> doc * stride + start
_POS_PAD = 1 << 16  # starts can be negative by at most the phrase length
# Ranking constants, chosen on the first 3,000 QBQTC queries (eval/qbqtc.py);
# changes within a factor of ~2 moved nDCG@10 by less than 0.003.
PROXIMITY_WEIGHT = 0.3  # query bigrams found in full matches: words stand together
PARTIAL_GRAM_WEIGHT = 0.3  # the same bonus for partial matches
FALLBACK_WEIGHT = 0.5  # score of bigram-only fallback matches
FALLBACK_MIN_GRAMS = 0.4  # share of the query's bigrams a fallback match must have
COVERAGE_POWER = 1.0  # partial matches: score x (idf share covered) ** power
RELAX_MIN_COVERAGE = 0.0  # minimum idf share of a partial match (0: any word)
PART_CREDIT = 0.5  # a document with a long word's parts but not the word itself
PARTIAL_MAX = 0.9  # ... never counts as matching the word
_CJK_GRAM = re.compile(r"^[\u3400-\u9fff]{2}$")
_LATIN_PIECES = re.compile(r"[0-9a-z]+")  # the letter-and-digit pieces of a Latin term
# A Latin word is partially matched (by shared bigrams) only by a text that
# has at least this share of it as one piece (and five characters at least).
LATIN_PIECE = 0.6


def _intersect_all(arrays: list[np.ndarray], n: int) -> np.ndarray:
    arrays = sorted(arrays, key=len)
    out = arrays[0]
    for a in arrays[1:]:
        if not len(out):
            break
        out = out[_mask(a, n)[out]]
    return out


def _fuzzy_latin(c: WordClause) -> bool:
    """A long Latin word (not a number) gets partial credit by shared bigrams."""
    return len(c.grams) >= 3 and c.word.isascii() and any(ch.isalpha() for ch in c.word)


# Document ids are dense (0 .. n_all), so sets and per-document sums are
# boolean masks and bincounts over the whole index: much faster than
# sorting-based np.unique / np.isin on the large posting lists of common words.
def _mask(ids: np.ndarray, n: int) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    m[ids] = True
    return m


def _union_ids(arrays, n: int) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    for a in arrays:
        m[a] = True
    return np.flatnonzero(m)


def _align(ids: np.ndarray, values: np.ndarray, docs: np.ndarray, n: int) -> np.ndarray:
    """values (given for ids) at docs, 0 where a doc is not among ids."""
    if len(ids) > 4096:
        dense = np.zeros(n)
        dense[ids] = values
        return dense[docs]
    out = np.zeros(len(docs))
    if len(ids):
        pos = np.minimum(np.searchsorted(ids, docs), len(ids) - 1)
        hit = ids[pos] == docs
        out[hit] = values[pos[hit]]
    return out


def _sum_by_doc(ids: np.ndarray, n: int, *weights):
    """(distinct docs, occurrences per doc, [sum of each weight per doc])."""
    counts = np.bincount(ids, minlength=n)
    docs = np.flatnonzero(counts)
    return docs, counts[docs], [np.bincount(ids, weights=w, minlength=n)[docs] for w in weights]


class Executor:
    def __init__(self, view: IndexView, deadline: float | None = None):
        self.view = view
        self.deadline = deadline

    def _check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise QueryTimeout("the query took too long")

    # ---- term level -------------------------------------------------------
    def _gram_docs(self, field: str, grams: list[tuple[str, int]]):
        """Docs containing all grams (no position check) and their min tf."""
        v = self.view
        if len(grams) == 1 and len(grams[0][0]) == 1:
            # A single character: the character field (body_g -> body_c).
            ids, tfs = v.postings(field[:-2] + "_c", grams[0][0])
            return ids, tfs.astype(np.float64)
        lists = [v.postings(field, g) for g, _ in dict.fromkeys(grams)]
        if any(not len(ids) for ids, _ in lists):
            return _EMPTY
        docs = _intersect_all([ids for ids, _ in lists], self.view.n_all)
        tf = None
        for ids, tfs in lists:
            t = _align(ids, tfs, docs, v.n_all)
            tf = t if tf is None else np.minimum(tf, t)
        return docs, tf

    def _occurrence_keys(self, field: str, grams: list[tuple[str, int]], docs: np.ndarray) -> np.ndarray:
        """Every occurrence of the gram sequence in ``docs`` (which must
        contain all the grams) as ``doc * _POS_STRIDE + start + _POS_PAD``.
        Vectorised: each (doc, start) pair becomes one integer key and the
        grams' key sets are intersected."""
        keys = None
        for g, offset in sorted(grams, key=lambda go: go[1]):
            d, p = self.view.positions(field, g, docs)
            k = d * _POS_STRIDE + (p - offset + _POS_PAD)
            keys = np.unique(k) if keys is None else np.intersect1d(keys, k)
            if not len(keys):
                break
        return keys

    def _verify_positions(self, field: str, grams: list[tuple[str, int]], docs: np.ndarray):
        """Keep docs where every gram occurs at its offset from a common start;
        returns (docs, number of occurrences)."""
        if len(grams) <= 1 or not len(docs):
            return docs, np.ones(len(docs))
        keys = self._occurrence_keys(field, grams, docs)
        found, counts = np.unique(keys // _POS_STRIDE, return_counts=True)
        return found, counts.astype(np.float64)

    def _phrase_keys(self, field: str, grams, docs: np.ndarray) -> np.ndarray | None:
        """Occurrence keys of a phrase in ``docs`` (None when a piece is a
        single character, which has no positions: check the text then)."""
        if not grams or any(len(g) < 2 for g, _ in grams):
            return None
        present, _ = self._gram_docs(field, grams)
        docs = docs[_mask(present, self.view.n_all)[docs]]
        return self._occurrence_keys(field, grams, docs) if len(docs) else np.empty(0, np.int64)

    def _substring_docs(self, field: str, grams: list[tuple[str, int]], text: str):
        """Docs whose ``field`` contains ``text`` (grams at their offsets,
        punctuation and spacing ignored); (docs, occurrences)."""
        if len(grams) == 1:
            return self._gram_docs(field, grams)
        multi = [(g, o) for g, o in grams if len(g) > 1]
        if len(multi) == len(grams):
            docs, _ = self._gram_docs(field, grams)
            return self._verify_positions(field, grams, docs)
        # A one-character run inside the phrase ("细味：「这") may continue
        # into a longer run in the document, so it is not a term there: find
        # candidates with the other grams, then check the stored text.
        if multi:
            docs, _ = self._gram_docs(field, multi)
            docs, _ = self._verify_positions(field, multi, docs)
        else:
            docs, _ = self._gram_docs(field, [grams[0]])
        return self._verify_text(field.split("_")[0], text, docs)

    def _substring_docs_excluding(self, field, grams, text, exclude: np.ndarray):
        multi = [(g, o) for g, o in grams if len(g) > 1]
        if len(multi) == len(grams):
            docs, _ = self._gram_docs(field, grams)
            docs = docs[~_mask(exclude, self.view.n_all)[docs]]
            return self._verify_positions(field, grams, docs)
        if not multi:
            # Only one-character pieces ("1.8"): the word itself already
            # matched where it is a word; checking every document containing
            # "1" against its stored text would take seconds.
            return _EMPTY
        docs, tf = self._substring_docs(field, grams, text)
        keep = ~_mask(exclude, self.view.n_all)[docs]
        return docs[keep], tf[keep]

    def _verify_text(self, stored_field: str, text: str, docs: np.ndarray):
        if len(docs) > MAX_TEXT_CHECKS:
            # Too many candidates to read: keep them all (over-matching a
            # rare kind of phrase beats answering in seconds).
            return docs, np.ones(len(docs))
        needle = squeeze(normalize_query(text))
        keep, counts = [], []
        for i, g in enumerate(docs.tolist()):
            if not i % 256:
                self._check_time()
            hay = squeeze(normalize_query(self.view.stored(g).get(stored_field) or ""))
            c = hay.count(needle)
            if c:
                keep.append(i)
                counts.append(c)
        return docs[keep], np.asarray(counts, dtype=np.float64)

    def _score(self, df_docs: np.ndarray, tf_by_field: dict[str, tuple[np.ndarray, np.ndarray]]):
        v = self.view
        docs = df_docs
        tf_aligned, len_aligned = {}, {}
        for f, (ids, tf) in tf_by_field.items():
            tf_aligned[f] = _align(ids, tf, docs, v.n_all)
            len_aligned[f] = v.lengths[f][docs]
        live_df = int(v.live[docs].sum())
        return ranking.bm25f(ranking.idf(live_df, max(v.n_live, 1)), tf_aligned, len_aligned, v.avglen)

    def word(self, c: WordClause):
        if c.whole:
            return self.whole_word(c)
        per_field = {}
        all_docs = []
        for f in c.fields:
            w_ids, w_tf = self.view.postings(f + "_w", c.word)
            if not c.grams or (c.word.isascii() and c.word.isalnum()):
                # Latin and digit runs are indexed under their parts too
                # (analysis.latin_parts), so the word field already has every
                # occurrence; the bigram check for "2002" read every
                # "20"/"00"/"02" position.  A term with symbols (www.cctv.com
                # inside www.cctv.com/news) is checked through its grams.
                sub_docs, sub_tf = _EMPTY
            elif len(c.grams) == 1:
                g_docs, g_tf = self._gram_docs(f + "_g", c.grams)
                extra = ~_mask(w_ids, self.view.n_all)[g_docs]
                sub_docs, sub_tf = g_docs[extra], g_tf[extra]
            else:
                # Only documents without the word itself need the (costlier)
                # substring check; for a Latin term with symbols, only those
                # having each of its pieces as a word (baidu, com for baidu.com).
                exclude = w_ids
                if c.word.isascii():
                    pieces = _LATIN_PIECES.findall(c.word)
                    have = _intersect_all([self.view.postings(f + "_w", p)[0] for p in pieces], self.view.n_all) \
                        if pieces else np.empty(0, np.int64)
                    outside = ~_mask(have, self.view.n_all)
                    outside[w_ids] = True
                    exclude = np.flatnonzero(outside)
                sub_docs, sub_tf = self._substring_docs_excluding(f + "_g", c.grams, c.word, exclude)
            docs = np.concatenate([w_ids, sub_docs])
            tfs = np.concatenate([w_tf.astype(np.float64), sub_tf * ranking.SUBSTRING_DISCOUNT])
            order = np.argsort(docs, kind="stable")
            per_field[f] = (docs[order], tfs[order])
            all_docs.append(docs)
        if not all_docs:
            return _EMPTY
        docs = _union_ids(all_docs, self.view.n_all)
        if not len(docs):
            return _EMPTY
        return docs, self._score(docs, per_field)

    def partial(self, c: WordClause, full_docs: np.ndarray):
        """Documents without the word but with some of its parts:
        (docs, scores, strength = share of parts present)."""
        if not c.parts and _fuzzy_latin(c):
            # A long Latin run (terraexplorer6): credit by shared bigrams.
            grams = [g for g, _ in c.grams if len(g) == 2]
            docs, score, count = self._gram_scores(grams, c.fields)
            strength = np.minimum(count / max(len(grams), 1), PARTIAL_MAX)
            keep = (strength >= 0.5) & ~_mask(full_docs, self.view.n_all)[docs]
            keep[keep] = self._has_chunk(c.word, docs[keep])  # never "structure" for trump
            return docs[keep], PART_CREDIT * score[keep] / max(len(grams), 1), strength[keep]
        if not c.parts:
            return _EMPTY + (np.empty(0),)
        results = []
        for part in c.parts:
            grams = [(part, 0)] if len(part) == 1 else []
            results.append(self.word(WordClause(part, grams, c.fields)))
        results = [r for r in results if len(r[0])]
        if not results:
            return _EMPTY + (np.empty(0),)
        ids = np.concatenate([r[0] for r in results])
        sc = np.concatenate([r[1] for r in results])
        docs, count, (score,) = _sum_by_doc(ids, self.view.n_all, sc)
        keep = ~_mask(full_docs, self.view.n_all)[docs]
        # Even all the parts are not the word (人民 + 共和国 apart is not 人民共和国).
        strength = np.minimum(count[keep] / len(c.parts), PARTIAL_MAX)
        return docs[keep], PART_CREDIT * score[keep] / len(c.parts), strength

    def phrase(self, c: PhraseClause):
        if not c.grams:
            return _EMPTY
        per_field = {}
        all_docs = []
        for f in c.fields:
            docs, tf = self._substring_docs(f + "_g", c.grams, c.text)
            per_field[f] = (docs, tf)
            all_docs.append(docs)
        docs = _union_ids(all_docs, self.view.n_all)
        if not len(docs):
            return _EMPTY
        return docs, self._score(docs, per_field) * (1.0 + 0.1 * len(c.grams))

    def mentions(self, c: MentionsClause):
        """Documents where the term occurs at least ``min_count`` times
        (title and body together), counted from its character positions."""
        t = c.term
        if not t.grams:
            return _EMPTY
        per_field = {f: self._substring_docs(f + "_g", t.grams, t.text) for f in t.fields}
        docs = _union_ids([d for d, _ in per_field.values()], self.view.n_all)
        if not len(docs):
            return _EMPTY
        count = sum(_align(d, tf, docs, self.view.n_all) for d, tf in per_field.values())
        keep = count >= c.min_count
        docs = docs[keep]
        if not len(docs):
            return _EMPTY
        return docs, self._score(docs, per_field)

    def lead(self, c: LeadClause):
        """The inner clause's matches whose term starts in the first
        paragraph, judged from its body positions and the recorded lead end."""
        docs, scores = self.clause(c.inner)
        if not len(docs):
            return docs, scores
        keys = self._phrase_keys("body_g", c.inner.grams, docs)
        lead_end = self.view.lead_end(docs)
        if keys is None or (lead_end < 0).any():
            needles = [squeeze(normalize_query(n)) for n in c.needles_]
            keep = self._text_filter(docs, lambda st: _in_lead(st, needles))
            return docs[keep], scores[keep]
        kd = keys // _POS_STRIDE
        starts = keys % _POS_STRIDE - _POS_PAD
        ends = lead_end[np.searchsorted(docs, kd)]
        keep = _mask(kd[starts < ends], self.view.n_all)[docs]
        return docs[keep], scores[keep]

    # ---- occurrences, proximity, whole words -------------------------------------------
    def _occurrences(self, field: str, term: PhraseClause, docs: np.ndarray):
        """Every occurrence of ``term`` in ``field`` ("title" or "body") of
        ``docs`` (sorted) as (doc, start, end) arrays, in character
        positions of the normalised text (those of the gram postings and the
        recorded boundaries), sorted by doc."""
        grams = term.grams
        if grams and all(len(g) == 2 for g, _ in grams):
            present, _ = self._gram_docs(field + "_g", grams)
            docs = docs[_mask(present, self.view.n_all)[docs]]
            if not len(docs):
                return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
            keys = np.unique(self._occurrence_keys(field + "_g", grams, docs))
            last_gram, last_offset = max(grams, key=lambda go: go[1])
            starts = keys % _POS_STRIDE - _POS_PAD
            return keys // _POS_STRIDE, starts, starts + last_offset + len(last_gram)
        return self._text_occurrences(field, term.text, docs)

    def _text_occurrences(self, field: str, text: str, docs: np.ndarray):
        """``_occurrences`` read from the stored text (a term with a
        one-character run has no positions): at most MAX_TEXT_CHECKS docs."""
        if len(docs) > MAX_TEXT_CHECKS:
            raise UnsupportedQuery(f"a one-character term in a proximity operator matches too many articles "
                                   f"({len(docs)}); quote a longer phrase")
        needle = squeeze(normalize_query(text))
        out_d, out_s, out_e = [], [], []
        for i, g in enumerate(docs.tolist()):
            if not i % 256:
                self._check_time()
            norm = normalize(self.view.stored(g).get(field) or "").text
            index = [j for s, e in runs(norm) for j in range(s, e)]
            hay = "".join(norm[i] for i in index)
            at = hay.find(needle)
            while at >= 0 and needle:
                out_d.append(g)
                out_s.append(index[at])
                out_e.append(index[at + len(needle) - 1] + 1)
                at = hay.find(needle, at + 1)
        return (np.asarray(out_d, np.int64), np.asarray(out_s, np.int64), np.asarray(out_e, np.int64))

    def near(self, c: NearClause):
        """A left and a right term close together in the title or in the
        body: within ``c.distance`` words (word ordinals from the recorded
        boundaries), or in one sentence / paragraph (recorded ends)."""
        left = _union([self.phrase(t) for t in c.left], self.view.n_all)
        right = _union([self.phrase(t) for t in c.right], self.view.n_all)
        if not len(left[0]) or not len(right[0]):
            return _EMPTY
        docs = _intersect_all([left[0], right[0]], self.view.n_all)
        if not len(docs):
            return _EMPTY
        found = []
        for field in ("title", "body"):
            lo = [self._occurrences(field, t, docs) for t in c.left]
            ro = [self._occurrences(field, t, docs) for t in c.right]
            ld, ls, le = (np.concatenate(x) for x in zip(*lo))
            rd, rs, re_ = (np.concatenate(x) for x in zip(*ro))
            if not len(ld) or not len(rd):
                continue
            lorder, rorder = np.argsort(ld, kind="stable"), np.argsort(rd, kind="stable")
            ld, ls, le = ld[lorder], ls[lorder], le[lorder]
            rd, rs, re_ = rd[rorder], rs[rorder], re_[rorder]
            if c.unit == "word":
                found.append(self._within_words(field, c, (ld, ls, le), (rd, rs, re_)))
            elif field == "title":
                # The title is one sentence and one paragraph of its own.
                found.append(np.intersect1d(ld, rd))
            else:
                found.append(self._same_unit(c.unit, docs, (ld, ls), (rd, rs)))
        keep = _mask(np.concatenate(found) if found else np.empty(0, np.int64), self.view.n_all)[docs]
        docs = docs[keep]
        score = _align(left[0], left[1], docs, self.view.n_all) + _align(right[0], right[1], docs, self.view.n_all)
        return docs, score

    def _within_words(self, field: str, c: NearClause, left, right) -> np.ndarray:
        """Docs with a left and a right occurrence at most ``c.distance``
        words apart (``c.ordered``: right after left).  Occurrences are word
        ranges [first word, last word]; overlapping ranges are 0 apart."""
        ords = self.view.word_ordinals
        (ld, ls, le), (rd, rs, re_) = left, right
        a0, a1 = ords(field, ld, ls), ords(field, ld, le - 1)
        b0, b1 = ords(field, rd, rs), ords(field, rd, re_ - 1)
        if a0 is None or b0 is None:
            raise UnsupportedQuery("this index has no word boundaries: run python -m indexer rebuild")
        big = np.int64(1) << 32
        n = c.distance
        starts = np.sort(rd * big + b0)
        if c.ordered:
            hi = np.searchsorted(starts, ld * big + a1 + n, side="right")
            lo = np.searchsorted(starts, ld * big + a1, side="right")
            hit = hi > lo
        else:
            ends = np.sort(rd * big + b1)
            first_start = np.searchsorted(starts, ld * big, side="left")
            first_end = np.searchsorted(ends, ld * big, side="left")
            begun = np.searchsorted(starts, ld * big + a1 + n, side="right") - first_start
            over = np.searchsorted(ends, ld * big + a0 - n, side="left") - first_end
            hit = begun > over
        return np.unique(ld[hit])

    def _same_unit(self, unit: str, docs: np.ndarray, left, right) -> np.ndarray:
        """Body docs with a left and a right occurrence starting in one
        sentence (``unit`` "sentence") or paragraph."""
        bounds = self.view.sentence_ends(docs) if unit == "sentence" else self.view.paragraph_ends(docs)
        if bounds is None:
            raise UnsupportedQuery("this index has no sentence ends: run python -m indexer rebuild")
        bd, be = bounds
        bkeys = bd * _POS_STRIDE + be + _POS_PAD  # sorted: docs ascending, ends ascending
        (ld, ls), (rd, rs) = left, right
        lk = np.searchsorted(bkeys, ld * _POS_STRIDE + ls + _POS_PAD)
        rk = np.searchsorted(bkeys, rd * _POS_STRIDE + rs + _POS_PAD)
        shared = np.intersect1d(lk, rk)
        shared = shared[shared < len(bd)]
        return np.unique(bd[shared])

    def _has_chunk(self, word: str, docs: np.ndarray) -> np.ndarray:
        """For each of ``docs``: does its title or body contain a piece of
        the Latin ``word`` of at least LATIN_PIECE of its length (and five
        characters), as one run of text?  (dribbble for dribble, followme
        for follow; never truth for trump.)"""
        n = len(word)
        size = min(n, max(5, math.ceil(LATIN_PIECE * n)))
        found = np.zeros(self.view.n_all, bool)
        for start in range(n - size + 1):
            piece = word[start:start + size]
            grams = [(piece[i:i + 2], i) for i in range(size - 1)]
            for f in ("title", "body"):
                todo = docs[~found[docs]]
                if not len(todo):
                    return found[docs]
                d, _ = self._substring_docs(f + "_g", grams, piece)
                found[np.intersect1d(d, todo)] = True
        return found[docs]

    def whole_word(self, c: WordClause):
        """Documents where ``c.word`` occurs as a whole word (its start a
        word start, its end a token boundary), counted per field."""
        term = PhraseClause(c.word, c.grams, c.fields)
        per_field, all_docs = {}, []
        for f in c.fields:
            present, _ = self._substring_docs(f + "_g", c.grams, c.word)
            d, s, e = self._occurrences(f, term, present)
            whole = self.view.whole_words(f, d, s, e)
            if whole is None:
                raise UnsupportedQuery("this index has no word boundaries: run python -m indexer rebuild")
            docs, counts = np.unique(d[whole], return_counts=True)
            per_field[f] = (docs, counts.astype(np.float64))
            all_docs.append(docs)
        docs = _union_ids(all_docs, self.view.n_all)
        if not len(docs):
            return _EMPTY
        return docs, self._score(docs, per_field)

    def _text_filter(self, docs: np.ndarray, predicate) -> np.ndarray:
        """Boolean mask: ``predicate(stored fields)`` for each live candidate."""
        live = self.view.live

        def each(i, g):
            if not i % 256:
                self._check_time()
            return bool(live[g]) and predicate(self.view.stored(g))

        return np.fromiter((each(i, g) for i, g in enumerate(docs.tolist())), bool, len(docs))

    def _docs_with_keys(self, field: str, key_numbers) -> np.ndarray:
        """Mask of the documents whose ``field`` value (for tags: any of
        them) has one of the given folded key numbers."""
        v = self.view
        ords = v.facet_keys(field).ords_of(key_numbers)
        if field == "tag":
            m = np.zeros(v.n_all, bool)
            m[v.tag_docs[np.isin(v.tag_ords, ords)]] = True
            return m
        return np.isin(v.facet_ords[field], ords)

    def value(self, c: ValueClause):
        """``author:林`` and the like: documents whose value's folded key
        contains the typed text's (``search.values.contains``)."""
        want = value_key(c.value)
        keys = self.view.facet_keys(c.field)
        matching = [k for k, key in enumerate(keys.keys) if want and want in key]
        if not matching:
            return _EMPTY
        docs = np.flatnonzero(self._docs_with_keys(c.field, matching))
        return docs, np.zeros(len(docs))

    def clause(self, c):
        self._check_time()
        if isinstance(c, WordClause):
            return self.word(c)
        if isinstance(c, PhraseClause):
            return self.phrase(c)
        if isinstance(c, ValueClause):
            return self.value(c)
        if isinstance(c, AnyClause):
            parts = [self.clause(o) for o in c.options]
            return _union(parts, self.view.n_all)
        if isinstance(c, LeadClause):
            return self.lead(c)
        if isinstance(c, MentionsClause):
            return self.mentions(c)
        if isinstance(c, NearClause):
            return self.near(c)
        if isinstance(c, AllClause):
            parts = [self.clause(o) for o in c.children]
            if not parts or any(not len(p[0]) for p in parts):
                return _EMPTY
            docs = _intersect_all([p[0] for p in parts], self.view.n_all)
            score = sum(p[1][np.searchsorted(p[0], docs)] for p in parts)
            for ex in c.exclude:
                bad, _ = self.clause(ex)
                if len(bad) and len(docs):
                    keep = ~_mask(bad, self.view.n_all)[docs]
                    docs, score = docs[keep], score[keep]
            return docs, score
        raise TypeError(f"unknown clause {c!r}")

    # ---- whole query --------------------------------------------------------
    def filter_mask(self, plan: Plan) -> np.ndarray:
        v = self.view
        mask = v.live.copy()
        for fname, values in plan.filters.items():
            if not values:
                continue
            # Values are compared by their folded keys: 众闻 selects 眾聞.
            number = v.facet_keys(fname).number
            wanted = {number[k] for k in map(value_key, values) if k in number}
            mask &= self._docs_with_keys(fname, sorted(wanted))
        if plan.date_from is not None:
            mask &= v.published >= int(plan.date_from.timestamp())
        if plan.date_to is not None:
            mask &= (v.published < int(plan.date_to.timestamp())) & (v.published != ranking.NO_DATE)
        if plan.exclude_docs:
            mask[np.asarray(plan.exclude_docs, dtype=np.int64)] = False
        return mask

    def run(self, plan: Plan) -> BackendResult:
        v = self.view
        self.deadline = plan.deadline
        mask = self.filter_mask(plan)
        relaxed = False
        full_parts = None
        if plan.must:
            docs, tier, scores, relaxed, full_parts = self._match(plan, mask)
        else:
            docs = np.flatnonzero(mask)
            tier = np.full(len(docs), 2, np.int64)
            scores = np.zeros(len(docs))
        matched = tier
        if plan.must_not and len(docs):
            for c in plan.must_not:
                bad, _ = self.clause(c)
                if len(bad):
                    keep = ~_mask(bad, v.n_all)[docs]
                    docs, matched, scores = docs[keep], matched[keep], scores[keep]
        total = len(docs)
        facets = self.facets(docs, plan.facets, plan.facet_size)
        shown, shown_matched, shown_scores = docs, matched, scores
        if plan.group:
            keys = v.group_rep[docs]
            shown, shown_matched, shown_scores = self._collapse(docs, keys, matched, scores)
        order = self._order(plan, shown, shown_matched, shown_scores)
        page = order[plan.offset : plan.offset + plan.limit]
        self._check_time()
        hits = [BackendHit(int(shown[i]), float(shown_scores[i]), v.stored(int(shown[i]))) for i in page.tolist()]
        if full_parts is not None and relaxed:
            for h, i in zip(hits, page.tolist()):
                if shown_matched[i] != 2:
                    h.missing = [k for k, ids in enumerate(full_parts) if not _contains(ids, h.key)]
        result = BackendResult(len(shown), hits, facets, relaxed, total_full=int((shown_matched == 2).sum()))
        if plan.group:
            result.total_articles = total
            self._attach_similar(hits, docs, keys, plan.similar_limit)
        if plan.histogram:
            pub = v.published[docs]
            dated = pub[timeline.plausible(pub)]  # NO_DATE (and an old index's implausible dates) left out
            interval = timeline.choose_interval(int(dated.min()) if len(dated) else None,
                                                int(dated.max()) if len(dated) else None, plan.histogram)
            result.histogram = timeline.histogram(dated, interval)
            result.histogram_interval = interval
            result.undated = int(len(pub) - len(dated))
        return result

    def _collapse(self, docs, keys, matched, scores):
        """One entry per near-duplicate group among ``docs`` (``keys``: each
        one's representative): its earliest matching article, with the best
        tier and score of any member."""
        v = self.view
        if not v.grouped or not (keys != docs).any():
            return docs, matched, scores  # no member of any group matched
        pub = v.published[docs]
        order = np.lexsort((docs, pub, pub == ranking.NO_DATE, keys))
        k_sorted = keys[order]
        starts = np.flatnonzero(np.r_[True, k_sorted[1:] != k_sorted[:-1]])
        first = order[starts]  # earliest member of each group
        best_score = np.maximum.reduceat(scores[order], starts)
        best_tier = np.maximum.reduceat(matched[order], starts)
        back = np.argsort(docs[first], kind="stable")  # keep docs sorted
        return docs[first][back], best_tier[back], best_score[back]

    def _attach_similar(self, hits, docs, keys, limit: int) -> None:
        v = self.view
        if not v.grouped or not hits:
            return
        for h in hits:
            same = docs[(keys == v.group_rep[h.key]) & (docs != h.key)]
            if not len(same):
                continue
            same = same[np.argsort(v.published[same], kind="stable")]
            h.similar_count = len(same)
            h.similar = [(int(d), v.stored(int(d))) for d in same[:limit].tolist()]

    def _gram_scores(self, grams, fields=("title", "body")):
        """BM25F of each query bigram, summed: (docs, score, grams matched)."""
        v = self.view
        parts = []
        for g in grams:
            per_field = {f: v.postings(f + "_g", g) for f in fields}
            ids = [p[0] for p in per_field.values() if len(p[0])]
            if not ids:
                continue
            docs = _union_ids(ids, self.view.n_all)
            parts.append((docs, self._score(docs, {f: (p[0], p[1].astype(np.float64))
                                                   for f, p in per_field.items()})))
        if not parts:
            return np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64)
        ids = np.concatenate([p[0] for p in parts])
        sc = np.concatenate([p[1] for p in parts])
        docs, count, (score,) = _sum_by_doc(ids, self.view.n_all, sc)
        return docs, score, count

    def _match(self, plan: Plan, mask: np.ndarray):
        """Combine the must clauses into (docs, tier, score, relaxed, full
        matches per clause).

        Tier 2: every clause matches.  Only a query of plain words is ever
        relaxed (``plan.relax_below`` > 0, and only its soft clauses:
        ``plan.is_soft``): when fewer than ``relax_below`` live documents
        are in tier 2, tier 1 admits documents that match every hard clause
        and a soft clause of two or more characters, or two one-character
        words that the document has as words of their own
        (``plan.anchors``), scored by the share of the query's rarity (idf)
        they cover; and if that is still too few, tier 0 admits documents
        having 40 % of the query's character bigrams, and a
        Chinese one among them or two at least (a typo, a Latin run written
        without spaces; never G20 through "20").  The decision is taken
        before filters, so that a filter never changes which documents
        count as matches (facet counts then equal the filtered totals
        exactly)."""
        v = self.view
        n_live = max(v.n_live, 1)
        parts = [self.clause(c) for c in plan.must]
        full_parts = [p[0] for p in parts]
        n = len(parts)
        relaxable = plan.relax_below > 0
        soft = np.array([relaxable and is_soft(c) for c in plan.must], dtype=bool)
        anchor = soft & np.array([anchors(c) for c in plan.must], dtype=bool)
        weights = np.array([
            ranking.idf(int(v.live[p[0]].sum()), n_live) if len(p[0]) else ranking.idf(0, n_live)
            for p in parts
        ])
        soft_weight = float(weights[soft].sum()) or 1.0
        # Partial matches of long words (some of their parts): strength < 1.
        # Only needed when partial matches will be admitted at all.
        strengths = [np.ones(len(p[0])) for p in parts]
        few_full = relaxable and soft.any() and n >= 2 and (
            any(not len(a) for a in full_parts)
            or int(v.live[_intersect_all(full_parts, v.n_all)].sum()) < plan.relax_below)
        for i, c in enumerate(plan.must):
            if not few_full:
                break
            if soft[i] and isinstance(c, WordClause) and (c.parts or _fuzzy_latin(c)):
                pd, ps, pst = self.partial(c, parts[i][0])
                if len(pd):
                    parts[i] = (np.concatenate([parts[i][0], pd]), np.concatenate([parts[i][1], ps]))
                    strengths[i] = np.concatenate([strengths[i], pst])
        lens = [len(p[0]) for p in parts]
        clause_of = np.repeat(np.arange(n), lens)
        all_ids = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
        all_scores = np.concatenate([p[1] for p in parts]) if parts else np.empty(0)
        strength = np.concatenate(strengths) if parts else np.empty(0)
        whole = strength >= 1.0
        # What a partial match needs: a word of two or more characters
        # (weight 2), or two one-character words the article has as words
        # of their own (weight 1 each; never 欧 of 欧洲 alone for 欧巴马).
        anchored = [np.full(len(p[0]), 2.0 if anchor[i] else 0.0) for i, p in enumerate(parts)]
        for i, c in enumerate(plan.must):
            ch = lone_character(c) if few_full and soft[i] else None
            if ch is not None:
                as_word = _union_ids([v.postings(f + "_w", ch)[0] for f in c.fields], v.n_all)
                anchored[i] = _mask(as_word, v.n_all)[parts[i][0]].astype(np.float64)
        anchored = np.concatenate(anchored) if parts else np.empty(0)
        docs, _, (scores, n_matched, n_hard, n_anchor, covered) = _sum_by_doc(
            all_ids, v.n_all, all_scores,
            whole.astype(np.float64),
            (whole & ~soft[clause_of]).astype(np.float64),
            np.where(strength > 0, anchored, 0.0),
            np.where(soft[clause_of], weights[clause_of] * strength, 0.0))
        full = n_matched >= n
        live = v.live[docs]
        relaxed = False
        if few_full and int((full & live).sum()) < plan.relax_below:
            sel = full | ((n_hard >= int((~soft).sum())) & (n_anchor >= 2)
                          & (covered >= RELAX_MIN_COVERAGE * soft_weight))
            relaxed = bool((sel & ~full & live).any())
        else:
            sel = full
        docs, scores, full, covered = docs[sel], scores[sel], full[sel], covered[sel]
        tier = np.where(full, 2, 1)
        scores = np.where(full, scores, scores * (covered / soft_weight) ** COVERAGE_POWER)
        grams = plan.proximity_grams
        # Bigrams only add information across word boundaries (several
        # words), or as the fallback when the words found too little.
        fallback = relaxable and not (~soft).any() and int(v.live[docs].sum()) < plan.relax_below
        if grams and (n >= 2 or fallback):
            g_docs, g_scores, g_count = self._gram_scores(grams)
            if len(docs) and len(g_docs):
                pos = np.searchsorted(g_docs, docs)
                pos = np.minimum(pos, len(g_docs) - 1)
                found = g_docs[pos] == docs
                bonus = np.where(found, g_scores[pos], 0.0)
                scores = scores + np.where(tier == 2, PROXIMITY_WEIGHT, PARTIAL_GRAM_WEIGHT) * bonus
            if fallback and len(grams) >= 2 and len(g_docs):
                # 40 % of the bigrams, and a Chinese one or two of them: "20"
                # alone is no match for G20.
                need = math.ceil(len(grams) * FALLBACK_MIN_GRAMS)
                enough = g_count >= need
                if need < 2:
                    cjk = [g for g in grams if _CJK_GRAM.match(g)]
                    c_docs = self._gram_scores(cjk)[0] if cjk else np.empty(0, np.int64)
                    enough &= (g_count >= 2) | _mask(c_docs, v.n_all)[g_docs]
                extra = enough & ~_mask(docs, v.n_all)[g_docs]
                if extra.any():
                    relaxed = True
                    docs = np.concatenate([docs, g_docs[extra]])
                    tier = np.concatenate([tier, np.zeros(int(extra.sum()), np.int64)])
                    scores = np.concatenate([scores, FALLBACK_WEIGHT * g_scores[extra]])
                    order = np.argsort(docs, kind="stable")
                    docs, tier, scores = docs[order], tier[order], scores[order]
        keep = mask[docs]
        return docs[keep], tier[keep], scores[keep], relaxed, full_parts

    def _order(self, plan: Plan, docs, matched, scores) -> np.ndarray:
        v = self.view
        if not len(docs):
            return np.empty(0, np.int64)
        pub = v.published[docs]
        if plan.sort == "newest":
            # Undated articles last; ties by relevance.
            return np.lexsort((-scores, pub == ranking.NO_DATE, -pub))[: plan.offset + plan.limit]
        if plan.sort == "oldest":
            return np.lexsort((-scores, pub, pub == ranking.NO_DATE))[: plan.offset + plan.limit]
        now = plan.now if plan.now is not None else time.time()
        final = scores * ranking.recency_factor(pub, now)
        scores[:] = final
        k = plan.offset + plan.limit
        if k <= 0:
            return np.empty(0, np.int64)
        if len(docs) > 4 * k + 64:
            # Partial selection first: the best k by (matched, score), and
            # every document tied with the k-th, so that the order (ties by
            # doc id) is the same whatever page is asked for.
            key = matched * 1e9 + final
            kth = np.partition(key, len(key) - k)[len(key) - k]
            top = np.flatnonzero(key >= kth)
            return top[np.lexsort((docs[top], -final[top], -matched[top]))][:k]
        return np.lexsort((docs, -final, -matched))[:k]

    def facets(self, docs: np.ndarray, names, size: int) -> dict[str, list[tuple[str, int]]]:
        """Per facet field, the ``size`` most frequent values among ``docs``
        as (shown form, articles): values with the same folded key
        (``search.values``) are one bucket counting each article once, shown
        in the form most of its articles use; ties in count go to the
        smaller key, as OpenSearch orders terms."""
        v = self.view
        out = {}
        for name in names:
            fk = v.facet_keys(name)
            n_keys = len(fk.keys)
            if name == "tag":
                m = np.zeros(v.n_all, bool)
                m[docs] = True
                pair_ords = v.tag_ords[m[v.tag_docs]]
                form_counts = np.bincount(pair_ords, minlength=len(v.facet_vocab["tag"]))
                counts = np.bincount(fk.key_of[pair_ords], minlength=n_keys)
                # An article with two tags of one key counts once.
                dup_docs, dup_keys, extra = v.tag_key_duplicates()
                hit = m[dup_docs]
                counts -= np.bincount(dup_keys[hit], weights=extra[hit], minlength=n_keys).astype(counts.dtype)
            else:
                ords = v.facet_ords[name][docs]
                ords = ords[ords >= 0]
                form_counts = np.bincount(ords, minlength=len(v.facet_vocab[name]))
                counts = np.bincount(fk.key_of[ords], minlength=n_keys)
            nz = np.flatnonzero(counts)
            if not len(nz):
                out[name] = []
                continue
            top = nz[np.lexsort((fk.rank[nz], -counts[nz]))][:size]
            vocab = v.facet_vocab[name]
            out[name] = [(shown_form([(vocab[o], int(form_counts[o])) for o in fk.forms[k] if form_counts[o]]),
                          int(counts[k])) for k in top.tolist()]
        return out


def _in_lead(stored: dict, needles: list[str]) -> bool:
    """Every needle in the first paragraph (normalised like queries)."""
    lead = squeeze(normalize_query((stored.get("body") or "").split("\n", 1)[0]))
    return all(n in lead for n in needles)


def _contains(sorted_ids: np.ndarray, doc: int) -> bool:
    i = int(np.searchsorted(sorted_ids, doc))
    return i < len(sorted_ids) and int(sorted_ids[i]) == doc


def _union(parts, n: int):
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return _EMPTY
    ids = np.concatenate([p[0] for p in parts])
    sc = np.concatenate([p[1] for p in parts])
    docs, _, (score,) = _sum_by_doc(ids, n, sc)
    return docs, score
