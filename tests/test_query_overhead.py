"""The per-query work outside the postings, cut without changing an answer:
every distinct query of bench/querymix.jsonl on the 2,000-article sample
answered with the fast paths on equals its answer with them off (results,
snippets, facets, notices, corrections and suggestions), and each fast
path does less work than the slow one on the same queries.

Fast paths and their switches:

* ``PinyinLexicon.prune`` (``pinyin.useful_spans``): article counts only
  for the pinyin keys a split of the whole run can use.
"""

from __future__ import annotations

import os

import pytest

from search.correct import CJK_RUN, MAX_RUN
from search.normalize import fold_case, normalize_query
from search.pinyin import LATIN_TOKEN, MAX_PIECES, useful_spans, word_pinyin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Beside the mix (which has few slips): typed slips and pinyin that did you
# mean and pinyin input read on the sample (tests/test_correct.py, test_pinyin.py).
SLIPS = ["侧试", "选据", "新冠逸苗", "香岗 选举", "确阵", "李克樯", "共产档", "彭丽源", "习近凭", "立法汇",
         "韩国国惠", "選據", "jingdian", "zhengfu", "jiqi", "shiyan", "hangzhang", "xianggagn",
         "xianggang xuanju", "huawei shouji", "香港 xuanju"]


def _mix():
    from bench.latency import distinct_queries, load_mix

    return distinct_queries(load_mix(os.path.join(ROOT, "bench", "querymix.jsonl")) + [{"q": q} for q in SLIPS])


@pytest.fixture(scope="module")
def fresh_engine(sample_index):
    """An engine of its own on the shared sample (its switches are flipped
    here), result cache off, background builders done."""
    from search.engine import SearchEngine

    engine = SearchEngine.open(sample_index, refresh_interval=0, cache_size=0)
    assert engine.wait_ready(120)
    return engine


def _answer(result) -> dict:
    out = result.to_dict()
    out.pop("took_ms")
    return out


def _keys() -> list[str]:
    """The pinyin a query of the mix reads: each Chinese run did-you-mean
    reads back, each Latin run pinyin input reads."""
    keys = []
    for item in _mix():
        text = fold_case(normalize_query(item["q"]))
        keys += [word_pinyin(m.group()) for m in CJK_RUN.finditer(text) if len(m.group()) <= MAX_RUN]
        keys += [m.group().lower() for m in LATIN_TOKEN.finditer(item["q"])]
    return [k for k in dict.fromkeys(keys) if k]


def test_pruned_spans_convert_every_run_of_the_mix_alike(fresh_engine):
    lexicon = fresh_engine.pinyin.get()
    counts = lexicon.article_df
    asked = {True: 0, False: 0}
    converted = {}
    for prune in (False, True):
        lexicon.prune = prune

        def counting(words, prune=prune):
            words = list(words)
            asked[prune] += len(set(words))
            return counts(words)

        lexicon.article_df = counting
        try:
            converted[prune] = [lexicon.convert(k) for k in _keys()]
        finally:
            lexicon.article_df = counts
            lexicon.prune = True
    assert len(converted[True]) > 400
    assert sum(c is not None for c in converted[True]) > 100  # real conversions compared, not only misses
    assert converted[True] == converted[False]
    assert asked[True] < 0.8 * asked[False], asked


def test_useful_spans_are_the_spans_of_short_whole_splits():
    # Brute force: every split of the run into spans, at most MAX_PIECES of them.
    import itertools

    keys = {"xi", "xian", "an", "gang", "ang", "xiang", "g", "ga", "ng", "ngg", "ggang", "xia", "ngga", "ia", "ian"}
    run = "xianggang"
    spans = [(i, j, run[i:j]) for i in range(len(run)) for j in range(i + 1, len(run) + 1) if run[i:j] in keys]
    used = set()
    for pieces in range(1, MAX_PIECES + 1):
        for cut in itertools.combinations(range(1, len(run)), pieces - 1):
            edges = (0, *cut, len(run))
            split = [(edges[k], edges[k + 1], run[edges[k]:edges[k + 1]]) for k in range(pieces)]
            if all(s in spans for s in split):
                used.update(split)
    assert used and set(useful_spans(len(run), spans)) == used
    assert len(used) < len(spans)


def test_every_answer_of_the_mix_is_unchanged(fresh_engine):
    from bench.latency import request_for

    lexicon = fresh_engine.pinyin.get()
    answers = {}
    for fast in (False, True):
        lexicon.prune = fast
        try:
            answers[fast] = [_answer(fresh_engine.search(request_for(item))) for item in _mix()]
        finally:
            lexicon.prune = True
    fast, slow = answers[True], answers[False]
    assert len(fast) == len(slow) > 500
    # The comparison covers what the fast paths touch.
    assert sum(bool(a.get("suggestion") or a.get("corrected_from")) for a in slow) >= 10
    assert sum(bool(a.get("pinyin")) for a in slow) >= 5
    assert sum("<mark>" in h["snippet"] for a in slow for h in a["hits"]) > 2000
    for item, a, b in zip(_mix(), fast, slow):
        assert a == b, item


def test_a_request_reuses_its_phrase_counts(fresh_engine, sample_records):
    """A query with enough matches whose suspect run is found nowhere as
    written: the run's phrase count is asked once, not again by the
    correction."""
    from search.models import SearchRequest

    backend = fresh_engine.backend
    plans = []
    execute = backend.execute

    def recording(plan):
        plans.append(plan)
        return execute(plan)

    backend.execute = recording
    try:
        res = fresh_engine.search(SearchRequest(q="习近凭", size=10, facets=(), group=False))
    finally:
        del backend.execute
    assert res.suggestion == "习近平" and res.corrected_from is None  # the path that asks phrase counts
    counts = [tuple(c.text for c in p.must) for p in plans if p.limit == 0]
    assert counts == [("习近凭",)]



def test_the_character_fold_equals_translating_every_character(sample_records):
    from search.normalize import _char_fold_table, fold_chars

    table = _char_fold_table()
    every = "".join(chr(cp) for cp in sorted(table))
    texts = [every, every[::-1] + "中文" + every, "ＡＢＣ１２３，香港。\u3000\u00a0\x00x", ""]
    texts += [r["title"] for r in sample_records] + [r["body"] for r in sample_records]
    changed = 0
    for text in texts:
        assert fold_chars(text) == text.translate(table)
        changed += fold_chars(text) != text
    assert changed > 1000  # texts with folded characters, not only untouched ones
