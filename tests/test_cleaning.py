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


# --- review follow-up: cleaning never deletes bylines or the story after a list ----------------------

LIST = "相关阅读：\n某地新增病例4例\n某地基金发行遇冷"
LIST_TRAD = "相關閱讀：\n某地新增病例4例\n某地基金發行遇冷"


@pytest.mark.parametrize("credit", [
    "文／李明", "主筆 | 李明", "記者 李明", "（记者 李明）", "（本报记者 李明 报道）", "撰稿：李明",  # the review's lines
    "文/李明", "主笔 | 李明", "记者 李明", "（記者 李明）", "（本報記者 李明 報道）", "撰稿：李明",   # the other script
    "攝影：李明", "【撰文：李明】", "（責任編輯：李明）", "視頻編輯：李明 文字編輯：王芳",
])
@pytest.mark.parametrize("listing", [LIST, LIST_TRAD])
def test_a_credit_line_after_a_related_list_stays_and_names_the_author(credit, listing):
    from indexer.bylines import AUTHOR_ROLES, extract
    from indexer.records import read_article

    body = "济南与两家企业签署合作协议。\n" + listing + "\n" + credit
    before = {c.name: c.role for c in extract("", body).found}
    assert "李明" in before  # found before cleaning ...
    a = read_article({"id": "c-1", "title": "济南签约", "body": body})
    assert a.body.split("\n") == ["济南与两家企业签署合作协议。", credit]  # ... and after: the list went, the credit stayed
    assert {c.name: c.role for c in extract("", a.body).found} == before
    # The author: a reporter or writer; an editor or photographer is a credit, never the byline.
    assert ("李明" in (a.author or "").split("、")) == (before["李明"] in AUTHOR_ROLES)


@pytest.mark.parametrize("credit", ["記者：Lewis Wong", "（來源：某某日報）", "来源：新华社", "作者：許述"])
def test_labelled_lines_without_a_readable_name_end_a_list_too(credit):
    a = article("正文第一段。\n" + LIST_TRAD + "\n" + credit)
    assert a.body.split("\n") == ["正文第一段。", credit]


@pytest.mark.parametrize("line", [
    "记者手记", "專家觀點",                               # subheadings
    "为什么会这样？", "點解會咁？",                        # questions
    "「我們會繼續努力」", "“我们不会放弃”",                 # pull quotes
    "他問：為什麼會這樣？",                                # a colon is no headline form alone
])
@pytest.mark.parametrize("listing", [LIST, LIST_TRAD])
def test_the_story_after_a_mid_body_list_stays(line, listing):
    after = "第二段正文，說明後續安排。"
    listing = listing.replace("\n某", "\n- 某")  # list-marked items: the list itself goes
    a = article("正文第一段。\n" + listing + "\n" + line + "\n" + after)
    assert a.body.split("\n") == ["正文第一段。", line, after]


def test_a_mid_body_list_still_goes_when_its_items_have_a_headlines_form():
    items = ["醫管局外判請護士　中介公司為兩大集團", "【旺角衝突案】三人被判暴動罪成", "《香港製造》修復版今屆放映",
             "- 某地新增病例", "2. 為什麼會這樣？", "立法會｜議員提問"]
    after = "第二段正文，說明後續安排。"
    removed = []
    from indexer.records import to_article

    a = to_article({"id": "x", "title": "t", "body": "\n".join(["首段。", "相關報道：", *items, "記者手記", after])},
                   removed=removed)
    assert a.body.split("\n") == ["首段。", "記者手記", after]
    assert [(r.kind, r.lines) for r in removed] == [("related_list", 1 + len(items))]


def test_a_list_at_the_end_of_the_body_takes_every_headline_shaped_line():
    """Nothing follows it to protect: bare headlines and questions go (the stricter form is asked
    only of a list that prose follows, as in the tests above)."""
    assert article("正文第一段。\n猜你喜歡\n某地新增病例\n為什麼會這樣？").body == "正文第一段。"
    assert article("正文第一段。\n猜你喜歡\n某地新增病例\n為什麼會這樣？\n（责任编辑：易佳）").body == \
        "正文第一段。\n（责任编辑：易佳）"
    # a pull quote alone is story: the list before it is mid-body, its bare items stay
    assert article("正文第一段。\n猜你喜歡\n某地新增病例\n「一條大河」").body == "正文第一段。\n某地新增病例\n「一條大河」"


@pytest.mark.parametrize("line, text, credit", [
    ("圖像來源：新華社據介紹，雙方將合作。", "據介紹，雙方將合作。", "新華社"),       # Traditional label and opener
    ("圖源：視覺中國另據報導，市民在公園賞花。", "另據報導，市民在公園賞花。", "視覺中國"),
    ("圖片提供：某官微與此同時，工程開工。", "與此同時，工程開工。", "某官微"),
    ("照片來自：某某網站隨後，雙方簽約。", "隨後，雙方簽約。", "某某網站"),
])
def test_photo_credits_and_openers_in_traditional_match_the_folded_line(line, text, credit):
    a = article("正文第一段。\n" + line)
    assert a.body == "正文第一段。\n" + text and a.extra["photo_credits"] == [credit]


def test_the_credit_recogniser_is_shared_and_judges_both_scripts_alike():
    from indexer.bylines import is_credit_line

    pairs = [("文／李明", "文／李明"), ("主笔 | 李明", "主筆 | 李明"), ("记者 李明", "記者 李明"),
             ("（本报记者 李明 报道）", "（本報記者 李明 報道）"), ("（责任编辑：易佳）", "（責任編輯：易佳）"),
             ("来源：新华社", "來源：新華社")]
    for simplified, traditional in pairs:
        assert is_credit_line(simplified) and is_credit_line(traditional), simplified
    for headline in ("记者调查：某地乱象", "文化部长谈改革", "醫管局外判請護士　中介公司為兩大集團", "", "本报记者"):
        assert not is_credit_line(headline), headline


@pytest.mark.parametrize("credit", ["圖片來源：政府新聞處", "（圖片來源：政府新聞處）", "图片来源：政府新闻处", "【圖片來源：政府新聞處】"])
def test_a_photo_credit_after_a_related_list_ends_it_and_is_kept(credit):
    from indexer.records import read_article

    body = "港鐵新線今日開通。\n【相關閱讀】：\n颱風襲港 全港停課\n樓價回落 買家觀望\n" + credit
    a = read_article({"id": "pc-1", "title": "港鐵新線", "body": body})
    assert a.body == "港鐵新線今日開通。"
    assert a.extra["photo_credits"] == [credit.strip("（）【】").split("：")[1]]
