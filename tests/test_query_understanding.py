"""One analysis for index and query, on both backends, with small articles
written for the purpose: case and mixed Latin/Chinese dictionary words,
invisible format characters, the symbols of Latin terms, one definition of
sentence ends, proximity counted in words, and the index's analysis version.

Each class of fault has the example that showed it plus others of the same
class; the expected ids are stated from the articles' text."""

import json
import os
import uuid

import pytest

from conftest import need_cluster, write_jsonl
from search.chars import ignorable_codepoints, sentence_end_positions, sentence_spans
from search.models import SearchRequest
from search.normalize import normalize, normalize_query

URL = os.environ.get("OPENSEARCH_URL")

ARTICLES = [
    # Case and mixed Latin/Chinese dictionary words (the examples first).
    {"id": "a1", "title": "初创公司完成A轮融资", "body": "这家公司完成A轮融资后，母公司股价上涨。"},
    {"id": "a2", "title": "A股收盘", "body": "今天A股三大指数集体收涨。"},
    {"id": "v1", "title": "爱看4K客户端上线", "body": "新版爱看4K客户端今天上线。"},
    {"id": "v2", "title": "周末生活", "body": "她平时爱看电影，家里换了4K电视。"},
    {"id": "b1", "title": "医院新增B超设备", "body": "市民可预约B超检查。"},
    {"id": "b2", "title": "B栋超市开业", "body": "位于B栋的超市今天开业。"},
    {"id": "k1", "title": "卡拉OK厅停业整顿", "body": "多家卡拉OK厅停业。"},
    {"id": "k2", "title": "猫咪卡拉", "body": "卡拉是一只猫，OK手势很可爱。"},
    {"id": "t1", "title": "夏装上市", "body": "白色T恤衫销量最好。"},
    {"id": "t2", "title": "T台走秀", "body": "模特走上T台。"},
    # Invisible format characters inside words.
    {"id": "s1", "title": "节日市场", "body": "今年春\u00ad节期间，市场供\u200e应充足。"},
    {"id": "s2", "title": "社区卫生", "body": "市民踊跃参与疫\u2066苗\u2069接\ufeff种。"},
    {"id": "s3", "title": "交通", "body": "春运期间\u202b地铁\u202c加开班次，乘客\u2060增多。"},
    {"id": "s4", "title": "无关", "body": "疫情期间春运照常。"},
    # Symbols that make a term.
    {"id": "c1", "title": "C#语言更新", "body": "微软发布C#新版本。"},
    {"id": "c2", "title": "C语言教材再版", "body": "经典C语言教材再版。"},
    {"id": "c3", "title": "C++标准发布", "body": "新的C++标准今天发布。"},
    {"id": "c4", "title": "AT&T宣布并购", "body": "美国电信公司AT&T宣布并购。"},
    {"id": "c5", "title": "AT公司", "body": "AT公司和T公司合作。"},
    {"id": "c6", "title": "流媒体", "body": "Disney+在香港上线。"},
    {"id": "c7", "title": "迪士尼", "body": "Disney乐园游客增加。"},
    # Words counted for proximity; sentence and paragraph ends.
    {"id": "n1", "title": "消息", "body": "香港今天举行选举"},
    {"id": "n2", "title": "天气", "body": "香港下雨。明天举行选举"},
    {"id": "n3", "title": "段落", "body": "香港下雨\n明天选举"},
    {"id": "n4", "title": "香港选举", "body": "无关的正文"},
    {"id": "e1", "title": "对话", "body": "张三说……李四回应"},
    {"id": "e2", "title": "对话二", "body": "张三说李四回应"},
    {"id": "e3", "title": "对话三", "body": "张三说；李四回应"},
    # A space or a punctuation mark typed inside a quoted phrase is a break in the text too.
    {"id": "p1", "title": "论坛", "body": "推动经济发展。"},
    {"id": "p2", "title": "县域", "body": "县域经济的发展很快。"},
    {"id": "p3", "title": "会议", "body": "经济 发展论坛开幕。"},
    {"id": "p4", "title": "报告", "body": "报告谈到经济，发展和民生。"},
    {"id": "p5", "title": "股市", "body": "纽约（New York）股市收涨。"},
    {"id": "p6", "title": "品牌", "body": "NewYork品牌开店。"},
    # Regional vocabulary: alternatives at query time, never rewritten text.
    {"id": "r1", "title": "普及率", "body": "本港網際網路普及率上升。", "lang": "zh-Hant"},
    {"id": "r2", "title": "普及率", "body": "全国互联网普及率上升。", "lang": "zh-Hans"},
    {"id": "r3", "title": "海洋生物", "body": "研究人员发现新的软体动物。", "lang": "zh-Hans"},
    {"id": "r4", "title": "新版本", "body": "本地軟體公司發布新版本。", "lang": "zh-Hant"},
    {"id": "r5", "title": "新版本", "body": "国内软件公司发布新版本。", "lang": "zh-Hans"},
    {"id": "r6", "title": "講話", "body": "川普昨日發表講話。", "lang": "zh-Hant"},
    {"id": "r7", "title": "讲话", "body": "特朗普昨日发表讲话。", "lang": "zh-Hans"},
    {"id": "r8", "title": "訪問", "body": "歐巴馬訪問亞洲。", "lang": "zh-Hant"},
    {"id": "r9", "title": "访问", "body": "奥巴马访问亚洲。", "lang": "zh-Hans"},
    {"id": "r10", "title": "会晤", "body": "欧洲领导人与巴马县代表会晤。", "lang": "zh-Hans"},
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("understanding")
    userdict = d / "user.txt"
    userdict.write_text("爱看4K 100 nz\n", encoding="utf-8")
    return write_jsonl(d / "articles.jsonl", ARTICLES), str(userdict), d


@pytest.fixture(scope="module", params=["whoosh", "opensearch"])
def crafted(request, files):
    """An engine over ARTICLES on each backend, built by the indexer CLI."""
    from indexer.cli import main
    from search.engine import SearchEngine

    src, userdict, d = files
    if request.param == "whoosh":
        location = str(d / "ix")
        assert main(["build", "--index", location, "--userdict", userdict, "--workers", "1", "--no-progress",
                     src]) == 0
    else:
        need_cluster()
        location = "news-understanding-" + uuid.uuid4().hex[:8]
        assert main(["build", "--backend", "opensearch", "--opensearch-url", URL, "--index", location,
                     "--userdict", userdict, "--no-progress", src]) == 0
    engine = SearchEngine.open(location, userdict, refresh_interval=0, backend=request.param, opensearch_url=URL,
                               synonyms_path=None)
    yield engine
    engine.pinyin.get(wait=60)
    engine.suggester.get(wait=60)
    if request.param == "opensearch":
        from test_backend_contract import drop_alias

        drop_alias(location)


def found(engine, q, **kw):
    res = engine.search(SearchRequest(q=q, size=100, facets=(), correct=False, **kw))
    return res


def ids(engine, q, **kw):
    return {h.id for h in found(engine, q, **kw).hits}


# ---- 1. case and mixed Latin/Chinese words -----------------------------------------
@pytest.mark.parametrize("query, expected", [
    ("A股", {"a2"}), ("a股", {"a2"}), ("Ａ股", {"a2"}),  # not a + 股 (a1 has A轮 and 股价)
    ("B超", {"b1"}), ("b超", {"b1"}),  # not B栋 + 超市
    ("卡拉OK", {"k1"}), ("卡拉ok", {"k1"}),  # not 卡拉 + OK apart
    ("爱看4K", {"v1"}), ("爱看4k", {"v1"}),  # the user dictionary's word; not 爱看 + 4K apart
    ("T恤衫", {"t1"}), ("t台", {"t2"}),
])
def test_mixed_dictionary_words_are_one_term_whatever_the_case(crafted, query, expected):
    """The articles with the word are the full matches, first; an article
    with its pieces apart (v2: 爱看 … 4K) may only follow as a partial match
    that says it lacks the word."""
    res = found(crafted, query)
    full = [h.id for h in res.hits if h.match["full"]]
    assert set(full) == expected and res.total_full == len(expected)
    assert [h.id for h in res.hits[:len(expected)]] == full
    assert all(h.match["missing"] == res.understood for h in res.hits if not h.match["full"])
    assert len(res.understood) == 1  # one term, not a letter and a character


def test_highlight_marks_the_mixed_word_in_its_original_case(crafted):
    hit = found(crafted, "a股").hits[0]
    assert "<mark>A股</mark>" in hit.title_highlight and "<mark>A股</mark>" in hit.snippet


def test_index_and_query_cut_the_same_way():
    """The same normalise-then-segment path: a query word is exactly the
    word the article was indexed under, whatever the case or width typed."""
    from search.analysis import Analyzer
    from search.segmenter import get_segmenter

    analyzer = Analyzer(get_segmenter())
    for text in ["A股", "a股", "Ａ股", "B超", "卡拉OK", "C#", "AT&T", "T恤衫"]:
        (word,) = analyzer.query_words(text)
        indexed = analyzer.words(normalize("今天" + text + "上涨")).terms
        assert word in indexed, (text, word, indexed)
    assert "a股" not in analyzer.words(normalize("完成A轮融资后股价上涨")).terms


# ---- 1. invisible format characters ---------------------------------------------------
@pytest.mark.parametrize("query, expected", [
    ("春节", {"s1"}), ("供应", {"s1"}),  # soft hyphen, left-to-right mark in the article
    ("疫苗接种", {"s2"}), ('"疫苗接种"', {"s2"}),  # isolates and a BOM in the article
    ('"疫苗\u200b接种"', {"s2"}), ("疫\u200b苗", {"s2"}),  # ... and in the query
    ("地铁", {"s3"}), ("乘客增多", {"s3"}), ("春\u2060运", {"s3", "s4"}),
])
def test_invisible_characters_never_hide_an_article(crafted, query, expected):
    assert ids(crafted, query) == expected


def test_a_query_with_an_invisible_character_is_understood_without_it(crafted):
    assert found(crafted, "疫\u200b苗").understood == ["疫苗"]
    assert found(crafted, "疫\u00ad苗").understood == ["疫苗"]


def test_highlights_keep_exact_offsets_in_the_original_text(crafted):
    hit = found(crafted, "春节").hits[0]
    assert "<mark>春\u00ad节</mark>" in hit.snippet
    hit = found(crafted, '"疫苗接种"').hits[0]
    assert "<mark>疫\u2066苗\u2069接\ufeff种</mark>" in hit.snippet


def test_every_format_character_is_ignored_with_offsets_kept():
    """All of Unicode category Cf (soft hyphen, bidi marks, embeddings,
    isolates, joiners, BOM, tags ...) and the other default-ignorables."""
    cps = ignorable_codepoints()
    for cp in (0x00AD, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x202A, 0x202E, 0x2060, 0x2066, 0x2069,
               0xFEFF, 0x061C, 0x180E, 0xFE0F, 0xE0001, 0x034F):
        assert cp in cps, hex(cp)
    for cp in sorted(cps):
        text = "春" + chr(cp) + "节"
        norm = normalize(text)
        assert norm.text == "春节" and normalize_query(text) == "春节", hex(cp)
        assert norm.span(0, 2) == (0, 3) and norm.span(1, 2) == (2, 3), hex(cp)
    assert not any(ch in cps for ch in map(ord, "春节 a,。\n"))


# ---- 1. symbols that make a term ------------------------------------------------------
@pytest.mark.parametrize("query, expected", [
    ('"C#"', {"c1"}), ('"C++"', {"c3"}), ('"AT&T"', {"c4"}), ('"Disney+"', {"c6"}),
    ('"C"', {"c1", "c2", "c3"}), ('"Disney"', {"c6", "c7"}),
])
def test_a_quoted_phrase_matches_its_symbols(crafted, query, expected):
    assert ids(crafted, query) == expected


@pytest.mark.parametrize("query, expected", [
    ('"经济 发展"', {"p3", "p4"}), ('"经济，发展"', {"p3", "p4"}), ('"经济发展"', {"p1"}),
    ('"经济的发展"', {"p2"}), ('"new york"', {"p5"}), ('"NewYork"', {"p6"}), ('"经济、发展"', {"p3", "p4"}),
])
def test_a_break_typed_in_a_phrase_is_a_break_in_the_text(crafted, query, expected):
    """Never 经济的发展 for "经济 发展" (the Whoosh backend matched any one
    character there; OpenSearch also 经济发展)."""
    assert ids(crafted, query) == expected


@pytest.mark.parametrize("query, best, others", [
    ("C#", "c1", {"c2"}), ("C++", "c3", {"c2"}), ("AT&T", "c4", {"c5"}), ("Disney+", "c6", {"c7"}),
])
def test_an_unquoted_term_with_its_symbol_prefers_the_articles_that_have_it(crafted, query, best, others):
    hits = [h.id for h in found(crafted, query).hits]
    assert hits and hits[0] == best
    for other in others & set(hits):
        assert hits.index(other) > hits.index(best)


# ---- 1. one definition of sentence ends ---------------------------------------------------
def test_sentence_ends_are_one_definition():
    text = "张三说……李四回应！好吗？好；行。完\n新段"
    ends = sentence_end_positions(text)
    assert [text[i] for i in ends[:-1]] == ["…", "…", "！", "？", "；", "。", "\n"]
    assert "".join(text[s:e] for s, e in sentence_spans(text)) == text
    short = "a…b"
    assert [short[s:e] for s, e in sentence_spans(short)] == ["a…", "b"]


@pytest.mark.parametrize("query", ["张三 w/s 李四", '"三" w/s "四"', "张三 SAME 李四", '"张三说" w/s "李四回应"'])
def test_same_sentence_from_postings_and_from_text_agree(crafted, query):
    """Two-character terms are answered from postings, one-character terms
    (Whoosh) by reading the text: both cut sentences at …, ；and 。"""
    assert ids(crafted, query) == {"e2"}


# ---- 3. proximity counted in words --------------------------------------------------------
@pytest.mark.parametrize("query, expected", [
    # 香港 | 今天 | 举行 | 选举: three words apart.
    ("香港 w/3 选举", {"n1", "n3", "n4"}), ("香港 w/2 选举", {"n4"}), ("选举 w/3 香港", {"n1", "n3", "n4"}),
    ("香港 pre/3 选举", {"n1", "n3", "n4"}), ("选举 pre/3 香港", set()),
    # 香港 | 下雨 | 。 | 明天 | 举行 | 选举: punctuation is no word (four apart).
    ("香港 w/4 选举", {"n1", "n2", "n3", "n4"}), ("香港 near/4 选举", {"n1", "n2", "n3", "n4"}),
    ("香港 w/s 选举", {"n1", "n4"}), ("香港 w/p 选举", {"n1", "n2", "n4"}),
    ("(香港 OR 澳门) w/1 选举", {"n4"}), ('"香港" w/1 (选举 OR 投票)', {"n4"}),
])
def test_proximity_counts_index_words(crafted, query, expected):
    res = found(crafted, query)
    assert {h.id for h in res.hits} == expected
    assert res.exact and not res.relaxed


# ---- 4. regional vocabulary, both ways, whole words only -------------------------------
@pytest.mark.parametrize("query, expected, never", [
    ("網際網路", {"r1", "r2"}, set()), ("网际网路", {"r1", "r2"}, set()), ("互联网", {"r1", "r2"}, set()),
    ("软件", {"r4", "r5"}, {"r3"}),  # 软体 as a whole word only: never 软体动物
    ("軟體", {"r3", "r4", "r5"}, set()),  # as typed, 软体 is also inside 软体动物 (soft-bodied)
    ("软体动物", {"r3"}, {"r4", "r5"}),  # one word of its own: no alternative
    ("川普", {"r6", "r7"}, set()), ("特朗普", {"r6", "r7"}, set()),
    ("欧巴马", {"r8", "r9"}, {"r3"}), ("歐巴馬", {"r8", "r9"}, set()), ("奥巴马", {"r8", "r9"}, set()),
])
def test_regional_words_are_alternatives_both_ways(crafted, query, expected, never):
    """Full matches are the articles with the word or one of its regional
    forms as a word; r10 (欧洲 … 巴马县) is at most a partial match that says
    it lacks the word."""
    res = found(crafted, query)
    assert {h.id for h in res.hits if h.match["full"]} == expected
    assert not never & {h.id for h in res.hits}


def test_regional_alternatives_never_rewrite_indexed_text(crafted):
    """The Hong Kong article still has its own word: a phrase of it finds
    it alone, and the highlight marks the original characters."""
    assert ids(crafted, '"網際網路"') == {"r1"} and ids(crafted, '"互联网"') == {"r2"}
    hit = next(h for h in found(crafted, "互联网").hits if h.id == "r1")
    assert "<mark>網際網路</mark>" in hit.snippet


# ---- 1. the analysis version -------------------------------------------------------------
def test_an_index_of_another_analysis_version_is_refused_and_rebuilt(tmp_path, monkeypatch, capsys):
    """The service and the indexer refuse to mix versions and say to run
    ``python -m indexer rebuild``, which re-analyses every article."""
    from indexer.cli import main
    from search.backends.whoosh import schema, store
    from search.engine import SearchEngine

    src = write_jsonl(tmp_path / "a.jsonl", ARTICLES)
    index = str(tmp_path / "old")
    monkeypatch.setattr(schema, "ANALYSIS_VERSION", 1)  # written as the previous release wrote it
    monkeypatch.setattr(store, "ANALYSIS_VERSION", 1)
    assert main(["build", "--index", index, "--workers", "1", "--no-progress", src]) == 0
    monkeypatch.undo()
    with pytest.raises(store.IncompatibleIndex, match="python -m indexer rebuild --index"):
        SearchEngine.open(index, refresh_interval=0)
    more = write_jsonl(tmp_path / "b.jsonl", [{"id": "z1", "title": "新文章", "body": "内容"}])
    capsys.readouterr()
    assert main(["build", "--index", index, "--workers", "1", "--no-progress", more]) == 2
    assert "python -m indexer rebuild" in capsys.readouterr().err
    assert main(["rebuild", "--index", index]) == 0
    engine = SearchEngine.open(index, refresh_interval=0)
    assert engine.backend.doc_count() == len(ARTICLES)
    assert ids(engine, "a股") == {"a2"} and ids(engine, '"C#"') == {"c1"}


def test_the_service_reports_an_index_of_another_version(tmp_path, monkeypatch):
    from conftest import digest
    from indexer.cli import main
    from search.backends.whoosh import schema, store
    from web import create_app

    src = write_jsonl(tmp_path / "a.jsonl", ARTICLES[:3])
    index = str(tmp_path / "old")
    monkeypatch.setattr(schema, "ANALYSIS_VERSION", 1)
    monkeypatch.setattr(store, "ANALYSIS_VERSION", 1)
    assert main(["build", "--index", index, "--workers", "1", "--no-progress", src]) == 0
    monkeypatch.undo()
    app = create_app({"SEARCH_INDEX": index, "SEARCH_ARTICLE_STORE": "off", "SEARCH_RATE_LIMIT": "off",
                      "SEARCH_QUERY_LOG": "off", "SEARCH_WRITE_TOKENS": (digest("x"),)})
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503
    assert "python -m indexer rebuild" in json.dumps(health.get_json())
    assert client.get("/api/search?q=a").status_code == 503


# ---- 3. operators as typed: full width, no spaces, misspelt ---------------------------------
@pytest.mark.parametrize("typed, same_as", [
    ("香港 ＡＮＤ 选举", "香港 AND 选举"), ("香港 ｗ／３ 选举", "香港 w/3 选举"), ("张三|李四", "张三 OR 李四"),
    ("张三｜李四", "张三 OR 李四"), ("ｔｉｔｌｅ：选举", "title:选举"), ("tittle:选举", "title:选举"),
    ("atleast:选举", "选举"), ("香港 w/3 选举 title:", "香港 w/3 选举"), ("（香港 OR 澳门） w/3 选举", "(香港 OR 澳门) w/3 选举"),
])
def test_operators_are_read_as_typed_in_any_form(crafted, typed, same_as):
    a, b = found(crafted, typed), found(crafted, same_as)
    assert [h.id for h in a.hits] == [h.id for h in b.hits] and a.understood == b.understood
    assert a.exact == b.exact or not b.notices


@pytest.mark.parametrize("typed", ["NOT", "OR", "w/5", "()", '""', "AND AND", "title:", "- -"])
def test_a_query_of_operators_alone_finds_nothing_and_says_why(crafted, typed):
    res = found(crafted, typed)
    assert res.total == 0 and res.hits == []
    assert res.notices or typed == "- -"


@pytest.mark.parametrize("typed, code, same_as", [
    ("香港*", "no_wildcard", "香港"), ("选?举", "no_wildcard", "选 举"), ("香港＊ 选举", "no_wildcard", "香港 选举"),
    ('香港 ""', "empty_phrase", "香港"), ('"" 选举 “”', "empty_phrase", "选举"),
])
def test_wildcards_and_empty_quotes_are_read_as_said(crafted, typed, code, same_as):
    """No silent reinterpretation: a '*' or '?' (no wildcard here: read as a
    space) and empty quotes (ignored) are named in a notice; what is
    searched is what the notice says."""
    res, plain = found(crafted, typed), found(crafted, same_as)
    assert code in [n["code"] for n in res.notices]
    assert [h.id for h in res.hits] == [h.id for h in plain.hits] and res.total == plain.total


def test_a_notice_is_given_once(crafted):
    res = found(crafted, "(" * 50 + "香港")
    assert [n["code"] for n in res.notices] == ["unbalanced_parenthesis"]


def test_control_and_combining_characters_are_text_not_terminators():
    """A NUL in the middle (OpenCC's C strings stopped there) and a
    decomposed é (e + U+0301) normalise like the rest of the text."""
    assert normalize_query("香港\x00选举") == "香港 选举"
    assert normalize_query("cafe\u0301") == normalize_query("café") == "café"
    norm = normalize("Cafe\u0301 开门")
    assert norm.text == "café 开门" and norm.span(0, 4) == (0, 5)
