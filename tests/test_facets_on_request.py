"""Facets on request (``facets=author,tag,year``), exact on both backends.

The oracle is brute force on the 2,000-article sample: for a search, every
matching article is listed (``group=False``, one page of all of them) and
each facet's counts are recomputed from those articles' own fields (folded
keys for text values, the newsroom year of the publication time); then, for
the values shown, the same search filtered by the value must find exactly
that many articles (``total_articles``).  The OpenSearch half runs the same
checks on a 2-shard index of the same sample, once with the shard size that
answers in one request and once forced small, so that the exact fallback
(composite paging) answers."""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import uuid
from datetime import datetime, timezone
from urllib.parse import quote

import pytest

from search.fields import FACET_FIELDS
from search.models import SearchRequest
from search.timeutil import NEWSROOM_TZ, published_time
from search.values import value_key

from conftest import call

URL = os.environ.get("OPENSEARCH_URL")
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


def _search(engine, q, filters=None, group=False, facets=ALL, size=2000, facet_size=10000):
    req = SearchRequest(q=q, size=size, facets=facets, facet_size=facet_size, group=group, correct=False,
                        highlight=False, **(filters or {}))
    return engine.search(req)


def _articles(res) -> int:
    return res.total_articles if res.total_articles is not None else res.total


def _year(published: str | None) -> str | None:
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
        if _year(h.published):
            counts["year"][_year(h.published)] += 1
    return counts


def check_exact(engine, q, filters, group):
    """Every facet's every value against the oracle, and the first
    ``SHOWN`` values of each against the filtered search's total."""
    res = _search(engine, q, filters, group)
    listed = _search(engine, q, filters, False)  # every matching article, one hit each
    assert _articles(res) == listed.total == len(listed.hits) > 0
    expected = oracle(listed.hits)
    for name in ALL:
        got = {value_key(f.value): f.count for f in res.facets[name]}
        assert got == dict(expected[name]), (q, name)
        assert len(got) == len(res.facets[name]), "one bucket per folded key"
    for name in ALL:
        for f in res.facets[name][:SHOWN]:
            narrowed = dict(filters)
            narrowed[name] = [*filters.get(name, []), f.value] if name not in filters else [f.value]
            sub = _search(engine, q, narrowed, group, facets=(), size=1)
            assert _articles(sub) == f.count, (q, name, f.value)
    return res


@pytest.mark.parametrize("q,filters,group", CASES)
def test_every_facet_count_equals_the_filtered_total_whoosh(plain_engine, q, filters, group):
    res = check_exact(plain_engine, q, filters, group)
    if q == "疫苗 立法会":
        assert res.relaxed, "the case of partial matches"


def test_year_facet_is_newest_first_and_sized(plain_engine):
    res = _search(plain_engine, "", facets=("year",), size=1, facet_size=2)
    years = [f.value for f in res.facets["year"]]
    every = [f.value for f in _search(plain_engine, "", facets=("year",), size=1).facets["year"]]
    assert len(every) > 2 and years == every[:2] == sorted(every, reverse=True)[:2]


def test_default_search_counts_only_category_and_source(plain_engine):
    res = plain_engine.search(SearchRequest(q="香港"))
    assert list(res.facets) == ["category", "source"]
    none = plain_engine.search(SearchRequest(q="香港", facets=()))
    assert none.facets == {}


def test_facet_names_are_checked_by_the_engine(plain_engine):
    from search.errors import SearchServiceError

    with pytest.raises(SearchServiceError, match="unknown facet 'byline'.*category, source, author, tag, year"):
        plain_engine.search(SearchRequest(q="香港", facets=("author", "byline")))
    with pytest.raises(SearchServiceError, match="'year' must be a year of four digits"):
        plain_engine.search(SearchRequest(q="香港", year=["20x4"]))


def test_author_filter_agrees_with_author_operator_and_byline_field(plain_engine, web_app):
    """The author facet's value, as a filter, as ``author:`` and as the
    advanced form's byline field: the same folded key.  ``author:`` and the
    byline match names containing the text, so they find at least the
    filter's articles, and exactly them for a name no other contains."""
    from web.params import advanced_query
    from werkzeug.datastructures import MultiDict

    authors = _search(plain_engine, "", facets=("author",), size=1).facets["author"]
    names = [f.value for f in authors]
    unique = [f for f in authors if not any(f.value != o and value_key(f.value) in value_key(o) for o in names)]
    assert len(unique) >= 3
    for f in unique[:3]:
        by_filter = {h.id for h in _search(plain_engine, "", {"author": [f.value]}, facets=()).hits}
        by_operator = {h.id for h in _search(plain_engine, f"author:{f.value}", facets=()).hits}
        by_form = {h.id for h in _search(plain_engine, advanced_query(MultiDict({"byline": f.value})),
                                         facets=()).hits}
        assert len(by_filter) == f.count and by_operator == by_form == by_filter, f.value


# ---- newsroom years ------------------------------------------------------------------

NEW_YEAR = [
    {"id": "ny-1", "title": "跨年夜的城市", "body": "跨年夜，市民聚集。", "published": "2023-12-31T16:30:00Z",
     "author": "王建国", "tags": ["跨年", "城市"]},
    {"id": "ny-2", "title": "跨年前的城市", "body": "跨年前，市民准备。", "published": "2023-12-31T15:59:59Z",
     "author": "王建國", "tags": ["跨年"]},
    {"id": "ny-3", "title": "城市的新年", "body": "新年里，城市安静。", "published": "2024-06-01",
     "author": "李明", "tags": ["城市"]},
    {"id": "ny-4", "title": "城市无日期", "body": "没有日期的城市报道。", "author": "李明"},
]


def test_year_is_the_newsroom_year_and_its_filter_agrees(tiny_index):
    """2023-12-31T16:30:00Z is 2024-01-01 00:30 in Beijing: 2024; one
    second before 16:00Z is still 2023; an undated article is in no year.
    Authors 王建国/王建國 are one bucket."""
    engine, _, _ = tiny_index(NEW_YEAR)
    res = _search(engine, "城市")
    assert [(f.value, f.count) for f in res.facets["year"]] == [("2024", 2), ("2023", 1)]
    assert {value_key(f.value): f.count for f in res.facets["author"]} == {"王建国": 2, "李明": 2}
    assert {f.value: f.count for f in res.facets["tag"]} == {"跨年": 2, "城市": 2}
    assert {h.id for h in _search(engine, "城市", {"year": ["2024"]}).hits} == {"ny-1", "ny-3"}
    assert {h.id for h in _search(engine, "城市", {"year": ["2023"]}).hits} == {"ny-2"}
    assert {h.id for h in _search(engine, "城市", {"year": ["2023", "2024"]}).hits} == {"ny-1", "ny-2", "ny-3"}


# ---- the web: API and results page over real HTTP ------------------------------------

def _api(server, query):
    status, body = call(server.url + "/api/search?" + query)
    return status, json.loads(body)


def test_api_facets_parameter(server):
    status, default = _api(server, "q=" + quote("香港"))
    assert status == 200 and list(default["facets"]) == ["category", "source"]
    status, more = _api(server, "q=" + quote("香港") + "&facets=year,author,tag")
    assert status == 200 and list(more["facets"]) == ["author", "tag", "year"]
    assert all(f["count"] > 0 for values in more["facets"].values() for f in values)
    status, none = _api(server, "q=" + quote("香港") + "&facets=")
    assert status == 200 and none["facets"] == {}
    status, bad = _api(server, "q=" + quote("香港") + "&facets=author,writer")
    assert status == 400 and "unknown facet 'writer'" in bad["error"]
    assert "category, source, author, tag, year" in bad["error"]


def test_api_year_filter_matches_the_year_facet(server):
    status, res = _api(server, "q=" + quote("香港") + "&facets=year&group=0")
    assert status == 200 and res["facets"]["year"]
    for f in res["facets"]["year"][:3]:
        status, sub = _api(server, "q=" + quote("香港") + "&facets=&group=0&year=" + f["value"])
        assert status == 200 and sub["total"] == f["count"]
    for bad, says in (("20x4", "four digits"), ("1899", "plausible range of years"), ("3000", "plausible range")):
        status, err = _api(server, "q=" + quote("香港") + "&year=" + bad)
        assert status == 400 and says in err["error"], bad


def test_results_page_shows_extra_facets_only_when_asked(server):
    status, body = call(server.url + "/search?q=" + quote("香港"))
    page = body.decode()
    assert status == 200 and 'data-facet="category"' in page and 'data-facet="author"' not in page
    assert "facets=category%2Csource%2Cauthor%2Ctag%2Cyear" in page  # the 更多筛选 link
    status, body = call(server.url + "/search?q=" + quote("香港") + "&facets=category,source,author,tag,year")
    page = body.decode()
    assert status == 200
    for name, label in (("author", "作者"), ("tag", "标签"), ("year", "年份")):
        assert f'data-facet="{name}"' in page and f"<h2>{label}</h2>" in page
    assert "year=20" in page  # a year's link filters by year=YYYY
    status, body = call(server.url + "/search?q=" + quote("香港") + "&facets=writer")
    assert status == 400 and "unknown facet" in body.decode() and "<html" in body.decode().lower()


# ---- OpenSearch ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def os_engine(sample_records):
    """The 2,000-article sample in a 2-shard, 1-replica index (deleted
    after the module), and an engine over it."""
    if not URL:
        if os.environ.get("REQUIRE_OPENSEARCH"):
            pytest.fail("OPENSEARCH_URL is not set: scripts/opensearch start")
        pytest.skip("no OpenSearch cluster (scripts/opensearch start, then OPENSEARCH_URL=...)")
    from opensearchpy import OpenSearch

    from indexer.records import to_article
    from search.analysis import Analyzer
    from search.backends.opensearch.backend import OpenSearchBackend
    from search.backends.opensearch.indexing import bulk_index
    from search.backends.opensearch.mapping import index_body
    from search.documents import prepare
    from search.engine import SearchEngine
    from search.segmenter import get_segmenter

    client = OpenSearch(URL, timeout=60)
    analyzer = Analyzer(get_segmenter())
    index = "news-facets-" + uuid.uuid4().hex[:8]
    client.indices.create(index=index, body=index_body(shards=2, replicas=1))
    try:
        records = sample_records + NEW_YEAR
        bulk_index(client, index, (prepare(to_article(r), analyzer) for r in records))
        client.indices.refresh(index=index)
        engine = SearchEngine(OpenSearchBackend(URL, index), synonyms_path=None, blocklist_path=None,
                              cache_size=0)
        yield engine
        engine.pinyin.get(wait=60)
        engine.suggester.get(wait=60)
    finally:
        client.indices.delete(index=index)


@pytest.mark.parametrize("q,filters,group", CASES)
def test_every_facet_count_equals_the_filtered_total_opensearch(os_engine, q, filters, group):
    check_exact(os_engine, q, filters, group)


@pytest.mark.parametrize("q", ["香港", "疫苗 立法会"])
def test_small_shard_size_still_counts_exactly(os_engine, plain_engine, q):
    from search.backends.opensearch import aggregations as aggs_module

    """Shards answering fewer values than they hold (shard_size forced to
    the page's 20): the counts come from the exact path and equal the
    Whoosh backend's, values and order alike."""
    aggs = os_engine.backend.aggregations
    exact, calls = aggs._exact_buckets, []

    def counted(*args):  # the real method, its calls counted
        calls.append(args[0])
        return exact(*args)

    aggs.shard_size, aggs._exact_buckets = 1, counted
    try:
        theirs = _search(os_engine, q, facets=("category", "source", "author", "tag"), size=1, facet_size=20)
    finally:
        aggs.shard_size = aggs_module.SHARD_SIZE
        del aggs._exact_buckets
    assert set(calls) == {"source", "author", "tag"} or set(calls) == {"category", "source", "author", "tag"}
    ours = _search(plain_engine, q, facets=("category", "source", "author", "tag"), size=1, facet_size=20)
    for name in ("category", "source", "author", "tag"):
        assert [(f.value, f.count) for f in theirs.facets[name]] == [(f.value, f.count) for f in ours.facets[name]]


def test_newsroom_year_on_opensearch(os_engine):
    res = _search(os_engine, "城市", facets=("year", "author"))
    ids = {h.id for h in res.hits}
    assert {"ny-1", "ny-2", "ny-3", "ny-4"} <= ids
    years = dict((f.value, f.count) for f in res.facets["year"])
    listed = collections.Counter(_year(h.published) for h in res.hits if _year(h.published))
    assert years == dict(listed) and years["2024"] >= 2
    assert {h.id for h in _search(os_engine, "跨年", {"year": ["2024"]}).hits} == {"ny-1"}
    assert {h.id for h in _search(os_engine, "跨年", {"year": ["2023"]}).hits} == {"ny-2"}
