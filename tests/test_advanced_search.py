"""Advanced search: the form writes an ordinary query; lead, at least N
mentions, same sentence or paragraph and words within N return exactly
the articles of the same query typed (and of the records)."""

import re
from urllib.parse import parse_qs, quote, urlparse

import pytest

from conftest import validated
from search import query as q
from search.models import SearchRequest
from search.normalize import fold_case, normalize_query


def squeeze(text):
    return re.sub(r"[\W_]+", "", fold_case(normalize_query(text or "")))


def ids(engine, query):
    res = engine.search(SearchRequest(q=query, size=2000, correct=False, facets=()))
    assert res.total < 2000
    return {h.id for h in res.hits}


def test_compose_writes_a_query_that_parses_back():
    text = q.compose(all_words="香港 选举", exact="立法会 选举", any_words="民主派 建制派", none_words="体育",
                     scope="lead", mentions="选举", min_mentions=3, same_left="林郑月娥", same_right="特首",
                     author="張三", source="眾新聞 Citizen News")
    assert text == ('lead:香港 lead:选举 lead:"立法会 选举" (lead:民主派 OR lead:建制派) -体育 atleast3:选举 '
                    '林郑月娥 w/s 特首 author:張三 source:"眾新聞 Citizen News"')
    parsed = q.parse(text)
    assert q.Words("香港", "lead") in parsed.must and q.Words("体育") in parsed.must_not
    assert q.AnyOf((q.Words("民主派", "lead"), q.Words("建制派", "lead"))) in parsed.must
    assert q.AtLeast(3, q.Words("选举")) in parsed.must
    assert q.Near(q.Words("林郑月娥"), q.Words("特首"), "sentence") in parsed.must
    assert parsed.exact and not parsed.notices
    near = q.compose(near_left="香港", near_right="选举", near_distance=5, same_left="a", same_right="b",
                     same_unit="paragraph")
    assert near == "a w/p b 香港 w/5 选举"
    assert q.compose(near_left="香港", near_right="选举", near_distance=5, near_ordered=True) == "香港 pre/5 选举"
    # Words that look like operators are quoted, so they stay words.
    assert q.compose(all_words="OR 香港") == '"OR" 香港'
    assert q.FieldValue("source", "眾新聞 Citizen News") in parsed.must
    # Not operators: kept as text.
    assert q.parse("abc12:x").must == [q.Words("abc12:x")]
    assert q.parse("SAME 香港").must == [q.Words("香港")]


def test_advanced_form_redirects_to_a_readable_query(client):
    page = client.get("/advanced")
    assert page.status_code == 200 and 'name="same_a"' in page.get_data(as_text=True)
    resp = client.get("/advanced?all=香港+选举&none=体育&scope=title&from=2019-01-01&sort=newest")
    assert resp.status_code == 303
    target = urlparse(resp.headers["Location"])
    params = parse_qs(target.query)
    assert target.path == "/search" and params["q"] == ["title:香港 title:选举 -体育"]
    assert params["from"] == ["2019-01-01"] and params["sort"] == ["newest"]
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'value="title:香港 title:选举 -体育"' in html  # in the search box, editable
    assert client.get("/advanced?all=香港&from=bad").status_code == 400


def test_advanced_api_parameters(client, openapi, engine, sample_records):
    data = validated(client, openapi, f"/api/search?mentions={quote('香港')}&min_mentions=5&size=50&group=0").get_json()
    assert data["query"] == "atleast5:香港"
    assert {h["id"] for h in data["hits"]} <= ids(engine, "香港") and data["total"] == len(ids(engine, "atleast5:香港"))
    author = next(r["author"] for r in sample_records if r.get("author"))
    data = validated(client, openapi, f"/api/search?byline={quote(author)}&group=0&size=50").get_json()
    assert data["total"] >= 1 and all(author in h["author"] for h in data["hits"])
    for bad in ("same_a=香港", "scope=body&all=香港", "mentions=香港&min_mentions=0", "all=" + "字" * 201):
        resp = client.get("/api/search?" + bad)
        assert resp.status_code == 400 and resp.get_json()["error"]


def test_advanced_form_writes_proximity_and_same_paragraph(client):
    page = client.get("/advanced").get_data(as_text=True)
    assert all(f'name="{name}"' in page for name in ("near_a", "near_b", "near_n", "near_order", "same_unit"))
    for fields, written in [
        ("near_a=香港&near_b=选举&near_n=5", "香港 w/5 选举"),
        ("near_a=香港&near_b=选举&near_n=5&near_order=1", "香港 pre/5 选举"),
        ("near_a=香港&near_b=立法会选举&near_n=12&near_order=0", '香港 w/12 "立法会选举"'),
        ("same_a=林郑月娥&same_b=特首&same_unit=paragraph", "林郑月娥 w/p 特首"),
        ("same_a=林郑月娥&same_b=特首&same_unit=sentence", "林郑月娥 w/s 特首"),
        # What the form sends untouched (near_n=5, same_unit, min_mentions) asks for nothing.
        ("all=疫苗&near_a=&near_b=&near_n=5&same_unit=sentence&min_mentions=3", "疫苗"),
    ]:
        resp = client.get("/advanced?" + fields)
        assert resp.status_code == 303, fields
        assert parse_qs(urlparse(resp.headers["Location"]).query)["q"] == [written], fields
    html = client.get("/search?q=" + quote("香港 w/5 选举")).get_data(as_text=True)
    assert 'value="香港 w/5 选举"' in html  # in the search box, editable


def test_proximity_api_fields_give_the_typed_querys_results(client, openapi):
    def search(params):
        return validated(client, openapi, "/api/search?group=0&size=100&correct=0&" + params).get_json()

    for fields, typed in [("near_a=香港&near_b=选举&near_n=5", "香港 w/5 选举"),
                          ("near_a=香港&near_b=选举&near_n=5&near_order=1", "香港 pre/5 选举"),
                          ("same_a=香港&same_b=选举&same_unit=paragraph", "香港 w/p 选举"),
                          ("same_a=香港&same_b=选举", "香港 w/s 选举")]:
        composed, as_typed = search(fields), search("q=" + quote(typed))
        assert composed["query"] == typed
        assert composed["total"] == as_typed["total"] > 0
        assert [h["id"] for h in composed["hits"]] == [h["id"] for h in as_typed["hits"]]
        assert composed["understood_tree"] == as_typed["understood_tree"]
    # Proximity narrows: fewer than both words anywhere, w/5 within w/p, pre/5 within w/5.
    both = search("q=" + quote("香港 选举"))["total_full"]
    near, ordered = search("q=" + quote("香港 w/5 选举")), search("q=" + quote("香港 pre/5 选举"))
    assert {h["id"] for h in ordered["hits"]} <= {h["id"] for h in near["hits"]}
    assert ordered["total"] < near["total"] < search("q=" + quote("香港 w/p 选举"))["total"] < both
    # With q: both parts are searched.
    assert search("q=疫苗&near_a=香港&near_b=选举&near_n=5")["query"] == "疫苗 香港 w/5 选举"


@pytest.mark.parametrize("params,fragment", [
    ("near_a=香港", "'near_a' and 'near_b' go together"),
    ("near_b=选举&near_n=5", "'near_a' and 'near_b' go together"),
    ("near_a=香港&near_b=选举", "'near_n' is needed"),
    ("near_a=香港&near_b=选举&near_n=0", "'near_n' must be between 1 and 100, got 0"),
    ("near_a=香港&near_b=选举&near_n=101", "'near_n' must be between 1 and 100, got 101"),
    ("near_a=香港&near_b=选举&near_n=five", "'near_n' must be an integer"),
    ("near_a=香港&near_b=选举&near_n=5&near_order=yes", "'near_order' must be one of 0, 1"),
    ("q=香港&near_n=500", "'near_n' must be between 1 and 100"),  # checked even when unused
    ("same_a=香港&same_b=选举&same_unit=chapter", "'same_unit' must be one of sentence, paragraph"),
    ("same_b=选举&same_unit=paragraph", "'same_a' and 'same_b' go together"),
    ("near_a=香港&near_b=" + "字" * 201 + "&near_n=5", "'near_b' too long"),
])
def test_bad_proximity_fields_are_400(client, openapi, params, fragment):
    body = validated(client, openapi, "/api/search?" + params, status=400).get_json()
    assert fragment in body["error"], body
    page = client.get("/advanced?" + params)
    assert page.status_code == 400 and fragment.replace("'", "&#39;") in page.get_data(as_text=True)


# ---- search.query behaviour found wrong from the web side (reported, not fixed here) ----------
@pytest.mark.parametrize("term", ["-香港", "(香港", "－香港"])
def test_compose_keeps_each_form_term_one_term(term):
    text = q.compose(near_left=term, near_right="选举", near_distance=5)
    parsed = q.parse(text)
    assert not parsed.notices and len(parsed.must) == 1 and isinstance(parsed.must[0], q.Near), text


def test_a_dangling_proximity_operator_makes_the_query_exact():
    assert q.parse("疫苗 立法会 AND").exact and q.parse("疫苗 w/x 立法会").exact
    assert q.parse("疫苗 立法会 w/5").exact


def test_quoted_phrases_in_form_fields_stay_phrases(engine, sample_records):
    """none = "体育 新闻" excluded every article mentioning 新闻; any = 香港
    "澳门 特区" split the phrase."""
    text = q.compose(all_words="选举", none_words='"体育 新闻"', any_words='香港 "澳门 特区"')
    assert text == '选举 (香港 OR "澳门 特区") -"体育 新闻"'
    parsed = q.parse(text)
    assert q.Phrase("体育 新闻") in parsed.must_not
    assert q.AnyOf((q.Words("香港"), q.Phrase("澳门 特区"))) in parsed.must
    expected = {r["id"] for r in sample_records
                if "选举" in squeeze(r["title"] + r["body"])
                and ("香港" in squeeze(r["title"] + r["body"]) or "澳门特区" in squeeze(r["title"] + r["body"]))
                and "体育新闻" not in squeeze(r["title"] + r["body"])}
    assert ids(engine, text) == expected
