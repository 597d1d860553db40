"""Character classes every text path shares: one definition each.

Indexing, querying, highlighting, snippets and the text checks of the
executor all ask the same questions of characters; each is answered here
and nowhere else:

* **ignorable**: invisible format characters that never separate or join
  anything for a reader: Unicode category Cf (soft hyphen U+00AD, zero-width
  space/joiners U+200B-U+200D, bidi marks U+200E/U+200F/U+061C, embeddings
  and overrides U+202A-U+202E, isolates U+2066-U+2069, word joiner U+2060,
  BOM U+FEFF, tags ...) plus the other default-ignorable code points that
  are not Cf (variation selectors U+FE00-U+FE0F and U+E0100-U+E01EF,
  combining grapheme joiner U+034F, Hangul fillers, Mongolian free
  variation selectors).  Normalisation removes them, keeping a map back to
  the original offsets (``search.normalize``).
* **run characters**: what character grams and phrases are made of:
  letters, digits and ideographs of any script, plus the symbols that belong
  to a Latin term: ``& . - _ / ' @`` between two letters or digits
  (``AT&T``, ``node.js``, ``covid-19``, ``tcp/ip``) and trailing ``#`` and
  ``+`` (``C#``, ``C++``, ``Disney+``).  So a quoted ``"C#"`` is not ``C``.
  (A ``+`` between words is a space in typed queries, ``two+birds``, so it
  joins nothing.)
* **Latin terms**: the same Latin runs with their symbols, as words
  (``LATIN_TERM``): the segmenter never cuts inside one.
* **sentence ends** (``。 ！ ？ ! ? ； ; …`` and their compatibility forms,
  and every line break) and **paragraph ends** (line breaks: bodies hold
  one paragraph per line).  ``SAME``/``w/s``, ``w/p``, snippets and the
  position gaps of the analysis all use these.

All patterns apply to original or normalised text alike: the compatibility
forms (full-width ``！``) are listed too.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

# Default-ignorable code points that are not in category Cf (from Unicode's
# DerivedCoreProperties.txt, Default_Ignorable_Code_Point).
_IGNORABLE_NOT_CF = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong/jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors (U+180E is Cf)
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xE0100, 0xE01EF),  # variation selectors supplement
)


@functools.lru_cache(maxsize=1)
def ignorable_codepoints() -> frozenset[int]:
    """Every code point ``normalize`` removes (category Cf plus the other
    default-ignorables above)."""
    cps = {cp for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) == "Cf"}
    for lo, hi in _IGNORABLE_NOT_CF:
        cps.update(range(lo, hi + 1))
    return frozenset(cps)


def char_class(codepoints) -> str:
    """A regex character class matching exactly ``codepoints``."""
    cps = sorted(codepoints)
    ranges, start, prev = [], cps[0], cps[0]
    for cp in cps[1:]:
        if cp != prev + 1:
            ranges.append((start, prev))
            start = cp
        prev = cp
    ranges.append((start, prev))
    return "[" + "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                         for a, b in ranges) + "]"


@functools.lru_cache(maxsize=1)
def combining_codepoints() -> frozenset:
    """Combining marks (``unicodedata.combining`` > 0): composed with the
    letter they follow by ``normalize`` (NFC)."""
    return frozenset(cp for cp in range(0x110000)
                     if not 0xD800 <= cp <= 0xDFFF and unicodedata.combining(chr(cp)))


@functools.lru_cache(maxsize=1)
def ignorable_pattern() -> re.Pattern:
    """The compiled character class of every ignorable (invisible format) character,
    ``ignorable_codepoints()``; built once per process."""
    return re.compile(char_class(ignorable_codepoints()))


def has_ignorable(text: str) -> bool:
    """Does ``text`` hold an ignorable (invisible format) character?"""
    return ignorable_pattern().search(text) is not None


def strip_ignorable(text: str) -> str:
    """``text`` without its ignorable characters (no offset map: queries)."""
    return ignorable_pattern().sub("", text)


# ---- Latin terms and run characters -----------------------------------------
# Connectors join two letters/digits; '#' and '+' may end a term.  Applied
# to lower-cased text (the analysis folds case before segmenting).
_CONNECTORS = "&.\\-_/'@"
_LATIN_ALNUM = "0-9a-z\u00df-\u00f6\u00f8-\u024f"  # digits, lower-case Latin letters (accents too)
LATIN_TERM = re.compile(rf"[{_LATIN_ALNUM}]+(?:[{_CONNECTORS}][{_LATIN_ALNUM}]+)*[#+]*")
# Cheap pre-check: does the text have a symbol that may belong to a term?
_HAS_TERM_SYMBOL = re.compile(rf"[{_LATIN_ALNUM}][{_CONNECTORS}#+]")
# Letters, digits and ideographs of any script (\w without "_").
_WORD_CHAR = re.compile(r"[^\W_]")
_RUN_BASE = re.compile(r"[^\W_]+")


def term_symbol_spans(lowered: str) -> list[tuple[int, int]]:
    """Spans of the symbols that belong to Latin terms (``#`` of ``c#``,
    ``&`` of ``at&t``) in lower-cased text."""
    if _HAS_TERM_SYMBOL.search(lowered) is None:
        return []
    out = []
    for m in LATIN_TERM.finditer(lowered):
        term = m.group()
        if not term.isalnum():
            base = m.start()
            out.extend((base + s.start(), base + s.end()) for s in re.finditer(rf"[{_CONNECTORS}#+]+", term))
    return out


def runs(lowered: str) -> list[tuple[int, int]]:
    """(start, end) of every run of run characters in lower-cased text:
    letters, digits and ideographs, joined by the symbols of Latin terms."""
    spans = [(m.start(), m.end()) for m in _RUN_BASE.finditer(lowered)]
    symbols = term_symbol_spans(lowered)
    if not symbols:
        return spans
    merged: list[list[int]] = []
    for s, e in sorted(spans + symbols):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def squeeze(lowered: str) -> str:
    """Only the run characters of ``lowered``, concatenated: how text checks
    compare a phrase with a document, ignoring spacing and punctuation."""
    return "".join(lowered[s:e] for s, e in runs(lowered))


def is_word_char(ch: str) -> bool:
    """A letter, digit or ideograph."""
    return _WORD_CHAR.match(ch) is not None


# ---- sentences and paragraphs ---------------------------------------------------
SENTENCE_END_CHARS = "。｡！？!?；;…\n"
PARAGRAPH_END_CHARS = "\n"
SENTENCE_END = re.compile("[" + re.escape(SENTENCE_END_CHARS) + "]")
_SENTENCE = re.compile("[^" + re.escape(SENTENCE_END_CHARS) + "]*[" + re.escape(SENTENCE_END_CHARS) + "]?")


def is_sentence_end(token: str) -> bool:
    """Does this (punctuation) token end a sentence?"""
    return SENTENCE_END.search(token) is not None


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, its end punctuation included."""
    return [(m.start(), m.end()) for m in _SENTENCE.finditer(text) if m.end() > m.start()]


def sentence_end_positions(text: str) -> list[int]:
    """Offsets of every sentence end character, then ``len(text)``."""
    return [m.start() for m in SENTENCE_END.finditer(text)] + [len(text)]


def paragraph_end_positions(text: str) -> list[int]:
    """Offsets of every paragraph end (line break), then ``len(text)``."""
    out, i = [], text.find("\n")
    while i >= 0:
        out.append(i)
        i = text.find("\n", i + 1)
    out.append(len(text))
    return out


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (end punctuation removed)."""
    return [s for s in SENTENCE_END.split(text)]
