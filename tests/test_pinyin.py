"""Pinyin input on the real sample: typed pinyin finds the Chinese word,
Chinese queries are never merged through pinyin, real Latin words stay."""

import pytest

from search import pinyin
from search import query as q
from search.models import SearchRequest
from search.normalize import fold_case, normalize_query


def ids(engine, text):
    res = engine.search(SearchRequest(q=text, size=5000, facets=(), highlight=False))
    return {h.id for h in res.hits}, res


def test_lexicon_splits_runs_into_known_words():
    lex = pinyin.PinyinLexicon({"香港": 500, "相岗": 1, "选举": 80, "银行": 40, "重庆": 30, "x光": 3})
    assert lex.convert("xianggang") == (["香港"], 500)
    assert lex.convert("XiangGangXuanJu") == (["香港", "选举"], 80)
    assert lex.convert("yinhang") == (["银行"], 40)  # heteronyms read in context
    assert lex.convert("chongqing") == (["重庆"], 30)
    assert lex.convert("xiangg") is None
    assert lex.convert("香港") is None


def test_a_common_latin_word_is_not_converted():
    lex = pinyin.PinyinLexicon({"香港": 500})
    parsed = q.parse("xianggang")
    same, done = pinyin.expand(parsed, lex, latin_df=lambda w: 100)  # as common as 香港 / 10 or more
    assert done == [] and same.must == parsed.must
    converted, done = pinyin.expand(parsed, lex, latin_df=lambda w: 0)
    assert done == [["xianggang", "香港"]]


def test_pinyin_query_finds_the_chinese_word(engine):
    engine.pinyin.get(wait=60)
    chinese, _ = ids(engine, "香港")
    typed, res = ids(engine, "xianggang")
    assert chinese and chinese <= typed
    assert res.pinyin == [["xianggang", "香港"]]
    assert "xianggang OR 香港" in res.understood
    top = engine.search(SearchRequest(q="xianggang", size=5, facets=()))
    assert all("<mark>" in h.title_highlight + (h.snippet or "") for h in top.hits)


def test_mixed_chinese_and_pinyin(engine):
    engine.pinyin.get(wait=60)
    both, _ = ids(engine, "香港 选举")
    mixed, res = ids(engine, "香港 xuanju")
    assert both and both <= mixed
    assert res.pinyin == [["xuanju", "选举"]]


def test_chinese_queries_are_never_matched_through_pinyin(engine, sample_records):
    """景点 (jingdian) must not find articles that only say 经典 (also jingdian)."""
    engine.pinyin.get(wait=60)
    found, res = ids(engine, "景点")
    assert res.pinyin == []

    def norm(t):
        return fold_case(normalize_query(t or ""))

    only_jingdian = {r["id"] for r in sample_records
                     if "经典" in norm(r["title"] + r["body"]) and "景点" not in norm(r["title"] + r["body"])}
    assert only_jingdian and not (found & only_jingdian)


def test_latin_words_without_a_pinyin_reading_stay(engine):
    engine.pinyin.get(wait=60)
    _, res = ids(engine, "iphone")
    assert res.pinyin == [] and res.understood == ["iphone"]


# ---- readings ranked by how many articles use them --------------------------------------
def test_readings_follow_the_articles_not_the_headlines():
    """集气 is in more headlines than 及其 and 机器 (4 : 3 : 0 on the
    sample), yet in far fewer articles: it neither leads nor joins."""
    from search.segmenter import get_segmenter

    articles = {"集气": 6, "及其": 93, "机器": 34, "极其": 19}
    lex = pinyin.PinyinLexicon({"集气": 4, "及其": 3}, article_df=lambda ws: {w: articles.get(w, 0) for w in ws},
                               is_word=get_segmenter().has_word)
    assert lex.convert("jiqi") == (["及其"], 93)
    assert lex.homophones("及其") == ["及其", "机器", "极其"]  # 34 and 19 >= 0.1 x 93; 集气 6 < 9.3
    assert [w for _, w in lex.readings("jiqi")] == ["及其", "机器", "极其"]


def test_a_share_of_the_best_reading_decides_who_joins():
    from search.segmenter import get_segmenter

    def lexicon(counts):
        return pinyin.PinyinLexicon({}, article_df=lambda ws: {w: counts.get(w, 0) for w in ws},
                                    is_word=get_segmenter().has_word)

    assert lexicon({"政府": 1000, "征服": 100}).homophones("政府") == ["政府", "征服"]  # exactly 0.1: joins
    assert lexicon({"政府": 1000, "征服": 99}).homophones("政府") == ["政府"]
    assert lexicon({"政府": 0, "征服": 5}).convert("zhengfu") == (["征服"], 5)  # only what the articles use
    assert lexicon({}).convert("zhengfu") is None


def norm(text):
    return fold_case(normalize_query(text or ""))


def articles_with(records, *words):
    """Brute force: records whose title or body contains any of ``words``."""
    return {r["id"] for r in records for w in words if norm(w) in norm(r["title"]) or norm(w) in norm(r["body"])}


@pytest.mark.parametrize("typed,readings,left_out", [
    ("jingdian", ["经典", "景点"], ["敬献", "静电"]),  # the example: 32 and 11 articles; 敬献 is jingxian
    ("zhengfu", ["政府"], ["郑负", "正副", "征服", "正负"]),  # 730 articles; the others at most 7
    ("jiqi", ["及其", "机器", "极其"], ["集气", "激起"]),  # 集气: 6 articles, the most headlines (4)
    ("shiyan", ["试验", "实验", "饰演"], ["十堰"]),  # at most three readings (誓言, 7 articles, is fourth)
    ("hangzhang", ["行长"], ["上涨"]),  # was read through a slip (shangzhang) when 行长 was in no headline
])
def test_pinyin_reads_as_the_words_our_articles_use(engine, indexed_records, typed, readings, left_out):
    engine.wait_ready(60)
    counts = {w: len(articles_with(indexed_records, w)) for w in readings + left_out}
    # The records justify the order and the cut: each reading at least a
    # tenth as common as the first, each word left out less (or no such reading).
    assert [counts[w] for w in readings] == sorted((counts[w] for w in readings), reverse=True)
    assert all(counts[w] >= pinyin.HOMOPHONE_SHARE * counts[readings[0]] for w in readings)
    assert all(counts[w] < pinyin.HOMOPHONE_SHARE * counts[readings[0]] or pinyin.word_pinyin(w) != typed
               for w in left_out)
    found, res = ids(engine, typed)
    assert res.pinyin == [[typed, readings[0]]]
    assert res.understood == [" OR ".join([typed, *readings])]
    assert found == articles_with(indexed_records, *readings)


def test_the_cli_reads_pinyin_as_the_api_does(client, sample_index, sample_records):
    """A fresh process (as an operator runs it) waits for the lexicon."""
    import json
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-m", "search", "query", "--index", sample_index, "--json", "--size", "50",
                          "hangzhang"], cwd=root, capture_output=True, text=True, timeout=300, check=True)
    cli = json.loads(out.stdout)
    client.application.extensions["search_engine"].get().wait_ready(60)
    api = client.get("/api/search?q=hangzhang&group=0&size=50").get_json()
    assert cli["total"] == api["total"] == len(articles_with(sample_records, "行长")) > 0
    assert {h["id"] for h in cli["hits"]} == {h["id"] for h in api["hits"]}
