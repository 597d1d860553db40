"""The JSON API and pages through the real Flask app on the sample index."""

import re

import pytest
from conftest import STAFF, STAFF_TOKEN, digest, validated


def test_search_json(client, openapi):
    resp = validated(client, openapi, "/api/search?q=%E9%A6%99%E6%B8%AF&size=5")
    data = resp.get_json()
    assert data["query"] == "香港" and data["total"] > 5 and len(data["hits"]) == 5
    assert data["page"] == 1 and data["size"] == 5 and data["took_ms"] >= 0
    assert {"category", "source"} <= set(data["facets"])
    # Near-duplicates are grouped by default: total counts groups, facets articles.
    assert data["total_counts"] == "groups" and data["facet_counts"] == "articles"
    assert sum(f["count"] for f in data["facets"]["source"]) == data["total_articles"] >= data["total"]
    hit = data["hits"][0]
    assert "<mark>" in hit["title_highlight"] + hit["snippet"]
    assert resp.headers["Cache-Control"].startswith("public")


def test_synonyms_in_api_and_page(client, openapi):
    data = validated(client, openapi, "/api/search?q=%E8%A1%8C%E6%94%BF%E9%95%BF%E5%AE%98").get_json()
    assert ["特首", "行政长官"] in data["synonyms"]
    page = client.get("/search?q=%E8%A1%8C%E6%94%BF%E9%95%BF%E5%AE%98").get_data(as_text=True)
    assert "同时搜索了同义词" in page and "特首 = 行政长官" in page


def test_pinyin_in_api_and_page(client, openapi):
    import time

    deadline = time.time() + 60
    while True:  # the pinyin lexicon is built in the background when the index opens
        data = validated(client, openapi, "/api/search?q=xianggang&size=3").get_json()
        if data["pinyin"] or time.time() > deadline:
            break
        time.sleep(0.5)
    assert data["pinyin"] == [["xianggang", "香港"]] and data["total"] > 0
    page = client.get("/search?q=xianggang").get_data(as_text=True)
    assert "按拼音同时搜索了" in page and "xianggang → 香港" in page


def test_did_you_mean_in_api_and_page(client, openapi):
    import time
    from urllib.parse import quote

    url = "/api/search?q=" + quote("香岗 选举")
    deadline = time.time() + 60
    while True:  # the pinyin lexicon is built in the background when the index opens
        data = validated(client, openapi, url).get_json()
        if data["corrected_from"] or time.time() > deadline:
            break
        time.sleep(0.5)
    assert data["corrected_from"] == "香岗 选举" and data["corrected_to"] == "香港 选举" and data["total"] > 0
    exact = validated(client, openapi, url + "&correct=0").get_json()
    assert exact["corrected_from"] is None
    page = client.get("/search?q=" + quote("香岗 选举")).get_data(as_text=True)
    assert "已显示「<strong>香港 选举</strong>」的搜索结果" in page
    assert re.search(r'class="original" href="/search\?q=[^"]*correct=0', page)


def test_search_filters_sort_and_dates(client, openapi):
    url = "/api/search?q=%E9%A6%99%E6%B8%AF&sort=newest&source=" \
          "%E7%9C%BE%E6%96%B0%E8%81%9E%20Citizen%20News%20(hkcnews.com)&from=2020-01-01&to=2020-12-31&size=50"
    data = validated(client, openapi, url).get_json()
    assert data["total"] > 0
    dates = [h["published"][:10] for h in data["hits"]]
    assert dates == sorted(dates, reverse=True)
    assert all("2020-01-01" <= d <= "2020-12-31" for d in dates)
    assert all(h["source"].startswith("眾新聞") for h in data["hits"])


def test_pagination(client):
    a = client.get("/api/search?q=%E9%A6%99%E6%B8%AF&size=10&page=1").get_json()
    b = client.get("/api/search?q=%E9%A6%99%E6%B8%AF&size=10&page=2").get_json()
    assert a["total"] == b["total"] > 20
    assert not {h["id"] for h in a["hits"]} & {h["id"] for h in b["hits"]}


@pytest.mark.parametrize("query,fragment", [
    ("page=0", "'page'"),
    ("size=10000", "'size'"),
    ("size=abc", "'size'"),
    ("sort=popular", "'sort'"),
    ("from=yesterday", "'from'"),
    ("from=2021-02-30", "'from'"),
    ("from=2022-01-01&to=2021-01-01", "before"),
    ("q=" + "长" * 201, "too long"),
    ("range=decade", "'range'"),
    ("page=2000&size=100", "beyond"),
    ("correct=yes", "'correct'"),
])
def test_bad_parameters_are_400_json(client, openapi, query, fragment):
    resp = validated(client, openapi, "/api/search?" + query, status=400)
    body = resp.get_json()
    assert body["status"] == 400 and fragment in body["error"]


def test_article_and_related(client, openapi, sample_records):
    rid = sample_records[3]["id"]
    art = validated(client, openapi, f"/api/articles/{rid}").get_json()
    assert art["id"] == rid and art["title"] == sample_records[3]["title"]
    rel = validated(client, openapi, f"/api/articles/{rid}/related?size=3").get_json()
    assert 0 < len(rel["hits"]) <= 3 and all(h["id"] != rid for h in rel["hits"])
    assert validated(client, openapi, "/api/articles/no-such-article", status=404).get_json()["status"] == 404
    assert validated(client, openapi, "/api/articles/no-such-article/related", status=404)
    assert validated(client, openapi, f"/api/articles/{rid}/related?size=0", status=400)


def test_healthz(client, openapi):
    data = validated(client, openapi, "/healthz").get_json()
    assert data["ok"] and data["index_open"] and data["documents"] == 2000
    assert data["last_modified"] > 0


def test_unknown_api_path_is_json_404(client):
    resp = client.get("/api/nothing")
    assert resp.status_code == 404 and resp.get_json()["status"] == 404


def test_cors_only_for_configured_origins(client):
    ok = client.get("/api/search?q=a", headers={"Origin": "https://partner.example"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://partner.example"
    other = client.get("/api/search?q=a", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_openapi_lists_every_endpoint(web_app):
    spec = web_app.test_client().get("/api/openapi.json").get_json()
    api_rules = {re.sub(r"<(?:path:|int:)?(\w+)>", r"{\1}", r.rule) for r in web_app.url_map.iter_rules()
                 if r.rule.startswith(("/api/", "/feeds/")) or r.rule in ("/healthz", "/search.atom")}
    api_rules = {r.replace("{doc_id}", "{id}") for r in api_rules}
    assert api_rules == set(spec["paths"])


# ---- pages ----------------------------------------------------------------------------------
def test_search_page(client):
    resp = client.get("/search?q=%E7%AB%8B%E6%B3%95%E6%9C%83")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "<mark>立法會</mark>" in html
    assert 'class="facet"' in html and "用时" in html and 'rel="next"' in html
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert "<script>" not in html.replace('<script src="/static/app.js" defer></script>', "")
    assert len(resp.data) < 100_000


def test_a_filter_in_the_other_script_selects_its_facet_value(client, sample_records):
    """category=众闻 (Simplified) is the section 眾聞: its results, and its
    facet entry marked as the one selected."""
    from urllib.parse import quote

    filed = sum(r.get("category") == "眾聞" for r in sample_records)
    data = client.get("/api/search?group=0&size=1&category=" + quote("众闻")).get_json()
    assert data["total"] == filed == 559
    html = client.get("/search?group=0&category=" + quote("众闻")).get_data(as_text=True)
    link = re.search(r'<a href="[^"]*" aria-current="true" class="on">([^<]+)</a> <span class="count">(\d+)</span>',
                     html)
    assert link and link.groups() == ("眾聞", str(filed))


def test_zero_results_page_explains_and_offers_broader_search(client):
    resp = client.get('/search?q=%22%E4%B8%8D%E5%AD%98%E5%9C%A8%E7%9A%84%E7%9F%AD%E8%AF%AD%E6%B5%8B%E8%AF%95%22'
                      '&category=%E7%9C%BE%E8%81%9E')
    html = resp.get_data(as_text=True)
    assert "没有找到" in html
    assert "系统对查询的理解" in html
    assert "去掉筛选条件再搜" in html and "不加引号搜索" in html


def test_article_page(client, sample_records):
    rec = next(r for r in sample_records if r["lang"] == "zh-Hant" and len(r["body"]) > 200)
    html = client.get(f"/articles/{rec['id']}").get_data(as_text=True)
    assert "您可能也感兴趣" in html and rec["title"].replace("&", "&amp;") in html
    assert html.count("<p>") >= 2
    assert client.get("/articles/nope").status_code == 404


def test_html_escapes_article_text_and_queries(tiny_index, tmp_path):
    from web import create_app

    engine, _, path = tiny_index([
        {"id": "x1", "title": '<script>alert("t")</script> 标题 & "引号" \'单\'',
         "body": '正文 <img src=x onerror=alert(1)> & 更多。\n<script>alert(2)</script>', "tags": ["<b>标签</b>"],
         "author": "<i>作者</i>", "source": "来源&", "category": '"栏目"'},
    ])
    client = create_app({"SEARCH_INDEX": path, "SEARCH_QUERY_LOG": path + ".queries.sqlite",
                         "SEARCH_WRITE_TOKENS": (digest(STAFF_TOKEN),)}).test_client()
    # Queries are logged first, so the hot searches and staff reports below show them too.
    for url in ["/search?q=%E6%A0%87%E9%A2%98", "/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
                "/search?q=%22%3E%3Cimg%20src%3Dx%3E", "/articles/x1", "/search?q=&category=%22%E6%A0%8F%E7%9B%AE%22",
                "/search?q=%3Cb%3E%E6%A0%87%E9%A2%98%3C/b%3E", "/", "/staff/queries", "/staff/queries?zero=1"]:
        html = client.get(url, headers=STAFF).get_data(as_text=True)
        body = html.replace('<script src="/static/app.js" defer></script>', "")
        assert "<script>" not in body and "<img" not in body and "<b>" not in body and "<i>" not in body, url
    html = client.get("/articles/x1").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;" in html or "&lt;script&gt;" in html
    assert "&amp;" in html


# ---- the query language in the API: understood_tree, notices, exact, match ----------------
def _ops(node):
    """Every op in an understood_tree."""
    yield node["op"]
    for key in ("clauses", "not", "left", "right"):
        for child in node.get(key, []):
            yield from _ops(child)
    if "clause" in node:
        yield from _ops(node["clause"])


def test_understood_tree_of_every_op_validates(client, openapi):
    from urllib.parse import quote

    seen = set()
    for query in ['title:香港 lead:选举 atleast3:疫苗 author:张 (民主派 OR 建制派) -体育', "香港 w/5 选举",
                  '"立法会选举" pre/10 (香港 OR 澳门)', "林郑月娥 w/s 特首", "香港 w/p 选举", "疫苗 立法会"]:
        data = validated(client, openapi, "/api/search?size=20&q=" + quote(query)).get_json()
        assert data["understood_tree"]["op"] == "and" and data["notices"] == []
        assert data["total"] == data["total_full"] + data["total_partial"]
        seen.update(_ops(data["understood_tree"]))
    assert seen == {"and", "or", "word", "phrase", "field", "lead", "atleast", "near"}
    near = validated(client, openapi, "/api/search?q=" + quote('"立法会选举" pre/10 (香港 OR 澳门)')).get_json()
    assert near["exact"] and near["understood_tree"]["clauses"] == [{
        "op": "near", "operator": "pre/10", "unit": "word", "distance": 10, "ordered": True,
        "left": [{"op": "phrase", "text": "立法会选举", "fields": ["title", "body"]}],
        "right": [{"op": "phrase", "text": "香港", "fields": ["title", "body"]},
                  {"op": "phrase", "text": "澳门", "fields": ["title", "body"]}]}]


def test_partial_matches_say_what_they_lack(client, openapi):
    from urllib.parse import quote

    data = validated(client, openapi, "/api/search?size=20&correct=0&q=" + quote("疫苗 立法会")).get_json()
    assert not data["exact"] and data["relaxed"]
    assert 0 < data["total_full"] < 10 and data["total_partial"] > 0
    full = [h for h in data["hits"] if h["match"]["full"]]
    partial = [h for h in data["hits"] if not h["match"]["full"]]
    assert data["hits"][:len(full)] == full  # full matches come first
    assert len(full) == data["total_full"] and partial
    assert all(h["match"]["missing"] == [] for h in full)
    assert all(h["match"]["missing"] and set(h["match"]["missing"]) <= {"疫苗", "立法会"} for h in partial)
    exact = validated(client, openapi, "/api/search?size=20&q=" + quote('疫苗 "立法会"')).get_json()
    assert exact["exact"] and not exact["relaxed"] and exact["total_partial"] == 0
    assert exact["total"] == exact["total_full"] == data["total_full"]
    assert all(h["match"] == {"full": True, "missing": []} for h in exact["hits"])


@pytest.mark.parametrize("query,code,text", [
    ("香港 w/x 选举", "malformed_operator", "w/x"),
    ("atleast:疫苗", "malformed_operator", "atleast:疫苗"),
    ('"香港 选举', "unclosed_quote", '"香港 选举'),
    ("香港 w/500 选举", "distance_out_of_range", "w/500"),
    ("atleast500:疫苗", "count_out_of_range", "atleast500:疫苗"),
    ("香港 AND", "dangling_operator", "AND"),
    ("NOT 体育 香港", "leading_not", "NOT"),
    ("香港 w/5 author:张", "proximity_operand", "w/5"),
    ("(香港 选举", "unbalanced_parenthesis", "("),
    ("author:(张 OR 李)", "field_group", "author:("),
    ("香港 or 澳门", "lowercase_operator", "or"),
])
def test_notices_validate(client, openapi, query, code, text):
    from urllib.parse import quote

    data = validated(client, openapi, "/api/search?q=" + quote(query)).get_json()
    assert [(n["code"], n["text"]) for n in data["notices"]] == [(code, text)]
    assert data["notices"][0]["message"]


def test_the_document_rejects_a_wrong_tree(client, openapi):
    """The tree's schema is checked for real: a near clause without its
    left side, an unknown op or a notice code nobody documented fail."""
    import json
    from urllib.parse import quote

    from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
    from openapi_core.validation.response.exceptions import InvalidData
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request, Response

    url = "/api/search?q=" + quote("香港 w/5 选举")
    good = client.get(url).get_json()
    req = WerkzeugOpenAPIRequest(Request(EnvironBuilder(path="/api/search", query_string=url.partition("?")[2],
                                                        base_url="http://localhost").get_environ()))

    def check(data):
        openapi.validate_response(req, WerkzeugOpenAPIResponse(
            Response(json.dumps(data), mimetype="application/json")))

    check(good)
    no_left = json.loads(json.dumps(good))
    del no_left["understood_tree"]["clauses"][0]["left"]
    unknown_op = json.loads(json.dumps(good))
    unknown_op["understood_tree"]["clauses"][0]["op"] = "nearby"
    bad_notice = {**good, "notices": [{"code": "typo", "text": "x", "message": "m"}]}
    no_match = {**good, "hits": [{k: v for k, v in h.items() if k != "match"} for h in good["hits"]]}
    for wrong in (no_left, unknown_op, bad_notice, no_match):
        with pytest.raises(InvalidData):
            check(wrong)
