"""The analysis pipeline: normalise -> segment -> filter.

The same functions run when an article is indexed and when a query is
parsed, so both sides always agree on what a "term" is.  Two token streams
are produced from one normalised text:

* **words**: jieba words in search mode (the accurate-mode word plus its
  dictionary sub-words, so 农业 is found inside 农业发展银行), lower-cased,
  punctuation dropped, Latin/number runs also split into their parts
  (``covid-19`` -> ``covid-19``, ``covid``, ``19``).  Positions count words;
  sub-words share the position of the word they come from; sentence and
  paragraph ends leave a gap so that later "same sentence" operators cannot
  match across them.
* **chars**: every letter, digit and ideograph on its own (single-character
  queries, and the one-character pieces of phrases);
* **grams**: overlapping character bigrams of every run of letters, digits
  and ideographs, at their character position, plus the last character of
  each run as a unigram.  They make any quoted phrase findable, even one that
  cuts across jieba's word boundaries (香港特别行政区 inside
  香港特别行政区政府), and make every single character searchable.

Tokens carry exact offsets into the *original* text (before the
Traditional->Simplified conversion) for highlighting and for tests.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

from .normalize import Normalized, fold_case, normalize_query
from .segmenter import Segmenter

SENTENCE_GAP = 8
PARAGRAPH_GAP = 16

# A "run": letters, digits and ideographs of any script (\w without "_").
_RUN = re.compile(r"[^\W_]+")
_ALNUM_PART = re.compile(r"[a-z]+|[0-9]+|[^\W_a-z0-9]+")
_SENTENCE_END = frozenset("。！？!?；;…")
_LATIN = re.compile(r"[0-9a-z]")


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    pos: int
    start: int  # offsets into the original text
    end: int


def is_indexable(word: str) -> bool:
    return _RUN.search(word) is not None


def _ascii_parts(word: str) -> list[str]:
    """Split a Latin/number token into its parts: 'covid-19' -> covid, 19."""
    parts = _ALNUM_PART.findall(word)
    return parts if len(parts) > 1 else []


class Analyzer:
    """Turns text into the terms stored in the index and looked up at query time."""

    def __init__(self, segmenter: Segmenter):
        self.segmenter = segmenter
        self._has_word = segmenter._jieba.has_word

    # ---- index side ------------------------------------------------------
    def word_tokens(self, norm: Normalized) -> list[Token]:
        """Search-mode word tokens with word positions and original offsets."""
        out: list[Token] = []
        text = norm.text
        lowered = fold_case(text)
        has_word = self._has_word
        pos = 0
        span = norm.span
        for word, start, end in self.segmenter.cut(text):
            if not is_indexable(word):
                if "\n" in word:
                    pos += PARAGRAPH_GAP
                elif any(c in _SENTENCE_END for c in word):
                    pos += SENTENCE_GAP
                continue
            lw = lowered[start:end]
            ostart, oend = span(start, end)
            n = end - start
            if n > 2:
                # jieba's search mode: dictionary 2- and 3-grams inside long words.
                for i in range(n - 1):
                    gram = word[i : i + 2]
                    if has_word(gram):
                        s, e = span(start + i, start + i + 2)
                        out.append(Token(lw[i : i + 2], pos, s, e))
                if n > 3:
                    for i in range(n - 2):
                        gram = word[i : i + 3]
                        if has_word(gram):
                            s, e = span(start + i, start + i + 3)
                            out.append(Token(lw[i : i + 3], pos, s, e))
            if _LATIN.search(lw):
                stripped = lw.strip("-._/+'")
                for part_m in _ALNUM_PART.finditer(lw):
                    part = part_m.group()
                    if part != stripped:
                        s, e = span(start + part_m.start(), start + part_m.end())
                        out.append(Token(part, pos, s, e))
                lw = stripped
            out.append(Token(lw, pos, ostart, oend))
            pos += 1
        return out

    def word_terms(self, norm: Normalized) -> list[str]:
        """The texts of ``word_tokens`` (same terms, same order), without
        positions and offsets: the indexer's hot path."""
        out: list[str] = []
        append = out.append
        text = norm.text
        lowered = fold_case(text)
        has_word = self._has_word
        run = _RUN.search
        for word, start, end in self.segmenter.cut(text):
            n = end - start
            if n == 1:
                if word.isalnum():
                    append(lowered[start])
                continue
            if run(word) is None:
                continue
            lw = lowered[start:end]
            if n > 2:
                for i in range(n - 1):
                    if has_word(word[i : i + 2]):
                        append(lw[i : i + 2])
                if n > 3:
                    for i in range(n - 2):
                        if has_word(word[i : i + 3]):
                            append(lw[i : i + 3])
            if _LATIN.search(lw):
                stripped = lw.strip("-._/+'")
                for part in _ALNUM_PART.findall(lw):
                    if part != stripped:
                        append(part)
                lw = stripped
            append(lw)
        return out

    @staticmethod
    def gram_terms(lowered_norm_text: str) -> list[tuple[str, int]]:
        """(bigram or run-final unigram, character position) pairs."""
        out: list[tuple[str, int]] = []
        extend = out.extend
        for m in _RUN.finditer(lowered_norm_text):
            run = m.group()
            base = m.start()
            n = len(run)
            if n > 1:
                extend(zip([run[i : i + 2] for i in range(n - 1)], range(base, base + n - 1)))
            out.append((run[-1], base + n - 1))
        return out

    def gram_tokens(self, norm: Normalized) -> list[Token]:
        """Character grams as tokens with original offsets (for tests/inspection)."""
        span = norm.span
        toks = []
        for term, pos in self.gram_terms(fold_case(norm.text)):
            s, e = span(pos, pos + len(term))
            toks.append(Token(term, pos, s, e))
        return toks

    # ---- query side ------------------------------------------------------
    def query_words(self, text: str) -> list[str]:
        """Accurate-mode words of a query chunk, normalised, punctuation dropped."""
        norm = normalize_query(text)
        lowered = fold_case(norm)
        words = []
        for word, start, end in self.segmenter.cut(norm):
            if is_indexable(word):
                words.append(lowered[start:end].strip("-._/+'"))
        return [w for w in words if w]

    def word_parts(self, word: str) -> tuple[str, ...]:
        """Pieces of a long query word, for partial credit: its dictionary
        sub-words (医科大学 -> 医科, 大学 ...) or, for a word jieba's HMM glued
        together (河永威城), its dictionary pieces."""
        if len(word) < 3 or not any("\u4e00" <= ch <= "\u9fff" for ch in word):
            return ()
        if self._has_word(word):
            parts = [w for w, _, _ in self.segmenter.cut_for_search(word) if w != word]
        else:
            parts = [w for w in self.segmenter.cut_dictionary_only(word) if is_indexable(w)]
        parts = list(dict.fromkeys(parts))
        return tuple(parts) if len(parts) >= 2 else ()

    @staticmethod
    def phrase_grams(text: str) -> list[tuple[str, int]]:
        """Grams of a quoted phrase with their offsets inside the phrase.

        Each run contributes its bigrams (a one-character run its single
        character).  Matching requires all grams at the same relative
        offsets, which is exactly "the phrase occurs verbatim" up to
        punctuation and spacing.
        """
        lowered = fold_case(normalize_query(text))
        out = []
        for m in _RUN.finditer(lowered):
            run = m.group()
            if len(run) == 1:
                out.append((run, m.start()))
            else:
                out.extend((run[i : i + 2], m.start() + i) for i in range(len(run) - 1))
        return out


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
    second = code & ((1 << GRAM_SHIFT) - 1)
    return chr(code >> GRAM_SHIFT) + (chr(second) if second else "")
