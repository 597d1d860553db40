"""The analysis pipeline on real sentences: segmentation, normalisation,
offsets back into the original text, and agreement of every path that
produces terms (Python analyzer, numpy grams, Whoosh's own field.index)."""

import random

import pytest

from search.analysis import Analyzer, gram_codes, gram_term
from search.normalize import fold_case, normalize, normalize_query
from search.segmenter import Segmenter, get_segmenter


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer(get_segmenter())


# (text, words that must be among the index terms)
CASES = [
    ("香港特別行政區政府發布COVID-19疫情", ["香港", "特别", "行政区", "香港特别行政区政府", "covid-19", "covid", "19", "疫情"]),
    ("中华人民共和国农业发展银行", ["中华人民共和国", "人民", "共和国", "农业", "发展", "银行", "农业发展银行"]),
    ("ＬＰＤＤＲ５Ｘ内存与5G基站", ["lpddr5x", "5g", "内存", "基站"]),
    ("立法會選舉將於2022年舉行", ["立法会", "选举", "2022"]),
    ("使用網際網路的人", ["网际网路"]),  # regional words are query-side alternatives, never rewritten
]


@pytest.mark.parametrize("text,expected", CASES)
def test_index_terms(analyzer, text, expected):
    terms = analyzer.word_terms(normalize(text))
    missing = [w for w in expected if w not in terms]
    assert not missing, f"{text!r}: missing {missing}; got {terms}"


def test_fullwidth_case_and_script_fold_to_the_same_query():
    assert normalize_query("ＣＯＶＩＤ－１９") == normalize_query("COVID-19")
    assert fold_case(normalize_query("ＣＯＶＩＤ－１９")) == "covid-19"
    assert normalize_query("立法會選舉") == normalize_query("立法会选举") == "立法会选举"


def test_simplified_text_is_not_rewritten(sample_records):
    """Regional phrase tables (tw2sp) rewrite mainland words such as 建立->创建;
    our conversion must leave Simplified articles exactly as they are."""
    import opencc

    t2s = opencc.OpenCC("t2s")
    changed = [r["id"] for r in sample_records if r["lang"] == "zh-Hans"
               and normalize_query(r["body"]) != t2s.convert(normalize_query(r["body"]))]
    assert not changed
    for word in ["建立", "核心", "文件", "尼日利亚", "资讯"]:
        assert normalize_query(word) == word


def test_token_offsets_slice_back_to_original(analyzer, sample_records):
    """Offsets index the original text: the original characters at a token's
    offsets, converted on their own, give the token (OpenCC converts a few
    characters differently in context, e.g. 覆 -> 复 in 反覆, so we allow a
    small share of context-only differences; each must still have the same
    length)."""
    rng = random.Random(7)
    total = exact = 0
    for rec in rng.sample(sample_records, 60):
        text = rec["title"] + "\n" + rec["body"][:3000]
        norm = normalize(text)
        tokens = [(t.text, t.start, t.end) for t in analyzer.word_tokens(norm)]
        tokens += [(t.text, t.start, t.end) for t in analyzer.gram_tokens(norm)]
        for tok_text, start, end in tokens:
            piece = text[start:end]
            assert 0 <= start < end <= len(text) and piece.strip(), (rec["id"], tok_text, piece)
            converted = fold_case(normalize_query(piece))
            total += 1
            if tok_text in (converted, converted.strip("-._/+'")):
                exact += 1
            elif norm.starts is None:
                # Same length overall: only a context-dependent character differs.
                assert len(converted) == len(tok_text), (rec["id"], tok_text, piece)
    assert exact / total > 0.995, (exact, total)


def test_length_changing_normalisation_keeps_offsets():
    """Invisible format characters are removed (the text gets shorter);
    offsets still slice the original text exactly."""
    text = "他們\u200e使用\u00ad網際\u200b網路。"
    norm = normalize(text)
    assert norm.text == "他们使用网际网路。"
    start = norm.text.index("网际网路")
    assert text[slice(*norm.span(start, start + 4))] == "網際\u200b網路"
    assert text[slice(*norm.span(norm.text.index("。"), norm.text.index("。") + 1))] == "。"
    assert text[slice(*norm.span(0, 2))] == "他們"


def test_positions_are_word_by_word_with_sentence_gaps(analyzer):
    toks = analyzer.word_tokens(normalize("香港发布消息。北京回应"))
    pos = {t.text: t.pos for t in toks}
    assert pos["香港"] == 0 and pos["发布"] == 1 and pos["消息"] == 2
    assert pos["北京"] > pos["消息"] + 1  # the sentence end leaves a gap


def test_numpy_grams_equal_python_grams(sample_records):
    for rec in sample_records[:200]:
        text = fold_case(normalize(rec["title"] + "\n" + rec["body"]).text)
        codes, positions = gram_codes(text)
        assert [(gram_term(c), p) for c, p in zip(codes.tolist(), positions.tolist())] == Analyzer.gram_terms(text)


def test_every_character_starts_a_gram():
    text = "香港。a 中"
    starts = {p for _, p in Analyzer.gram_terms(text)}
    assert starts == {0, 1, 3, 5}


def test_user_dictionary(tmp_path):
    plain = Segmenter()
    assert "昇腾" not in [w for w, _, _ in plain.cut("昇腾芯片")]
    path = tmp_path / "user.txt"
    path.write_text("# newsroom names\n昇腾 10 nz\n孫立成\n", encoding="utf-8")
    seg = Segmenter(str(path))
    # The segmenter cuts normalised text (OpenCC's t2s writes 昇 as 升), and
    # holds the user's words in that form.
    assert "升腾" in [w for w, _, _ in seg.cut(normalize_query("昇腾芯片"))]
    assert "孙立成" in [w for w, _, _ in seg.cut(normalize_query("孫立成会见"))]


def test_user_dictionary_rejects_malformed_lines(tmp_path):
    from search.segmenter import UserDictError

    path = tmp_path / "bad.txt"
    path.write_text("好词 5 n extra\n", encoding="utf-8")
    with pytest.raises(UserDictError, match="bad.txt:1"):
        Segmenter(str(path))


def test_whoosh_field_index_matches_bulk_writer_terms(analyzer, sample_records):
    """The analyzers attached to the Whoosh schema give the same terms as the
    bulk segment writer, so stock Whoosh indexing and ours agree."""
    from collections import Counter

    from search.backends.whoosh.schema import build_schema

    schema = build_schema()
    for rec in sample_records[:20]:
        norm = normalize(rec["body"])
        ours_words = Counter(analyzer.word_terms(norm))
        theirs = {t.decode() if isinstance(t, bytes) else t: f for t, f, _, _ in schema["body_w"].index(rec["body"])}
        assert theirs == dict(ours_words)
        grams = Counter(t for t, _ in analyzer.gram_terms(fold_case(norm.text)))
        theirs_g = {t.decode() if isinstance(t, bytes) else t: f for t, f, _, _ in schema["body_g"].index(rec["body"])}
        assert theirs_g == dict(grams)
