"""Matchers: which documents contain a term, where, and how often.

Two layers, both vectorised with numpy over an ``IndexView``:

* set algebra over document ids.  Global doc ids are dense (``0 ..
  view.n_all``), so sets are sorted int64 arrays, intersections and unions
  boolean masks over the whole index, per-document sums ``np.bincount``:
  much faster than sorting-based ``np.unique`` / ``np.isin`` on the long
  posting lists of common words.
* postings and positions: the documents having every gram of a text
  (``gram_docs``), its occurrences as *position keys* (one int64 per (doc,
  start): ``doc * POS_STRIDE + start + POS_PAD``, so that the grams' key
  sets are intersected in one call), phrases at their offsets, occurrences as
  (doc, start, end) character ranges, and the proximity tests over them
  (within N words, within one sentence or paragraph).

Texts with a one-character run have no positions (single characters are
indexed without them): those are confirmed against the stored text
(``textchecks``).  Arrays of doc ids are sorted, given and returned.
"""

from __future__ import annotations

import numpy as np
# numpy.unique (numpy 2) asks numpy.ma whether its input is masked, which
# imports numpy.ma on the first call: 13 ms of the first query of a process
# that reads positions (measured on the full corpora), paid here at import.
import numpy.ma  # noqa: F401

from ...plan import UnsupportedQuery
from . import textchecks
from .collectors import Deadline
from .reader import IndexView

EMPTY = (np.empty(0, np.int64), np.empty(0, np.float64))
POS_STRIDE = 1 << 32  # (doc, start) -> doc * stride + start
POS_PAD = 1 << 16  # starts can be negative by at most the phrase length


# ---- set algebra over doc ids ------------------------------------------------
def mask(ids: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask of length ``n`` (the index's ``n_all``), True at ``ids``."""
    m = np.zeros(n, dtype=bool)
    m[ids] = True
    return m


def union_ids(arrays, n: int) -> np.ndarray:
    """Sorted distinct doc ids of every array of ``arrays`` (each of ids < ``n``)."""
    m = np.zeros(n, dtype=bool)
    for a in arrays:
        m[a] = True
    return np.flatnonzero(m)


def intersect_all(arrays: list[np.ndarray], n: int) -> np.ndarray:
    """Doc ids present in every array (at least one array; each sorted,
    distinct, < ``n``), sorted; the shortest array is filtered by the others."""
    arrays = sorted(arrays, key=len)
    out = arrays[0]
    for a in arrays[1:]:
        if not len(out):
            break
        out = out[mask(a, n)[out]]
    return out


def align(ids: np.ndarray, values: np.ndarray, docs: np.ndarray, n: int) -> np.ndarray:
    """``values`` (given for the sorted ``ids``) at ``docs``, 0.0 where a doc
    is not among ids: float64 array of len(docs).  Above 4,096 ids a dense
    array of ``n`` is cheaper than a binary search per doc."""
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


def sum_by_doc(ids: np.ndarray, n: int, *weights):
    """Group the (unsorted, repeated) ``ids``: (distinct docs sorted,
    occurrences per doc, [sum of each weight array per doc])."""
    counts = np.bincount(ids, minlength=n)
    docs = np.flatnonzero(counts)
    return docs, counts[docs], [np.bincount(ids, weights=w, minlength=n)[docs] for w in weights]


def union_scored(parts, n: int):
    """Union of (docs, scores) pairs: (docs, summed scores); EMPTY when none match."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return EMPTY
    ids = np.concatenate([p[0] for p in parts])
    sc = np.concatenate([p[1] for p in parts])
    docs, _, (score,) = sum_by_doc(ids, n, sc)
    return docs, score


def contains(sorted_ids: np.ndarray, doc: int) -> bool:
    """Is ``doc`` in the sorted array ``sorted_ids``?  (a binary search)"""
    i = int(np.searchsorted(sorted_ids, doc))
    return i < len(sorted_ids) and int(sorted_ids[i]) == doc


# ---- postings and positions --------------------------------------------------
class Matcher:
    """Postings, positions and phrases of one ``IndexView`` for one query.

    ``field`` arguments name an indexed field: ``title_g``/``body_g``
    (character grams with positions), or for occurrences the text field
    ("title", "body").  ``grams``: (gram, offset) pairs of a text.  Raises
    ``QueryTimeout`` (through ``deadline``) while reading stored texts, and
    ``UnsupportedQuery`` when the index lacks the word or sentence
    boundaries a proximity test needs."""

    def __init__(self, view: IndexView, deadline: Deadline):
        self.view = view
        self.deadline = deadline

    def gram_docs(self, field: str, grams: list[tuple[str, int]]):
        """Docs containing all grams (no position check) and their min tf:
        (docs, float64 tf)."""
        v = self.view
        if len(grams) == 1 and len(grams[0][0]) == 1:
            # A single character: the character field (body_g -> body_c).
            ids, tfs = v.postings(field[:-2] + "_c", grams[0][0])
            return ids, tfs.astype(np.float64)
        lists = [v.postings(field, g) for g, _ in dict.fromkeys(grams)]
        if any(not len(ids) for ids, _ in lists):
            return EMPTY
        docs = intersect_all([ids for ids, _ in lists], v.n_all)
        tf = None
        for ids, tfs in lists:
            t = align(ids, tfs, docs, v.n_all)
            tf = t if tf is None else np.minimum(tf, t)
        return docs, tf

    def occurrence_keys(self, field: str, grams: list[tuple[str, int]], docs: np.ndarray) -> np.ndarray:
        """Every occurrence of the gram sequence in ``docs`` (which must
        contain all the grams) as ``doc * POS_STRIDE + start + POS_PAD``
        (sorted int64).  Vectorised: each (doc, start) pair becomes one
        integer key and the grams' key sets are intersected."""
        keys = None
        for g, offset in sorted(grams, key=lambda go: go[1]):
            d, p = self.view.positions(field, g, docs)
            k = d * POS_STRIDE + (p - offset + POS_PAD)
            keys = np.unique(k) if keys is None else np.intersect1d(keys, k)
            if not len(keys):
                break
        return keys

    def verify_positions(self, field: str, grams: list[tuple[str, int]], docs: np.ndarray):
        """Keep docs where every gram occurs at its offset from a common start;
        returns (docs, number of occurrences as float64)."""
        if len(grams) <= 1 or not len(docs):
            return docs, np.ones(len(docs))
        keys = self.occurrence_keys(field, grams, docs)
        found, counts = np.unique(keys // POS_STRIDE, return_counts=True)
        return found, counts.astype(np.float64)

    def phrase_keys(self, field: str, grams, docs: np.ndarray) -> np.ndarray | None:
        """Occurrence keys of a phrase in ``docs`` (None when a piece is a
        single character, which has no positions: check the text then)."""
        if not grams or any(len(g) < 2 for g, _ in grams):
            return None
        present, _ = self.gram_docs(field, grams)
        docs = docs[mask(present, self.view.n_all)[docs]]
        return self.occurrence_keys(field, grams, docs) if len(docs) else np.empty(0, np.int64)

    def substring_docs(self, field: str, grams: list[tuple[str, int]], text: str):
        """Docs whose ``field`` contains ``text`` (grams at their offsets,
        punctuation and spacing ignored); (docs, occurrences)."""
        if len(grams) == 1:
            return self.gram_docs(field, grams)
        multi = [(g, o) for g, o in grams if len(g) > 1]
        if len(multi) == len(grams):
            docs, _ = self.gram_docs(field, grams)
            return self.verify_positions(field, grams, docs)
        # A one-character run inside the phrase ("细味：「这") may continue
        # into a longer run in the document, so it is not a term there: find
        # candidates with the other grams, then check the stored text.
        if multi:
            docs, _ = self.gram_docs(field, multi)
            docs, _ = self.verify_positions(field, multi, docs)
        else:
            docs, _ = self.gram_docs(field, [grams[0]])
        return textchecks.verify_text(self.view, self.deadline, field.split("_")[0], text, docs)

    def substring_docs_excluding(self, field, grams, text, exclude: np.ndarray):
        """``substring_docs`` of the docs not in ``exclude`` (sorted ids)."""
        multi = [(g, o) for g, o in grams if len(g) > 1]
        if len(multi) == len(grams):
            docs, _ = self.gram_docs(field, grams)
            docs = docs[~mask(exclude, self.view.n_all)[docs]]
            return self.verify_positions(field, grams, docs)
        if not multi:
            # Only one-character pieces ("1.8"): the word itself already
            # matched where it is a word; checking every document containing
            # "1" against its stored text would take seconds.
            return EMPTY
        docs, tf = self.substring_docs(field, grams, text)
        keep = ~mask(exclude, self.view.n_all)[docs]
        return docs[keep], tf[keep]

    def occurrences(self, field: str, grams: list[tuple[str, int]], text: str, docs: np.ndarray):
        """Every occurrence of a text (its ``grams``) in ``field`` ("title"
        or "body") of ``docs`` (sorted) as (doc, start, end) int64 arrays,
        in character positions of the normalised text (those of the gram
        postings and the recorded boundaries), sorted by doc."""
        if grams and all(len(g) == 2 for g, _ in grams):
            present, _ = self.gram_docs(field + "_g", grams)
            docs = docs[mask(present, self.view.n_all)[docs]]
            if not len(docs):
                return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
            keys = np.unique(self.occurrence_keys(field + "_g", grams, docs))
            last_gram, last_offset = max(grams, key=lambda go: go[1])
            starts = keys % POS_STRIDE - POS_PAD
            return keys // POS_STRIDE, starts, starts + last_offset + len(last_gram)
        return textchecks.text_occurrences(self.view, self.deadline, field, text, docs)

    def within_words(self, field: str, distance: int, ordered: bool, left, right) -> np.ndarray:
        """Docs with a left and a right occurrence ((doc, start, end)
        arrays sorted by doc) at most ``distance`` words apart (``ordered``:
        right after left).  Occurrences are word ranges [first word, last
        word]; overlapping ranges are 0 apart."""
        ords = self.view.word_ordinals
        (ld, ls, le), (rd, rs, re_) = left, right
        a0, a1 = ords(field, ld, ls), ords(field, ld, le - 1)
        b0, b1 = ords(field, rd, rs), ords(field, rd, re_ - 1)
        if a0 is None or b0 is None:
            raise UnsupportedQuery("this index has no word boundaries: run python -m indexer rebuild")
        big = np.int64(1) << 32
        n = distance
        starts = np.sort(rd * big + b0)
        if ordered:
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

    def same_unit(self, unit: str, docs: np.ndarray, left, right) -> np.ndarray:
        """Body docs with a left and a right occurrence ((doc, start)
        arrays) starting in one sentence (``unit`` "sentence") or paragraph."""
        bounds = self.view.sentence_ends(docs) if unit == "sentence" else self.view.paragraph_ends(docs)
        if bounds is None:
            raise UnsupportedQuery("this index has no sentence ends: run python -m indexer rebuild")
        bd, be = bounds
        bkeys = bd * POS_STRIDE + be + POS_PAD  # sorted: docs ascending, ends ascending
        (ld, ls), (rd, rs) = left, right
        lk = np.searchsorted(bkeys, ld * POS_STRIDE + ls + POS_PAD)
        rk = np.searchsorted(bkeys, rd * POS_STRIDE + rs + POS_PAD)
        shared = np.intersect1d(lk, rk)
        shared = shared[shared < len(bd)]
        return np.unique(bd[shared])

    def docs_with_keys(self, field: str, key_numbers) -> np.ndarray:
        """Mask (length ``n_all``) of the documents whose facet ``field``
        value (for tags: any of them) has one of the given folded key numbers."""
        v = self.view
        ords = v.facet_keys(field).ords_of(key_numbers)
        if field == "tag":
            m = np.zeros(v.n_all, bool)
            m[v.tag_docs[np.isin(v.tag_ords, ords)]] = True
            return m
        return np.isin(v.facet_ords[field], ords)
