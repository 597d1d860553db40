"""Latin words are whole words everywhere: in matching (a Latin term is never
cut at index time), in the bigram fallback, and in highlighting.  Articles
written for these tests; the right values follow from their text."""

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
