"""Latin words are whole words everywhere: in matching (a Latin term is never
cut at index time), in the bigram fallback, and in highlighting; a
run-together Latin word no article has is read as its words, with a notice
(search.wordbreak), pinyin and known words never.  Articles written for
these tests; the right values follow from their text."""

from __future__ import annotations

import re

import pytest

from search.highlight import find_spans, highlight_text
from search.models import SearchRequest

ARTICLES = {
    "lam": ("Carrie Lam meets lawmakers", "Chief Executive Carrie Lam met lawmakers on Monday. 林郑月娥会见议员。"),
    "glamor": ("The glamor of the palace", "Critics say the museum lost its glamor; a LAMP was lit. 故宫文化博物馆。"),
    "cpu": ("A public CPU benchmark", "The public test of the new CPU ran on a Friday. 新处理器测试。"),
    "terra": ("TerraExplorer released", "The terraexplorer desktop tool got a new release. 软件发布。"),
    "ma": ("Geoffrey Ma retires", "Chief justice Geoffrey Ma retired; animals and masks were not mentioned. 马道立退休。"),
}


@pytest.fixture(scope="module")
def latin_engine(tmp_path_factory):
    from conftest import write_jsonl
    from indexer import pipeline
    from search.engine import SearchEngine

    tmp = tmp_path_factory.mktemp("latin")
    records = [{"id": k, "title": t, "body": b, "published": "2024-03-01T08:00:00+08:00"}
               for k, (t, b) in ARTICLES.items()]
    path = str(tmp / "ix")
    pipeline.build(path, [write_jsonl(tmp / "in.jsonl", records)], workers=1, progress=False)
    return SearchEngine.open(path, refresh_interval=0)


def marked(html: str) -> list[str]:
    return re.findall(r"<mark>(.*?)</mark>", html)


def test_a_latin_needle_is_marked_only_as_a_whole_word():
    text = "glamor Lam lamp LAM, 2002 12002 A轮 完成A轮 北京市"
    assert marked(highlight_text(text, ["lam"])) == ["Lam", "LAM"]
    assert marked(highlight_text(text, ["2002"])) == ["2002"]
    assert marked(highlight_text(text, ["a"])) == ["A", "A"]  # beside Chinese a Latin letter stands alone
    assert marked(highlight_text(text, ["北京"])) == ["北京"]  # Chinese: words inside longer words
    assert find_spans("Mask animals Ma", ["ma"]) == [(13, 15)]


@pytest.mark.parametrize("q,expected", [("Lam", {"lam"}), ("ma", {"ma"}), ("cpu", {"cpu"}), ("lamp", {"glamor"})])
def test_a_latin_word_finds_the_articles_having_it_as_a_word(latin_engine, q, expected):
    result = latin_engine.search(SearchRequest(q=q, size=10, facets=(), group=False))
    assert {h.id for h in result.hits} == expected
    assert all(h.match["full"] for h in result.hits)
    for h in result.hits:  # what is marked is the word itself, never a piece of another
        assert {m.lower() for m in marked(h.title_highlight + h.snippet)} == {q.lower()}, (h.title_highlight, h.snippet)


def test_latin_bigrams_scattered_through_other_words_are_no_partial_match(latin_engine):
    # "ic" (public) and "cp" (CPU) are both in the cpu article, apart: no trace of "icp".
    result = latin_engine.search(SearchRequest(q="ICP", size=10, facets=(), group=False))
    assert (result.total, [h.id for h in result.hits]) == (0, [])


def test_a_misspelt_long_latin_word_still_finds_its_article(latin_engine):
    # Five letters in a row of "terraexplorr" are in the article: a partial match.
    result = latin_engine.search(SearchRequest(q="terraexplorr", size=10, facets=(), group=False))
    assert [h.id for h in result.hits] == ["terra"] and not result.hits[0].match["full"]


def test_a_partial_match_marks_the_pieces_it_holds(tiny_index):
    engine, _, _ = tiny_index([
        {"id": "bridge", "title": "彩虹桥今日通车", "body": "彩虹桥今日通车，市民踊跃前往。"},
        {"id": "rainbow", "title": "雨后天边出现彩虹", "body": "雨后天边出现彩虹，市民纷纷拍照。"},
    ])
    result = engine.search(SearchRequest(q="彩虹桥 拍照", size=10, facets=(), group=False))
    by_id = {h.id: h for h in result.hits}
    assert by_id["rainbow"].match == {"full": False, "missing": ["彩虹桥"]}
    # The reader sees why it was listed: its piece of the missing word is marked.
    assert "彩虹" in marked(by_id["rainbow"].title_highlight)


# ---- run-together Latin words (search.wordbreak) ------------------------------------
GLUED = {
    "morocco-guide": ("Travel shelf", "A new edition of the Rough Guide to Morocco is out. 旅游指南。"),
    "morocco-sea": ("Rough seas", "Rough seas kept boats off Morocco for a week. 天气。"),
    "guide-only": ("A guide to rough drafts", "How editors guide rough drafts. 编辑手记。"),
    # Titles written without spaces (as QBQTC's are): one Latin term, its words inside.
    "glued": ("roughguidetomorocco豆瓣", "读者评分。"),
    "receipt": ("Shop tills", "The receipt printed twice when the till restarted. 商店。"),
    "gnome": ("Desktop tips", "On GNOME, files open with gnome-open from a terminal. 桌面。"),
    "jingan": ("静安寺今日开放", "静安寺今日恢复开放，市民前往参观。"),
    "beijing": ("Beijing and Shanghai", "Beijing and Shanghai ran an ongoing campaign. 京沪。"),
}


def words_in(record) -> set[str]:
    """The Latin words of a record's title and body, read by brute force."""
    return set(re.findall(r"[a-z]+", (record[0] + " " + record[1]).lower()))


@pytest.fixture(scope="module")
def glued_index(tmp_path_factory):
    from conftest import write_jsonl
    from indexer import pipeline
    from search.engine import SearchEngine

    tmp = tmp_path_factory.mktemp("glued")
    records = [{"id": k, "title": t, "body": b, "published": "2024-03-01T08:00:00+08:00"}
               for k, (t, b) in {**ARTICLES, **GLUED}.items()]
    path = str(tmp / "ix")
    pipeline.build(path, [write_jsonl(tmp / "in.jsonl", records)], workers=1, progress=False)
    engine = SearchEngine.open(path, refresh_interval=0)
    assert engine.wait_ready(suggestions=False)  # the pinyin lexicon: jingan is read as pinyin
    return engine, path


@pytest.mark.parametrize("q,words", [("roughguidemorocco", ["rough", "guide", "morocco"]),
                                     ("receiptprinted", ["receipt", "printed"]),
                                     ("GnomeOpen", ["gnome", "open"])])
def test_a_run_together_latin_word_finds_the_articles_having_its_words(glued_index, q, words):
    engine, _ = glued_index
    result = engine.search(SearchRequest(q=q, size=20, facets=(), group=False))
    everything = {**ARTICLES, **GLUED}
    oracle = {k for k, rec in everything.items() if set(words) <= words_in(rec)}
    assert oracle  # the articles were written to have them
    assert {h.id for h in result.hits if h.match["full"]} == oracle
    assert result.total_full == len(oracle)
    # Never silent: the reading is a notice, with the words.
    assert result.notices == [{"code": "latin_words", "text": q.lower(), "words": words,
                               "message": f"'{q.lower()}' is in no article as a word: also searched as the words "
                                          f"{' '.join(words)}"}]
    for h in result.hits:  # the words are marked, as whole words
        if h.match["full"]:
            assert {m.lower() for m in marked(h.title_highlight + h.snippet)} <= set(words)


def test_partial_matches_of_a_run_together_word_hold_most_of_its_words(glued_index):
    engine, _ = glued_index
    result = engine.search(SearchRequest(q="roughguidemorocco", size=20, facets=(), group=False))
    partial = {h.id for h in result.hits if not h.match["full"]}
    # Its words held as runs of text (inside a glued term too), 40 % of its
    # letters at least (ranking.FALLBACK_MIN_GRAMS): rough + morocco 12 of 17,
    # rough + guide 10 of 17, all three inside roughguidetomorocco.
    everything = {**ARTICLES, **GLUED}
    letters = {k: sum(len(w) for w in ("rough", "guide", "morocco") if w in (t + " " + b).lower())
               for k, (t, b) in everything.items()}
    full = {k for k, rec in everything.items() if {"rough", "guide", "morocco"} <= words_in(rec)}
    assert partial == {k for k, n in letters.items() if n >= 0.4 * 17} - full
    assert partial == {"morocco-sea", "guide-only", "glued"}


def test_pinyin_and_known_words_are_never_split(glued_index):
    from search.wordbreak import words_of

    engine, _ = glued_index
    # jingan reads as pinyin: 静安 is found, never Beijing + an (their Latin
    # bigrams ji, in, ng, an are all in the beijing article).
    result = engine.search(SearchRequest(q="jingan", size=20, facets=(), group=False))
    assert [h.id for h in result.hits] == ["jingan"] and result.notices == []
    assert words_of("jingan") == words_of("jiangrou") == ()
    # A word some article has is searched as typed (terraexplorer is one word there).
    result = engine.search(SearchRequest(q="terraexplorer", size=20, facets=(), group=False))
    assert [h.id for h in result.hits] == ["terra"] and result.notices == []
    # A misspelt run is no run of words: still its one piece (test above), no notice.
    assert words_of("terraexplorr") == () and words_of("dtsx") == ()
    result = engine.search(SearchRequest(q="terraexplorr", size=20, facets=(), group=False))
    assert result.notices == []


def test_an_exact_query_is_never_read_as_words(glued_index):
    engine, _ = glued_index
    for q in ('"roughguidemorocco"', "title:roughguidemorocco", "roughguidemorocco -lamp"):
        result = engine.search(SearchRequest(q=q, size=20, facets=(), group=False))
        assert (result.total, result.notices) == (0, []), q


def test_the_page_and_the_api_say_how_a_run_together_word_was_read(glued_index, tmp_path):
    from web import create_app

    _, path = glued_index
    app = create_app({"SEARCH_INDEX": path, "SEARCH_REFRESH_INTERVAL": 0.0, "SEARCH_ARTICLE_STORE": "off",
                      "SEARCH_RATE_LIMIT": "off", "SEARCH_HOT_REFRESH": 0.0,
                      "SEARCH_QUERY_LOG": str(tmp_path / "queries.sqlite")})
    client = app.test_client()
    body = client.get("/api/search?q=gnomeopen").get_json()
    assert body["notices"] == [{"code": "latin_words", "text": "gnomeopen", "words": ["gnome", "open"],
                                "message": "'gnomeopen' is in no article as a word: also searched as the words "
                                           "gnome open"}]
    assert [h["id"] for h in body["hits"]] == ["gnome"]
    html = client.get("/search?q=gnomeopen").get_data(as_text=True)
    notes = re.findall(r'<p class="notice query-notice" data-code="latin_words">(.*?)</p>', html, re.S)
    assert notes == ["「gnomeopen」不是任何报道中的词，已按英文单词「gnome」和「open」检索。"]
    html = client.get("/search?q=gnomeopen", headers={"Accept-Language": "en"}).get_data(as_text=True)
    notes = re.findall(r'<p class="notice query-notice" data-code="latin_words">(.*?)</p>', html, re.S)
    assert len(notes) == 1 and "gnome" in notes[0] and "open" in notes[0] and "gnomeopen" in notes[0], notes
