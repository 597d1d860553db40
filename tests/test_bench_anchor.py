"""The anchor benchmark's tantivy queries (bench/anchor_tantivy.py) count
what ours counts where both semantics agree: plain-word queries whose words
occur in no article except as our word terms (so ours' substring matches
add nothing) and that relaxation cannot touch (one word, or two words with
at least ``relax_below`` full matches), on the first 300 articles of the
sample.  The oracle is brute force over the analysed terms: the articles
whose title or body terms hold every query word."""

from __future__ import annotations

from collections import Counter

import pytest

pytest.importorskip("tantivy")

N = 300


@pytest.fixture(scope="module")
def anchor_setup(sample_records, tmp_path_factory):
    from bench.anchor_index import analysed_docs, article_dict, index_docs
    from bench.anchor_tantivy import TantivyAnchor
    from conftest import write_jsonl
    from indexer import pipeline
    from indexer.records import read_article
    from search.engine import SearchEngine

    records = sample_records[:N]
    tmp = tmp_path_factory.mktemp("anchor")
    src = write_jsonl(tmp / "in.jsonl", records)
    pipeline.build(str(tmp / "ours"), [src], workers=1, progress=False)
    ours = SearchEngine.open(str(tmp / "ours"), refresh_interval=0, synonyms_path=None)
    ours.wait_ready(60)  # the background builders would compete with the searches
    articles = [article_dict(read_article(r)) for r in records]
    docs = [{**a, **d, "terms": set(d["title_w"].split()) | set(d["body_w"].split())}
            for a, d in zip(articles, analysed_docs(articles))]
    assert index_docs(docs, str(tmp / "tantivy")) == N  # (the extra "terms" key is not indexed)
    return ours, TantivyAnchor(str(tmp / "tantivy")), docs


def _oracle(docs, words):
    return [d for d in docs if all(w in d["terms"] for w in words)]


def _clean_words(ours, docs) -> list[str]:
    """Words of two or more ideographs, one query word as the engine cuts them, no regional
    alternative, never found in an article's text outside its word terms (so a substring match
    adds nothing), in 10 to 150 of the articles; most frequent first."""
    from search import regional
    from search.compiler import FUNCTION_WORDS
    from search.normalize import normalize

    texts = [normalize(d["title"]).text + "\n" + normalize(d["body"] or "").text for d in docs]
    df = Counter(w for d in docs for w in d["terms"])
    words = []
    for w, n in df.most_common(400):
        if not (len(w) >= 2 and all("\u4e00" <= ch <= "\u9fff" for ch in w) and 10 <= n <= 150):
            continue
        if w in FUNCTION_WORDS or regional.alternatives(w) or ours.analyzer.query_words(w) != [w]:
            continue
        if sum(w in t for t in texts) != n:  # a substring occurrence outside the word terms
            continue
        words.append(w)
    return words


def _queries(ours, docs):
    """Six clean words alone, and up to four pairs of them with at least 10 articles holding both."""
    words = _clean_words(ours, docs)
    singles = [[w] for w in words[:6]]
    pairs = [[a, b] for i, a in enumerate(words[:20]) for b in words[i + 1:20]
             if len(_oracle(docs, [a, b])) >= 10][:4]
    return singles + pairs


def test_plain_word_totals_equal_ours_and_the_oracle(anchor_setup):
    from search.models import SearchRequest

    ours, anchor, docs = anchor_setup
    queries = _queries(ours, docs)
    assert len(queries) >= 8, queries  # six single words and a few pairs
    for words in queries:
        q = " ".join(words)
        expected = _oracle(docs, words)
        res = anchor.search({"q": q})
        assert (res["total"], res["relaxed"]) == (len(expected), False), q
        mine = ours.search(SearchRequest(q=q, correct=False, facets=("category", "source")))
        assert (mine.total, mine.relaxed) == (len(expected), False), q
        # The terms aggregations count what the oracle counts, and so do ours' facets.
        counts = Counter(d["category"] for d in expected if d["category"])
        assert dict(res["facets"]["category"]) == dict(counts), q
        assert {f.value: f.count for f in mine.facets["category"]} == dict(counts), q
        assert {h[0] for h in res["hits"]} <= {d["id"] for d in expected}
        assert len(res["hits"]) == min(10, len(expected))


def test_filters_and_newest_order_follow_the_records(anchor_setup):
    from datetime import datetime, timezone

    from search.timeutil import parse_range

    ours, anchor, docs = anchor_setup
    word = _clean_words(ours, docs)[0]
    having = _oracle(docs, [word])
    year = Counter(datetime.fromtimestamp(d["published"], timezone.utc).year
                   for d in having if d["published"]).most_common(1)[0][0]
    lo, hi = parse_range(f"{year}-01-01", f"{year}-12-31")
    expected = [d for d in having if d["published"] is not None and lo.timestamp() <= d["published"] < hi.timestamp()]
    res = anchor.search({"q": word, "from": f"{year}-01-01", "to": f"{year}-12-31"})
    assert res["total"] == len(expected) > 0
    source = having[0]["source"]
    res = anchor.search({"q": word, "source": source})
    assert res["total"] == sum(d["source"] == source for d in having)
    res = anchor.search({"q": word, "sort": "newest"})
    published = {d["id"]: d["published"] or -1 for d in having}
    got = [published[h[0]] for h in res["hits"]]
    assert got == sorted(published.values(), reverse=True)[:len(got)] and len(got) == min(10, len(having))


def test_quoted_phrases_count_what_the_text_holds(anchor_setup):
    """Phrases cut from titles (across jieba's word boundaries too) are found through our character
    grams wherever the normalised text holds them, by tantivy and by ours alike."""
    import re

    from search.models import SearchRequest
    from search.normalize import normalize

    ours, anchor, docs = anchor_setup
    texts = [(normalize(d["title"]).text, normalize(d["body"] or "").text) for d in docs]
    phrases = []
    for d in docs[::25]:
        run = max(re.findall(r"[\u4e00-\u9fff]+", normalize(d["title"]).text), key=len, default="")
        if len(run) >= 4:
            phrases.append(run[1:4])  # three characters from inside a run of the headline
    assert len(phrases) >= 5
    for p in phrases:
        expected = sum(p in t or p in b for t, b in texts)
        assert anchor.search({"q": f'"{p}"'})["total"] == expected > 0, p
        assert ours.search(SearchRequest(q=f'"{p}"', correct=False)).total == expected, p
