"""The cross-lingual evaluation set (eval/data/crosslingual.jsonl, issue 20)
checked against the corpus files; its fixed split; and eval.crosslingual's
scoring on a small real index, against values worked out by hand.

The corpus files are streamed once (about 3 s): only the lines of an id the
set names, or of a headline one of its articles has, are parsed."""

from __future__ import annotations

import gzip
import json
import os
import re

import pytest

from conftest import CORPUS, ROOT
from eval import crosslingual
from eval.crosslingual import ModeUnavailable, first_rank, half_of, load_set, request_fields, score, summarise

SET = os.path.join(ROOT, "eval", "data", "crosslingual.jsonl")
FILES = {"zh-Hans": "news-xwlb.jsonl.gz", "zh-Hant": "news-hkcnews.jsonl.gz"}
PREFIX = {"zh-Hans": "xwlb-", "zh-Hant": "hkcnews-"}
CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")
KEYS = {"id", "query", "article", "also", "lang"}
_DECODE = json.JSONDecoder().raw_decode


@pytest.fixture(scope="module")
def rows():
    with open(SET, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def corpus(rows):
    """``(by_id, same_title)``: the records of every id the set names, and
    every other record whose headline is one of its articles' headlines
    (for "also" to be complete), from one pass over the two corpus files."""
    wanted = {r["article"] for r in rows} | {a for r in rows for a in r["also"]}
    by_id, candidates = {}, []
    for lang, name in FILES.items():
        path = os.path.join(CORPUS, name)
        if not os.path.exists(path):
            pytest.fail(f"corpus file missing: {path} (set NEWS_CORPUS)")
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                assert line.startswith('{"id": "'), line[:40]
                doc_id = line[8:line.index('"', 8)]
                if doc_id in wanted:
                    by_id[doc_id] = json.loads(line)
                else:  # the headline only, to find copies the set does not list
                    start = line.index('"title": ') + 9
                    candidates.append((_DECODE(line, start)[0], line))
    titles = {by_id[r["article"]]["title"] for r in rows if r["article"] in by_id}
    same_title = [json.loads(line) for title, line in candidates if title in titles]
    return by_id, same_title


def test_a_hundred_rows_numbered_in_order(rows):
    assert len(rows) == 100
    assert [r["id"] for r in rows] == [f"xl-{n:03d}" for n in range(1, 101)]
    for r in rows:
        assert set(r) == KEYS, r["id"]
        assert r["article"] not in r["also"] and len(set(r["also"])) == len(r["also"]), r["id"]


def test_about_half_from_each_corpus(rows):
    counts = {lang: sum(r["lang"] == lang for r in rows) for lang in FILES}
    assert sum(counts.values()) == 100  # no other language
    assert all(40 <= n <= 60 for n in counts.values()), counts


def test_every_article_exists_in_its_corpus_in_its_language(rows, corpus):
    by_id, _ = corpus
    for r in rows:
        assert r["article"].startswith(PREFIX[r["lang"]]), r
        assert r["article"] in by_id, f"{r['id']}: {r['article']} is not in {FILES[r['lang']]}"
        assert by_id[r["article"]]["lang"] == r["lang"], r["id"]
    assert len({r["article"] for r in rows}) == 100  # one query per article


def test_also_lists_exactly_the_identical_copies(rows, corpus):
    by_id, same_title = corpus
    for r in rows:
        article = by_id[r["article"]]
        for other in r["also"]:
            assert other in by_id, f"{r['id']}: {other} is not in the corpus"
            assert (by_id[other]["title"], by_id[other]["body"]) == (article["title"], article["body"]), r["id"]
        copies = {d["id"] for d in [*by_id.values(), *same_title]
                  if d["id"] != article["id"] and (d["title"], d["body"]) == (article["title"], article["body"])}
        assert copies == set(r["also"]), r["id"]
    assert sum(bool(r["also"]) for r in rows) == 2  # two re-broadcast CCTV items


def test_queries_are_plain_english_of_four_to_twelve_words(rows):
    for r in rows:
        q = r["query"]
        assert q.isascii() and q.isprintable() and q == q.strip(), r["id"]
        assert not CJK.search(q), r["id"]
        assert 4 <= len(q.split()) <= 12, (r["id"], len(q.split()))
        assert re.search(r"[A-Za-z]{3}", q), r["id"]
    keys = [" ".join(r["query"].casefold().split()) for r in rows]
    assert len(set(keys)) == len(keys)


def test_no_query_is_copied_from_its_article(rows, corpus):
    """No CJK (checked above), and no query is text of its article: the
    Hong Kong articles carry English words, which a query must not lift."""
    by_id, _ = corpus
    for r in rows:
        article = by_id[r["article"]]
        text = " ".join((article["title"] + " " + article["body"]).casefold().split())
        assert " ".join(r["query"].casefold().split()) not in text, r["id"]


# ---- the split --------------------------------------------------------------
def test_split_is_a_fixed_function_of_the_id():
    # Pinned: SHA-1("xl-001") begins 0x22 (even), "xl-002" 0x92 (even), "xl-003" 0x53 (odd).
    assert [half_of(f"xl-{n:03d}") for n in (1, 2, 3)] == ["heldout", "heldout", "train"]
    assert half_of("xl-001") == half_of("xl-001")
    assert {half_of(f"q{n}") for n in range(50)} == {"heldout", "train"}


def test_split_partitions_the_set_about_in_half(rows):
    heldout, train = load_set(SET, "heldout"), load_set(SET, "train")
    assert {r["id"] for r in heldout} | {r["id"] for r in train} == {r["id"] for r in rows}
    assert not {r["id"] for r in heldout} & {r["id"] for r in train}
    assert all(half_of(r["id"]) == "heldout" for r in heldout)
    assert len(heldout) == 47 and len(train) == 53
    with pytest.raises(ValueError, match="half must be one of"):
        load_set(SET, "test")


# ---- scoring ------------------------------------------------------------------
def test_first_rank_and_measures_by_hand():
    row = {"id": "q", "article": "a", "also": ["a2"], "lang": "zh-Hans"}
    assert first_rank(row, ["x", "a2", "a"]) == 2  # a copy counts, the first one found
    assert first_rank(row, [f"x{i}" for i in range(10)] + ["a"]) is None  # 11th: outside the top 10
    assert first_rank(row, []) is None
    rows = [dict(row, id=f"q{n}") for n in range(4)]
    runs = {"q0": ["a"], "q1": ["x", "y"], "q2": ["x", "y", "z", "a2", "a"]}  # q3: no hits
    assert summarise(rows, runs) == {"queries": 4, "Success@10": 0.5, "MRR@10": (1 + 0.25) / 4}
    assert summarise([], runs) == {"queries": 0, "Success@10": None, "MRR@10": None}


def test_scores_on_a_small_real_index(tiny_index):
    """Three English articles indexed for real, three known-item queries:
    "Mangkhut" is in t1's headline and body but only in t2's body, so t2
    (the target) ranks 2nd; "budget speech" finds t3, listed as a copy of a
    target the index lacks; "volcano" is in no article.  By hand:
    Success@10 2/3, MRR@10 (1/2 + 1 + 0) / 3 = 0.5."""
    engine, _, _ = tiny_index([
        {"id": "t1", "title": "Typhoon Mangkhut nears the coast", "body": "Mangkhut brings storm surge and rain.",
         "lang": "zh-Hant"},
        {"id": "t2", "title": "Observatory warning signals", "body": "Signal 8 may be needed as Mangkhut moves west.",
         "lang": "zh-Hant"},
        {"id": "t3", "title": "Budget speech in the council", "body": "The budget speech offers tax rebates.",
         "lang": "zh-Hans"},
    ])
    rows = [{"id": "xl-001", "query": "Mangkhut", "article": "t2", "also": [], "lang": "zh-Hant"},
            {"id": "xl-002", "query": "budget speech", "article": "gone", "also": ["t3"], "lang": "zh-Hans"},
            {"id": "xl-003", "query": "volcano", "article": "t1", "also": [], "lang": "zh-Hant"}]
    result = crosslingual.run(engine, rows)
    assert result["ranks"] == {"xl-001": 2, "xl-002": 1, "xl-003": None}
    assert result["index_articles"] == 3 and result["mode"] == "lexical"
    assert result["answered"] == 2  # "volcano" finds nothing
    everything = result["results"]["all"]
    assert everything["all"] == {"queries": 3, "Success@10": pytest.approx(2 / 3), "MRR@10": pytest.approx(0.5)}
    assert everything["zh-Hant"] == {"queries": 2, "Success@10": 0.5, "MRR@10": 0.25}
    assert everything["zh-Hans"] == {"queries": 1, "Success@10": 1.0, "MRR@10": 1.0}
    # xl-001 and xl-002 are held out, xl-003 is for training (the pinned split above)
    assert result["results"]["heldout"]["all"] == {"queries": 2, "Success@10": 1.0, "MRR@10": 0.75}
    assert result["results"]["train"]["all"] == {"queries": 1, "Success@10": 0.0, "MRR@10": 0.0}


def test_score_counts_a_query_without_hits_as_a_miss():
    rows = [{"id": "xl-001", "article": "a", "also": [], "lang": "zh-Hans"},
            {"id": "xl-002", "article": "b", "also": [], "lang": "zh-Hans"}]
    out = score(rows, {"xl-001": ["a"]})  # xl-002 answered nothing
    assert out["ranks"] == {"xl-001": 1, "xl-002": None}
    assert out["results"]["all"]["all"] == {"queries": 2, "Success@10": 0.5, "MRR@10": 0.5}


# ---- modes ----------------------------------------------------------------------
def test_modes_other_than_lexical_are_refused_until_the_engine_has_them(tmp_path, capsys):
    import dataclasses

    from search.models import SearchRequest

    if "mode" in {f.name for f in dataclasses.fields(SearchRequest)}:
        assert request_fields("hybrid") == {"mode": "hybrid"}
        assert request_fields("lexical") == {"mode": "lexical"}
    else:
        assert request_fields("lexical") == {}
        for mode in ("hybrid", "semantic"):
            with pytest.raises(ModeUnavailable, match="semantic modes are not available yet"):
                request_fields(mode)
        out = tmp_path / "out.json"
        assert crosslingual.main(["--index", str(tmp_path), "--mode", "hybrid", "--out", str(out)]) == 2
        assert "error: semantic modes are not available yet" in capsys.readouterr().err
        assert not out.exists()
    with pytest.raises(ValueError, match="mode must be one of"):
        request_fields("dense")


def test_a_missing_index_is_a_clear_error(tmp_path, capsys):
    assert crosslingual.main(["--index", str(tmp_path / "nothing"), "--out", str(tmp_path / "o.json")]) == 2
    assert "error: no index directory at" in capsys.readouterr().err
