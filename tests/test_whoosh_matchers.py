"""The Whoosh backend's matchers (search/backends/whoosh/matchers.py) on
small hand-made postings, against brute force over the texts they index.

``HandMadeView`` indexes a few texts the way the segment writer lays out
the body: every character bigram with its character positions (``body_g``),
every character without positions (``body_c``), and "words" of two
characters each (word ordinals = position // 2).  The texts use a
four-character alphabet, so phrases occur often, overlapping and repeated."""

import random

import numpy as np
import pytest

from search.backends.whoosh import matchers
from search.backends.whoosh.collectors import Deadline
from search.backends.whoosh.matchers import Matcher

ALPHABET = "甲乙丙丁"
WORD = 2  # characters per word of the hand-made view


class HandMadeView:
    """The parts of ``IndexView`` the matchers read, over ``texts`` (one
    document each, the body, no title)."""

    def __init__(self, texts):
        self.texts = texts
        self.n_all = len(texts)
        self.live = np.ones(self.n_all, bool)
        self.grams, self.chars = {}, {}
        for d, t in enumerate(texts):
            for i in range(len(t) - 1):
                self.grams.setdefault(t[i:i + 2], []).append((d, i))
            for ch in t:
                self.chars.setdefault(ch, []).append(d)

    def postings(self, field, term):
        if field == "body_c":
            docs = self.chars.get(term, [])
        else:
            docs = [d for d, _ in self.grams.get(term, [])]
        ids, tfs = np.unique(np.asarray(docs, np.int64), return_counts=True)
        return ids, tfs.astype(np.float32)

    def positions(self, field, term, docs):
        wanted = set(docs.tolist())
        pairs = sorted(p for p in self.grams.get(term, []) if p[0] in wanted)
        d = np.asarray([p[0] for p in pairs], np.int64)
        p = np.asarray([p[1] for p in pairs], np.int64)
        return d, p

    def stored(self, g):
        return {"body": self.texts[g]}

    def word_ordinals(self, field, docs, positions):
        return positions // WORD


def grams_of(text):
    if len(text) == 1:
        return [(text, 0)]
    return [(text[i:i + 2], i) for i in range(len(text) - 1)]


def starts(text, phrase):
    """Every start of ``phrase`` in ``text``, overlapping ones included."""
    return [i for i in range(len(text) - len(phrase) + 1) if text.startswith(phrase, i)]


@pytest.fixture(scope="module")
def view():
    rng = random.Random(17)
    texts = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 40))) for _ in range(300)]
    return HandMadeView(texts)


@pytest.fixture()
def matcher(view):
    return Matcher(view, Deadline())


PHRASES = ["甲乙", "甲乙丙", "丙丙", "丁甲丁", "乙乙乙", "甲乙丙丁", "丁丁丁丁"]


@pytest.mark.parametrize("phrase", PHRASES)
def test_phrase_positions_are_every_occurrence(view, matcher, phrase):
    """verify_positions / occurrence_keys / occurrences: the documents and
    starts of a phrase, overlapping occurrences counted, as str.find finds them."""
    grams = grams_of(phrase)
    expected = {d: starts(t, phrase) for d, t in enumerate(view.texts) if starts(t, phrase)}
    docs, tf = matcher.substring_docs("body_g", grams, phrase)
    assert docs.tolist() == sorted(expected)
    assert tf.tolist() == [len(expected[d]) for d in docs.tolist()]
    d, s, e = matcher.occurrences("body", grams, phrase, np.arange(view.n_all))
    assert list(zip(d.tolist(), s.tolist())) == [(doc, i) for doc in sorted(expected) for i in expected[doc]]
    assert (e - s == len(phrase)).all()
    keys = matcher.phrase_keys("body_g", grams, np.arange(view.n_all))
    assert sorted(set((keys // matchers.POS_STRIDE).tolist())) == sorted(expected)


def test_gram_docs_have_every_gram_with_the_smallest_frequency(view, matcher):
    grams = [("甲乙", 0), ("丁丁", 5)]
    docs, tf = matcher.gram_docs("body_g", grams)
    expected = {d: min(len(starts(t, "甲乙")), len(starts(t, "丁丁"))) for d, t in enumerate(view.texts)
                if "甲乙" in t and "丁丁" in t}
    assert dict(zip(docs.tolist(), tf.tolist())) == expected


def test_a_single_character_is_read_from_the_character_field(view, matcher):
    docs, tf = matcher.gram_docs("body_g", [("丙", 0)])
    assert dict(zip(docs.tolist(), tf.tolist())) == {d: t.count("丙") for d, t in enumerate(view.texts) if "丙" in t}


def test_a_one_character_piece_is_checked_in_the_stored_text(view, matcher):
    """A phrase with a one-character run (no positions): candidates by the
    first piece, confirmed (and counted) in the text."""
    docs, tf = matcher.substring_docs("body_g", [("甲", 0), ("乙", 1)], "甲乙")
    expected = {d: t.count("甲乙") for d, t in enumerate(view.texts) if "甲乙" in t}
    assert dict(zip(docs.tolist(), tf.tolist())) == expected


def test_excluded_documents_are_left_out(view, matcher):
    exclude = np.arange(0, view.n_all, 3)
    docs, _ = matcher.substring_docs_excluding("body_g", grams_of("乙丙丁"), "乙丙丁", exclude)
    assert docs.tolist() == [d for d, t in enumerate(view.texts) if "乙丙丁" in t and d % 3]


@pytest.mark.parametrize("left, right, n, ordered", [("甲乙", "丙丁", 0, False), ("甲乙", "丙丁", 2, False),
                                                     ("甲乙", "丙丁", 1, True), ("丁丁", "甲", 3, True),
                                                     ("乙", "乙", 0, False)])
def test_within_words_is_the_word_distance_of_some_pair(view, matcher, left, right, n, ordered):
    """Occurrences as word ranges [first, last]: unordered, the ranges are
    at most n words apart (overlapping: 0); ordered, the right one starts
    1..n words after the left one ends."""
    everything = np.arange(view.n_all)
    lo = matcher.occurrences("body", grams_of(left), left, everything)
    ro = matcher.occurrences("body", grams_of(right), right, everything)
    found = set(matcher.within_words("body", n, ordered, lo, ro).tolist())

    def close(t):
        for a in starts(t, left):
            a0, a1 = a // WORD, (a + len(left) - 1) // WORD
            for b in starts(t, right):
                b0, b1 = b // WORD, (b + len(right) - 1) // WORD
                if ordered and a1 < b0 <= a1 + n:
                    return True
                if not ordered and b0 <= a1 + n and b1 >= a0 - n:
                    return True
        return False

    assert found == {d for d, t in enumerate(view.texts) if close(t)}


def test_set_algebra_is_set_algebra():
    rng = np.random.default_rng(17)
    n = 500
    arrays = [np.unique(rng.integers(0, n, rng.integers(0, 200))) for _ in range(4)]
    sets = [set(a.tolist()) for a in arrays]
    assert matchers.intersect_all(arrays, n).tolist() == sorted(set.intersection(*sets))
    assert matchers.union_ids(arrays, n).tolist() == sorted(set.union(*sets))
    assert matchers.mask(arrays[0], n).sum() == len(sets[0])
    values = rng.random(len(arrays[0]))
    docs = np.arange(n)
    for big in (False, True):  # the binary search and (over 4,096 ids) the dense array
        ids, vals = (arrays[0], values) if not big else (np.arange(5000), np.arange(5000) / 7)
        aligned = matchers.align(ids, vals, docs, 5000)
        lookup = dict(zip(ids.tolist(), vals.tolist()))
        assert aligned.tolist() == [lookup.get(d, 0.0) for d in docs.tolist()]
    scored = [(a, np.full(len(a), float(i + 1))) for i, a in enumerate(arrays)]
    u_docs, u_scores = matchers.union_scored(scored, n)
    assert dict(zip(u_docs.tolist(), u_scores.tolist())) == {
        d: float(sum(i + 1 for i, s in enumerate(sets) if d in s)) for d in set.union(*sets)}
    assert all(matchers.contains(arrays[1], d) == (d in sets[1]) for d in range(n))
