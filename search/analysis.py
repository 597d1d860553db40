"""The analysis pipeline: normalise -> segment -> filter.

The same functions run when an article is indexed and when a query is
parsed, so both sides always agree on what a "term" is.  Text is first
normalised (``search.normalize``: invisible characters removed, compatibility
forms folded, Traditional -> Simplified, lower-cased), then cut by jieba
(``search.segmenter``), whose dictionary holds every word in that normalised
form.  Two token streams are produced from one normalised text:

* **words**: jieba words in search mode (the accurate-mode word plus its
  dictionary sub-words, so 农业 is found inside 农业发展银行), punctuation
  dropped.  A Latin term with its symbols (``c#``, ``at&t``, ``covid-19``,
  ``tcp/ip``; see ``search.chars``) is one word, never cut apart by the
  segmenter, and also indexed as its letter and digit parts (``covid``,
  ``19``).  Positions count words; sub-words share the position of their
  word; sentence and paragraph ends leave a gap.
* **chars**: every letter, digit and ideograph on its own (single-character
  queries, and the one-character pieces of phrases);
* **grams**: overlapping character bigrams of every run (letters, digits,
  ideographs and the symbols of Latin terms, ``search.chars.runs``) at their
  character position, plus the last character of each run as a unigram.
  They make any quoted phrase findable, even one that cuts across jieba's
  word boundaries (香港特别行政区 inside 香港特别行政区政府), and keep the
  symbols of a term (``"C#"`` is not ``C``).

Tokens carry exact offsets into the *original* text for highlighting and for
tests.  ``Analyzer.words`` also returns where each word starts: the index
keeps those boundaries (``WordBoundaries``) for the proximity operators
(``w/N``, ``pre/N``) and for whole-word matching.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

from .chars import LATIN_TERM, is_sentence_end, runs, term_symbol_spans
from .normalize import Normalized, normalize_query
from .segmenter import Segmenter

SENTENCE_GAP = 8  # positions added at a sentence end: no phrase runs across it (chosen, not measured)
PARAGRAPH_GAP = 16  # ... and at a paragraph end (chosen, not measured)
# Bumped whenever the terms an article is indexed under change: an index
# records the version it was written with, and the service and the indexer
# refuse to mix versions (``python -m indexer rebuild`` re-analyses).
# 1: the first release; 2: case folded before segmentation, invisible
# characters ignored, symbols of Latin terms kept, no regional rewrites,
# word boundaries recorded.
ANALYSIS_VERSION = 2

# A "run" character: letters, digits and ideographs of any script.
_RUN = re.compile(r"[^\W_]+")
_ALNUM_PART = re.compile(r"[a-z]+|[0-9]+|[^\W_a-z0-9]+")
_LATIN = re.compile(r"[0-9a-z]")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


@dataclass(frozen=True, slots=True)
class Token:
    """One analysed term: ``text`` (the term), ``pos`` (its position in the field, counted in terms
    from 0) and ``start``/``end`` (character offsets into the original text, end exclusive)."""
    text: str
    pos: int
    start: int  # offsets into the original text
    end: int


def is_indexable(word: str) -> bool:
    """Is ``word`` (text) worth indexing: does it hold a run of letters or digits?
    Punctuation-only words are not indexed."""
    return _RUN.search(word) is not None


_SEGMENT = re.compile(r"[^&.\-_/'@+#]+")


@functools.lru_cache(maxsize=65536)
def latin_parts(word: str) -> tuple[str, ...]:
    """The pieces a word with Latin letters or digits is also indexed
    under: its letter and digit runs (``covid-19`` -> covid, 19; ``g20`` ->
    g, 20), the pieces between its symbols (``tcp/ip`` -> tcp, ip;
    ``ipv6-addr`` -> ipv6, addr) and itself without trailing ``#``/``+``
    (``5g+`` -> 5g).  Never the word itself."""
    parts = _ALNUM_PART.findall(word)
    if not word.isalnum():
        parts += _SEGMENT.findall(word)
        parts.append(word.rstrip("#+"))
    return tuple(p for p in dict.fromkeys(parts) if p and p != word)


@dataclass
class Words:
    """The word terms of one normalised text and where its words are.

    ``terms``: search-mode terms in text order (what the ``*_w`` fields
    hold); ``starts``: character offsets (into the normalised text) where
    each indexable accurate-mode word starts, ascending; ``boundaries``:
    offsets where any token starts (words, punctuation and spaces alike:
    jieba's tokens tile the text), ascending.  A span [s, e) is a whole word
    when s is in ``starts`` and e is in ``boundaries`` or the end."""

    terms: list[str]
    starts: list[int]
    boundaries: list[int]
    words: list[str]  # the accurate-mode words themselves (OpenSearch's ``*_a`` fields)


class Analyzer:
    """Turns text into the terms stored in the index and looked up at query time."""

    def __init__(self, segmenter: Segmenter):
        self.segmenter = segmenter
        self._has_word = segmenter.has_word

    # ---- segmentation ------------------------------------------------------
    def segments(self, text: str) -> list[tuple[str, int, int]]:
        """jieba's accurate-mode tokens of normalised ``text`` (covering all
        of it), with every Latin term whole: ``tcp`` ``/`` ``ip`` becomes
        ``tcp/ip``, ``50%`` becomes ``50`` and ``%``.  A dictionary word
        that contains a Latin term (``a股``, ``c语言``) stays as it is."""
        toks = self.segmenter.cut(text)
        if _LATIN.search(text) is None:
            return toks
        terms = [(m.start(), m.end()) for m in LATIN_TERM.finditer(text)]
        tok_end = {s: e for _, s, e in toks}
        if all(tok_end.get(s) == e for s, e in terms):
            return toks  # the usual case: jieba already cut every term whole
        out: list[tuple[str, int, int]] = []
        pending = list(reversed(toks))  # a stack: remainders are pushed back
        ti = 0
        while pending:
            w, s, e = pending.pop()
            while ti < len(terms) and terms[ti][1] <= s:
                ti += 1
            if ti == len(terms) or terms[ti][0] >= e:
                out.append((w, s, e))  # overlaps no Latin term
                continue
            ts, te = terms[ti]
            if s <= ts and te <= e and (s, e) != (ts, te) and _CJK.search(w) and self._has_word(w):
                out.append((w, s, e))  # a dictionary word containing the term
                continue
            # The term, and what the overlapping tokens hold around it.
            last_e = e
            while pending and pending[-1][1] < te:
                last_e = pending.pop()[2]
            if s < ts:
                out.append((text[s:ts], s, ts))
            out.append((text[ts:te], ts, te))
            ti += 1
            if last_e > te:
                pending.append((text[te:last_e], te, last_e))
        return out

    # ---- index side ------------------------------------------------------
    def word_tokens(self, norm: Normalized) -> list[Token]:
        """Search-mode word tokens with word positions and original offsets."""
        out: list[Token] = []
        text = norm.text
        has_word = self._has_word
        pos = 0
        span = norm.span
        for word, start, end in self.segments(text):
            if not is_indexable(word):
                if "\n" in word:
                    pos += PARAGRAPH_GAP
                elif is_sentence_end(word):
                    pos += SENTENCE_GAP
                continue
            ostart, oend = span(start, end)
            n = end - start
            if n > 2:
                # jieba's search mode: dictionary 2- and 3-grams inside long words.
                for i in range(n - 1):
                    gram = word[i : i + 2]
                    if has_word(gram):
                        s, e = span(start + i, start + i + 2)
                        out.append(Token(gram, pos, s, e))
                if n > 3:
                    for i in range(n - 2):
                        gram = word[i : i + 3]
                        if has_word(gram):
                            s, e = span(start + i, start + i + 3)
                            out.append(Token(gram, pos, s, e))
            if _LATIN.search(word):
                for part in latin_parts(word):
                    at = word.find(part)
                    s, e = span(start + at, start + at + len(part))
                    out.append(Token(part, pos, s, e))
            out.append(Token(word, pos, ostart, oend))
            pos += 1
        return out

    def words(self, norm: Normalized) -> Words:
        """The texts of ``word_tokens`` (same terms, same order), without
        positions and offsets, and the word boundaries: the indexer's hot
        path."""
        out: list[str] = []
        append = out.append
        starts: list[int] = []
        accurate: list[str] = []
        segs = self.segments(norm.text)
        has_word = self._has_word
        run = _RUN.search
        for word, start, end in segs:
            n = end - start
            if n == 1:
                if word.isalnum():
                    append(word)
                    starts.append(start)
                    accurate.append(word)
                continue
            if run(word) is None:
                continue
            starts.append(start)
            accurate.append(word)
            if n > 2:
                for i in range(n - 1):
                    if has_word(word[i : i + 2]):
                        append(word[i : i + 2])
                if n > 3:
                    for i in range(n - 2):
                        if has_word(word[i : i + 3]):
                            append(word[i : i + 3])
            if _LATIN.search(word):
                out.extend(latin_parts(word))
            append(word)
        return Words(out, starts, [s for _, s, _ in segs], accurate)

    def word_terms(self, norm: Normalized) -> list[str]:
        """Just the terms of ``words``."""
        return self.words(norm).terms

    @staticmethod
    def gram_terms(lowered_norm_text: str) -> list[tuple[str, int]]:
        """(bigram or run-final unigram, character position) pairs."""
        out: list[tuple[str, int]] = []
        extend = out.extend
        text = lowered_norm_text
        for base, stop in runs(text):
            n = stop - base
            if n > 1:
                extend(zip([text[i : i + 2] for i in range(base, stop - 1)], range(base, stop - 1)))
            out.append((text[stop - 1], stop - 1))
        return out

    def gram_tokens(self, norm: Normalized) -> list[Token]:
        """Character grams as tokens with original offsets (for tests/inspection)."""
        span = norm.span
        toks = []
        for term, pos in self.gram_terms(norm.text):
            s, e = span(pos, pos + len(term))
            toks.append(Token(term, pos, s, e))
        return toks

    # ---- query side ------------------------------------------------------
    def query_words(self, text: str) -> list[str]:
        """Accurate-mode words of a query chunk, normalised, punctuation dropped."""
        norm = normalize_query(text)
        return [w for w, _, _ in self.segments(norm) if is_indexable(w)]

    def word_parts(self, word: str) -> tuple[str, ...]:
        """Pieces of a long query word, for partial credit: its dictionary
        sub-words (医科大学 -> 医科, 大学 ...) or, for a word jieba's HMM glued
        together (河永威城), its dictionary pieces.  Never single characters:
        a partial match through one character of a longer word (欧 of 欧洲
        for 欧巴马) is no match at all."""
        if len(word) < 3 or not any("\u4e00" <= ch <= "\u9fff" for ch in word):
            return ()
        if self._has_word(word):
            parts = [w for w, _, _ in self.segmenter.cut_for_search(word) if w != word]
        else:
            parts = [w for w in self.segmenter.cut_dictionary_only(word) if is_indexable(w)]
        parts = [p for p in dict.fromkeys(parts) if len(p) >= 2]
        return tuple(parts) if len(parts) >= 2 else ()

    @staticmethod
    def phrase_grams(text: str) -> list[tuple[str, int]]:
        """Grams of a quoted phrase with their offsets inside the phrase.

        Each run contributes its bigrams (a one-character run its single
        character).  Matching requires all grams at the same relative
        offsets, which is exactly "the phrase occurs verbatim" up to
        punctuation and spacing.
        """
        lowered = normalize_query(text)
        out = []
        for s, e in runs(lowered):
            if e - s == 1:
                out.append((lowered[s], s))
            else:
                out.extend((lowered[i : i + 2], i) for i in range(s, e - 1))
        return out


    @staticmethod
    def quoted_phrase_grams(text: str) -> list[tuple[str, int]]:
        """``phrase_grams`` of a quoted phrase, plus the last character of
        every run but the last at its offset: the index has that unigram
        only where a run ends (``gram_terms``), so a space or a punctuation
        mark typed between two runs must be a break in the text too
        ("经济 发展" finds 经济，发展 and 经济 发展, never 经济的发展).  Sorted by
        offset."""
        lowered = normalize_query(text)
        bounds = [(lowered[e - 1], e - 1) for s, e in list(runs(lowered))[:-1] if e - s > 1]
        return sorted(Analyzer.phrase_grams(text) + bounds, key=lambda g: g[1])


GRAM_SHIFT = 21  # code points fit in 21 bits


@functools.lru_cache(maxsize=1)
def _run_char_table() -> np.ndarray:
    """run_char[cp] is True for letters, digits and ideographs ([^\\W_]),
    computed by the regex engine over every code point at once."""
    everything = "".join(map(chr, range(0x110000)))
    marked = _RUN.sub(lambda m: "\x01" * len(m.group()), everything)
    codes = np.frombuffer(marked.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return (codes == 1) & (np.arange(0x110000) != 1)  # U+0001 itself is no letter


def gram_codes(lowered_norm_text: str) -> tuple[np.ndarray, np.ndarray]:
    """``Analyzer.gram_terms`` in numpy: each gram as one int64 code
    (first code point << 21 | second code point, 0 for a unigram), ordered
    like the terms' UTF-8 bytes.  Returns (codes, positions)."""
    if not lowered_norm_text:
        return np.empty(0, np.int64), np.empty(0, np.int32)
    cp = np.frombuffer(lowered_norm_text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    run = _run_char_table()[cp]
    for s, e in term_symbol_spans(lowered_norm_text):
        run[s:e] = True  # the '#' of c#, the '&' of at&t
    nxt = np.zeros(len(cp), dtype=bool)
    nxt[:-1] = run[1:]
    keep = run
    second = np.zeros(len(cp), dtype=np.int64)
    second[:-1] = cp[1:]
    second[~nxt] = 0
    positions = np.flatnonzero(keep).astype(np.int32)
    codes = (cp[keep] << GRAM_SHIFT) | second[keep]
    return codes, positions


def char_codes(lowered_norm_text: str) -> np.ndarray:
    """Code points of the letters, digits and ideographs of a normalised text."""
    if not lowered_norm_text:
        return np.empty(0, np.int64)
    cp = np.frombuffer(lowered_norm_text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    return cp[_run_char_table()[cp]]


def gram_term(code: int) -> str:
    """The character gram (one or two characters) packed in ``code`` (an int: the first code point
    shifted left by ``GRAM_SHIFT`` bits, plus the second, 0 for a lone character), as text."""
    second = code & ((1 << GRAM_SHIFT) - 1)
    return chr(code >> GRAM_SHIFT) + (chr(second) if second else "")
