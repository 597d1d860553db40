"""Pinyin input on the real sample: typed pinyin finds the Chinese word,
Chinese queries are never merged through pinyin, real Latin words stay."""

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
