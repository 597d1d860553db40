"""Saved article pages: the story is indexed, the page furniture is not."""

import shutil

import pytest

from search.models import SearchRequest

from conftest import ROOT

PAGE = f"{ROOT}/tests/data/news_page.html"
FURNITURE = ["您可能也感兴趣", "新区地铁三号线", "为您推荐", "城市马拉松", "排行", "春季赏花", "最近更新",
             "图书馆周末", "版权所有", "分享到", "首页", "搜索"]


def test_article_page_is_extracted_without_furniture(tiny_index, tmp_path):
    from indexer import pipeline
    from search.engine import SearchEngine

    pages = tmp_path / "pages"
    pages.mkdir()
    shutil.copy(PAGE, pages / "bus-stop.html")
    (pages / "nav-only.html").write_text("<html><body><nav><a href='/'>首页</a></nav></body></html>",
                                         encoding="utf-8")
    reports = []
    ix = str(tmp_path / "ix")
    summary = pipeline.build(ix, [str(pages)], workers=1, progress=False, report=reports.append)
    assert summary.added == 1 and summary.skipped == 1
    assert "nav-only.html" in reports[0] and "no article" in reports[0]
    engine = SearchEngine.open(ix, refresh_interval=0, synonyms_path=None, blocklist_path=None)
    doc = engine.get("news.example.cn/city/2024/03/18/bus-stop.html")
    assert doc["title"] == "滨江新区首座智慧公交站投入使用"
    assert doc["published_text"] == "2024-03-18T09:30:00+08:00" and doc["author"] == "张明"
    assert doc["url"] == "https://news.example.cn/city/2024/03/18/bus-stop.html"
    assert doc["source"] == "news.example.cn"  # no og:site_name: the domain, not a guess from the <title>
    paragraphs = doc["body"].split("\n")
    assert len(paragraphs) == 4 and paragraphs[0].startswith("本报讯（记者 张明）")
    assert paragraphs[-1].startswith("交通运输局表示")
    for text in FURNITURE:
        assert text not in doc["body"], text
    assert [h.id for h in engine.search(SearchRequest(q="智慧公交站")).hits] == [doc["id"]]
    assert engine.search(SearchRequest(q='"春季赏花"')).total == 0
    # The same page given as a file: the same article (id from the canonical URL), updated in place.
    again = pipeline.build(ix, [PAGE], workers=1, progress=False)
    assert again.unchanged == 1 and engine.stats().documents == 1


def test_surviving_recommendation_block_is_dropped():
    """A list that survives extraction goes with the cleaning every input path shares."""
    from indexer.records import to_article

    # items in a headline's form: a list that prose follows keeps a bare short line (a subheading)
    text = "正文第一段，讲述事件的经过和各方的回应，内容足够长，不会被当作链接列表。\n相关阅读\n- 短链接一\n短链接二　官方回应\n" \
           "这是正文后面又一段很长的文字，说明事件的后续安排以及相关部门接下来的工作计划和时间表，欢迎广大市民监督。"
    kept = to_article({"id": "p", "title": "标题", "body": text}).body.split("\n")
    assert len(kept) == 2 and "相关阅读" not in kept and "短链接一" not in kept


STORY_HTML = ("<p>北湖公园新增的三条健身步道今天正式向市民开放，步道总长约六公里，沿湖而建，配有夜间照明和休息座椅。</p>"
              "<p>公园管理处负责人介绍，步道铺设了透水材料，雨后不积水，方便市民清晨和傍晚锻炼身体。</p>")


def saved_page(head: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>北湖公园新增健身步道</title>{head}</head>"
            f"<body><article><h1>北湖公园新增健身步道</h1>{STORY_HTML}</article></body></html>")


@pytest.mark.parametrize("head, given, ident", [
    # a relative canonical link, resolved against og:url (its query dropped with the path)
    ("<link rel='canonical' href='/news/1.html'><meta property='og:url' content='https://www.example.cn/m/1?from=app'>",
     None, "www.example.cn/news/1.html"),
    ("<link rel='canonical' href='news/2.html'><meta property='og:url' content='https://example.cn/dir/page'>",
     None, "example.cn/dir/news/2.html"),
    # a relative og:url resolved against the absolute canonical is the canonical itself
    ("<link rel='canonical' href='https://example.cn/a.html'><meta property='og:url' content='/b.html'>", None,
     "example.cn/a.html"),
    # the caller's URL wins over the page's own
    ("<link rel='canonical' href='/news/1.html'>", "https://example.cn/given.html", "example.cn/given.html"),
    # scheme and host are case-insensitive: one id however they are written
    ("<link rel='canonical' href='HTTPS://WWW.Example.CN/News/A.html'>", None, "www.example.cn/News/A.html"),
    ("<link rel='canonical' href='Http://USER@Example.CN:8080/x'>", None, "USER@example.cn:8080/x"),
    # percent-encoded UTF-8 is decoded (a Chinese slug); ASCII escapes and encoded spaces are kept
    ("<link rel='canonical' href='https://example.cn/%E6%B8%AF%E8%81%9E/%E5%81%A5%E8%BA%AB?t=%E6%AD%A5%E9%81%93'>",
     None, "example.cn/港聞/健身?t=步道"),
    ("<link rel='canonical' href='https://example.cn/%E6%B8%AF%2F%E8%81%9E%20a%E3%80%80b%FF'>", None,
     "example.cn/港%2F聞%20a%E3%80%80b%FF"),
])
def test_one_page_url_one_id(head, given, ident):
    from indexer import ids
    from indexer.html_pages import page_record

    record, problem = page_record(saved_page(head), "/saved/fallback-name.html", url=given)
    assert problem is None and record["id"] == ident and ids.is_valid(record["id"])
    assert record["url"] in ("https://" + ident, "http://" + ident)  # the record's URL is the same normalised URL


def test_a_long_percent_encoded_chinese_slug_is_an_id_of_its_own_length():
    from urllib.parse import quote

    from indexer import ids
    from indexer.html_pages import page_record

    slug = "北湖公园新增的三条健身步道今天正式向市民开放步道总长约六公里沿湖而建" * 2  # 66 characters, 594 encoded
    record, _ = page_record(saved_page(f"<link rel='canonical' href='https://example.cn/news/{quote(slug)}.html'>"), "x")
    assert record["id"] == f"example.cn/news/{slug}.html" and ids.is_valid(record["id"])


def test_a_relative_canonical_link_with_nothing_to_resolve_it_is_no_url():
    from indexer.html_pages import page_record

    record, problem = page_record(saved_page("<link rel='canonical' href='/news/1.html'>"), "/saved/lake-page.html")
    assert problem is None and record["id"] == "lake-page" and "url" not in record  # the file's name, as with no link


@pytest.mark.parametrize("line, published", [
    ("2024-11-30 20:00 来源：示例新闻网", "2024-11-30T20:00:00"),
    ("2024年11月28日 09:15 来源：示例网", "2024-11-28T09:15:00"),
    ("发布时间：2024年11月28日 09:15:30 | 作者：李明 | 编辑：王五", "2024-11-28T09:15:30"),
    ("2024-11-30", None),
    ("來源：眾新聞", None),
])
def test_the_pages_metadata_line_is_no_story_text(line, published):
    """The date/source line a page shows above the story is dropped from the
    body (snippets began with it); a time of day in it gives the time of
    publication when the page's metadata has none."""
    from indexer.html_pages import page_record

    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>北湖公园新增健身步道</title></head>"
            f"<body><article><h1>北湖公园新增健身步道</h1><p>{line}</p>{STORY_HTML}</article></body></html>")
    record, problem = page_record(page, "/saved/meta-line.html")
    assert problem is None
    assert record["body"].startswith(STORY_HTML.split("</p>")[0].removeprefix("<p>"))
    assert line not in record["body"]
    if published:
        assert record["published"] == published
    # A sentence that merely mentions a date is story text.
    story = "据新华社2024年11月28日报道，双方签署协议。"
    page = page.replace(f"<p>{line}</p>", f"<p>{story}</p>")
    assert page_record(page, "/saved/meta-line.html")[0]["body"].startswith(story)
