"""Text checks: questions the postings cannot answer, asked of the stored text.

Single characters are indexed without positions, so a phrase with a
one-character run ("细味：「这"), a proximity term of one character and the
``lead:`` test of such a term are confirmed by reading each candidate's
stored text (normalised like queries).  Reading and normalising stored
texts is slow next to array work, so at most ``MAX_TEXT_CHECKS`` candidates
are read, and the deadline is checked every 256 of them."""

from __future__ import annotations

import numpy as np

from ...chars import runs, squeeze
from ...normalize import normalize, normalize_query
from ...plan import UnsupportedQuery
from .collectors import Deadline
from .reader import IndexView

MAX_TEXT_CHECKS = 2000  # stored texts read to confirm an odd phrase


def verify_text(view: IndexView, deadline: Deadline, stored_field: str, text: str, docs: np.ndarray):
    """Keep the ``docs`` (sorted ids) whose stored ``stored_field`` contains
    ``text`` (punctuation and spacing ignored): (docs, occurrences as
    float64).  Over MAX_TEXT_CHECKS candidates all are kept with one
    occurrence each (over-matching a rare kind of phrase beats answering in
    seconds).  Raises ``QueryTimeout`` past the deadline."""
    if len(docs) > MAX_TEXT_CHECKS:
        return docs, np.ones(len(docs))
    needle = squeeze(normalize_query(text))
    keep, counts = [], []
    for i, g in enumerate(docs.tolist()):
        if not i % 256:
            deadline.check()
        hay = squeeze(normalize_query(view.stored(g).get(stored_field) or ""))
        c = hay.count(needle)
        if c:
            keep.append(i)
            counts.append(c)
    return docs[keep], np.asarray(counts, dtype=np.float64)


def text_occurrences(view: IndexView, deadline: Deadline, field: str, text: str, docs: np.ndarray):
    """``Matcher.occurrences`` read from the stored text (a term with a
    one-character run has no positions): (doc, start, end) int64 arrays in
    the normalised text's character positions.  Raises ``UnsupportedQuery``
    over MAX_TEXT_CHECKS candidates, ``QueryTimeout`` past the deadline."""
    if len(docs) > MAX_TEXT_CHECKS:
        raise UnsupportedQuery(f"a one-character term in a proximity operator matches too many articles "
                               f"({len(docs)}); quote a longer phrase")
    needle = squeeze(normalize_query(text))
    out_d, out_s, out_e = [], [], []
    for i, g in enumerate(docs.tolist()):
        if not i % 256:
            deadline.check()
        norm = normalize(view.stored(g).get(field) or "").text
        index = [j for s, e in runs(norm) for j in range(s, e)]
        hay = "".join(norm[i] for i in index)
        at = hay.find(needle)
        while at >= 0 and needle:
            out_d.append(g)
            out_s.append(index[at])
            out_e.append(index[at + len(needle) - 1] + 1)
            at = hay.find(needle, at + 1)
    return (np.asarray(out_d, np.int64), np.asarray(out_s, np.int64), np.asarray(out_e, np.int64))


def text_filter(view: IndexView, deadline: Deadline, docs: np.ndarray, predicate) -> np.ndarray:
    """Boolean mask over ``docs``: live and ``predicate(stored fields)``.
    Raises ``QueryTimeout`` past the deadline."""
    live = view.live

    def each(i, g):
        if not i % 256:
            deadline.check()
        return bool(live[g]) and predicate(view.stored(g))

    return np.fromiter((each(i, g) for i, g in enumerate(docs.tolist())), bool, len(docs))


def in_lead(stored: dict, needles: list[str]) -> bool:
    """Every needle (already normalised and squeezed) in the first
    paragraph of the stored body (normalised like queries)."""
    lead = squeeze(normalize_query((stored.get("body") or "").split("\n", 1)[0]))
    return all(n in lead for n in needles)
