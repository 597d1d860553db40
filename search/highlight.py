"""Highlighted titles and snippets, drawn on the article's original text.

No segmentation runs here: the query's terms were analysed once, and the
stored text is only normalised (character fold + Traditional->Simplified,
which keeps a map back to the original characters) and searched with
``str.find``.  Everything outside ``<mark>`` is HTML-escaped.

Cost: normalising a whole body for every hit (OpenCC and the character
fold, tens of nanoseconds a character) once took most of a cold query's
time (46-49 % of it on the 2,000-article sample).  ``find_spans`` now
normalises only short pieces around the characters that may be a needle's
rarest character (``search.match_pieces``: the original characters that
may normalise to it, found with ``str.find``; the pieces cut where
normalisation is local), all in one call; ``snippet`` reads the sentences
only around the matches.  The output is exactly that of the straightforward
path, kept as ``reference_find_spans`` and ``reference_snippet`` (the tests
compare both on every hit of the query mix); the fast path falls back to it
for the rare texts it cannot cut (a combining mark near a match, a final
sigma beside an İ, a needle holding a line break or a character beyond the
Basic Multilingual Plane) and until its tables are built
(``match_pieces.prepare``: once per process, in the background, ~0.2 s).
Figures: ``python -m bench.highlight``.
"""

from __future__ import annotations

import html
from bisect import bisect_left, bisect_right

from .chars import _SENTENCE, SENTENCE_END, SENTENCE_END_CHARS, sentence_spans
from .match_pieces import candidates, case_fold_is_local, lines_of, prepare, windows
from .normalize import fold_case, has_combining, may_be_unusual, normalize, normalize_piece

SNIPPET_MIN = 120  # characters of a snippet, at least ... (chosen, not measured)
SNIPPET_MAX = 160  # ... and at most
# Where to look for the snippet first: normalising a whole long article for
# every hit cost more than all the rest of an export of 10,000 rows.
SNIPPET_SCAN = 3000  # characters (chosen, not measured)


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _whole(low: str, start: int, end: int) -> bool:
    """Does ``low[start:end]`` stand alone as analysis cuts Latin text?  A
    Latin letter or digit at an edge of the needle must not continue into
    the text beside it (``lam`` is no word of ``glamor``, ``2002`` none of
    ``12002``), as a Latin term is never cut at index time; Chinese edges
    match anywhere (words inside longer words)."""
    if _latin(low[start]) and start > 0 and _latin(low[start - 1]):
        return False
    return not (_latin(low[end - 1]) and end < len(low) and _latin(low[end]))


def reference_find_spans(text: str, needles: list[str]) -> list[tuple[int, int]]:
    """``find_spans`` the straightforward way: the whole text normalised and
    searched (the reference the fast path must equal, and its fallback)."""
    needles = [n for n in dict.fromkeys(needles) if n]
    if not needles or not text:
        return []
    norm = normalize(text)
    low = fold_case(norm.text)
    spans = []
    for needle in needles:
        start = low.find(needle)
        while start >= 0:
            end = start + len(needle)
            if _whole(low, start, end):
                spans.append(norm.span(start, end))
                start = low.find(needle, end)
            else:  # inside a longer Latin word: look again from the next character
                start = low.find(needle, start + 1)
    return _merged(spans)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans sorted, overlapping ones merged."""
    spans.sort()
    merged: list[list[int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def _search(low: str, needles: list[str]) -> list[tuple[int, int]]:
    """Spans in ``low`` (normalised text) of the needles, as
    ``reference_find_spans`` searches."""
    spans = []
    for needle in needles:
        start = low.find(needle)
        while start >= 0:
            end = start + len(needle)
            if _whole(low, start, end):
                spans.append((start, end))
                start = low.find(needle, end)
            else:  # inside a longer Latin word: look again from the next character
                start = low.find(needle, start + 1)
    return spans


def find_spans(text: str, needles: list[str]) -> list[tuple[int, int]]:
    """Original-text spans (start, end: character offsets, end exclusive) of
    every occurrence of any needle (normalised, lower-cased query text) in
    ``text``, sorted, merged where they overlap; a needle's Latin edge only
    at a Latin word's edge (``_whole``).  Only short pieces around the
    characters that may start a needle's rarest character are normalised
    (in one call, joined by line breaks), or their lines when a piece holds
    an invisible character; exactly ``reference_find_spans``."""
    needles = [n for n in dict.fromkeys(needles) if n]
    if not needles or not text:
        return []
    if not prepare():
        return reference_find_spans(text, needles)
    found = candidates(text, needles)
    if found is None:
        return reference_find_spans(text, needles)
    live, positions = found
    if not positions:
        return []
    pieces = windows(text, positions)
    joined = "\n".join(text[a:b] for a, b in pieces)
    if not case_fold_is_local(joined, text):
        return reference_find_spans(text, needles)
    spans = []
    norm = normalize_piece(joined)
    if norm.starts is None:
        # One character per character: offsets in ``joined`` map straight back.
        low = fold_case(norm.text)
        starts, offset = [], 0
        for a, b in pieces:
            starts.append(offset)
            offset += b - a + 1
        for s, e in _search(low, live):
            k = bisect_right(starts, s) - 1
            shift = pieces[k][0] - starts[k]
            spans.append((s + shift, e + shift))
        return _merged(spans)
    for a, b in lines_of(text, positions):  # an invisible character or a mark near a candidate
        piece = text[a:b]
        if (may_be_unusual(piece) and has_combining(piece)) or not case_fold_is_local(piece, text):
            return reference_find_spans(text, needles)
        norm = normalize_piece(piece)
        for s, e in _search(fold_case(norm.text), live):
            s, e = norm.span(s, e)
            spans.append((a + s, a + e))
    return _merged(spans)


def mark(text: str, spans: list[tuple[int, int]], start: int = 0, end: int | None = None) -> str:
    """Escape text[start:end] and wrap the spans in <mark>."""
    end = len(text) if end is None else end
    out = []
    pos = start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if e <= s:
            continue
        out.append(html.escape(text[pos:s]))
        out.append("<mark>" + html.escape(text[s:e]) + "</mark>")
        pos = e
    out.append(html.escape(text[pos:end]))
    return "".join(out)


def highlight_title(title: str, needles: list[str]) -> str:
    """``title`` as HTML: escaped, with every occurrence of the ``needles`` (texts to mark, matched
    as ``find_spans`` does) wrapped in ``<mark>``."""
    return mark(title, find_spans(title, needles))


def highlight_text(text: str, needles: list[str]) -> str:
    """Any whole text (an article's paragraph) as HTML, marked like a title
    (``highlight_title``); no needles: the text escaped, unchanged."""
    return mark(text, find_spans(text, needles))


def snippet(body: str, needles: list[str]) -> str:
    """About 120-160 characters (HTML: escaped, matches in ``<mark>``, line
    breaks as spaces, ``…`` where text was left out) around the
    best-matching sentences, cut at Chinese sentence punctuation where
    possible: the window of whole sentences with the most distinct needles,
    then the most matches, the first of equals.  A body longer than
    ``SNIPPET_SCAN`` characters is looked at up to the last line end before
    that first, and whole only when no needle is there.  Exactly
    ``reference_snippet``, with only the matched lines normalised and only
    the sentences around the matches read."""
    if not body:
        return ""
    if len(body) > SNIPPET_SCAN:
        head = body[: body.rfind("\n", 0, SNIPPET_SCAN) + 1 or SNIPPET_SCAN]
        spans = find_spans(head, needles)
        if spans:
            tail = _snippet(head, spans)
            return tail[:-1] + "…" if tail.endswith("…") else tail + "…"
    return _snippet(body, find_spans(body, needles))


def _first_window(body: str) -> tuple[int, int]:
    """The first sentences of ``body``, up to ``SNIPPET_MAX`` characters (at
    least the first sentence): the snippet of a text without matches."""
    end = None
    for m in _SENTENCE.finditer(body):
        s, e = m.span()
        if e == s:
            continue
        if end is None or e <= SNIPPET_MAX:
            end = e
        else:
            break
    return 0, end or 0


def _best_window(body: str, spans: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The window of whole sentences ``reference_snippet`` picks, reading only
    the sentences that can start a window holding a span (from the last
    sentence start at least ``SNIPPET_MAX`` before a group of spans) and
    those such a window may reach; None when no window holds a whole span
    (the reference then picks the first)."""
    span_starts = [s for s, _ in spans]
    span_ends = [t for _, t in spans]  # increasing too: the spans are merged
    folded = [fold_case(body[s:t]) for s, t in spans]
    groups: list[list[int]] = []  # [first span start, last span start]
    for s in span_starts:
        if groups and s - groups[-1][1] <= 2 * SNIPPET_MAX:
            groups[-1][1] = s
        else:
            groups.append([s, s])
    best, best_key = None, None
    for first, last in groups:
        limit = first - SNIPPET_MAX
        lo = max(body.rfind(c, 0, limit) for c in SENTENCE_END_CHARS) + 1 if limit > 0 else 0
        # The sentences starting up to last + SNIPPET_MAX: one after each end
        # character before that point, their ends, and the end of the last.
        reach = last + SNIPPET_MAX
        ends = [m.end() for m in SENTENCE_END.finditer(body, lo, reach)]
        starts = [lo, *ends]
        after = SENTENCE_END.search(body, reach)
        ends.append(after.end() if after else len(body))
        if starts[-1] >= ends[-1]:  # the text ends with an end character
            del starts[-1], ends[-1]
        i, n = 0, len(starts)
        while i < n and starts[i] <= last:
            s0 = starts[i]
            k = bisect_left(span_starts, s0)
            j = max(i, bisect_right(ends, s0 + SNIPPET_MAX) - 1)  # the window: sentences i..j
            e = ends[j]
            if k == len(span_starts) or span_starts[k] >= e:
                # No span starts in this window: go on with the first sentence
                # whose window may reach the next span.
                i = max(i + 1, bisect_left(starts, span_starts[k] - SNIPPET_MAX) - 1) if k < len(span_starts) else n
                continue
            h = bisect_right(span_ends, e, k)  # spans k..h-1 lie inside the window
            if h > k:
                key = (len(set(folded[k:h])), h - k, -s0)
                if best_key is None or key > best_key:
                    best_key, best = key, (s0, e)
            i += 1
    return best


def _snippet(body: str, spans: list[tuple[int, int]]) -> str:
    """The snippet of ``body`` given its spans (``find_spans``)."""
    window = _best_window(body, spans) if spans else _first_window(body)
    if window is None:
        window = _first_window(body)
    start, end = window
    # Skip leading whitespace; cut over-long single sentences around the first mark.
    while start < end and body[start].isspace():
        start += 1
    if end - start > SNIPPET_MAX:
        first = next((s for s, _ in spans if start <= s < end), start)
        start = max(start, min(first - 30, end - SNIPPET_MAX))
        end = min(end, start + SNIPPET_MAX)
    text = mark(body, spans, start, end).replace("\n", " ")
    prefix = "…" if start > 0 else ""
    suffix = "…" if _text_after(body, end) else ""
    return prefix + text.strip() + suffix


def _text_after(body: str, end: int) -> bool:
    """Is there a character other than whitespace at ``end`` or after
    (``end < len(body.rstrip())`` without copying the body)?"""
    for k in range(end, len(body)):
        if not body[k].isspace():
            return True
    return False


def reference_snippet(body: str, needles: list[str]) -> str:
    """``snippet`` the straightforward way: the whole text (or its first
    ``SNIPPET_SCAN`` characters) normalised, every sentence weighed (the
    reference the fast path must equal)."""
    if not body:
        return ""
    if len(body) > SNIPPET_SCAN:
        # Look at the beginning first (cut at a sentence end); the whole
        # text only when the terms are not there.
        head = body[: body.rfind("\n", 0, SNIPPET_SCAN) + 1 or SNIPPET_SCAN]
        if reference_find_spans(head, needles):
            tail = reference_snippet(head, needles)
            return tail[:-1] + "…" if tail.endswith("…") else tail + "…"
    spans = reference_find_spans(body, needles)
    sentences = sentence_spans(body)
    if not sentences:
        return ""
    best, best_key = (0, 0), None
    span_starts = [s for s, _ in spans]
    for i, (s0, _) in enumerate(sentences):
        # Grow a window of whole sentences up to SNIPPET_MAX characters.
        j = i
        e = sentences[i][1]
        while j + 1 < len(sentences) and sentences[j + 1][1] - s0 <= SNIPPET_MAX:
            j += 1
            e = sentences[j][1]
        lo, hi = bisect_left(span_starts, s0), bisect_left(span_starts, e)
        inside = [(s, t) for s, t in spans[lo:hi] if t <= e]
        distinct = len({fold_case(body[s:t]) for s, t in inside})
        key = (distinct, len(inside), -i)
        if best_key is None or key > best_key:
            best_key, best = key, (s0, e)
        if not spans and e - s0 >= SNIPPET_MIN:
            break
    start, end = best
    # Skip leading whitespace; cut over-long single sentences around the first mark.
    while start < end and body[start].isspace():
        start += 1
    if end - start > SNIPPET_MAX:
        first = next((s for s, _ in spans if start <= s < end), start)
        start = max(start, min(first - 30, end - SNIPPET_MAX))
        end = min(end, start + SNIPPET_MAX)
    text = mark(body, spans, start, end).replace("\n", " ")
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(body.rstrip()) else ""
    return prefix + text.strip() + suffix
