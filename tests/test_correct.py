"""Did you mean, on the real sample: input-method slips are corrected when
the query as typed matches nothing fully, offered when a typed run occurs
in no article as written although its pieces match separately, and never
made to a word our articles use.  The limits are shares of the index, so
the 2,000-article sample is corrected as the full corpora are."""

import pytest

from search.correct import corrected_query, looks_mistyped
from search.models import SearchRequest
from search.normalize import fold_case, normalize_query
from search.pinyin import PinyinLexicon
from search.segmenter import get_segmenter

FULL, SAMPLE = 108_478, 2_000  # articles in the full corpora and in the sample
HEADLINES = {"测试": 300, "韩国": 500, "国会": 200, "议长": 80, "网课": 400, "习近平": 900}


def lexicon(**typed):
    """Headline words as above; ``typed``: article counts of other text."""
    counts = {**HEADLINES, **typed}
    return PinyinLexicon(HEADLINES, article_df=lambda words: {w: counts.get(w, 0) for w in words})


def fix(text, doc_count=FULL, **typed):
    return corrected_query(text, lexicon(**typed), doc_count, get_segmenter().cut)


@pytest.mark.parametrize("typed,meant", [
    ("側試", "測試"),  # typed in Traditional: corrected in Traditional, never 测试
    ("韓國國惠 議長", "韓國國會 議長"),  # only the slip changes; the rest stays as typed
    ("侧试 COVID", "测试 COVID"),  # not lower-cased
    ("ＡＢ 侧试", "ＡＢ 测试"),  # full-width letters kept
    ("韩国國惠", "韩国國會"),  # a mixed run: the slip in the run's script (Traditional, as 國 is)
])
def test_a_correction_keeps_the_script_and_the_form_typed(typed, meant):
    assert fix(typed) == meant


def test_homophone_slip_is_read_back_through_pinyin():
    assert fix("侧试") == "测试"
    assert fix("韩国国惠 议长") == "韩国国会 议长"
    assert fix("测试") is None  # nothing to correct


def test_a_typed_word_with_articles_of_its_own_stays_relative_to_the_index():
    # The full corpora: a stray typo in 1 or 2 of 108,478 articles is noise
    # (2 in 100,000); 3 articles make it a word of ours.
    assert fix("侧试", 侧试=1) == fix("侧试", 侧试=2) == "测试"
    assert fix("侧试", 侧试=3) is None
    # A 2,000-article index: one article of its own is a word of ours.
    assert fix("侧试", SAMPLE, 侧试=1) is None
    assert fix("侧试", SAMPLE) == "测试"


def test_the_correction_needs_support_relative_to_the_index():
    """20 times what was typed, which counts as at least 1 in 100,000."""
    weak = PinyinLexicon({"测试": 21}, article_df=lambda ws: {w: 21 if w == "测试" else 0 for w in ws})
    assert corrected_query("侧试", weak, FULL, get_segmenter().cut) is None  # 21 < 20 x 1.08
    assert corrected_query("侧试", weak, SAMPLE, get_segmenter().cut) == "测试"  # 21 >= 20 x 0.02
    strong = PinyinLexicon({"测试": 22}, article_df=lambda ws: {w: 22 if w == "测试" else 0 for w in ws})
    assert corrected_query("侧试", strong, FULL, get_segmenter().cut) == "测试"


def test_a_different_word_is_not_a_slip():
    """王珂 (a name) and 网课 share every syllable but no character: a slip
    picks one wrong character of a word, not all of them."""
    assert fix("王珂") is None and fix("王珂", SAMPLE) is None
    assert fix("网科") == "网课"  # one character: a slip
    assert fix("习近凭") == "习近平" and fix("席近凭") is None  # one in three, not two


def test_only_runs_that_do_not_read_as_words_look_mistyped():
    cut, is_word = get_segmenter().cut, get_segmenter().has_word
    assert looks_mistyped("习近凭", cut, is_word)  # 习近 + 凭
    assert looks_mistyped("立法汇", cut, is_word)  # 立法 + 汇
    assert not looks_mistyped("香港 选举", cut, is_word)
    assert not looks_mistyped("景点", cut, is_word)


# ---- the engine on the 2,000-article sample ------------------------------------------
def norm(text):
    return fold_case(normalize_query(text or ""))


def articles_with(sample_records, text):
    """Brute force: records whose title or body contains ``text``."""
    return {r["id"] for r in sample_records if norm(text) in norm(r["title"]) or norm(text) in norm(r["body"])}


@pytest.mark.parametrize("typed,meant", [
    ("侧试", "测试"), ("选据", "选举"), ("新冠逸苗", "新冠疫苗"),  # the examples
    ("香岗 选举", "香港 选举"), ("确阵", "确诊"), ("李克樯", "李克强"), ("共产档", "共产党"), ("彭丽源", "彭丽媛"),
])
def test_slips_with_no_full_match_show_the_corrected_results(engine, sample_records, typed, meant):
    engine.wait_ready(60)
    # What the records say: nothing has what was typed, the meant text is there.
    assert all(not articles_with(sample_records, part) for part in typed.split() if part not in meant.split())
    assert articles_with(sample_records, meant.replace(" ", "")) or all(articles_with(sample_records, w)
                                                                       for w in meant.split())
    res = engine.search(SearchRequest(q=typed, size=10, facets=()))
    assert (res.corrected_from, res.corrected_to) == (typed, meant)
    right = engine.search(SearchRequest(q=meant, size=10, facets=()))
    assert [h.id for h in res.hits] == [h.id for h in right.hits] and res.total == right.total > 0
    exact = engine.search(SearchRequest(q=typed, size=10, facets=(), correct=False))
    assert exact.corrected_from is None and (exact.relaxed or exact.total == 0)  # no article has it all


@pytest.mark.parametrize("typed,meant,pieces", [("习近凭", "习近平", ["习近", "凭"]),
                                                ("立法汇", "立法会", ["立法", "汇"])])
def test_a_run_found_nowhere_as_written_is_offered_its_correction(engine, sample_records, typed, meant, pieces):
    """The typed run is in no article, its pieces are (so it "finds" some):
    the results stay as typed and the correction is offered."""
    engine.wait_ready(60)
    assert not articles_with(sample_records, typed)
    scattered = set.intersection(*(articles_with(sample_records, p) for p in pieces))
    assert len(articles_with(sample_records, meant)) > len(scattered) >= 5
    res = engine.search(SearchRequest(q=typed, size=10, facets=(), group=False))
    assert res.understood == pieces and res.total == len(scattered)
    assert res.suggestion == meant and res.corrected_from is None
    offered = engine.search(SearchRequest(q=meant, size=10, facets=(), group=False, correct=False))
    assert offered.total == len(articles_with(sample_records, meant))


@pytest.mark.parametrize("q", ["香港 选举", "疫苗", "景点", "经典", "测试", "实验", "一秒", "中国景点", "香港的选举"])
def test_correct_queries_are_not_corrected(engine, sample_records, q):
    """Words our articles use stay, however common their homophones:
    景点 (jingdian) is never "corrected" to 经典 (32 articles to its 11)."""
    engine.wait_ready(60)
    res = engine.search(SearchRequest(q=q, size=10, facets=()))
    assert res.corrected_from is None and res.suggestion is None, q
    if q == "景点":
        assert len(articles_with(sample_records, "经典")) > len(articles_with(sample_records, "景点")) > 0
        assert res.total == len(articles_with(sample_records, "景点"))


def test_a_correction_with_few_full_matches_still_applies(engine, sample_records):
    """韩国国惠 (the README's example): 国会 is in the sample, 国惠 nowhere;
    韩国国会 has only a few full matches, followed by partial ones, and is
    still the reading shown (judged by full matches, not by "relaxed")."""
    engine.wait_ready(60)
    assert not articles_with(sample_records, "国惠") and articles_with(sample_records, "国会")
    res = engine.search(SearchRequest(q="韩国国惠", size=10, facets=()))
    assert res.corrected_to == "韩国国会" and res.total_full == len(articles_with(sample_records, "韩国国会")) >= 1
