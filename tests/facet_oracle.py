"""The brute-force facet oracle shared by the Whoosh tests
(test_facets_on_request.py) and the OpenSearch tests (test_opensearch.py):
for a search, every matching article is listed (``group=False``, one page
of all of them) and each facet's counts are recomputed from those articles'
own fields (folded keys for text values, the newsroom year of the
publication time); then, for the first values shown, the same search
filtered by the value must find exactly that many articles
(``total_articles``)."""

from __future__ import annotations

import collections

from search.fields import FACET_FIELDS
from search.models import SearchRequest
from search.timeutil import NEWSROOM_TZ, published_time
from search.values import value_key

ALL = FACET_FIELDS  # category, source, author, tag, year
# (query, other filters, grouped?): plain words, several words, a search
# relaxed to partial matches, grouped near-duplicates, other filters active.
CASES = [
    ("香港", {}, False),
    ("", {}, False),
    ("疫苗 立法会", {}, False),  # few articles have both words: partial matches follow
    ("香港", {}, True),
    ("经济", {"year": ["2020"]}, True),
    ("香港", {"category": ["众闻"]}, False),  # the Simplified form of 眾聞 selects it
]
SHOWN = 8  # values per facet checked against a filtered search (each one a search)


def search(engine, q, filters=None, group=False, facets=ALL, size=3000, facet_size=10000):
    req = SearchRequest(q=q, size=size, facets=facets, facet_size=facet_size, group=group, correct=False,
                        highlight=False, **(filters or {}))
    return engine.search(req)


def articles(res) -> int:
    return res.total_articles if res.total_articles is not None else res.total


def year_of(published: str | None) -> str | None:
    moment = published_time(published)
    return str(moment.astimezone(NEWSROOM_TZ).year) if moment else None


def oracle(hits) -> dict[str, dict[str, int]]:
    """Per facet, folded key -> articles, recomputed from the hits' fields."""
    counts = {name: collections.Counter() for name in ALL}
    for h in hits:
        for name in ("category", "source", "author"):
            if getattr(h, name) and value_key(getattr(h, name)):
                counts[name][value_key(getattr(h, name))] += 1
        for key in {value_key(t) for t in h.tags if value_key(t)}:
            counts["tag"][key] += 1
        if year_of(h.published):
            counts["year"][year_of(h.published)] += 1
    return counts


def check_exact(engine, q, filters, group):
    """Every facet's every value against the oracle, and the first
    ``SHOWN`` values of each against the filtered search's total."""
    res = search(engine, q, filters, group)
    listed = search(engine, q, filters, False)  # every matching article, one hit each
    assert articles(res) == listed.total == len(listed.hits) > 0
    expected = oracle(listed.hits)
    for name in ALL:
        got = {value_key(f.value): f.count for f in res.facets[name]}
        assert got == dict(expected[name]), (q, name)
        assert len(got) == len(res.facets[name]), "one bucket per folded key"
    for name in ALL:
        for f in res.facets[name][:SHOWN]:
            narrowed = dict(filters)
            narrowed[name] = [*filters.get(name, []), f.value] if name not in filters else [f.value]
            sub = search(engine, q, narrowed, group, facets=(), size=1)
            assert articles(sub) == f.count, (q, name, f.value)
    return res


NEW_YEAR = [
    {"id": "ny-1", "title": "跨年夜的城市", "body": "跨年夜，市民聚集。", "published": "2023-12-31T16:30:00Z",
     "author": "王建国", "tags": ["跨年", "城市"]},
    {"id": "ny-2", "title": "跨年前的城市", "body": "跨年前，市民准备。", "published": "2023-12-31T15:59:59Z",
     "author": "王建國", "tags": ["跨年"]},
    {"id": "ny-3", "title": "城市的新年", "body": "新年里，城市安静。", "published": "2024-06-01",
     "author": "李明", "tags": ["城市"]},
    {"id": "ny-4", "title": "城市无日期", "body": "没有日期的城市报道。", "author": "李明"},
]
