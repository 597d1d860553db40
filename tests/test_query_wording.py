"""The results page tells how the query was read, in Chinese: a wording per
notice code, the understood tree as one line, the partial-match note with
the number of full matches, and what each partial hit lacks."""

import os
import re
from html import unescape
from urllib.parse import quote

import pytest

from conftest import ROOT
from web.query_wording import NOTICE_WORDING, missing_text, notice_text, relaxed_text, understood_text


def page(client, query, extra=""):
    resp = client.get("/search?q=" + quote(query) + extra)
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def paragraphs(html, cls):
    """The text of each <p class="... cls ..."> (tags stripped, entities read)."""
    return [unescape(re.sub(r"<[^>]+>", "", m))
            for m in re.findall(rf'<p class="[^"]*\b{cls}\b[^"]*"[^>]*>(.*?)</p>', html, re.S)]


def test_every_notice_code_of_the_parser_has_a_wording():
    package = os.path.join(ROOT, "search", "query")  # the lexer and the parser write notices
    source = ""
    for name in sorted(os.listdir(package)):
        if name.endswith(".py"):
            with open(os.path.join(package, name), encoding="utf-8") as f:
                source += f.read()
    codes = set(re.findall(r'(?:Notice|self\.notice)\(\s*"(\w+)"', source))
    assert len(codes) >= 10 and codes == set(NOTICE_WORDING)
    assert len(set(NOTICE_WORDING.values())) == len(NOTICE_WORDING)  # one each, none shared
    # Each wording names the part of the query concerned (a gettext message with %(text)s).
    worded = [notice_text({"code": code, "text": "«X»"}) for code in NOTICE_WORDING]
    assert all("«X»" in w for w in worded) and len(set(worded)) == len(NOTICE_WORDING)
    assert notice_text({"code": "lowercase_operator", "text": "or", "message": "x"}) == \
        "「or」按普通词检索；如要作为运算符，请全部大写：OR。"
    # A code added to the parser later: its English message rather than nothing.
    assert notice_text({"code": "new_code", "text": "x", "message": "read as y"}) == "read as y"


@pytest.mark.parametrize("query,code,shown", [
    ("香港 w/x 选举", "malformed_operator", "「w/x」不是有效的运算符"),
    ("香港 w/500 选举", "distance_out_of_range", "「w/500」的词距只能是 1 到 100 个词"),
    ("atleast500:疫苗", "count_out_of_range", "「atleast500:疫苗」的次数只能是 1 到 100 次"),
    ("香港 AND", "dangling_operator", "「AND」一侧缺少检索词，已忽略。"),
    ("NOT 体育 香港", "leading_not", "查询以「NOT」开头"),
    ("香港 w/5 author:张", "proximity_operand", "已改为两侧同时包含（AND）"),
    ("(香港 选举", "unbalanced_parenthesis", "括号「(」没有配对"),
    ("author:(张 OR 李)", "field_group", "「author:(」后面不能跟括号分组"),
    ("香港 or 澳门", "lowercase_operator", "请全部大写：OR"),
    ("香港 Same 选举", "lowercase_operator", "请全部大写：SAME"),
    ("香港 title:", "empty_field", "「title:」后面没有检索内容"),
    ("tittle:香港", "unknown_field", "「tittle:香港」中的字段名拼写有误"),
    ("atleast:疫苗", "malformed_operator", "「atleast:疫苗」不是有效的运算符"),
])
def test_the_page_says_how_each_notice_was_read(client, query, code, shown):
    html = page(client, query)
    notes = paragraphs(html, "query-notice")
    assert len(notes) == 1 and shown in notes[0], notes
    assert f'data-code="{code}"' in html
    assert "ignored" not in html and "read as" not in html  # the English message stays in the API


def test_notice_text_is_escaped(client):
    html = page(client, '"<img src=x>香港')
    assert "<img src=x>" not in html
    assert "「&#34;&lt;img src=x&gt;香港」的引号没有配对" in html
    assert paragraphs(html, "query-notice") == ["「\"<img src=x>香港」的引号没有配对，已把引号后直到末尾的内容当作一个短语。"]
    assert paragraphs(html, "understood") == ["系统对查询的理解：含短语「<img src=x>香港」"]


@pytest.mark.parametrize("query,reading", [
    ("香港 w/5 选举", "「香港」与「选举」相距不超过 5 个词"),
    ("香港 near/5 选举", "「香港」与「选举」相距不超过 5 个词"),
    ("香港 pre/5 选举", "「香港」在前、「选举」在后，相距不超过 5 个词"),
    ("林郑月娥 w/s 特首", "「林郑月娥」与「特首」在同一句中"),
    ("林郑月娥 SAME 特首", "「林郑月娥」与「特首」在同一句中"),
    ("香港 w/p 选举", "「香港」与「选举」在同一段中"),
    ('"立法会选举" w/10 (香港 OR 澳门)', "「立法会选举」与（「香港」或「澳门」）相距不超过 10 个词"),
    ("title:香港 lead:选举 atleast3:疫苗 author:张 -体育",
     "标题含「香港」；导语含「选举」；「疫苗」至少出现 3 次；作者含「张」；不含「体育」"),
    ("(香港 OR 澳门) AND 选举 NOT 区议会", "含「香港」或「澳门」；含「选举」；不含「区议会」"),
    ('title:(香港 OR 澳门) "立法会选举"', "标题含「香港」或「澳门」；含短语「立法会选举」"),
    ("香港 AND 选举", "同时含「香港」和「选举」"),
    ("-(体育 OR 娱乐) 香港", "含「香港」；不含「体育」，也不含「娱乐」"),
    ("香港 -(选举 w/5 立法会)", "含「香港」；排除「选举」与「立法会」相距不超过 5 个词的报道"),
])
def test_the_page_says_how_the_query_was_understood(client, query, reading):
    assert paragraphs(page(client, query), "understood") == [f"系统对查询的理解：{reading}"]


def test_plain_words_found_are_not_explained(client):
    html = page(client, "香港 选举")
    assert not paragraphs(html, "understood") and not paragraphs(html, "query-notice")
    assert not paragraphs(html, "partial") and 'class="missing"' not in html


def test_partial_matches_say_how_many_have_every_word_and_what_the_rest_lack(client):
    api = client.get("/api/search?correct=0&group=0&q=" + quote("疫苗 立法会")).get_json()
    assert api["relaxed"] and 0 < api["total_full"] < 10
    html = page(client, "疫苗 立法会", "&correct=0&group=0")
    assert "较少" not in html  # the old, garbled note
    lacking = list(dict.fromkeys(w for h in api["hits"] for w in h["match"]["missing"]))
    assert lacking  # the note names what the partial matches lack
    assert paragraphs(html, "partial") == [
        f"只有 {api['total_full']} 篇报道同时包含全部关键词，排在最前。其后的报道只包含部分关键词，未提及"
        + "或".join(f"「{w}」" for w in lacking) + "；每篇下方注明了它缺少的词。"]
    hits = re.findall(r'<li class="hit">(.*?)</li>', html, re.S)
    assert len(hits) == len(api["hits"]) == 10
    for item, hit in zip(hits, api["hits"]):
        expected = [] if hit["match"]["full"] else ["未提及" + "和".join(f"「{w}」" for w in hit["match"]["missing"])]
        assert paragraphs(item, "missing") == expected
    assert sum(1 for h in api["hits"] if not h["match"]["full"]) == 10 - api["total_full"]
    grouped = page(client, "疫苗 立法会", "&correct=0")
    assert re.search(r"只有 \d+ 条结果同时包含全部关键词", "".join(paragraphs(grouped, "partial")))


def test_wording_helpers():
    assert relaxed_text(0, False, ["立法会"]) == \
        "没有同时包含全部关键词的报道。其后的报道只包含部分关键词，未提及「立法会」；每篇下方注明了它缺少的词。"
    assert relaxed_text(0, False) == "没有同时包含全部关键词的报道。其后的报道只包含部分关键词；每篇下方注明了它缺少的词。"
    assert relaxed_text(3, True).startswith("只有 3 条结果同时包含全部关键词")
    assert missing_text(["疫苗", "立法会"]) == "未提及「疫苗」和「立法会」"
    assert missing_text(["疫苗", "立法会", "选举"]) == "未提及「疫苗」、「立法会」和「选举」"
    assert understood_text(None) == "" and understood_text({"op": "and", "clauses": []}) == ""
    whole = {"op": "and", "clauses": [{"op": "or", "clauses": [
        {"op": "word", "text": "软件", "fields": ["title", "body"]},
        {"op": "word", "text": "软体", "fields": ["title", "body"], "whole_word": True}]}]}
    assert understood_text(whole) == "含「软件」或「软体」（整词）"


# ---- one name per field, range and sort --------------------------------------------
def test_the_label_tables_name_every_field_range_and_sort():
    from search.fields import FACET_FIELDS, SEARCHED_FIELDS, TEXT_RESTRICTIONS, VALUE_RESTRICTIONS
    from search.models import SORTS
    from web.labels import FIELD_LABELS, RANGE_LABELS, SORT_LABELS
    from web.params import RANGES

    fields = {*FACET_FIELDS, *TEXT_RESTRICTIONS, *VALUE_RESTRICTIONS, *(f for fs in SEARCHED_FIELDS.values() for f in fs)}
    assert fields <= set(FIELD_LABELS)
    assert set(RANGE_LABELS) == {"", *RANGES} and set(SORT_LABELS) == set(SORTS)
    for table in (FIELD_LABELS, RANGE_LABELS, SORT_LABELS):
        assert len({str(v) for v in table.values()}) == len(table)  # no two share a name


@pytest.mark.parametrize("hl, names, understood", [
    ("zh-Hans", {"category": "栏目", "year": "年份", "newest": "按时间（最新）", "week": "一周内"}, "栏目含「眾聞」"),
    ("zh-Hant", {"category": "欄目", "year": "年份", "newest": "按時間（最新）", "week": "一星期內"}, "欄目含「眾聞」"),
    ("en", {"category": "Section", "year": "Year", "newest": "Newest first", "week": "Past week"},
     "Section contains “眾聞”"),
])
def test_a_field_range_and_sort_have_one_name_on_every_page(client, web_app, hl, names, understood):
    """The results page's facet heading, sort link and range link, the
    understood query and the staff report's filters name a field, a sort
    and a range alike, in each interface language."""
    from web.filter_wording import filters_text

    html = client.get(f"/search?q={quote('category:眾聞 香港')}&facets=category,year&hl={hl}").get_data(as_text=True)
    headings = re.findall(r"<h2>([^<]*)</h2>", html)
    assert names["category"] in headings and names["year"] in headings
    assert re.search(rf">{re.escape(names['newest'])}</a>", html) and re.search(rf">{re.escape(names['week'])}<", html)
    assert any(understood in line for line in paragraphs(html, "understood")), paragraphs(html, "understood")
    with web_app.test_request_context(f"/?hl={hl}"):
        text = filters_text({"category": ["体育"], "year": ["2019"], "range": "week", "sort": "newest"})
    assert all(name in text for name in names.values()), text
