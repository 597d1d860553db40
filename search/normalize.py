"""Text normalisation: the one path index-time and query-time text takes
before segmentation.

Applied in this order, to articles and queries alike:

1. invisible format characters are removed (``search.chars``: category Cf,
   bidi marks, embeddings and isolates, variation selectors ...), so
   ``春\u00ad节`` is 春节 and ``疫\u200b苗`` is 疫苗; letters with combining
   marks are composed (NFC: ``e`` + U+0301 is ``é``);
2. a character fold: compatibility forms (full-width letters and digits, CJK
   compatibility ideographs, circled numbers ...) become their plain form,
   control characters a space.  Only one-character-to-one-character
   mappings of Unicode NFKC are used;
3. Traditional -> Simplified Chinese with OpenCC (``t2s``: character and
   phrase conversion of the script only).  Regional *vocabulary* (網際網路 vs
   互联网, 軟體 vs 软件, 川普 vs 特朗普) is never rewritten here: it is a
   query-side alternative (``search.regional``), because rewriting indexed
   text changed mainland words too;
4. lower-casing.  The segmenter's dictionary holds the lower-cased forms of
   its mixed-case words (``A股``, ``卡拉OK``, user words such as ``爱看4K``),
   so case never changes how text is cut.

Steps 1 and 3 may change the length of the text, so ``normalize`` also
returns an offset map back to the original text: highlights are always drawn
on the original characters.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import json
import os
import tempfile
import threading
import unicodedata
from dataclasses import dataclass

import opencc

from .chars import char_class, combining_codepoints, has_ignorable, ignorable_codepoints, ignorable_pattern

@functools.lru_cache(maxsize=1)
def _char_fold_table() -> dict[int, str]:
    """NFKC mappings that turn one BMP character into exactly one character."""
    table: dict[int, str] = {}
    for cp in range(0x20, 0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        folded = unicodedata.normalize("NFKC", ch)
        if folded != ch and len(folded) == 1:
            table[cp] = folded
    # Ideographic space and no-break spaces become a plain space, and so do
    # control characters other than tab and line breaks (a NUL once ended
    # the text for OpenCC's C strings).
    for cp in (0x3000, 0x00A0, 0x2007, 0x202F, *range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20),
               *range(0x7F, 0xA0)):
        table[cp] = " "
    return table


@functools.lru_cache(maxsize=1)
def _fold_runs():
    """Runs of characters the fold changes (the table's keys)."""
    import re

    return re.compile(char_class(set(_char_fold_table())) + "+")


def fold_chars(text: str) -> str:
    """Length-preserving compatibility fold (full-width -> half-width ...).
    Exactly ``text.translate`` of the fold table, translating only the runs
    of characters the table holds: ``str.translate`` with a dict looks up
    every character (~50 ns each), most of a Chinese text is in no such
    run (22 ns a character in all, measured on article bodies)."""
    table = _char_fold_table()
    return _fold_runs().sub(lambda m: m.group().translate(table), text)


def fold_case(text: str) -> str:
    """Lower-case without changing the length (a few characters such as 'İ'
    lower-case to two code points; those are left alone)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _opencc_config_path() -> str:
    """Write (once per process) an OpenCC config: t2s, with the
    compatibility-ideograph normalisation and the extended character table."""
    share = os.path.join(os.path.dirname(opencc.__file__), "clib", "share", "opencc")

    def ocd2(name: str, **extra) -> dict:
        return {"type": "ocd2", "file": os.path.join(share, name), **extra}

    config = {
        "name": "Traditional to Simplified (script only)",
        "normalization": [{"dict": ocd2("CJK_Compatibility_Ideographs.ocd2")}],
        "segmentation": {
            "type": "mmseg",
            "dict": {"type": "group", "dicts": [ocd2("TSPhrases.ocd2")]},
        },
        "conversion_chain": [
            {
                "dict": {
                    "type": "group",
                    "match_policy": "short_circuit",
                    "dicts": [
                        ocd2("TSPhrases.ocd2"),
                        ocd2("TSCharactersExt.ocd2", may_output_tofu=True),
                        ocd2("TSCharacters.ocd2"),
                    ],
                }
            }
        ],
    }
    fd, path = tempfile.mkstemp(prefix="newssearch-opencc-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False)
    return path


@contextlib.contextmanager
def _quiet_stderr():
    """OpenCC's C++ core prints a schema warning for group segmentation
    dictionaries (which it nevertheless supports); keep it off the terminal."""
    try:
        saved = os.dup(2)
    except OSError:  # pragma: no cover - no stderr at all
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_local = threading.local()


def _converter() -> opencc.OpenCC:
    conv = getattr(_local, "converter", None)
    if conv is None:
        path = _opencc_config_path()
        try:
            with _quiet_stderr():
                conv = opencc.OpenCC(path)
        finally:
            os.unlink(path)
        _local.converter = conv
    return conv


def to_simplified(text: str) -> str:
    """``text`` in Simplified Chinese (OpenCC's Traditional -> Simplified conversion, one converter
    per thread); same length is not guaranteed: use ``normalize`` for an offset map."""
    return _converter().convert(text)


@functools.lru_cache(maxsize=65536)
def _char_to_simplified(ch: str) -> str:
    converted = to_simplified(ch)
    return converted if len(converted) == 1 else ch


def simplified_chars(text: str) -> str:
    """``text`` with each character in its Simplified form (OpenCC, one
    character at a time), so the result has ``text``'s length and offsets:
    a pattern written in Simplified only can be matched on it and the match
    positions used on ``text``.  Characters with no one-character form stay."""
    return "".join(_char_to_simplified(c) for c in text)


@dataclass(frozen=True)
class Normalized:
    """Normalised text plus the way back to the original.

    ``starts[i]`` / ``ends[i]`` give the original offsets of normalised
    character ``i``; ``None`` means the two texts align one to one.
    """

    text: str
    original: str
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original span covering normalised characters ``start:end``."""
        if self.starts is None:
            return start, end
        if end <= start:
            pos = self.starts[start] if start < len(self.starts) else len(self.original)
            return pos, pos
        return self.starts[start], self.ends[end - 1]


def _align(original: str, converted: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Map each converted character back to original offsets.

    Used only when a phrase conversion changed the length (rare).  Equal runs
    map one to one; a replaced run maps every character to the whole run
    (so 互联网 marks the whole of 網際網路).
    """
    starts = [0] * len(converted)
    ends = [0] * len(converted)
    # Compare a character-by-character conversion (same length as the
    # original) with the phrase conversion, so that equal characters line up.
    per_char = "".join(_char_to_simplified(c) for c in original)
    matcher = difflib.SequenceMatcher(None, per_char, converted, autojunk=False)
    ops = matcher.get_opcodes()
    # A lone equal character between two changes is a coincidence (网 in
    # 网际网路 vs 互联网), not an anchor: fold it into the change around it.
    blocks: list[list] = []
    for k, (op, i1, i2, j1, j2) in enumerate(ops):
        lone = (
            op == "equal"
            and i2 - i1 < 2
            and 0 < k < len(ops) - 1
            and ops[k - 1][0] != "equal"
            and ops[k + 1][0] != "equal"
        )
        kind = "equal" if op == "equal" and not lone else "change"
        if blocks and kind == "change" and blocks[-1][0] == "change":
            blocks[-1][2] = i2
            blocks[-1][4] = j2
        else:
            blocks.append([kind, i1, i2, j1, j2])
    for kind, i1, i2, j1, j2 in blocks:
        if kind == "equal":
            for k in range(j2 - j1):
                starts[j1 + k] = i1 + k
                ends[j1 + k] = i1 + k + 1
        else:
            for j in range(j1, j2):
                starts[j] = i1
                ends[j] = i2
    return tuple(starts), tuple(ends)


def _fold_and_convert(text: str) -> Normalized:
    """Steps 2-4 on text without ignorable characters."""
    folded = fold_chars(text)
    converted = to_simplified(folded)
    if len(converted) == len(text):
        return Normalized(fold_case(converted), text)
    # A length-changing phrase conversion happened somewhere: align line by
    # line so that the expensive diff only runs on the lines concerned.
    starts: list[int] = []
    ends: list[int] = []
    pieces: list[str] = []
    offset = 0
    for line in folded.splitlines(keepends=True):
        conv = to_simplified(line)
        if len(conv) == len(line):
            starts.extend(range(offset, offset + len(line)))
            ends.extend(range(offset + 1, offset + len(line) + 1))
        else:
            s, e = _align(line, conv)
            starts.extend(offset + x for x in s)
            ends.extend(offset + x for x in e)
        pieces.append(conv)
        offset += len(line)
    return Normalized(fold_case("".join(pieces)), text, tuple(starts), tuple(ends))


@functools.lru_cache(maxsize=1)
def _combining_pattern():
    """Runs of combining marks."""
    import re

    return re.compile(char_class(combining_codepoints()) + "+")


@functools.lru_cache(maxsize=1)
def _unusual_pattern():
    """Either an ignorable character or a combining mark: one scan of the
    text decides whether ``normalize`` takes its slower path."""
    import re

    return re.compile(char_class(ignorable_codepoints() | combining_codepoints()))


def _compose(text: str) -> tuple[str, list[tuple[int, int]]] | None:
    """Letters with combining marks composed (NFC: e + U+0301 -> é), with
    each resulting character's span in ``text``; None when nothing
    composes.  Only the letters carrying marks are looked at: the other
    differences NFC makes are single characters the character fold maps."""
    marks = list(_combining_pattern().finditer(text))
    if not marks:
        return None
    out, spans, last = [], [], 0
    for m in marks:
        base = max(m.start() - 1, last)
        out.append(text[last:base])
        spans.extend((i, i + 1) for i in range(last, base))
        composed = unicodedata.normalize("NFC", text[base:m.end()])
        out.append(composed)
        spans.extend([(base, m.end())] * len(composed))
        last = m.end()
    out.append(text[last:])
    spans.extend((i, i + 1) for i in range(last, len(text)))
    composed_text = "".join(out)
    return (composed_text, spans) if composed_text != text else None


def normalize(text: str) -> Normalized:
    """``text`` normalised (see the module docstring), with the map back to
    ``text``: ``Normalized.span`` gives original offsets."""
    if _unusual_pattern().search(text) is None:  # no invisible character, no combining mark
        return _fold_and_convert(text)
    ignorables = has_ignorable(text)
    # (start, end) in ``text`` of each character of the text being built.
    spans = [(i, i + 1) for i in range(len(text))]
    current = text
    if ignorables:
        ignorable = ignorable_codepoints()
        kept = [i for i, ch in enumerate(text) if ord(ch) not in ignorable]
        current = "".join(text[i] for i in kept)
        spans = [spans[i] for i in kept]
    composed = _compose(current)
    if composed is not None:
        current, cspans = composed
        spans = [(spans[a][0], spans[b - 1][1]) for a, b in cspans]
    inner = _fold_and_convert(current)
    if inner.starts is None:
        starts, ends = [a for a, _ in spans], [b for _, b in spans]
    else:
        starts = [spans[s][0] if s < len(spans) else len(text) for s in inner.starts]
        ends = [spans[e - 1][1] if e > 0 else 0 for e in inner.ends]
    return Normalized(inner.text, text, tuple(starts), tuple(ends))


def normalize_query(text: str) -> str:
    """Normalise query text exactly as documents are (without the offset map)."""
    if has_ignorable(text):
        text = ignorable_pattern().sub("", text)
    composed = _compose(text)
    if composed is not None:
        text = composed[0]
    return fold_case(to_simplified(fold_chars(text)))


# ---- Normalising pieces of a longer text (highlighting) -----------------------
# ``normalize`` is local to lines (see ``search.match_pieces``): the
# highlighter normalises only short pieces of a text, many at a time.

@functools.lru_cache(maxsize=1)
def _quick_unusual_pattern():
    """A superset of ``_unusual_pattern``, matched much faster: the Basic
    Multilingual Plane's ignorable and combining characters as one bitmap,
    and any character beyond that plane."""
    import re

    from .chars import _IGNORABLE_NOT_CF

    bmp = {cp for cp in range(0x10000)
           if unicodedata.category(chr(cp)) == "Cf" or unicodedata.combining(chr(cp))}
    bmp.update(cp for lo, hi in _IGNORABLE_NOT_CF for cp in range(lo, hi + 1) if cp <= 0xFFFF)
    return re.compile(char_class(bmp)[:-1] + "\U00010000-\U0010ffff]")


def may_be_unusual(text: str) -> bool:
    """Might ``text`` hold an ignorable character or a combining mark (the
    characters that send ``normalize`` on its slower path)?  False is
    certain; True is checked by ``normalize`` itself."""
    return _quick_unusual_pattern().search(text) is not None


def has_combining(text: str) -> bool:
    """Does ``text`` hold a combining mark (composed by ``normalize``)?"""
    return _combining_pattern().search(text) is not None


def normalize_piece(text: str) -> Normalized:
    """Exactly ``normalize(text)``, checking for the rare characters with a
    faster pattern first (``may_be_unusual``): for many short pieces of a
    text, such as the lines the highlighter normalises."""
    if not may_be_unusual(text):
        return _fold_and_convert(text)
    return normalize(text)
