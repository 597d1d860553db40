"""Where in a text a needle may occur, so that the highlighter normalises
only short pieces of it (``search.highlight``).

``normalize`` is local to lines: the character fold and lower-casing work
one character at a time, and OpenCC's maximum-match segmentation never
crosses a line break (no dictionary key holds one) and, with the t2s
dictionaries, never changes the length.  It is local to shorter pieces too,
cut beside a CJK ideograph that is in no OpenCC phrase (``window_edge``).
A needle's character can only come from a few original characters
(``t2s_sources``: itself, its Traditional forms in any phrase context,
full-width, upper-case and compatibility forms ...), read from OpenCC's own
dictionaries; plain ``str.find`` tells where they are.  Tables are built
once per process, in the background (``prepare``, about 0.2 s).
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
import threading

import opencc

from .chars import char_class
from .normalize import fold_chars, has_combining, may_be_unusual, normalize

_OPENCC_DICTS = ("TSPhrases", "TSCharactersExt", "TSCharacters", "CJK_Compatibility_Ideographs")


def _read_opencc_dicts() -> dict[str, list[tuple[str, list[str]]]] | None:
    """Dictionary name -> every (key, values) entry of it, for the
    dictionaries ``normalize``'s converter uses, read with the
    ``opencc_dict`` tool shipped with the opencc package (text dumps, the
    four tools run at once); None when the tool is missing or fails."""
    import subprocess

    clib = os.path.join(os.path.dirname(opencc.__file__), "clib")
    tool, share = os.path.join(clib, "bin", "opencc_dict"), os.path.join(clib, "share", "opencc")
    if not os.access(tool, os.X_OK):
        return None
    entries: dict[str, list[tuple[str, list[str]]]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="newssearch-opencc-") as tmp:
            procs = []
            for name in _OPENCC_DICTS:
                out = os.path.join(tmp, name + ".txt")
                cmd = [tool, "-i", os.path.join(share, name + ".ocd2"), "-o", out, "-f", "ocd2", "-t", "text"]
                procs.append((name, out, subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                                          stderr=subprocess.DEVNULL)))
            if any(p.wait(timeout=30) != 0 for _, _, p in procs):
                return None
            for name, out, _ in procs:
                with open(out, encoding="utf-8") as f:
                    for line in f:
                        key, _, values = line.rstrip("\n").partition("\t")
                        if key:
                            entries.setdefault(name, []).append((key, values.split(" ")))
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    return entries


def _lower_outputs(ch: str) -> set[str]:
    """What ``fold_case`` may make of ``ch`` in some context (final sigma: two forms)."""
    low = ch.lower()
    out = {low if len(low) == 1 else ch}
    if ch == "\u03a3":
        out.add("\u03c2")
    return out


@functools.lru_cache(maxsize=1)
def _sources_table() -> dict[str, frozenset[str]] | None:
    """Normalised character -> every original character (other than itself)
    whose normalisation may give it, in any context; None when the
    dictionaries cannot be read or break line locality (a key or value
    holding a line break, a conversion changing the length)."""
    dicts = _read_opencc_dicts()
    if dicts is None:
        return None
    outputs: dict[str, set[str]] = {}  # folded character -> converted characters it may become
    for name, entries in dicts.items():
        for key, values in entries:
            if "\n" in key or any(len(v) != len(key) or "\n" in v for v in values):
                return None
            if name == "CJK_Compatibility_Ideographs":
                continue
            for i, ch in enumerate(key):
                outputs.setdefault(ch, {ch}).update(v[i] for v in values if v)
    # The compatibility ideographs are normalised first, then converted.
    for key, values in dicts.get("CJK_Compatibility_Ideographs", []):
        for i, ch in enumerate(key):
            for v in values:
                if v:
                    outputs.setdefault(ch, {ch}).update(outputs.get(v[i], {v[i]}))
    fold = _fold_table()
    originals = {chr(cp) for cp in fold} | set(outputs) | {"\u03a3"}
    originals.update(ch for ch in map(chr, range(0x10000)) if not 0xD800 <= ord(ch) <= 0xDFFF and ch.lower() != ch)
    table: dict[str, set[str]] = {}
    for ch in originals:
        folded = fold.get(ord(ch), ch)
        for converted in outputs.get(folded, {folded}):
            for out in _lower_outputs(converted):
                if out != ch:
                    table.setdefault(out, set()).add(ch)
    return {k: frozenset(v) for k, v in table.items()}


def t2s_sources(ch: str) -> frozenset[str] | None:
    """Every character of an original text whose normalisation (``normalize``:
    fold, Traditional -> Simplified in any phrase context, lower-casing) may
    give the one character ``ch``, ``ch`` itself included: a text holding
    none of them cannot hold ``ch`` once normalised.  None when that is not
    known: ``ch`` outside the Basic Multilingual Plane or a line break, or
    OpenCC's dictionaries unreadable (then search the normalised text)."""
    if len(ch) != 1 or ord(ch) > 0xFFFF or ch in "\n\r":
        return None
    table = _sources_table()
    if table is None:
        return None
    return table.get(ch, frozenset()) | {ch}


@functools.lru_cache(maxsize=1)
def _fold_table() -> dict[int, str]:
    """{code point: its ``fold_chars`` form} of every BMP character the fold changes."""
    chars = "".join(chr(cp) for cp in range(0x10000) if not 0xD800 <= cp <= 0xDFFF)
    return {ord(c): f for c, f in zip(chars, fold_chars(chars)) if c != f}


@functools.lru_cache(maxsize=1)
def _case_context_chars() -> tuple[frozenset[str], frozenset[str]]:
    """(characters that fold to a capital sigma, characters whose folded
    form lower-cases to more than one character): see ``case_fold_is_local``."""
    fold = _fold_table()
    sigma = {"\u03a3"} | {chr(cp) for cp, v in fold.items() if v == "\u03a3"}
    long_lower = {"\u0130"} | {chr(cp) for cp, v in fold.items() if len(v.lower()) != 1}
    long_lower.update(ch for ch in map(chr, range(0x10000))
                      if not 0xD800 <= ord(ch) <= 0xDFFF and len(ch.lower()) != 1)
    return frozenset(sigma), frozenset(long_lower)


def case_fold_is_local(piece: str, text: str) -> bool:
    """Does ``fold_case`` lower-case ``piece`` (whole lines of ``text``) alone
    exactly as it does inside ``text``?  Only a final capital sigma can
    differ: ``str.lower`` writes it ς, the character-by-character path that
    ``fold_case`` takes for a text holding an İ writes σ."""
    sigma, long_lower = _case_context_chars()
    for c in sigma:
        if c in piece:
            return not any(c in text for c in long_lower)
    return True


@functools.lru_cache(maxsize=1)
def _phrase_chars() -> frozenset[str]:
    """Every character of a multi-character key of OpenCC's dictionaries
    (where the conversion may look at a neighbour); all of them when the
    dictionaries cannot be read."""
    dicts = _read_opencc_dicts()
    if dicts is None:
        return frozenset(chr(cp) for cp in range(0x4E00, 0xA000))
    return frozenset(ch for entries in dicts.values() for key, _ in entries if len(key) > 1 for ch in key)


def window_edge(ch: str) -> bool:
    """May a text be cut beside ``ch`` and the pieces normalised apart
    (``normalize`` of the whole equal to the pieces' results put together)?
    A line break, or a CJK ideograph of no OpenCC phrase: never removed,
    composed or lower-cased differently, never Latin (``_whole``'s word
    edges), and no conversion reaches over it."""
    return ch == "\n" or ("\u4e00" <= ch <= "\u9fff" and ch not in _phrase_chars())


_ready = threading.Event()
_starting = threading.Lock()
_started = False
_usable = False


def _build_tables() -> None:
    global _usable
    try:
        _usable = t2s_sources("a") is not None
        may_be_unusual("")
        case_fold_is_local("", "")
        _edge_pattern()
        has_combining("")
    except Exception:  # noqa: BLE001 - the reference path serves: the same output, slower
        _usable = False
    finally:
        _ready.set()
    normalize("a\u200b")  # its own tables, for the rare pieces with invisible characters


def prepare(wait: float | None = 0) -> bool:
    """Build the fast path's tables (``t2s_sources`` and the cutting points,
    about 0.2 s once per process) in a background thread, started on the
    first call; wait up to ``wait`` seconds for them (None: until built).
    True when the fast path can serve; False until then, and for good when
    OpenCC's dictionaries cannot be read (the highlighter then takes its
    reference path: the same output, slower)."""
    global _started
    if not _ready.is_set() and not _started:
        with _starting:
            if not _started:
                threading.Thread(target=_build_tables, name="highlight-tables", daemon=True).start()
                _started = True
    ready = _ready.wait(wait) if wait != 0 else _ready.is_set()
    return ready and _usable


def candidates(text: str, needles: list[str]) -> tuple[list[str], list[tuple[int, int]]] | None:
    """(the needles that may occur in ``text``, (position, needle length) of
    every character of ``text`` that may normalise to the rarest character
    of such a needle: every occurrence covers one), or None when the fast
    path cannot tell (see the module docstring)."""
    live: list[str] = []
    positions: list[tuple[int, int]] = []
    for needle in needles:
        chosen: list[str] | None = None
        cost = 0
        plan = _needle_sources(needle)
        if plan is None:
            return None
        for sources in plan:
            present = [c for c in sources if c in text]
            if not present:
                chosen = None
                break
            n = sum(text.count(c) for c in present)
            if chosen is None or n < cost:
                chosen, cost = present, n
        if chosen is None:  # some character of the needle cannot occur
            continue
        live.append(needle)
        for c in chosen:
            i = text.find(c)
            while i >= 0:
                positions.append((i, len(needle)))
                i = text.find(c, i + 1)
    return live, positions


@functools.lru_cache(maxsize=4096)
def _needle_sources(needle: str) -> tuple[frozenset[str], ...] | None:
    """``t2s_sources`` of each distinct character of ``needle``; None when one is unknown."""
    out = []
    for ch in dict.fromkeys(needle):
        sources = t2s_sources(ch)
        if sources is None:
            return None
        out.append(sources)
    return tuple(out)


def _merge_intervals(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted intervals, those that overlap or touch merged."""
    intervals.sort()
    runs: list[list[int]] = []
    for a, b in intervals:
        if runs and a <= runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], b)
        else:
            runs.append([a, b])
    return [(a, b) for a, b in runs]


_REACH = 48  # characters a window grows to find a cutting point before taking the whole line (chosen)


def windows(text: str, positions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Around each candidate position p (needle length L), the piece
    text[a:b] holding p-L+1 .. p+L-1, grown to cutting points
    (``window_edge`` characters outside it, or the text's ends; the whole
    line beyond ``_REACH``); overlapping pieces merged."""
    n = len(text)
    out = []
    phrase = _phrase_chars()
    next_edge = _edge_pattern().search
    for p, length in positions:
        a, b = p - length + 1, p + length
        if a < 0:
            a = 0
        if b > n:
            b = n
        stop = a - _REACH
        while a > 0:
            ch = text[a - 1]
            if ch == "\n" or ("\u4e00" <= ch <= "\u9fff" and ch not in phrase):  # window_edge(ch)
                break
            a -= 1
            if a <= stop:
                a = text.rfind("\n", 0, a) + 1
                break
        if b < n:
            m = next_edge(text, b, b + _REACH)
            if m is not None:
                b = m.start()
            else:
                b = text.find("\n", b + _REACH)
                b = n if b < 0 else b
        out.append((a, b))
    return _merge_intervals(out)


@functools.lru_cache(maxsize=1)
def _edge_pattern() -> re.Pattern:
    """The characters ``window_edge`` accepts, as one character class."""
    return re.compile(char_class({ord("\n")} | {cp for cp in range(0x4E00, 0xA000) if chr(cp) not in _phrase_chars()}))


def lines_of(text: str, positions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The whole lines (line break included) holding the candidate
    positions, touching ones merged."""
    out = []
    for p, _ in positions:
        end = text.find("\n", p)
        out.append((text.rfind("\n", 0, p) + 1, len(text) if end < 0 else end + 1))
    return _merge_intervals(out)
