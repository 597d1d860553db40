"""Saved article pages: the story is indexed, the page furniture is not."""

import shutil

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
