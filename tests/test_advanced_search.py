"""Advanced search: the form writes an ordinary query; lead, at least N
mentions and same sentence return exactly the articles the records say."""

import re
from urllib.parse import parse_qs, quote, urlparse


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
