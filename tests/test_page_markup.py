"""The pages' markup, without a browser: the article's language
(``script.content_lang``), the query's terms marked when the reader
arrives from results (``engine.highlight_terms`` + ``highlight.highlight_text``),
the filter toggle and the timeline's structure."""

from __future__ import annotations

import re
import urllib.parse

import pytest

from search.highlight import highlight_text
from search.script import content_lang


@pytest.mark.parametrize("declared,text,lang", [
    ("zh-Hant", "", "zh-Hant"), ("zh-HK", "", "zh-Hant"), ("zh_TW", "", "zh-Hant"), ("ZH-MO", "", "zh-Hant"),
    ("zh-Hant-HK", "", "zh-Hant"), ("zh-Hans", "", "zh-Hans"), ("zh-CN", "", "zh-Hans"), ("zh-SG", "", "zh-Hans"),
    # The declared tag wins over the characters (a Hong Kong article quoting Simplified text).
    ("zh-Hant", "郑州", "zh-Hant"),
    # Nothing declared (or only "zh"): the script of the text.
    (None, "林鄭月娥宣佈", "zh-Hant"), ("", "林郑月娥宣布", "zh-Hans"), ("zh", "选举", "zh-Hans"),
    (None, "香港 中文 2024", None),  # written alike in both scripts
    ("en", "選舉", None),  # another language: not ours to call Chinese
])
def test_content_lang(declared, text, lang):
    assert content_lang(declared, text) == lang


def test_highlight_terms_are_the_results_page_terms(engine):
    """Traditional and Simplified queries mark the same terms; excluded words
    are not marked; an empty query marks nothing."""
    from search.models import SearchRequest

    trad = engine.highlight_terms("立法會 選舉")
    assert trad == engine.highlight_terms("立法会 选举") and trad
    hit = engine.search(SearchRequest(q="立法會 選舉")).hits[0]
    assert highlight_text(hit.title, trad) == hit.title_highlight  # the very marks of the result
    assert engine.highlight_terms("选举 -体育") == engine.highlight_terms("选举")
    assert engine.highlight_terms("") == engine.highlight_terms("   ") == []
    assert engine.highlight_terms("。，！") == []  # nothing searchable


def test_highlight_text_escapes_and_marks_original_characters():
    assert highlight_text("<b>立法會</b> & 選舉", ["立法会"]) == "&lt;b&gt;<mark>立法會</mark>&lt;/b&gt; &amp; 選舉"
    assert highlight_text("a<b", []) == "a&lt;b"


def _sample_id(client, q, lang):
    for h in client.get("/api/search?size=20&q=" + urllib.parse.quote(q)).get_json()["hits"]:
        art = client.get("/api/articles/" + urllib.parse.quote(h["id"], safe="")).get_json()
        if art["lang"] == lang:
            return h["id"]
    raise AssertionError(f"no {lang} article for {q}")


@pytest.mark.parametrize("lang,q", [("zh-Hant", "立法會"), ("zh-Hans", "疫苗")])
def test_article_page_lang_and_marks(client, lang, q):
    doc = urllib.parse.quote(_sample_id(client, q, lang), safe="")
    page = client.get(f"/articles/{doc}").get_data(as_text=True)
    assert f'<h1 lang="{lang}">' in page and f'<div class="body" lang="{lang}">' in page
    assert "<mark>" not in page
    assert client.get(f"/articles/{doc}?q=").get_data(as_text=True) == page  # empty q: no change
    marked = client.get(f"/articles/{doc}?q=" + urllib.parse.quote(q)).get_data(as_text=True)
    marks = re.findall(r"<mark>(.*?)</mark>", marked)
    assert marks and all(re.fullmatch(f"(?:{q})+", m) for m in marks), marks
    # Only the marks added (and the language switch keeps the query, as every link of a page keeps its URL).
    def without_switch(html):  # ... and the search box keeps the query the reader came with
        html = re.sub(r'(<input type="search" name="q" value=")[^"]*"', r'\1"', html)
        return re.sub(r'<nav class="lang-switch".*?</nav>', "", html, flags=re.S)

    assert without_switch(re.sub(r"</?mark>", "", marked)) == without_switch(page)


def test_result_links_carry_the_query(client):
    page = client.get("/search?q=" + urllib.parse.quote("立法會 選舉&x")).get_data(as_text=True)
    links = re.findall(r'<h3[^>]*><a href="(/articles/[^"]+)"', page)
    queries = [urllib.parse.parse_qs(urllib.parse.urlsplit(link.replace("&amp;", "&")).query) for link in links]
    assert links and all(q == {"q": ["立法會 選舉&x"]} for q in queries), links


def test_article_page_query_is_escaped_and_bounded(client):
    doc = urllib.parse.quote(_sample_id(client, "立法會", "zh-Hant"), safe="")
    page = client.get(f"/articles/{doc}?q=" + urllib.parse.quote('<script>x</script> 立法會')).get_data(as_text=True)
    assert "<script>x" not in page and "<mark>" in page
    longest = client.application.config["SEARCH_MAX_QUERY_LENGTH"]
    assert client.get(f"/articles/{doc}?q=" + "香" * longest).status_code == 200
    resp = client.get(f"/articles/{doc}?q=" + "香" * (longest + 1))
    assert resp.status_code == 400 and resp.mimetype == "text/html"
    assert re.search(r"<section class=\"error\">.*</section>", resp.get_data(as_text=True)).group(0) == (
        f'<section class="error"><h1>400</h1><p>请求参数有误：query too long: {longest + 1} characters '
        f'(at most {longest})</p><p><a href="/">返回首页</a></p></section>')


@pytest.mark.parametrize("args,summary", [
    ("", "<summary>筛选</summary>"),
    ("&category=眾聞&source=x", "<summary>筛选（已选 2 项）</summary>"),
    ("&category=眾聞&range=year", "<summary>筛选（已选 2 项）</summary>"),
    ("&from=2020-01-01", "<summary>筛选（已选 1 项）</summary>"),
])
def test_filter_toggle_says_how_many_filters_are_chosen(client, args, summary):
    page = client.get("/search?q=" + urllib.parse.quote("香港") + args).get_data(as_text=True)
    assert re.findall(r"<summary>筛选.*?</summary>", page) == [summary]
    assert '<details class="filters-toggle">' in page  # closed: CSS shows it open on wide screens


def test_timeline_is_a_list_of_links_named_by_period_and_count(client):
    page = client.get("/search?group=0&q=" + urllib.parse.quote("香港")).get_data(as_text=True)
    timeline = client.get("/api/timeline?q=" + urllib.parse.quote("香港")).get_json()
    unit = {"year": "年", "month": "月", "day": "日"}[timeline["interval"]]
    names = re.findall(r'<li><a href="[^"]+" title="([^"]+)"><svg [^>]*aria-hidden="true"[^>]*>'
                       r'<rect [^>]+/></svg><span class="visually-hidden">([^<]+)</span></a></li>', page)
    assert [text for _, text in names] == [f"{b['start']}（{unit}）：{b['count']} 篇" for b in timeline["buckets"]]
    assert all(title == text for title, text in names)
    assert 'role="img"' not in page


def test_links_to_articles_carry_their_language(client):
    """The home page's latest articles and an article's related list and
    story coverage: each title link in the linked article's language."""
    doc = urllib.parse.quote(_sample_id(client, "立法會", "zh-Hant"), safe="")
    pages = [client.get("/").get_data(as_text=True), client.get(f"/articles/{doc}").get_data(as_text=True)]
    links = [link for page in pages for link in re.findall(r'<a href="/articles/([^"?]+)"( lang="[^"]+")?>', page)]
    assert len(links) >= 10
    for target, attr in links:
        lang = client.get("/api/articles/" + target).get_json()["lang"]
        assert attr == f' lang="{lang}"', target
