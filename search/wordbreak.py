"""Word break: a run-together Latin query word read as the words it is
made of (``roughguidemorocco`` -> rough, guide, morocco; ``gnomeopen`` ->
gnome, open).

Readers paste file names, commands and titles without their spaces.  Such
a run is no word of any article, so as typed it matches nothing, and the
bigram fallback (``search.backends.whoosh.tiers``) asks for one piece of
60 % of it, which the separate words of a glued query never are.  Read as
its words, it matches the articles having them all (``WordClause.split``),
and a partial match may show its words instead of the one piece.  The
engine says so in a ``latin_words`` notice: never a silent reading.

The split is the most likely one under a unigram language model (Peter
Norvig's segmentation, run by ``wordsegment`` over its English counts
from the Google Web Trillion Word Corpus), kept only when every word is
a dictionary word (``WORD_COUNT``, ``NAME_COUNT``).  Left alone: a run that is a word of
some article (the index knows it as typed), a run shorter than
``MIN_LETTERS``, anything but lower-case letters, and a run that reads as
pinyin throughout (``search.pinyin.reads_as_pinyin``: ``jingan`` is the
pinyin module's, never jing + an).
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from .pinyin import reads_as_pinyin

MIN_LETTERS = 6  # shorter runs (dtsx, icp) are abbreviations more often than glued words (chosen, not measured)
# A dictionary word: one of ``wordsegment``'s English word list (178,758 words)
# seen at least WORD_COUNT times in its corpus of counts (10^12 words of web
# text; a word of one or two letters SHORT_COUNT times: of, is, on, never the
# word list's ah, ti, lo), or a name or brand seen at least NAME_COUNT times, of
# three letters or more (monday, york, google).  The counts alone (333,213
# entries down to 12,711) hold fragments, slips and letters (expl, orr, swich,
# dhd, hk, c): a misspelt run (terraexplorr, javaswich) then passes for words,
# and names down to 10^6 let chan + els + kin + care pass for chanelskincare.
# Chosen on those examples, not measured.
WORD_COUNT = 100_000
NAME_COUNT = 10_000_000
SHORT_COUNT = 100_000_000
_RUN = re.compile(r"[a-z]+")

_lock = threading.Lock()
_segmenter = None


def _loaded():
    """``wordsegment``'s segmenter over the counts of the dictionary words
    (above; no bigrams: the words of a query run are chosen one by one),
    read on first use (~0.3 s; ~30 MB while reading, less kept) and shared
    by the process."""
    global _segmenter
    with _lock:
        if _segmenter is None:
            import wordsegment

            seg = wordsegment.Segmenter()
            with open(wordsegment.Segmenter.WORDS_FILENAME, encoding="utf-8") as f:
                listed = set(f.read().split())
            unigrams = {}
            with open(wordsegment.Segmenter.UNIGRAMS_FILENAME, encoding="utf-8") as f:
                for line in f:  # "word<TAB>count"
                    w, n = line.split("\t")
                    n = float(n)
                    if (n >= WORD_COUNT and w in listed and (len(w) > 2 or n >= SHORT_COUNT)) \
                            or (n >= NAME_COUNT and len(w) >= 3):
                        unigrams[w] = n
            seg.unigrams = unigrams
            seg.total, seg.limit = wordsegment.Segmenter.TOTAL, wordsegment.Segmenter.LIMIT
            _segmenter = seg
        return _segmenter


def may_split(run: str) -> bool:
    """Is ``run`` a candidate at all: ``MIN_LETTERS`` lower-case letters or
    more, not pinyin throughout?  (No dictionary needed.)"""
    return len(run) >= MIN_LETTERS and _RUN.fullmatch(run) is not None and not reads_as_pinyin(run)


@lru_cache(maxsize=4096)
def words_of(run: str) -> tuple[str, ...]:
    """The dictionary words ``run`` (lower-case letters) is made of, in
    order, or () when its most likely split is one word or holds a word
    outside the dictionary.  Independent of the index: cached."""
    if not may_split(run):
        return ()
    seg = _loaded()
    words = tuple(seg.segment(run))
    if len(words) < 2 or "".join(words) != run or any(w not in seg.unigrams for w in words):
        return ()
    return words


class WordBreaker:
    """Splits the run-together Latin query words that the index does not
    know.  ``doc_frequency(word)`` -> live articles having ``word`` (the
    backend's).  ``split(word)`` -> its words (``words_of``) when no
    article has ``word`` itself, else ()."""

    def __init__(self, doc_frequency):
        self.doc_frequency = doc_frequency

    def split(self, word: str) -> tuple[str, ...]:
        """The words ``word`` (an analysed query word) is read as, or ().
        The index is asked first: a word some article has (most English
        words) never loads the dictionary."""
        if not may_split(word) or self.doc_frequency(word) > 0:
            return ()
        return words_of(word)


NOTICE_CODE = "latin_words"


def notices(clauses) -> list[dict]:
    """A ``latin_words`` notice ({code, text: the word as analysed,
    message, words: its words}; ``search.query.Notice``'s form plus the
    words, which the pages list) for each word of ``clauses`` (plan
    clauses, alternatives and groups included) read as its words, once."""
    from .plan import AllClause, AnyClause, WordClause

    out: dict[str, dict] = {}

    def walk(c):
        if isinstance(c, WordClause) and c.split and c.word not in out:
            words = [w.word for w in c.split]
            out[c.word] = {"code": NOTICE_CODE, "text": c.word, "words": words,
                           "message": f"'{c.word}' is in no article as a word: also searched as the words "
                                      f"{' '.join(words)}"}
        for child in getattr(c, "options", None) or getattr(c, "children", None) or ():
            walk(child)

    for clause in clauses:
        if isinstance(clause, (WordClause, AnyClause, AllClause)):
            walk(clause)
    return list(out.values())
