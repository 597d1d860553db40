"""Did you mean, on the real sample: input-method slips are corrected when
the query as typed matches nothing fully, and never when it does."""

from search.correct import corrected_query
from search.models import SearchRequest
from search.pinyin import PinyinLexicon


def test_homophone_slip_is_read_back_through_pinyin():
    lex = PinyinLexicon({"测试": 300, "韩国": 500, "国会": 200, "议长": 80})
    df = {"测试": 300, "韩国": 500, "国会": 200}.get
    assert corrected_query("侧试", lex, lambda w: df(w, 0)) == "测试"
    assert corrected_query("韩国国惠 议长", lex, lambda w: df(w, 0)) == "韩国国会 议长"
    assert corrected_query("测试", lex, lambda w: df(w, 0)) is None  # nothing to correct
    # A typed run that our articles use is left alone, whatever it sounds like.
    assert corrected_query("侧试", lex, lambda w: 3) is None
    assert corrected_query("侧试", lex, lambda w: 1) == "测试"  # one odd use does not make it a word


def test_engine_shows_corrected_results_with_a_note(engine):
    engine.pinyin.get(wait=60)
    typed = engine.search(SearchRequest(q="香岗 选举", size=10, facets=()))
    assert typed.corrected_from == "香岗 选举" and typed.corrected_to == "香港 选举"
    right = engine.search(SearchRequest(q="香港 选举", size=10, facets=()))
    assert [h.id for h in typed.hits] == [h.id for h in right.hits] and typed.total == right.total
    exact = engine.search(SearchRequest(q="香岗 选举", size=10, facets=(), correct=False))
    assert exact.corrected_from is None and exact.total != right.total


def test_correct_queries_are_not_corrected(engine):
    engine.pinyin.get(wait=60)
    for q in ("香港 选举", "疫苗", "景点"):
        res = engine.search(SearchRequest(q=q, size=10, facets=()))
        assert res.corrected_from is None and res.suggestion is None, q
