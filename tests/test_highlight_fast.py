"""The fast highlighter (only the lines or windows that may hold a needle
normalised, only the sentences around the matches read) against the
straightforward reference (the whole text normalised, every sentence
weighed: ``highlight.reference_find_spans`` / ``reference_snippet``), on
every hit of every query of bench/querymix.jsonl on the 2,000-article
sample, on texts made to hit each rule of the normalisation, and the
properties the fast path rests on (``normalize.t2s_sources`` complete,
OpenCC's conversion local to lines)."""

from __future__ import annotations

import os

import pytest

from search import highlight as hl
from search import match_pieces as mp
from search import normalize as nz

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def ready():
    assert hl.prepare(wait=None), "the fast path's tables could not be built"
    return True


@pytest.fixture(scope="module")
def mix_hits(engine, ready):
    """(title, body, needles, the engine's title_highlight, the engine's
    snippet) of every hit of every distinct query of the query mix, as the
    shared sample engine (its result cache off meanwhile) built them."""
    import search.engine as engine_module
    from bench.latency import distinct_queries, load_mix, request_for

    seen: list[tuple] = []
    original = engine_module.hit

    def recording_hit(stored, score, needles, highlight=True):
        made = original(stored, score, needles, highlight)
        if highlight:
            seen.append((stored.get("title", ""), stored.get("body", "") or "", list(needles),
                         made.title_highlight, made.snippet))
        return made

    engine_module.hit = recording_hit
    cache_size, engine._cache.size = engine._cache.size, 0
    try:
        for item in distinct_queries(load_mix(os.path.join(ROOT, "bench", "querymix.jsonl"))):
            engine.search(request_for(item))
    finally:
        engine_module.hit = original
        engine._cache.size = cache_size
    return seen


def test_every_hit_of_the_query_mix_is_unchanged(mix_hits):
    assert len(mix_hits) > 3000
    with_needles = [h for h in mix_hits if h[2]]
    assert len(with_needles) > 3000
    marked = 0
    for title, body, needles, title_html, snippet_html in mix_hits:
        assert title_html == hl.mark(title, hl.reference_find_spans(title, needles)), (title, needles)
        assert snippet_html == hl.reference_snippet(body, needles), (body[:80], needles)
        marked += "<mark>" in snippet_html
    assert marked > 2000  # the comparison covers real marks, not only empty snippets


def test_a_body_longer_than_the_scan_is_unchanged(mix_hits, ready):
    longest = sorted(mix_hits, key=lambda h: -len(h[1]))[:40]
    assert len(longest[0][1]) > hl.SNIPPET_SCAN
    for _, body, needles, _, snippet_html in longest:
        assert hl.find_spans(body, needles) == hl.reference_find_spans(body, needles)
        for more in ([], needles[:1], ["的"], ["中国", "表示"], ["zzz不会出现的词"]):
            assert hl.snippet(body, needles + more) == hl.reference_snippet(body, needles + more)


# Texts that exercise each rule of normalisation and of the snippet.
CASES = [
    ("香港立法會選舉今日舉行。\n選民投票踴躍，投票率創新高。", ["选举", "投票"]),
    ("全形ＡＢＣ公司與ABC公司\nabc 與 ABCD 不同", ["abc"]),
    ("疫\u200b苗接種\n春\u00ad节返乡", ["疫苗", "春节"]),
    ("Café and cafe\u0301 prices\n咖啡价格上涨", ["café", "咖啡"]),
    ("ΣΟΦΟΣ ΟΔΥΣΣΕΥΣ\nİstanbul 伊斯坦布尔", ["σοφος", "istanbul", "οδυσσευς"]),
    ("ΣΟΦΟΣ ΟΔΥΣΣΕΥΣ\n没有那个字母", ["σοφος", "σοφοσ", "οδυσσευσ"]),
    ("glamor lam LAM 12002 2002年\n", ["lam", "2002"]),
    ("乾隆皇帝下江南，天气乾燥。\n著名作家著书立说", ["乾隆", "干燥", "著名", "着"]),
    ("第一行\n第二行有香港\r\n第三行香港", ["香港\n第三行", "香港"]),
    ("𠀀𠀁香港\n", ["𠀀", "香港"]),
    ("", ["香港"]),
    ("没有任何匹配的文字。" * 40, ["香港"]),
    ("　香港　" * 3 + "\n" + "ＨＫ，hk", ["hk", " "]),
    ("香港" + "。" * 200 + "很长的句子" * 50 + "香港选举", ["香港", "选举"]),
    ("a\u0301b\n香港a\u0302", ["香港a"]),
    ("網際網路發達\n互联网发达", ["网际网路", "互联网"]),
    ("疫\u200b\u200b\u200b苗，疫苗\u200b。" + "x" * 60 + "疫苗", ["疫苗", "苗"]),
    ("香港" + "a1-b2 " * 30 + "HK香港" + "。" * 3 + "Hk" + "z" * 70, ["香港", "hk"]),
    ("說著說著就乾了，著名的乾隆" * 20, ["着", "著名", "干", "乾隆"]),
]


@pytest.mark.parametrize("text,needles", CASES)
def test_made_up_texts_equal_the_reference(ready, text, needles):
    assert hl.find_spans(text, needles) == hl.reference_find_spans(text, needles)
    assert hl.snippet(text, needles) == hl.reference_snippet(text, needles)
    assert hl.highlight_title(text, needles) == hl.mark(text, hl.reference_find_spans(text, needles))


def test_marks_land_on_the_original_characters(ready):
    assert hl.highlight_title("香港立法會選舉", ["选举"]) == "香港立法會<mark>選舉</mark>"
    assert hl.highlight_title("ＡＢＣ與abcd", ["abc"]) == "<mark>ＡＢＣ</mark>與abcd"
    assert hl.highlight_title("疫\u200b苗", ["疫苗"]) == "<mark>疫\u200b苗</mark>"
    assert hl.highlight_title("<b>香港</b>", ["香港"]) == "&lt;b&gt;<mark>香港</mark>&lt;/b&gt;"


def test_sources_cover_every_character_alone_and_in_every_phrase(ready):
    """Every BMP character, normalised alone (one per line: the conversion is
    local to lines), and every OpenCC phrase, normalised as a whole: each
    normalised character lists the original one among its sources."""
    chars = [chr(cp) for cp in range(0x20, 0x10000)
             if not 0xD800 <= cp <= 0xDFFF and chr(cp) not in "\n\r\x85\u2028\u2029\x0b\x0c\x1c\x1d\x1e"]
    missing = []
    for ch in chars:
        if nz.may_be_unusual(ch):
            continue  # removed or composed: no character of its own
        out = nz.normalize(ch).text
        for x in out:
            src = mp.t2s_sources(x)
            if src is not None and ch not in src:
                missing.append((ch, x))
    for key, _ in [e for entries in mp._read_opencc_dicts().values() for e in entries]:
        out = nz.normalize(key).text
        assert len(out) == len(key)
        for ch, x in zip(key, out):
            src = mp.t2s_sources(x)
            if src is not None and ch not in src:
                missing.append((key, ch, x))
    assert missing == []


def test_sources_of_plain_characters(ready):
    assert mp.t2s_sources("选") == {"选", "選"}
    assert {"A", "a", "Ａ", "ａ"} <= mp.t2s_sources("a")
    assert {"乾", "干", "幹"} <= mp.t2s_sources("干")
    assert mp.t2s_sources("\n") is None
    assert mp.t2s_sources("𠀀") is None


def test_opencc_conversion_is_local_to_lines(sample_records):
    for r in sample_records:
        for text in (r.get("title") or "", r.get("body") or ""):
            lines = text.splitlines(keepends=True)
            assert nz.to_simplified(text) == "".join(nz.to_simplified(line) for line in lines)


def test_normalize_piece_equals_normalize(sample_records):
    texts = [t for t, _ in CASES] + [r.get("body") or "" for r in sample_records[:300]]
    for text in texts:
        for line in text.splitlines(keepends=True):
            assert nz.normalize_piece(line) == nz.normalize(line)
    for ch in ("\u200b", "\u0301", "\ufe0f", "\U000e0101", "a", "中"):
        assert nz.may_be_unusual(ch) == (ch not in "a中")


def test_the_reference_path_serves_until_the_tables_are_ready(monkeypatch):
    def no_fast_path(text):
        raise AssertionError("the fast path ran before its tables were ready")

    monkeypatch.setattr(hl, "prepare", lambda wait=0: False)
    monkeypatch.setattr(hl, "normalize_piece", no_fast_path)
    text, needles = CASES[0]
    assert hl.find_spans(text, needles) == [(5, 7), (15, 17), (20, 22)]
    assert hl.snippet(text, needles).count("<mark>") == 3


def test_window_edges_are_one_rule(ready):
    pattern = mp._edge_pattern()
    for cp in range(0x10000):
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        assert (pattern.match(ch) is not None) == mp.window_edge(ch), ch
    assert mp.window_edge("港") and mp.window_edge("\n")
    assert not mp.window_edge("乾") and not mp.window_edge("a") and not mp.window_edge("，")
