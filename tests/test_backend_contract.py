"""The backend contract: one suite, run against both index backends (Whoosh,
and OpenSearch on the real 2-node cluster of ``scripts/opensearch``).  Each
test states what the sample's records say the answer is, and checks it on
the engine, the indexer CLI and the API, whichever backend holds the index.

The OpenSearch index is written by ``python -m indexer build --backend
opensearch`` (2 shards, 1 replica), as an operator would."""

import functools
import os
import re
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from conftest import drop_alias, need_cluster, SAMPLE, validated, write_jsonl
from search.models import SearchRequest
from search.normalize import fold_case, normalize_query

URL = os.environ.get("OPENSEARCH_URL")
CST = timezone(timedelta(hours=8))


@pytest.fixture(scope="module", params=["whoosh", "opensearch"])
def backend(request):
    if request.param == "opensearch":
        need_cluster()
    return request.param


@pytest.fixture(scope="module")
def location(backend, sample_index):
    """Where the 2,000 sample articles are indexed on this backend."""
    if backend == "whoosh":
        yield sample_index
        return
    from indexer.cli import main

    alias = "news-contract-" + uuid.uuid4().hex[:8]
    assert main(["build", "--backend", "opensearch", "--opensearch-url", URL, "--index", alias,
                 "--shards", "2", "--replicas", "1", "--no-progress", SAMPLE]) == 0
    yield alias
    drop_alias(alias)


@pytest.fixture(scope="module")
def contract_engine(backend, location):
    from search.engine import SearchEngine

    eng = SearchEngine.open(location, backend=backend, opensearch_url=URL, refresh_interval=0, synonyms_path=None)
    yield eng
    eng.pinyin.get(wait=60)  # background builds read the index: let them finish before it goes
    eng.suggester.get(wait=60)


@functools.lru_cache(maxsize=None)
def norm(text):
    """Text normalised as the engine normalises it (cached: the oracles
    below read every record's text many times)."""
    return fold_case(normalize_query(text or ""))


def containing(records, text):
    """Ids of the records whose title or body contains ``text``, normalised
    as the engine normalises (Traditional folded to Simplified, case and
    width folded)."""
    needle = norm(text)
    return {r["id"] for r in records if needle in norm(r.get("title")) or needle in norm(r.get("body"))}


def search(engine, q, **kw):
    kw = {"size": 2000, "correct": False, "facets": (), "highlight": False, **kw}
    return engine.search(SearchRequest(q=q, **kw))


def ids(result):
    return {h.id for h in result.hits}


# ---- matching ---------------------------------------------------------------
@pytest.mark.parametrize("phrase", ["香港特别行政区", "新冠疫苗", "国务院总理"])
def test_a_phrase_matches_exactly_the_articles_containing_it(contract_engine, indexed_records, phrase):
    expected = containing(indexed_records, phrase)
    assert len(expected) >= 5
    res = search(contract_engine, f'"{phrase}"')
    assert res.total == len(expected)
    assert ids(res) == expected


@pytest.mark.parametrize("fragment", ["港特", "苗接", "区政"])
def test_a_sub_word_matches_inside_longer_words(contract_engine, indexed_records, fragment):
    """Fragments that jieba never produces as words still find the articles."""
    expected = containing(indexed_records, fragment)
    assert len(expected) >= 3
    assert ids(search(contract_engine, fragment)) == expected


@pytest.mark.parametrize("traditional, simplified", [("立法會", "立法会"), ("國務院", "国务院"), ("選舉", "选举")])
def test_traditional_and_simplified_find_the_same_articles(contract_engine, indexed_records, traditional, simplified):
    a, b = search(contract_engine, traditional), search(contract_engine, simplified)
    assert ids(a) == ids(b) == containing(indexed_records, simplified)
    originals = {r["id"]: r for r in indexed_records}
    assert any(traditional in originals[i]["body"] for i in ids(a))  # Hong Kong text, written in Traditional
    assert any(simplified in originals[i]["body"] for i in ids(a))


def test_exclusion_and_or(contract_engine, indexed_records):
    hk, vote = containing(indexed_records, "香港"), containing(indexed_records, "选举")
    assert ids(search(contract_engine, "香港 -选举")) == hk - vote
    assert ids(search(contract_engine, "美国 OR 日本")) == containing(indexed_records, "美国") | containing(indexed_records, "日本")


def test_partial_matches_follow_full_matches_when_few_have_every_word(contract_engine, indexed_records):
    """Two words that rarely meet: the full matches first, then articles with
    one of them, flagged as relaxed."""
    both = containing(indexed_records, "疫苗") & containing(indexed_records, "立法会")
    res = search(contract_engine, "疫苗 立法会", size=50)
    assert len(both) < 10 and res.relaxed
    # At least every article with one of the words (Whoosh also admits the
    # parts of a long word: 立法 for 立法会).
    assert res.total >= len(containing(indexed_records, "疫苗") | containing(indexed_records, "立法会"))
    assert {h.id for h in res.hits[:len(both)]} == both


# ---- newsroom operators --------------------------------------------------------
def squeeze(text):
    return re.sub(r"[\W_]+", "", norm(text))


@pytest.mark.parametrize("word", ["香港", "习近平", "疫苗"])
def test_lead_matches_the_first_paragraph_exactly(contract_engine, indexed_records, word):
    expected = {r["id"] for r in indexed_records if squeeze(word) in squeeze(r["body"].split("\n", 1)[0])}
    anywhere = {r["id"] for r in indexed_records if squeeze(word) in squeeze(r["title"] + r["body"])}
    assert expected and expected < anywhere  # the test tells lead from anywhere
    assert ids(search(contract_engine, f"lead:{word}")) == expected


@pytest.mark.parametrize("word,n", [("疫苗", 3), ("香港", 5), ("习近平", 2)])
def test_at_least_n_mentions(contract_engine, indexed_records, word, n):
    def count(r):
        return squeeze(r["title"]).count(squeeze(word)) + squeeze(r["body"]).count(squeeze(word))

    expected = {r["id"] for r in indexed_records if count(r) >= n}
    fewer = {r["id"] for r in indexed_records if 0 < count(r) < n}
    assert expected and fewer
    assert ids(search(contract_engine, f"atleast{n}:{word}")) == expected


@pytest.mark.parametrize("a,b", [("香港", "选举"), ("林郑月娥", "特首"), ("香港", "警方"), ("美国", "中国")])
def test_same_sentence(contract_engine, indexed_records, a, b):
    def same(r):
        return squeeze(a) in squeeze(r["title"]) and squeeze(b) in squeeze(r["title"]) or any(
            squeeze(a) in squeeze(s) and squeeze(b) in squeeze(s) for s in re.split(r"[。！？!?；;…\n]+", norm(r["body"])))

    expected = {r["id"] for r in indexed_records if same(r)}
    both = {r["id"] for r in indexed_records if squeeze(a) in squeeze(r["title"] + r["body"])
            and squeeze(b) in squeeze(r["title"] + r["body"])}
    assert expected and expected < both  # some articles have both words, but apart
    assert ids(search(contract_engine, f"{a} SAME {b}")) == expected


# ---- the newsroom's query language: boolean operators and proximity -------------
@pytest.fixture(scope="module")
def word_ranges():
    """Brute force over a record's text: each occurrence of a term as the
    (first, last) ordinal of the words it falls in, words as the analysis
    cuts them (punctuation is no word)."""
    from bisect import bisect_right

    from search.analysis import Analyzer, is_indexable
    from search.segmenter import get_segmenter

    analyzer = Analyzer(get_segmenter())
    cut: dict = {}  # text -> (normalised text, word starts): each record is cut once

    def ranges(text, term):
        if text not in cut:
            norm_text = normalize_query(text or "")
            cut[text] = (norm_text, [s for w, s, _ in analyzer.segments(norm_text) if is_indexable(w)])
        text, starts = cut[text]
        term = normalize_query(term)
        if term not in text:
            return []
        out, at = [], text.find(term)
        while at >= 0:
            out.append((bisect_right(starts, at) - 1, bisect_right(starts, at + len(term) - 1) - 1))
            at = text.find(term, at + 1)
        return out

    return ranges


def within(word_ranges, r, a, b, n, ordered):
    for field in ("title", "body"):
        for a0, a1 in word_ranges(r[field], a):
            for b0, b1 in word_ranges(r[field], b):
                if (a1 < b0 <= a1 + n) if ordered else max(b0 - a1, a0 - b1) <= n:
                    return True
    return False


def test_boolean_operators(contract_engine, indexed_records):
    hk, macau, vote, council = (containing(indexed_records, w) for w in ("香港", "澳门", "选举", "区议会"))
    assert ids(search(contract_engine, "香港 NOT 选举")) == hk - vote
    assert ids(search(contract_engine, "香港 AND NOT 选举")) == hk - vote
    assert ids(search(contract_engine, "香港 AND 选举")) == hk & vote
    assert ids(search(contract_engine, "(香港 OR 澳门) AND 选举 NOT 区议会")) == ((hk | macau) & vote) - council
    assert ids(search(contract_engine, "香港 OR 澳门 NOT 选举")) == hk | (macau - vote)  # NOT binds tighter
    assert ids(search(contract_engine, "-(香港 OR 澳门) 选举")) == vote - hk - macau
    res = search(contract_engine, "香港 NOT 选举")
    assert res.exact and not res.notices and res.understood == ["香港", "-选举"]


def test_lower_case_operators_are_words_with_a_notice(contract_engine):
    res = search(contract_engine, "香港 and 选举")
    assert "and" in res.understood and [n["code"] for n in res.notices] == ["lowercase_operator"]


@pytest.mark.parametrize("a,b,n,ordered", [("香港", "选举", 5, False), ("香港", "选举", 5, True),
                                           ("美国", "中国", 3, False), ("疫苗", "接种", 2, False),
                                           ("习近平", "会见", 1, True)])
def test_proximity_matches_the_records(contract_engine, indexed_records, word_ranges, a, b, n, ordered):
    expected = {r["id"] for r in indexed_records if within(word_ranges, r, a, b, n, ordered)}
    both = containing(indexed_records, a) & containing(indexed_records, b)
    assert expected and expected < both  # some articles have both, but further apart
    res = search(contract_engine, f"{a} {'pre' if ordered else 'w'}/{n} {b}")
    assert ids(res) == expected and res.exact and not res.relaxed
    assert res.understood_tree["clauses"][0]["op"] == "near"


@pytest.mark.parametrize("a,b", [("香港", "选举"), ("美国", "中国")])
def test_same_paragraph(contract_engine, indexed_records, a, b):
    def same(r):
        return (norm(a) in norm(r["title"]) and norm(b) in norm(r["title"])) or any(
            norm(a) in p and norm(b) in p for p in norm(r["body"]).split("\n"))

    expected = {r["id"] for r in indexed_records if same(r)}
    assert expected < containing(indexed_records, a) & containing(indexed_records, b)
    assert ids(search(contract_engine, f"{a} w/p {b}")) == expected


# ---- restrictions are never relaxed -----------------------------------------------
def test_a_field_restriction_holds_for_every_hit(contract_engine, indexed_records):
    """``疫情 author:不存在的人`` returned 205 articles by other authors."""
    res = search(contract_engine, "疫情 author:不存在的人")
    assert res.total == 0 and not res.relaxed
    author = next(r["author"] for r in indexed_records if r.get("author") and "疫情" in r["body"])
    res = search(contract_engine, f"疫情 香港 选举 author:{author}")
    assert not res.relaxed and all(author in h.author for h in res.hits)


@pytest.mark.parametrize("q", ['"疫苗" 立法会', "疫苗 立法会 -体育", "疫苗 AND 立法会", "title:疫苗 立法会",
                               "疫苗 w/50 立法会", "疫苗 立法会 atleast1:疫苗", "疫苗 立法会 category:眾聞"])
def test_exact_queries_are_never_relaxed(contract_engine, indexed_records, q):
    both = containing(indexed_records, "疫苗") & containing(indexed_records, "立法会")
    res = search(contract_engine, q)
    assert res.exact and not res.relaxed and res.total == res.total_full
    assert ids(res) <= both and all(h.match == {"full": True, "missing": []} for h in res.hits)


def test_partial_matches_say_what_they_lack(contract_engine, indexed_records, by_id):
    vaccine, legco = containing(indexed_records, "疫苗"), containing(indexed_records, "立法会")
    res = search(contract_engine, "疫苗 立法会", size=300, group=False)
    assert res.relaxed and res.total_full == len(vaccine & legco) and res.total > res.total_full
    assert res.to_dict()["total_partial"] == res.total - res.total_full
    for h in res.hits:
        text = norm(by_id[h.id]["title"]) + "\n" + norm(by_id[h.id]["body"])
        lacks = [w for w in ("疫苗", "立法会") if w not in text]
        assert h.match == {"full": not lacks, "missing": lacks}, h.id


def test_filters_hold_for_partial_matches_too(contract_engine, indexed_records, by_id):
    res = search(contract_engine, "疫苗 立法会", size=300, category=["眾聞"])
    assert res.relaxed and res.hits and all(by_id[h.id]["category"] == "眾聞" for h in res.hits)


@pytest.mark.parametrize("q, needle", [("G20", "g20"), ("欧巴马", "巴马"), ("巴马 欧", "巴马")])
def test_no_partial_match_through_a_piece_of_a_longer_word(contract_engine, indexed_records, q, needle):
    """``G20`` found 977 articles through "20"; ``欧巴马`` matched through 欧 of
    欧洲: a partial match needs a word of two or more characters."""
    res = search(contract_engine, q)
    for h in res.hits:
        text = norm(h.title) + norm(next(r for r in indexed_records if r["id"] == h.id)["body"])
        assert needle in text, (q, h.id)
    if q == "G20":
        assert ids(res) == containing(indexed_records, "G20")


# ---- filters, facets, dates, sort -----------------------------------------------
def test_facet_counts_are_the_records_counts_and_filters_agree(contract_engine, indexed_records):
    matched = containing(indexed_records, "香港")
    truth = Counter(r.get("source") for r in indexed_records if r["id"] in matched)
    res = search(contract_engine, "香港", facets=("source", "category"), size=1)
    assert {(f.value, f.count) for f in res.facets["source"]} == {(s, n) for s, n in truth.items() if s}
    top = res.facets["source"][0]
    filtered = search(contract_engine, "香港", source=[top.value])
    assert filtered.total == top.count and {h.source for h in filtered.hits} == {top.value}


# ---- facet values in either script -------------------------------------------------
@pytest.fixture(scope="module")
def indexed(indexed_records):
    """The records' facet values as the indexer stores them (bylines read
    from the text where a record has no author)."""
    from indexer import bylines
    from indexer.records import to_article

    out = []
    for r in indexed_records:
        a = bylines.enrich(to_article(r))
        out.append({"id": a.id, "category": a.category, "source": a.source, "author": a.author, "tags": a.tags})
    return out


def values_of(record, name):
    """A record's values of a facet field ("tag": its tags, deduplicated)."""
    if name == "tag":
        return list(dict.fromkeys(record.get("tags") or []))
    return [record[name]] if record.get(name) else []


def having_key(records, name, value):
    """Ids of the records with a value of ``name`` that folds like ``value``
    (Traditional/Simplified, case and width folded)."""
    from search.values import value_key

    return {r["id"] for r in records if value_key(value) in {value_key(v) for v in values_of(r, name)}}


def expected_facets(records, name):
    """The facet straight from the records: one bucket per folded value,
    counting each article once, shown in the form most of its articles use
    (a tie: the smaller string)."""
    from search.values import value_key

    forms: dict[str, Counter] = {}
    for r in records:
        for key, vals in _group_by_key(values_of(r, name), value_key).items():
            bucket = forms.setdefault(key, Counter())
            bucket["\0articles"] += 1
            for v in vals:
                bucket[v] += 1
    out = {}
    for bucket in forms.values():
        n = bucket.pop("\0articles")
        shown = min(bucket.items(), key=lambda fc: (-fc[1], fc[0]))[0]
        out[shown] = n
    return out


def _group_by_key(values, key):
    out: dict[str, list[str]] = {}
    for v in values:
        out.setdefault(key(v), []).append(v)
    return out


@pytest.mark.parametrize("name, typed, other", [("category", "众闻", "眾聞"), ("author", "记者林励", "記者林勵"),
                                                ("tag", "林郑月娥", "林鄭月娥"), ("tag", "习近平", "習近平"),
                                                ("source", "央视网 / ＣＣＴＶ《新闻联播》", "央視網 / cctv《新聞聯播》")])
def test_filters_fold_script_case_and_width(contract_engine, indexed, name, typed, other):
    expected = having_key(indexed, name, typed)
    assert len(expected) >= 10
    as_written = [{r["id"] for r in indexed if value in values_of(r, name)} for value in (typed, other)]
    assert any(found != expected for found in as_written)  # comparing values as written would not do
    for value in (typed, other):
        assert ids(search(contract_engine, "", **{name: [value]})) == expected, value


def test_category_filter_in_simplified_finds_the_traditional_section(contract_engine, indexed_records):
    """The issue's example: the Hong Kong site files news under 眾聞."""
    filed = {r["id"] for r in indexed_records if r.get("category") == "眾聞"}
    assert len(filed) == 559 and not any(r.get("category") == "众闻" for r in indexed_records)
    assert search(contract_engine, "", category=["众闻"]).total == search(contract_engine, "", category=["眾聞"]).total \
        == len(filed)
    # Filters combine: either script of two sections.
    both = filed | {r["id"] for r in indexed_records if r.get("category") == "眾說"}
    assert ids(search(contract_engine, "", category=["众闻", "眾說"])) == both


@pytest.mark.parametrize("name, typed", [("author", "林励"), ("author", "林勵"), ("category", "众"), ("source", "ｃｃｔｖ"),
                                         ("tag", "国安法"), ("tag", "國安法")])
def test_value_operators_fold_like_text(contract_engine, indexed, name, typed):
    """``author:林励`` finds 記者林勵 (and every byline containing the name)."""
    from search.values import value_key

    expected = {r["id"] for r in indexed if any(value_key(typed) in value_key(v) for v in values_of(r, name))}
    assert len(expected) >= 10
    assert ids(search(contract_engine, f"{name}:{typed}")) == expected


@pytest.mark.parametrize("q", ["", "香港", "习近平", "疫情"])
def test_facet_buckets_merge_scripts_and_equal_the_filtered_totals(contract_engine, indexed_records, indexed, q):
    found = containing(indexed_records, q)
    matched = [r for r in indexed if not q or r["id"] in found]
    res = search(contract_engine, q, facets=("category", "author", "tag"), facet_size=5000, size=1)
    for name in ("category", "author", "tag"):
        assert {f.value: f.count for f in res.facets[name]} == expected_facets(matched, name), (q, name)
    # Exact: each count is the total of the search filtered by the value shown,
    # or by any other form of it (a merged bucket, e.g. 习近平 + 習近平).
    from search.values import value_key

    merged = [f for f in res.facets["tag"]
              if len({v for r in matched for v in values_of(r, "tag") if value_key(v) == value_key(f.value)}) > 1]
    assert merged or q == "疫情"
    for f in [*res.facets["category"][:3], *res.facets["tag"][:3], *merged[:5]]:
        name = "category" if f in res.facets["category"] else "tag"
        forms = {v for r in matched for v in values_of(r, name) if value_key(v) == value_key(f.value)}
        for form in forms:
            assert search(contract_engine, q, size=1, **{name: [form]}).total == f.count, (q, name, form)


def test_a_merged_bucket_counts_each_article_once(contract_engine, sample_records, indexed_records, indexed):
    """Articles tagged both 香港電台 and 香港电台 are one article each (the
    indexer keeps such a tag once, in the first form given)."""
    both = [r for r in sample_records if {"香港電台", "香港电台"} <= set(r.get("tags") or [])]
    assert len(both) >= 5
    kept = {r["id"]: r["tags"] for r in indexed_records}
    assert all(len({"香港電台", "香港电台"} & set(kept[r["id"]])) == 1 for r in both)
    res = search(contract_engine, "", facets=("tag",), facet_size=5000, size=1)
    bucket = [f for f in res.facets["tag"] if f.value in ("香港電台", "香港电台")]
    assert [f.count for f in bucket] == [len(having_key(indexed, "tag", "香港电台"))]
    # Shown in the form most of its articles use (a tie goes to the smaller string).
    forms = Counter(t for r in indexed_records for t in set(r.get("tags") or []) if t in ("香港電台", "香港电台"))
    assert bucket[0].value == min(forms.items(), key=lambda fc: (-fc[1], fc[0]))[0]


def when(hit):
    """A hit's publication time, as the index orders it (a date alone is
    noon of that day in Beijing/Hong Kong)."""
    from search.timeutil import parse_published

    return parse_published(hit.published)


def test_date_range_and_newest_first(contract_engine, indexed_records):
    lo, hi = datetime(2020, 1, 1, tzinfo=CST), datetime(2021, 1, 1, tzinfo=CST)
    res = search(contract_engine, "香港", date_from=lo, date_to=hi, sort="newest")
    assert res.total > 10
    times = [when(h) for h in res.hits]
    assert all(lo <= t < hi for t in times)
    assert times == sorted(times, reverse=True)
    oldest = [when(h) for h in search(contract_engine, "香港", sort="oldest", size=50).hits]
    assert oldest == sorted(oldest)


def test_day_buckets_and_day_filters_are_newsroom_days(contract_engine, indexed_records):
    """Each day of two months: the timeline's day bucket, the whole-day
    filter (from=to=that day) and the records (their publication instant's
    day in Beijing time, a date alone being that day) count the same."""
    from search.timeutil import parse_published, parse_range

    truth = Counter(day for r in indexed_records if r.get("published")
                    for day in [parse_published(r["published"]).astimezone(CST).strftime("%Y-%m-%d")]
                    if "2020-06-01" <= day <= "2020-07-31")
    date_from, date_to = parse_range("2020-06-01", "2020-07-31")
    timeline = contract_engine.timeline(SearchRequest(q="", facets=(), date_from=date_from, date_to=date_to), "day")
    assert {b["start"]: b["count"] for b in timeline["buckets"] if b["count"]} == dict(truth)
    assert sum(truth.values()) > 20 and timeline["total"] == sum(truth.values())
    for day in sorted(truth):
        lo, hi = parse_range(day, day)
        assert search(contract_engine, "", date_from=lo, date_to=hi).total == truth[day], day
    years = Counter(parse_published(r["published"]).astimezone(CST).strftime("%Y")
                    for r in indexed_records if r.get("published"))
    timeline = contract_engine.timeline(SearchRequest(q="", facets=()), "year")
    assert {b["start"]: b["count"] for b in timeline["buckets"] if b["count"]} == dict(years)


BOUNDARY_DAYS = {  # published -> the Beijing day it belongs to (worked out by hand)
    "2024-03-01T23:30:00Z": "2024-03-02", "2024-03-01T16:00:00Z": "2024-03-02",
    "2024-03-01T15:59:59Z": "2024-03-01", "2024-03-01": "2024-03-01", "2024-03-01T22:00:00+05:30": "2024-03-02",
}


def test_articles_near_midnight_fall_on_their_beijing_day(backend, tmp_path):
    """Filters and the timeline's day buckets (Whoosh: numpy over epoch
    seconds; OpenSearch: date_histogram in +08:00) agree with the day shown."""
    from indexer.cli import main
    from search.engine import SearchEngine
    from search.timeutil import local_date, parse_range

    records = [{"id": f"d{i}", "title": f"潮汐发电站 {i}", "body": "潮汐发电站投入运行。", "published": p}
               for i, p in enumerate(BOUNDARY_DAYS)]
    day_of = {f"d{i}": day for i, day in enumerate(BOUNDARY_DAYS.values())}
    target = str(tmp_path / "index") if backend == "whoosh" else "news-dates-" + uuid.uuid4().hex[:8]
    opts = ["--backend", backend, "--opensearch-url", URL or "", "--index", target]
    try:
        assert main(["build", *opts, "--no-progress", write_jsonl(tmp_path / "d.jsonl", records)]) == 0
        eng = SearchEngine.open(target, backend=backend, opensearch_url=URL, refresh_interval=0, synonyms_path=None)
        timeline = eng.timeline(SearchRequest(q="潮汐发电站", facets=()), "day")
        assert {b["start"]: b["count"] for b in timeline["buckets"]} == {"2024-03-01": 2, "2024-03-02": 3}
        for day in ("2024-02-29", "2024-03-01", "2024-03-02", "2024-03-03"):
            lo, hi = parse_range(day, day)
            res = search(eng, "潮汐发电站", date_from=lo, date_to=hi)
            assert ids(res) == {k for k, d in day_of.items() if d == day}, day
            assert all(local_date(h.published) == day for h in res.hits)
        eng.wait_ready(60)
    finally:
        if backend == "opensearch":
            drop_alias(target)


PLAUSIBILITY = [
    {"id": "p-undated", "title": "盐田潮汐 无日期"},
    # One second before the epoch: it was the old "no date" marker itself.
    {"id": "p-1969", "title": "盐田潮汐 纪元前一秒", "published": "1969-12-31T23:59:59Z"},
    {"id": "p-1900", "title": "盐田潮汐 最早", "published": "1900-01-01"},
    {"id": "p-2020", "title": "盐田潮汐 近年", "published": "2020-05-01T10:00:00+08:00"},
    # Implausible: skipped, each reported by name.
    {"id": "p-year1", "title": "盐田潮汐 公元一年", "published": "0001-01-01T00:00:00+14:00"},
    {"id": "p-9999", "title": "盐田潮汐 九九九九", "published": "9999-12-31"},
    {"id": "p-1899", "title": "盐田潮汐 太早", "published": "1899-12-31T23:59:59+08:00"},
]


def test_plausible_dates_and_no_date_marker(backend, tmp_path, capsys):
    """Implausible dates are skipped at indexing with a named problem; a
    real date equal to the old marker (-1) is a date, found by date
    filters and sorted as one; an undated article stays undated; a day
    timeline over 120 years is coarsened to years (never more than
    MAX_BUCKETS bars)."""
    from indexer.cli import main
    from search.engine import SearchEngine
    from search.timeline import MAX_BUCKETS
    from search.timeutil import parse_range

    target = str(tmp_path / "index") if backend == "whoosh" else "news-plausible-" + uuid.uuid4().hex[:8]
    opts = ["--backend", backend, "--opensearch-url", URL or "", "--index", target]
    try:
        main(["build", *opts, "--no-progress", write_jsonl(tmp_path / "p.jsonl", PLAUSIBILITY)])
        err = capsys.readouterr().err
        for line, value in ((5, "0001-01-01T00:00:00+14:00"), (6, "9999-12-31"), (7, "1899-12-31T23:59:59+08:00")):
            assert f"p.jsonl:{line}: skipped: implausible date in 'published': '{value}' is outside the plausible range" in err
        eng = SearchEngine.open(target, backend=backend, opensearch_url=URL, refresh_interval=0, synonyms_path=None)
        assert ids(search(eng, "盐田潮汐", size=20)) == {"p-undated", "p-1969", "p-1900", "p-2020"}
        lo, hi = parse_range(None, "1970-01-01")  # 1969-12-31T23:59:59Z is 1970-01-01 07:59:59 in Beijing
        assert ids(search(eng, "盐田潮汐", date_to=hi)) == {"p-1969", "p-1900"}
        lo, hi = parse_range("1970-01-01", "1970-01-01")
        assert ids(search(eng, "盐田潮汐", date_from=lo, date_to=hi)) == {"p-1969"}
        oldest = [h.id for h in search(eng, "盐田潮汐", sort="oldest").hits]
        assert oldest == ["p-1900", "p-1969", "p-2020", "p-undated"]
        timeline = eng.timeline(SearchRequest(q="盐田潮汐", facets=()), "day")
        assert timeline["interval"] == "year" and timeline["undated"] == 1 and timeline["total"] == 4
        assert len(timeline["buckets"]) == 121 <= MAX_BUCKETS
        assert {b["start"]: b["count"] for b in timeline["buckets"] if b["count"]} == {"1900": 1, "1970": 1, "2020": 1}
        # 1970 to 2020 by month would be 605 bars: years too.
        lo, _ = parse_range("1970-01-01", None)
        timeline = eng.timeline(SearchRequest(q="盐田潮汐", facets=(), date_from=lo), "month")
        assert timeline["interval"] == "year" and len(timeline["buckets"]) == 51
        eng.wait_ready(60)
    finally:
        if backend == "opensearch":
            drop_alias(target)


# ---- what the app builds on top ------------------------------------------------
def test_highlights_mark_the_query_words(contract_engine):
    res = search(contract_engine, "疫苗", size=10, highlight=True)
    assert len(res.hits) == 10
    for h in res.hits:
        assert "<mark>疫苗</mark>" in h.title_highlight + h.snippet


def test_related_articles_share_key_terms_and_leave_the_article_out(contract_engine, indexed_records):
    seen = 0
    for record in indexed_records[::200]:
        own = contract_engine.get(record["id"])
        related = contract_engine.related(record["id"], size=5)
        if not related:
            continue
        seen += 1
        assert record["id"] not in {h.id for h in related}
        terms = {t for t, _ in own["keyterms"]}
        for h in related:
            other = contract_engine.get(h.id)
            assert terms & {t for t, _ in other["keyterms"]}, (record["id"], h.id)
    assert seen >= 8
    assert contract_engine.related("no-such-article") is None


def test_pinyin_and_suggestions(contract_engine):
    """The vocabulary behind pinyin input and suggestions comes from the index."""
    assert contract_engine.wait_ready(60)  # built in the background: do not race it
    res = search(contract_engine, "xianggang", size=5)
    assert res.total > 0 and any("香港" in h.title + h.snippet for h in search(contract_engine, "xianggang",
                                                                             size=5, highlight=True).hits)
    contract_engine.suggester.get(wait=60)
    assert any(s.startswith("香港") for s in contract_engine.suggest("香港"))


@pytest.mark.parametrize("typed,understood", [
    ("jingdian", ["jingdian OR 经典 OR 景点"]),  # by articles (32, 11), not headlines (敬献 is jingxian)
    ("zhengfu", ["zhengfu OR 政府"]),  # 郑负 (3 articles to 730) neither leads nor joins
])
def test_pinyin_readings_count_articles(contract_engine, typed, understood):
    assert contract_engine.wait_ready(60)
    freq = contract_engine.pinyin.frequencies
    before = freq.lookups
    res = search(contract_engine, typed)
    assert res.understood == understood
    assert freq.lookups - before <= 1  # the readings' article counts: one multi-search at most
    search(contract_engine, typed, page=2)
    assert freq.lookups - before <= 1  # then cached for this index version


@pytest.mark.parametrize("typed,corrected,suggested", [
    ("侧试", "测试", None), ("选据", "选举", None), ("新冠逸苗", "新冠疫苗", None),
    ("习近凭", None, "习近平"), ("景点", None, None),
])
def test_did_you_mean_on_this_backend(contract_engine, typed, corrected, suggested):
    assert contract_engine.wait_ready(60)
    res = search(contract_engine, typed, correct=True)
    assert (res.corrected_to, res.suggestion) == (corrected, suggested)


# ---- suggestions in the reader's script --------------------------------------------
@pytest.fixture(scope="module")
def word_df(indexed_records):
    """Straight from the records, cleaned and analysed as the indexer does:
    (title words, body words -> articles using them, tag keys)."""
    from indexer import bylines
    from indexer.records import to_article
    from search.analysis import Analyzer
    from search.documents import prepare
    from search.segmenter import get_segmenter
    from search.values import value_key

    analyzer = Analyzer(get_segmenter())
    title, body = Counter(), Counter()
    for r in indexed_records:
        doc = prepare(bylines.enrich(to_article(r)), analyzer)
        title.update(set(doc.title_words))
        body.update(set(doc.body_words))
    return title, body, {value_key(t) for r in indexed_records for t in r.get("tags") or []}


def test_vocabularies_are_the_records_words(contract_engine, word_df, monkeypatch):
    """What suggestions are built from, on either backend: every body word
    of 20+ articles with its exact count (OpenSearch: also when its terms
    must be read in many small partitions), and every tag."""
    from search.backends.opensearch import backend as os_backend

    title, body, _ = word_df
    # Partitions too large for the shards at first: the counts show it, and the terms are split finer.
    monkeypatch.setattr(os_backend, "TERMS_PER_PARTITION", 2000)
    monkeypatch.setattr(os_backend, "PARTITION_HEADROOM", 0.1)
    assert contract_engine.backend.vocabulary("body", min_df=20) == {w: n for w, n in body.items() if n >= 20}
    assert contract_engine.backend.vocabulary("title") == dict(title)


def test_every_vocabulary_the_seam_promises_is_the_records_counts(contract_engine, word_df):
    """``vocabulary`` of "title" and "body" means the same on both backends:
    each word with the number of articles using it, every word (min_df 1:
    OpenSearch pages through all terms) or those of min_df articles or more
    (OpenSearch: partitioned terms aggregations); another field is a ValueError."""
    title, body, _ = word_df
    backend = contract_engine.backend
    assert backend.vocabulary("body") == dict(body)
    assert backend.vocabulary("title", min_df=3) == {w: n for w, n in title.items() if n >= 3}
    with pytest.raises(ValueError):
        backend.vocabulary("author")


@pytest.mark.parametrize("typed, first", [("林鄭", "林鄭月娥"), ("林郑", "林郑月娥"), ("習近", "習近平"), ("习近", "习近平"),
                                          ("国務", "國務院")])
def test_suggestions_are_shown_in_the_script_typed(contract_engine, typed, first):
    """Traditional input gets Traditional completions (林鄭月娥 is how the
    articles' tags write it), Simplified input Simplified ones; a mix of
    both is read as Traditional."""
    from search.script import script_of

    contract_engine.suggester.get(wait=60)
    got = contract_engine.suggest(typed)
    assert got[0] == first
    script = script_of(first)
    assert all(script_of(s) in (script, None) for s in got), got
    assert all(norm(s).startswith(norm(typed)) for s in got)


def test_a_common_word_typed_whole_is_suggested_in_its_script(contract_engine, indexed_records):
    """武漢 had no suggestion although the sample's articles use it: now the
    word itself is offered (after its best completion), in the script typed."""
    from search.script import script_of

    assert sum("武漢" in r["title"] + r["body"] for r in indexed_records) == 65  # written in Traditional
    assert len(containing(indexed_records, "武漢")) == 89  # either script
    contract_engine.suggester.get(wait=60)
    traditional, simplified = contract_engine.suggest("武漢"), contract_engine.suggest("武汉")
    assert traditional[:2] == ["武漢肺炎", "武漢"] and simplified[:2] == ["武汉肺炎", "武汉"]
    assert all(script_of(s) == "traditional" for s in traditional)
    assert all(script_of(s) == "simplified" for s in simplified)
    assert [norm(s) for s in traditional] == [norm(s) for s in simplified]


def test_several_words_complete_the_last_in_its_script(contract_engine):
    contract_engine.suggester.get(wait=60)
    for typed, want in (("香港 選", "香港 選舉"), ("香港 选", "香港 选举")):
        got = contract_engine.suggest(typed)
        assert want in got and all(s.startswith(typed) for s in got), got


def test_body_words_many_articles_use_are_suggested(contract_engine, word_df):
    """A word in the bodies of 20 or more articles is offered when typed,
    also when no headline or tag has it; one in fewer is not."""
    import re as regex

    from search.suggest import BODY_MIN_DF

    title, body, tags = word_df
    body_only = sorted(w for w, n in body.items() if regex.fullmatch(r"[\u3400-\u9fff]{2,8}", w)
                       and w not in title and w not in tags)
    common = [w for w in body_only if body[w] >= BODY_MIN_DF]
    rare = [w for w in body_only if BODY_MIN_DF // 2 <= body[w] < BODY_MIN_DF]
    assert len(common) >= 1000 and len(rare) >= 1000
    contract_engine.suggester.get(wait=60)
    for w in common[::100]:
        assert w in contract_engine.suggest(w, limit=50), w
    for w in rare[::100]:
        assert w not in contract_engine.suggest(w, limit=50), w


# ---- near-duplicate groups -------------------------------------------------------
@pytest.fixture(scope="module")
def expected_groups(indexed_records):
    """The sample's near-duplicate groups, computed straight from the
    records (signatures and grouping of search.dedupe): id -> its group."""
    import numpy as np

    from indexer import bylines
    from indexer.records import to_article
    from search import dedupe
    from search.analysis import Analyzer
    from search.documents import prepare
    from search.segmenter import get_segmenter

    analyzer = Analyzer(get_segmenter())
    docs = [prepare(bylines.enrich(to_article(r)), analyzer) for r in indexed_records]
    rep = dedupe.group(np.array([d.published_ts if d.published_ts is not None else -1 for d in docs], np.int64),
                       np.stack([d.minhash for d in docs]), np.array([d.installment for d in docs], np.int64))
    groups: dict[int, set] = {}
    for i, r in enumerate(rep.tolist()):
        groups.setdefault(r, set()).add(docs[i].id)
    return {doc_id: members for members in groups.values() if len(members) > 1 for doc_id in members}


def test_near_duplicate_groups_are_the_records_groups(contract_engine, expected_groups):
    assert len(expected_groups) >= 20
    for doc_id, members in sorted(expected_groups.items()):
        copies = contract_engine.near_duplicates(doc_id)
        assert {c["id"] for c in copies} == members - {doc_id}, doc_id


def test_grouped_search_counts_groups_and_lists_the_copies(contract_engine, expected_groups, by_id):
    from search.timeutil import parse_published

    # A group whose copies share their headline's start: one phrase finds them all.
    doc_id = next(i for i in sorted(expected_groups)
                  if len({by_id[m]["title"][:10] for m in expected_groups[i]}) == 1)
    q = '"' + by_id[doc_id]["title"][:10] + '"'
    flat = search(contract_engine, q, group=False)
    grouped = search(contract_engine, q, group=True)
    assert expected_groups[doc_id] <= ids(flat)
    group_of = {i: min(expected_groups.get(i, {i})) for i in ids(flat)}
    assert grouped.total == len(set(group_of.values())) < flat.total
    assert grouped.total_articles == flat.total
    shown = [h for h in grouped.hits if h.id in expected_groups[doc_id] or
             {s["id"] for s in h.similar} & expected_groups[doc_id]]
    assert len(shown) == 1  # the group is one hit ...
    hit = shown[0]
    assert {hit.id} | {s["id"] for s in hit.similar} == expected_groups[doc_id]  # ... listing its copies
    assert hit.similar_count == len(expected_groups[doc_id]) - 1
    # ... and showing its earliest copy.
    assert parse_published(hit.published) == min(parse_published(by_id[i]["published"])
                                                  for i in expected_groups[doc_id])


# ---- updates and deletes, through the indexer CLI --------------------------------
def test_updates_and_deletes_through_the_indexer(backend, indexed_records, tmp_path):
    from indexer.cli import main
    from search.engine import SearchEngine

    records = indexed_records[:30]
    target = str(tmp_path / "index") if backend == "whoosh" else "news-writes-" + uuid.uuid4().hex[:8]
    opts = ["--backend", backend, "--opensearch-url", URL or "", "--index", target]
    try:
        assert main(["build", *opts, "--no-progress", write_jsonl(tmp_path / "a.jsonl", records)]) == 0
        eng = SearchEngine.open(target, backend=backend, opensearch_url=URL, refresh_interval=0, synonyms_path=None)
        assert eng.stats().documents == 30
        victim, edited = records[3], dict(records[4], title="更正：澳门特区政府发布新规定")
        assert main(["build", *opts, "--no-progress", write_jsonl(tmp_path / "b.jsonl", [edited])]) == 0
        assert ids(search(eng, '"澳门特区政府发布新规定"')) == {edited["id"]}
        assert eng.get(edited["id"])["title"] == edited["title"]
        assert main(["delete", *opts, victim["id"]]) == 0
        assert eng.get(victim["id"]) is None
        assert victim["id"] not in ids(search(eng, '"' + victim["title"][:10] + '"'))
        assert eng.stats().documents == 29
        assert main(["delete", *opts, victim["id"]]) == 1  # not there any more: reported
    finally:
        if backend == "opensearch":
            drop_alias(target)


# ---- the API and pages -------------------------------------------------------------
def test_the_api_on_this_backend(backend, location, openapi, indexed_records):
    from web import create_app

    app = create_app({"SEARCH_BACKEND": backend, "OPENSEARCH_URL": URL, "SEARCH_INDEX": location,
                      "SEARCH_QUERY_LOG": "off", "SEARCH_ARTICLE_STORE": "off", "SEARCH_RATE_LIMIT": "off"})
    c = app.test_client()
    try:
        data = validated(c, openapi, "/api/search?q=" + quote("立法會 選舉") + "&size=5&group=0").get_json()
        assert data["total"] > 5 and len(data["hits"]) == 5
        grouped = validated(c, openapi, "/api/search?q=" + quote("立法會 選舉") + "&size=5").get_json()
        assert grouped["total_articles"] == data["total"] >= grouped["total"]  # grouping is the default
        assert all("<mark>" in h["title_highlight"] + h["snippet"] for h in data["hits"])
        # The query language's response fields validate on this backend too.
        near = validated(c, openapi, "/api/search?q=" + quote("香港 w/x 选举 w/5 (立法会 OR 區議會)") + "&group=0").get_json()
        assert near["exact"] and [n["code"] for n in near["notices"]] == ["malformed_operator"]
        assert near["understood_tree"]["clauses"][-1]["op"] == "near" and near["total"] == near["total_full"] > 0
        partial = validated(c, openapi, "/api/search?q=" + quote("疫苗 立法会") + "&group=0&correct=0&size=20").get_json()
        assert partial["relaxed"] and partial["total_partial"] > 0
        assert any(h["match"]["missing"] for h in partial["hits"])
        doc = indexed_records[7]
        assert validated(c, openapi, "/api/articles/" + quote(doc["id"])).get_json()["title"] == doc["title"]
        validated(c, openapi, "/api/articles/" + quote(doc["id"]) + "/related")
        timeline = validated(c, openapi, "/api/timeline?q=" + quote("香港") + "&interval=year").get_json()
        assert sum(b["count"] for b in timeline["buckets"]) + timeline["undated"] == timeline["total"] > 0
        validated(c, openapi, "/api/articles/nope", status=404)
        assert c.get("/api/search?q=" + quote("香港") + "&sort=sideways").status_code == 400
        page = c.get("/search?q=" + quote("香港") + "&group=0").get_data(as_text=True)
        assert "<mark>香港</mark>" in page and 'id="timeline"' in page
        assert c.get("/healthz").get_json()["documents"] == 2000
    finally:
        eng = app.extensions["search_engine"].get()
        eng.pinyin.get(wait=60)
        eng.suggester.get(wait=60)


def test_a_partial_match_of_a_latin_word_has_a_piece_of_it(contract_engine, indexed_records, by_id):
    """``香港 qwertyuiop``: English articles sharing letter pairs with the
    typo (er, rt, io ...) ranked above the articles with 香港; a partial match
    of a Latin word needs a piece of it (60 %, five letters at least)."""
    res = search(contract_engine, "香港 qwertyuiop", size=50)
    assert res.relaxed and res.total_full == 0
    assert all("香港" in norm(by_id[h.id]["title"] + by_id[h.id]["body"]) for h in res.hits)
    assert all(h.match["missing"] == ["qwertyuiop"] for h in res.hits)


@pytest.mark.parametrize("q", ["林郑月娥 w/p 特首", "中国 w/p 发展", "特首 w/1 选", "林郑月娥 w/10 特首"])
def test_proximity_terms_cut_apart_by_the_articles_segmentation(contract_engine, indexed_records, word_ranges, q):
    """特首 in 特|首选 and 林郑月娥 in 林|郑月|娥: the article's words split the
    term, and it is still found, at the positions of the words it falls in."""
    a, op, b = q.split()

    def paragraph(r):
        return (norm(a) in norm(r["title"]) and norm(b) in norm(r["title"])) or any(
            norm(a) in p and norm(b) in p for p in norm(r["body"]).split("\n"))

    if op == "w/p":
        expected = {r["id"] for r in indexed_records if paragraph(r)}
    else:
        expected = {r["id"] for r in indexed_records if within(word_ranges, r, a, b, int(op[2:]), False)}
    assert ids(search(contract_engine, q)) == expected


# ---- the query log's count of the words alone -----------------------------------
@pytest.mark.parametrize("q", ["香港", "香港 选举 立法会", "香港 -地铁"])
@pytest.mark.parametrize("group", [False, True])
def test_the_words_count_without_filters_is_the_total_of_the_words_alone(contract_engine, q, group):
    """``without_filters`` (what the query log runs when filters leave
    nothing) counts only: no hit, facet or correction, yet the same total
    (groups when grouped, partial matches included) as a search for the
    words alone."""
    from search.query_filters import without_filters

    filtered = SearchRequest(q=q, group=group, year=["1990"], source=["不存在的来源"], sort="newest",
                             date_from=datetime(1990, 1, 1, tzinfo=CST), facets=("year", "tag"), size=20)
    assert contract_engine.search(filtered).total == 0
    count = contract_engine.search(without_filters(filtered))
    words = contract_engine.search(SearchRequest(q=q, group=group, size=20))
    assert words.total > 0 and (count.total, count.total_articles) == (words.total, words.total_articles)
    assert count.hits == [] and count.facets == {} and count.timeline is None
    assert count.corrected_to is None and count.suggestion is None
