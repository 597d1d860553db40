"""The OpenSearch side (issue 8, in progress), against a real 2-node cluster
(``scripts/opensearch start``; scripts/test starts it when Java and Maven
are there).  So far: the cluster itself, and indexing our analysed
documents so that OpenSearch holds exactly the tokens Whoosh holds."""

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
