"""Facets on request (``facets=author,tag,year``), exact: the Whoosh
backend against the brute-force oracle (``facet_oracle.py``) on the
2,000-article sample, newsroom years, the ``facets`` parameter and the
``year`` filter over real HTTP.  The OpenSearch backend runs the same
oracle in test_opensearch.py (on its shared 2-shard index of the sample)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from search.models import SearchRequest
from search.values import value_key

from conftest import call
from facet_oracle import CASES, NEW_YEAR, check_exact, search as _search


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


def test_openapi_describes_facets_and_year(client, openapi):
    """The answers with facets asked for, and the 400 for an unknown one,
    validate against the OpenAPI document, which names the allowed facets."""
    from conftest import validated

    q = quote("香港")
    data = validated(client, openapi, f"/api/search?q={q}&facets=author,tag,year&year=2020&year=2021").get_json()
    assert list(data["facets"]) == ["author", "tag", "year"]
    assert {f["value"] for f in data["facets"]["year"]} == {"2020", "2021"}
    validated(client, openapi, f"/api/search?q={q}&facets=author,byline", status=400)
    spec = client.get("/api/openapi.json").get_json()
    params = {p["name"]: p for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert "category, source, author, tag, year" in params["facets"]["description"]
    assert params["year"]["schema"]["items"]["pattern"] == r"^\d{4}$"
