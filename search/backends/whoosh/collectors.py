"""Collectors: what a search keeps of its matching documents.

Given the matches (sorted global doc ids, each with a match tier and a
score), these produce what the result shows: the top k in rank order
(``top_k``), one entry per near-duplicate group (``collapse``) with the
group's other matches (``attach_similar``), facet counts (``facets``), the
timeline (``histogram``); and the deadline every stage checks
(``Deadline``).  Counts are taken over exactly the documents given, with
vectorised counting, so they are exact for the most frequent terms too."""

from __future__ import annotations

import time

import numpy as np

from ... import ranking, timeline
from ...plan import BackendResult, Plan, QueryTimeout
from ...values import shown_form
from .reader import IndexView


class Deadline:
    """A query's time limit: ``at`` is a ``time.monotonic()`` instant (None:
    no limit); ``check()`` raises ``QueryTimeout`` once it has passed."""

    __slots__ = ("at",)

    def __init__(self, at: float | None = None):
        self.at = at

    def check(self) -> None:
        """Raise ``QueryTimeout`` when past ``at``."""
        if self.at is not None and time.monotonic() > self.at:
            raise QueryTimeout("the query took too long")


def top_k(view: IndexView, plan: Plan, docs: np.ndarray, matched: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Indexes into ``docs`` of the first ``plan.offset + plan.limit``
    results in rank order.  "newest"/"oldest": by date (undated last), ties
    by score; relevance: by tier (``matched``, 2 = full match) then score x
    ``ranking.recency_factor``, ties by doc id (so a page's order does not
    depend on which page is asked for).  Relevance writes the final scores
    into ``scores`` (in place)."""
    if not len(docs):
        return np.empty(0, np.int64)
    pub = view.published[docs]
    if plan.sort == "newest":
        # Undated articles last; ties by relevance.
        return np.lexsort((-scores, pub == ranking.NO_DATE, -pub))[: plan.offset + plan.limit]
    if plan.sort == "oldest":
        return np.lexsort((-scores, pub, pub == ranking.NO_DATE))[: plan.offset + plan.limit]
    now = plan.now if plan.now is not None else time.time()
    final = scores * ranking.recency_factor(pub, now)
    scores[:] = final
    k = plan.offset + plan.limit
    if k <= 0:
        return np.empty(0, np.int64)
    if len(docs) > 4 * k + 64:
        # Partial selection first: the best k by (matched, score), and
        # every document tied with the k-th, so that the order (ties by
        # doc id) is the same whatever page is asked for.
        key = matched * 1e9 + final
        kth = np.partition(key, len(key) - k)[len(key) - k]
        top = np.flatnonzero(key >= kth)
        return top[np.lexsort((docs[top], -final[top], -matched[top]))][:k]
    return np.lexsort((docs, -final, -matched))[:k]


def collapse(view: IndexView, docs: np.ndarray, keys: np.ndarray, matched: np.ndarray, scores: np.ndarray):
    """One entry per near-duplicate group among ``docs`` (``keys``: each
    one's representative): its earliest matching article, with the best
    tier and score of any member.  Returns (docs, matched, scores), docs
    sorted; the inputs unchanged when no two matches share a group."""
    if not view.grouped or not (keys != docs).any():
        return docs, matched, scores  # no member of any group matched
    pub = view.published[docs]
    order = np.lexsort((docs, pub, pub == ranking.NO_DATE, keys))
    k_sorted = keys[order]
    starts = np.flatnonzero(np.r_[True, k_sorted[1:] != k_sorted[:-1]])
    first = order[starts]  # earliest member of each group
    best_score = np.maximum.reduceat(scores[order], starts)
    best_tier = np.maximum.reduceat(matched[order], starts)
    back = np.argsort(docs[first], kind="stable")  # keep docs sorted
    return docs[first][back], best_tier[back], best_score[back]


def attach_similar(view: IndexView, hits, docs: np.ndarray, keys: np.ndarray, limit: int) -> None:
    """Give each hit (``BackendHit`` with an int doc ``key``) the other
    matching members of its group (``docs`` with representatives ``keys``)
    in date order: ``similar`` ((doc, stored), at most ``limit``) and
    ``similar_count``."""
    if not view.grouped or not hits:
        return
    for h in hits:
        same = docs[(keys == view.group_rep[h.key]) & (docs != h.key)]
        if not len(same):
            continue
        same = same[np.argsort(view.published[same], kind="stable")]
        h.similar_count = len(same)
        h.similar = [(int(d), view.stored(int(d))) for d in same[:limit].tolist()]


def facets(view: IndexView, docs: np.ndarray, names, size: int) -> dict[str, list[tuple[str, int]]]:
    """Per facet field, the ``size`` most frequent values among ``docs``
    as (shown form, articles): values with the same folded key
    (``search.values``) are one bucket counting each article once, shown
    in the form most of its articles use; ties in count go to the
    smaller key, as OpenSearch orders terms.  ``year``: the ``size`` newest
    calendar years of publication in newsroom time (``year_facet``)."""
    v = view
    out = {}
    for name in names:
        if name == "year":
            out[name] = year_facet(v, docs, size)
            continue
        fk = v.facet_keys(name)
        n_keys = len(fk.keys)
        if name == "tag":
            m = np.zeros(v.n_all, bool)
            m[docs] = True
            pair_ords = v.tag_ords[m[v.tag_docs]]
            form_counts = np.bincount(pair_ords, minlength=len(v.facet_vocab["tag"]))
            counts = np.bincount(fk.key_of[pair_ords], minlength=n_keys)
            # An article with two tags of one key counts once.
            dup_docs, dup_keys, extra = v.tag_key_duplicates()
            hit = m[dup_docs]
            counts -= np.bincount(dup_keys[hit], weights=extra[hit], minlength=n_keys).astype(counts.dtype)
        else:
            ords = v.facet_ords[name][docs]
            ords = ords[ords >= 0]
            form_counts = np.bincount(ords, minlength=len(v.facet_vocab[name]))
            counts = np.bincount(fk.key_of[ords], minlength=n_keys)
        nz = np.flatnonzero(counts)
        if not len(nz):
            out[name] = []
            continue
        top = nz[np.lexsort((fk.rank[nz], -counts[nz]))][:size]
        vocab = v.facet_vocab[name]
        out[name] = [(shown_form([(vocab[o], int(form_counts[o])) for o in fk.forms[k] if form_counts[o]]),
                      int(counts[k])) for k in top.tolist()]
    return out


def year_facet(view: IndexView, docs: np.ndarray, size: int) -> list[tuple[str, int]]:
    """(year, articles) for the ``size`` newest calendar years (newsroom
    time, ``search.timeline.years``) among ``docs``' plausible publication
    dates, newest first; undated articles are in no year."""
    pub = view.published[docs]
    found = timeline.years(pub[timeline.plausible(pub)])
    if not len(found):
        return []
    values, counts = np.unique(found, return_counts=True)
    return [(str(y), int(c)) for y, c in zip(values[::-1][:size].tolist(), counts[::-1][:size].tolist())]


def histogram(view: IndexView, docs: np.ndarray, interval: str, result: BackendResult) -> None:
    """Count ``docs`` over time into ``result`` (``histogram``: (bucket,
    matches) per ``interval`` "day" | "month" | "year" | "auto", as
    ``search.timeline`` chooses and labels them; ``histogram_interval``;
    ``undated``: matches without a plausible date, left out of the bars)."""
    pub = view.published[docs]
    dated = pub[timeline.plausible(pub)]  # NO_DATE (and an old index's implausible dates) left out
    chosen = timeline.choose_interval(int(dated.min()) if len(dated) else None,
                                      int(dated.max()) if len(dated) else None, interval)
    result.histogram = timeline.histogram(dated, chosen)
    result.histogram_interval = chosen
    result.undated = int(len(pub) - len(dated))
