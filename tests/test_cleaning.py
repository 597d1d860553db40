"""Scraped page furniture (issue 16): related-story lists and links and photo
credits go in the one cleaning step of every input path
(``records.to_article`` -> ``indexer/furniture.py``); the credits stay as
metadata.  End to end through ``indexer build`` (a real CLI process) and a
search of the index it wrote."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

EXAMPLE = ("济南与两家企业签署合作协议。\n图片来源：某官微据介绍，双方将在多个领域合作。\n您可能也感兴趣：\n为您推荐\n"
           "- 某地新增病例4例\n- 某地基金发行遇冷\n排行\n- 某品牌电视画质评测")


def article(body, **fields):
    from indexer.records import to_article

    return to_article({"id": "a-1", "title": "济南签约", "body": body, **fields})


def test_the_issue_example_keeps_the_story_and_the_credit_as_metadata():
    a = article(EXAMPLE)
    assert a.body == "济南与两家企业签署合作协议。\n据介绍，双方将在多个领域合作。"
    assert a.extra["photo_credits"] == ["某官微"]


@pytest.mark.parametrize("line, text, credit", [
    ("图片来源：某官微据介绍，双方将在多个领域合作。", "据介绍，双方将在多个领域合作。", "某官微"),   # glued: a 据 opener
    ("图片来源：视觉中国3月18日，市民在公园赏花。", "3月18日，市民在公园赏花。", "视觉中国"),        # glued: a date
    ("图片来源：新华社近日，记者走访了多家企业。", "近日，记者走访了多家企业。", "新华社"),          # glued: a time word
    ("市民在公园赏花。图片来源：视觉中国", "市民在公园赏花。", "视觉中国"),                      # after a caption
    ("出版一本書的成本分析。圖片來源：創造館Facebook專頁", "出版一本書的成本分析。", "創造館Facebook專頁"),
    ("鄒幸彤出席活動。（圖片來源：鄒幸彤Facebook)", "鄒幸彤出席活動。", "鄒幸彤Facebook"),  # bracketed, mixed brackets
    ("照片來源：Carolina Pimenta on Unsplash", "", "Carolina Pimenta on Unsplash"),          # a line of its own
    ("图源：新华社记者李明摄", "", "新华社记者李明摄"),
    ("图片来源：新华社。工人们正在检修设备。", "工人们正在检修设备。", "新华社"),              # the credit's full stop
])
def test_photo_credit_forms(line, text, credit):
    a = article("正文第一段。\n" + line)
    assert a.body == "正文第一段。" + ("\n" + text if text else "")
    assert a.extra["photo_credits"] == [credit]


@pytest.mark.parametrize("line", [
    "照片來源：醫。藥。人網站",                       # a one-character "credit": not one, left alone
    "这些图片来源：一部分是记者拍摄，一部分由读者提供，本报已逐一核实并取得授权，特此说明情况如下。",  # too long
    "图片来源不明的照片在网上流传。",                 # no colon: prose
    "相關新聞如煙花般綻放，好不熱鬧。",               # a heading word starting prose
    "【最新更新】",                                   # 眾新聞's update marker: the story goes on
    "（责任编辑：易佳）",                             # an editor line stays (bylines reads it)
])
def test_story_text_is_never_removed(line):
    a = article("正文第一段。\n" + line)
    assert a.body == "正文第一段。\n" + line and "photo_credits" not in a.extra


def test_lists_and_links_in_both_scripts_and_the_prose_after_them():
    body = "\n".join([
        "首段正文讲述事件经过。",
        "相關報道：",                                       # a list mid-body ...
        "醫管局外判請護士　中介公司為兩大集團",
        "中介護士似病房助理　前線醫護：「幫輕唔多」",
        "第二段正文，說明後續安排。",                        # ... ends at prose
        "相關新聞： 乘客燒傷手和小腿　頭髮外套被燒焦",       # a heading and one headline
        "*相關報道： 盧思位律師吊照聽證會*",                 # Markdown marks left by a scraper
        "【延伸閱讀】四議員出招 質疑選擇檢控中止聆訊",
        "末段正文。",
        "猜你喜歡",                                        # a trailing block ...
        "1. 某地新增病例",
        "2、某地基金发行遇冷",
        "（责任编辑：易佳）",                               # ... ends at the editor line, which stays
    ])
    removed = []
    from indexer.records import to_article

    a = to_article({"id": "x", "title": "t", "body": body}, removed=removed)
    assert a.body.split("\n") == ["首段正文讲述事件经过。", "第二段正文，說明後續安排。", "末段正文。", "（责任编辑：易佳）"]
    assert [(r.kind, r.lines) for r in removed] == [("related_list", 3), ("related_link", 1), ("related_link", 1),
                                                    ("related_link", 1), ("related_list", 3)]


def test_cleaning_is_stable_through_a_rebuild_from_the_index():
    """A rebuild re-reads the stored (cleaned) article: same body, credits kept."""
    from indexer.rebuild import as_record
    from indexer.records import to_article

    a = article(EXAMPLE)
    stored = {"id": a.id, "title": a.title, "body": a.body, "extra": a.extra, "tags": []}
    again = to_article(as_record(stored), acknowledged=True)
    assert (again.body, again.extra["photo_credits"]) == (a.body, ["某官微"])
    with pytest.raises(ValueError, match="photo_credits"):
        to_article({"id": "y", "title": "t", "photo_credits": "某官微"})


def test_build_reports_the_cleaning_and_search_finds_only_the_story(tmp_path):
    src = tmp_path / "in.jsonl"
    records = [{"id": "jn-1", "title": "济南签约", "body": EXAMPLE},
               {"id": "clean-1", "title": "无家具的稿件", "body": "本文没有任何页面家具。"}]
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    report, index = tmp_path / "cleaning.jsonl", str(tmp_path / "ix")
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("SEARCH_ARTICLE_STORE", None)
    done = subprocess.run([sys.executable, "-m", "indexer", "build", "--index", index, "--store", "off",
                           "--no-progress", "--workers", "1", "--report-cleaning", str(report), str(src)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "cleaning: 1 article(s) changed" in done.stderr
    lines = [json.loads(x) for x in report.read_text(encoding="utf-8").splitlines()]
    assert lines == [{"id": "jn-1", "photo_credits": 1, "removed": [
        {"kind": "photo_credit", "lines": 0, "chars": 8}, {"kind": "related_list", "lines": 6, "chars": 45}]}]
    from search.engine import SearchEngine
    from search.models import SearchRequest

    engine = SearchEngine.open(index, refresh_interval=0, synonyms_path=None, blocklist_path=None)
    for q in ("基金发行", "画质评测", "新增病例", "为您推荐"):
        assert engine.search(SearchRequest(q=q)).total == 0, q
    for q in ("合作协议", "多个领域"):
        result = engine.search(SearchRequest(q=q))
        assert [h.id for h in result.hits] == ["jn-1"], q
        assert "基金" not in result.hits[0].snippet and "排行" not in result.hits[0].snippet
    assert engine.search(SearchRequest(q="某官微")).total == 0  # metadata, not text
    assert engine.get("jn-1")["extra"]["photo_credits"] == ["某官微"]


def test_an_unwritable_report_is_a_clear_error(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-m", "indexer", "build", "--index", str(tmp_path / "ix"), "--store", "off",
                           "--report-cleaning", str(tmp_path / "no" / "such" / "dir.jsonl"), str(tmp_path / "x.jsonl")],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 2 and "cannot write the cleaning report" in done.stderr
