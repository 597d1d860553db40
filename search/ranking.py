"""Ranking: BM25F over title and body, a bounded recency preference.

BM25F (Robertson & Zaragoza) combines a term's frequencies in each field
*before* saturation, each field with its own weight and length normalisation:

    tf~(d) = sum_f  w_f * tf_f(d) / (1 - b_f + b_f * len_f(d) / avglen_f)
    score  = sum_terms  idf(t) * tf~ / (k1 + tf~)
             + TITLE_BONUS * idf(t) * tt / (k1 + tt)     (tt: the title's part of tf~)

Recency: relevance scores are multiplied by ``1 + RECENCY_WEIGHT * 2 **
(-age / RECENCY_HALF_LIFE_DAYS)``, i.e. at most +10 % for an article
published today, +5 % a year ago, and almost nothing for old archives.  The
bound keeps the Hong Kong archive (which ends in 2022) from sinking wholesale
below 2026 items: a better match always wins over a mere newer one, unless
the two were within 10 % anyway.  Articles with a date but no time count
from noon of that day; articles without any date get no boost (factor 1.0,
the same as a very old article).
"""

from __future__ import annotations

import contextlib
import contextvars

import numpy as np

K1 = 1.2
FIELD_WEIGHTS = {"title": 2.5, "body": 1.0}
FIELD_B = {"title": 0.5, "body": 0.75}
# A title match also scores on its own (saturated separately from the body):
# in BM25F a long body full of the words saturates and a title match adds
# little, yet a reader looking for a known article types words of its
# headline.  Known-item Success@1 went from 0.77 to 0.85 on 300 headlines
# (a sample separate from eval/news.py's); QBQTC unchanged.
TITLE_BONUS = 0.5
SUBSTRING_DISCOUNT = 0.6  # a word found only inside a longer word counts less
# Match tiers and relaxation (search/backends/whoosh/tiers.py: full
# matches, partial matches of some of the words, the bigram fallback).
# Chosen on the first 3,000 QBQTC queries (eval/qbqtc.py); changes within a
# factor of ~2 moved nDCG@10 by less than 0.003.
PROXIMITY_WEIGHT = 0.3  # query bigrams found in full matches: words stand together
PARTIAL_GRAM_WEIGHT = 0.3  # the same bonus for partial matches
FALLBACK_WEIGHT = 0.5  # score of bigram-only fallback matches
FALLBACK_MIN_GRAMS = 0.4  # share of the query's bigrams a fallback match must have
COVERAGE_POWER = 1.0  # partial matches: score x (idf share covered) ** power
RELAX_MIN_COVERAGE = 0.0  # minimum idf share of a partial match (0: any word)
PART_CREDIT = 0.5  # a document with a long word's parts but not the word itself
PARTIAL_MAX = 0.9  # ... never counts as matching the word
# A Latin word is partially matched (by shared bigrams) only by a text that
# has at least this share of it as one piece (and five characters at least).
LATIN_PIECE = 0.6
RECENCY_WEIGHT = 0.10
RECENCY_HALF_LIFE_DAYS = 365.0
# "No publication date" in the index's date column: far below every
# plausible date (search.timeutil: from 1900), so that no real date can
# equal it (2**53: still exact as a float).  Segments written before it
# (without the docinfo key ``no_date``) marked a missing date with -1
# (which 1969-12-31T23:59:59Z also is): readers map that old marker
# (``OLD_NO_DATE``) to ``NO_DATE`` for those segments only.
NO_DATE = -(2**53)
OLD_NO_DATE = -1


def idf(df: int, n_docs: int) -> float:
    """BM25's idf of a term in ``df`` of ``n_docs`` documents (a float > 0)."""
    return float(np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5)))


# The additive parts of one term's BM25F (``bm25f``): the title's and the
# body's share of the saturated sum, and the title bonus.
BM25F_PARTS = ("title", "body", "title_bonus")
_ONLY_PART: contextvars.ContextVar[str | None] = contextvars.ContextVar("bm25f_only_part", default=None)


@contextlib.contextmanager
def only_part(name: str):
    """Within the block, ``bm25f`` returns only its part ``name`` (one of
    ``BM25F_PARTS``), in the current thread.  Every score built from BM25F
    is a sum of BM25F values times factors that do not depend on them
    (phrase length, partial credit, coverage, proximity weight), so a
    search run inside the block yields that part's exact share of each
    document's score (the explanation of a ranking).  ValueError for
    another name."""
    if name not in BM25F_PARTS:
        raise ValueError(f"no BM25F part {name!r}: one of {', '.join(BM25F_PARTS)}")
    token = _ONLY_PART.set(name)
    try:
        yield
    finally:
        _ONLY_PART.reset(token)


def bm25f(term_idf: float, tf_by_field: dict[str, np.ndarray], len_by_field: dict[str, np.ndarray],
          avglen: dict[str, float]) -> np.ndarray:
    """BM25F of one term (module docstring): ``tf_by_field`` and
    ``len_by_field`` map "title"/"body" to float arrays aligned over the
    same documents, ``avglen`` to the field's mean length (terms).  Returns
    a float64 array of scores, one per document; inside ``only_part(name)``
    only that part: ``idf * part_f / (k1 + tf~)`` for a field f, or the
    title bonus (the three parts sum to the score)."""
    if _ONLY_PART.get() is not None:
        return _bm25f_part(_ONLY_PART.get(), term_idf, tf_by_field, len_by_field, avglen)
    total = None
    title = None
    for f, tf in tf_by_field.items():
        b = FIELD_B[f]
        norm = 1.0 - b + b * (len_by_field[f] / max(avglen[f], 1e-9))
        part = FIELD_WEIGHTS[f] * tf / norm
        if f == "title":
            title = part
        total = part if total is None else total + part
    score = term_idf * total / (K1 + total)
    if title is not None and TITLE_BONUS:
        score = score + TITLE_BONUS * term_idf * title / (K1 + title)
    return score


def _bm25f_part(name: str, term_idf: float, tf_by_field, len_by_field, avglen) -> np.ndarray:
    """One part of ``bm25f`` (see there), by the same formula."""
    parts = {}
    for f, tf in tf_by_field.items():
        b = FIELD_B[f]
        norm = 1.0 - b + b * (len_by_field[f] / max(avglen[f], 1e-9))
        parts[f] = FIELD_WEIGHTS[f] * tf / norm
    total = sum(parts.values())
    if name == "title_bonus":
        title = parts.get("title")
        if title is None or not TITLE_BONUS:
            return np.zeros_like(total)
        return TITLE_BONUS * term_idf * title / (K1 + title)
    if name not in parts:
        return np.zeros_like(total)
    return term_idf * parts[name] / (K1 + total)


def recency_factor(published: np.ndarray, now: float) -> np.ndarray:
    """The recency multiplier (1.0 .. 1 + RECENCY_WEIGHT) of each article:
    ``published`` and ``now`` in epoch seconds (NO_DATE for unknown: 1.0)."""
    age_days = np.maximum(now - published, 0) / 86400.0
    factor = 1.0 + RECENCY_WEIGHT * np.exp2(-age_days / RECENCY_HALF_LIFE_DAYS)
    return np.where(published == NO_DATE, 1.0, factor)
