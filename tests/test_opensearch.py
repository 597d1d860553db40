"""OpenSearch against Whoosh, and the cluster's own behaviour, on a real
2-node cluster (``scripts/opensearch start``; scripts/test starts it when
Java and Maven are there).  The behaviour both backends share is in
test_backend_contract.py; here: the same tokens and the same matches as
Whoosh, migration, and what a cluster adds (replicas, alias swaps)."""

import os
import uuid

import numpy as np
import pytest

URL = os.environ.get("OPENSEARCH_URL")


@pytest.fixture(scope="module")
def client():
    if not URL:
        if os.environ.get("REQUIRE_OPENSEARCH"):
            pytest.fail("OPENSEARCH_URL is not set: scripts/opensearch start")
        pytest.skip("no OpenSearch cluster (scripts/opensearch start, then OPENSEARCH_URL=...)")
    from opensearchpy import OpenSearch

    return OpenSearch(URL, timeout=60)


def test_two_node_cluster_is_green(client):
    health = client.cluster.health(wait_for_status="green", wait_for_nodes=2)
    assert health["status"] == "green" and health["number_of_nodes"] == 2
    assert client.info()["version"]["number"].startswith("2.19")


@pytest.fixture(scope="module")
def sample_in_opensearch(client, sample_records):
    """The 2,000-article sample, analysed by our pipeline, in a 2-shard,
    1-replica index on the cluster (deleted after the module)."""
    from indexer.records import to_article
    from search.analysis import Analyzer
    from search.backends.opensearch.indexing import bulk_index
    from search.backends.opensearch.mapping import index_body
    from search.documents import prepare
    from search.segmenter import get_segmenter

    analyzer = Analyzer(get_segmenter())
    index = "news-contract-" + uuid.uuid4().hex[:8]
    client.indices.create(index=index, body=index_body(shards=2, replicas=1))
    bulk_index(client, index, (prepare(to_article(r), analyzer) for r in sample_records))
    client.indices.refresh(index=index)
    yield index
    for engine in _engines.values():  # their background builds read the index: let them finish first
        engine.pinyin.get(wait=60)
        engine.suggester.get(wait=60)
    client.indices.delete(index=index)


CONTRACT_QUERIES = ["香港", "立法會", '"香港特别行政区"', "习近平 会见", "疫苗", "title:疫情", "香港 -选举",
                    "美国 OR 日本", "covid", "中国 经济", "國務院", "警方 拘捕"]


@pytest.mark.parametrize("q", CONTRACT_QUERIES)
def test_same_articles_match_on_both_backends(plain_engine, sample_in_opensearch, q):
    """The contract, first part: the same articles match (order may differ:
    OpenSearch scores with its own BM25), with the same facet counts."""
    from search.models import SearchRequest

    os_engine = _os_engine(sample_in_opensearch)
    req = SearchRequest(q=q, size=2000, facets=("category", "source"), correct=False, highlight=False)
    ours, theirs = plain_engine.search(req), os_engine.search(req)
    assert not ours.relaxed and ours.total >= 10, "a query with full matches only"
    assert theirs.total == ours.total
    assert {h.id for h in theirs.hits} == {h.id for h in ours.hits}
    for name in ("category", "source"):
        assert {(f.value, f.count) for f in theirs.facets[name]} == {(f.value, f.count) for f in ours.facets[name]}
    newest = SearchRequest(q=q, size=20, sort="newest", facets=(), correct=False, highlight=False)
    assert [h.published for h in os_engine.search(newest).hits] == [h.published for h in plain_engine.search(newest).hits]


_engines = {}


def _os_engine(index):
    from search.backends.opensearch.backend import OpenSearchBackend
    from search.engine import SearchEngine

    if index not in _engines:
        _engines[index] = SearchEngine(OpenSearchBackend(URL, index), synonyms_path=None, blocklist_path=None)
    return _engines[index]


def test_documents_carry_the_same_tokens_as_whoosh(client, engine, sample_records):
    """The 2,000-article sample, analysed once in Python, indexed in both
    backends: every word and bigram tried matches the same articles."""
    from search.analysis import Analyzer
    from search.backends.opensearch.indexing import bulk_index
    from search.backends.opensearch.mapping import index_body
    from search.documents import prepare
    from search.segmenter import get_segmenter
    from indexer.records import to_article

    analyzer = Analyzer(get_segmenter())
    docs = [prepare(to_article(r), analyzer) for r in sample_records]
    index = "news-test-" + uuid.uuid4().hex[:8]
    client.indices.create(index=index, body=index_body(shards=2, replicas=1))
    try:
        assert bulk_index(client, index, docs) == 2000
        client.indices.refresh(index=index)
        assert client.count(index=index)["count"] == 2000
        health = client.cluster.health(index=index, wait_for_status="green")
        assert health["active_shards"] == 4  # 2 primaries + 2 replicas on the 2 nodes
        view = engine.backend.view
        for field, term in [("body_w", "香港"), ("title_w", "习近平"), ("body_w", "疫苗"), ("body_g", "选举"),
                            ("title_g", "港特"), ("body_c", "龘"), ("body_w", "covid")]:
            ids, _ = view.postings(field, term)
            expected = {view.stored(int(g))["id"] for g in np.unique(ids) if view.live[g]}
            res = client.search(index=index, body={"query": {"term": {field: term}}, "size": 2000,
                                                   "_source": False, "track_total_hits": True})
            got = {h["_id"] for h in res["hits"]["hits"]}
            assert got == expected, (field, term, len(got), len(expected))
    finally:
        client.indices.delete(index=index)


def test_migrate_and_rebuild_through_the_alias_under_load(client, sample_index):
    """python -m indexer migrate copies the Whoosh index into a new OpenSearch
    index behind an alias; doing it again while searches run swaps the alias
    atomically: no search fails, and the old index is gone."""
    import threading

    from indexer.cli import main

    alias = "news-alias-" + uuid.uuid4().hex[:8]
    try:
        assert main(["migrate", "--index", sample_index, "--opensearch-url", URL, "--alias", alias,
                     "--shards", "2", "--replicas", "1"]) == 0
        first = list(client.indices.get_alias(name=alias))
        assert client.count(index=alias)["count"] == 2000
        stop, results = threading.Event(), []

        def searcher():
            while not stop.is_set():
                try:
                    res = client.search(index=alias, body={"query": {"term": {"body_w": "香港"}}, "size": 0,
                                                           "track_total_hits": True})
                    results.append(res["hits"]["total"]["value"])
                except Exception as exc:  # noqa: BLE001 - a failed search is what we count
                    results.append(repr(exc))

        threads = [threading.Thread(target=searcher) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            assert main(["migrate", "--index", sample_index, "--opensearch-url", URL, "--alias", alias]) == 0
        finally:
            stop.set()
            for t in threads:
                t.join()
        second = list(client.indices.get_alias(name=alias))
        assert second != first and not client.indices.exists(index=first[0])
        assert len(results) > 20 and len(set(results)) == 1 and isinstance(results[0], int), set(results)
    finally:
        for name in client.indices.get_alias(name=alias) if client.indices.exists_alias(name=alias) else []:
            client.indices.delete(index=name)
