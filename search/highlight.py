"""Highlighted titles and snippets, drawn on the article's original text.

No segmentation runs here: the query's terms were analysed once, and the
stored text is only normalised (character fold + Traditional->Simplified,
which keeps a map back to the original characters) and searched with
``str.find``.  Everything outside ``<mark>`` is HTML-escaped.
"""

from __future__ import annotations

import html
from bisect import bisect_left

from .chars import sentence_spans
from .normalize import fold_case, normalize

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


def find_spans(text: str, needles: list[str]) -> list[tuple[int, int]]:
    """Original-text spans of every occurrence of any needle (normalised,
    lower-cased), merged where they overlap; a needle's Latin edge only at
    a Latin word's edge (``_whole``)."""
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
    spans.sort()
    merged: list[list[int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


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
    """About 120-160 characters around the best-matching sentences, cut at
    Chinese sentence punctuation where possible."""
    if not body:
        return ""
    if len(body) > SNIPPET_SCAN:
        # Look at the beginning first (cut at a sentence end); the whole
        # text only when the terms are not there.
        head = body[: body.rfind("\n", 0, SNIPPET_SCAN) + 1 or SNIPPET_SCAN]
        if find_spans(head, needles):
            tail = snippet(head, needles)
            return tail[:-1] + "…" if tail.endswith("…") else tail + "…"
    spans = find_spans(body, needles)
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
