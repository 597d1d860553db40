"""OpenSearch against Whoosh, and the cluster's own behaviour, on a real
2-node cluster (``scripts/opensearch start``; scripts/test starts it when
Java and Maven are there).  The behaviour both backends share is in
test_backend_contract.py; here: the same tokens and the same matches as
Whoosh, migration, and what a cluster adds (replicas, alias swaps)."""

import html
import json
import os
import time
import uuid

import numpy as np
import pytest

import facet_oracle

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


def test_a_query_beyond_the_opensearch_backend_is_a_400(sample_in_opensearch):
    from urllib.parse import quote

    from web import create_app

    app = create_app({"SEARCH_BACKEND": "opensearch", "OPENSEARCH_URL": URL, "SEARCH_INDEX": sample_in_opensearch,
                      "SEARCH_QUERY_LOG": "off", "SEARCH_ARTICLE_STORE": "off", "SEARCH_RATE_LIMIT": "off"})
    _engines["app-400"] = app.extensions["search_engine"].get()
    resp = app.test_client().get("/api/search?q=" + quote("atleast25:选举"))
    assert resp.status_code == 400 and "limited to N <= 20" in resp.get_json()["error"]


def test_related_articles_agree_with_whoosh(plain_engine, sample_in_opensearch, sample_records):
    """Both backends pick the same key terms; ranked by different BM25s, the
    related lists still mostly agree."""
    os_engine = _os_engine(sample_in_opensearch)
    shared = total = 0
    for record in sample_records[::100]:
        ours = {h.id for h in plain_engine.related(record["id"], size=5)}
        theirs = {h.id for h in os_engine.related(record["id"], size=5)}
        shared += len(ours & theirs)
        total += len(ours)
    print(f"\nrelated lists: {shared} of {total} articles in common")
    assert total >= 80 and shared >= 0.5 * total


# ---- facets on request, exact (the oracle: tests/facet_oracle.py) -----------
@pytest.mark.parametrize("q,filters,group", facet_oracle.CASES)
def test_every_facet_count_equals_the_filtered_total(sample_in_opensearch, q, filters, group):
    facet_oracle.check_exact(_os_engine(sample_in_opensearch), q, filters, group)


@pytest.mark.parametrize("q", ["香港", "疫苗 立法会"])
def test_facets_count_exactly_when_shards_hold_more_values_than_they_return(plain_engine, sample_in_opensearch, q):
    """Shards answering fewer values than they hold (shard_size forced
    down to the page's 20): the exact path counts, and the values, counts
    and order equal those of the usual request (and the Whoosh backend's,
    where both match the same articles: partial matches differ by design)."""
    from search.backends.opensearch import aggregations
    from search.backends.opensearch.backend import OpenSearchBackend
    from search.engine import SearchEngine

    names = ("category", "source", "author", "tag")
    backend = OpenSearchBackend(URL, sample_in_opensearch)
    engine = _engines[q] = SearchEngine(backend, synonyms_path=None, blocklist_path=None, cache_size=0)
    usual = facet_oracle.search(engine, q, facets=names, size=1, facet_size=20)
    exact, calls = backend.aggregations._exact_buckets, []

    def counted(*args):  # the real method, its calls counted
        calls.append(args[0])
        return exact(*args)

    backend.aggregations.shard_size, backend.aggregations._exact_buckets = 1, counted
    try:
        forced = facet_oracle.search(engine, q, facets=names, size=1, facet_size=20)
    finally:
        backend.aggregations.shard_size = aggregations.SHARD_SIZE
        del backend.aggregations._exact_buckets
    assert {"author", "tag"} <= set(calls)
    ours = facet_oracle.search(plain_engine, q, facets=names, size=1, facet_size=20)
    for name in names:
        assert [(f.value, f.count) for f in forced.facets[name]] == [(f.value, f.count) for f in usual.facets[name]]
        if not ours.relaxed:
            assert [(f.value, f.count) for f in forced.facets[name]] == [(f.value, f.count) for f in ours.facets[name]]


def test_newsroom_year_and_its_filter(client):
    """2023-12-31T16:30:00Z is 2024 in Beijing, 15:59:59Z still 2023; an
    undated article is in no year; 王建国/王建國 are one author."""
    from indexer.records import to_article
    from search.analysis import Analyzer
    from search.backends.opensearch.backend import OpenSearchBackend
    from search.backends.opensearch.indexing import bulk_index
    from search.backends.opensearch.mapping import index_body
    from search.documents import prepare
    from search.engine import SearchEngine
    from search.segmenter import get_segmenter

    index = "news-years-" + uuid.uuid4().hex[:8]
    client.indices.create(index=index, body=index_body(shards=2, replicas=0))
    try:
        analyzer = Analyzer(get_segmenter())
        bulk_index(client, index, (prepare(to_article(r), analyzer) for r in facet_oracle.NEW_YEAR))
        client.indices.refresh(index=index)
        engine = SearchEngine(OpenSearchBackend(URL, index), synonyms_path=None, blocklist_path=None)
        res = facet_oracle.search(engine, "城市")
        assert [(f.value, f.count) for f in res.facets["year"]] == [("2024", 2), ("2023", 1)]
        assert sorted((f.value, f.count) for f in res.facets["author"]) == [("李明", 2), ("王建国", 2)]
        assert {h.id for h in facet_oracle.search(engine, "城市", {"year": ["2024"]}).hits} == {"ny-1", "ny-3"}
        assert {h.id for h in facet_oracle.search(engine, "城市", {"year": ["2023"]}).hits} == {"ny-2"}
        engine.pinyin.get(wait=60)
        engine.suggester.get(wait=60)
    finally:
        client.indices.delete(index=index)


# ---- the cluster's own behaviour --------------------------------------------
def _cluster_script(*args):
    """scripts/opensearch on the cluster the tests run against."""
    import subprocess
    from urllib.parse import urlparse

    from conftest import ROOT

    env = dict(os.environ, OPENSEARCH_HTTP_PORT=str(urlparse(URL).port))
    subprocess.run([os.path.join(ROOT, "scripts", "opensearch"), *args], cwd=ROOT, env=env, check=True,
                   timeout=300)


def test_with_one_node_stopped_the_same_articles_match(client, sample_in_opensearch):
    """Replicas 1 on 2 nodes: with node 1 stopped, every shard still has a
    copy on node 0, so every query finds the same articles (scores may
    differ per shard copy).  The node is then started again and the cluster
    goes back to green."""
    from conftest import ROOT
    from search.backends.opensearch.backend import OpenSearchBackend
    from search.engine import SearchEngine
    from search.models import SearchRequest

    if not os.path.exists(os.path.join(ROOT, ".opensearch", "node-1.pid")):
        pytest.skip("the cluster was not started by scripts/opensearch: its nodes cannot be stopped here")
    engine = SearchEngine(OpenSearchBackend(URL, sample_in_opensearch), cache_size=0, synonyms_path=None,
                          blocklist_path=None)
    _engines["one-node"] = engine
    queries = ["香港", "习近平 会见", '"香港特别行政区"', "立法會", "疫苗 -美国", "title:疫情"]

    def answers():
        out = {}
        for q in queries:
            res = engine.search(SearchRequest(q=q, size=2000, facets=("source",), correct=False, highlight=False))
            out[q] = (res.total, {h.id for h in res.hits}, {(f.value, f.count) for f in res.facets["source"]})
        return out

    before = answers()
    # Take node 1 out of the voting configuration first (how an operator
    # removes a cluster-manager-eligible node), so node 0 keeps a quorum.
    client.cluster.post_voting_config_exclusions(params={"node_names": "node-1"})
    try:
        _cluster_script("stop-node", "1")
        health = _health(client, lambda h: h["number_of_nodes"] == 1)
        assert health["status"] in ("yellow", "green")  # node 0 holds a copy of every shard
        during = answers()
        assert during == before
    finally:
        _cluster_script("start-node", "1")
        client.cluster.delete_voting_config_exclusions(params={"wait_for_removal": "false"})
    _health(client, lambda h: h["status"] == "green" and h["number_of_nodes"] == 2)


def _health(client, ok, seconds=120):
    """The cluster's health once ``ok(health)`` (fails after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while True:
        health = client.cluster.health()
        if ok(health):
            return health
        assert time.monotonic() < deadline, health
        time.sleep(0.5)


def test_a_full_rebuild_under_load_fails_no_request(tmp_path, sample_records):
    """The real service on OpenSearch: gunicorn, its writer applying the
    write API's changes, readers searching over HTTP while the writer
    rebuilds the whole index from the article store and swaps the alias."""
    import json
    import subprocess
    import sys
    import urllib.parse

    from conftest import ROOT, STAFF, STAFF_TOKEN, SearchLoad, Server, call, digest, write_jsonl
    from indexer.article_store import ArticleStore

    alias = "news-live-" + uuid.uuid4().hex[:8]
    store = str(tmp_path / "articles.sqlite")
    base, fresh = sample_records[:400], sample_records[400:420]
    env = {"SEARCH_BACKEND": "opensearch", "OPENSEARCH_URL": URL, "SEARCH_ARTICLE_STORE": store,
           "SEARCH_WRITE_TOKENS": digest(STAFF_TOKEN), "SEARCH_WRITE_WAIT": "10"}
    cli = [sys.executable, "-m", "indexer"]
    target = ["--backend", "opensearch", "--opensearch-url", URL, "--index", alias, "--store", store]
    subprocess.run([*cli, "build", *target, "--no-progress", "--replicas", "1",
                    write_jsonl(tmp_path / "base.jsonl", base)], cwd=ROOT, check=True, timeout=300)
    assert ArticleStore(store).count() == 400
    srv = Server(alias, workers=2, extra_env=env)
    from opensearchpy import OpenSearch

    os_client = OpenSearch(URL, timeout=60)
    try:
        assert srv.wait_for_writer()
        auth = {**STAFF, "Content-Type": "application/json"}
        for i, r in enumerate(fresh):  # the write API, through the writer, into OpenSearch
            status, body = call(f"{srv.url}/api/articles/live-{i}", "PUT",
                                json.dumps(dict(r, id=f"live-{i}"), ensure_ascii=False), auth)
            assert status in (200, 201) and json.loads(body)["status"] == "indexed", body
        assert call(f"{srv.url}/api/articles/{urllib.parse.quote(base[0]['id'])}", "DELETE", headers=STAFF)[0] == 200
        phrase = urllib.parse.quote('"' + fresh[3]["title"][:12] + '"')
        assert '"live-3"' in call(f"{srv.url}/api/search?q={phrase}&size=50&group=0")[1].decode()
        first = set(os_client.indices.get_alias(name=alias))

        words = ["香港", "习近平", "疫情", "经济", "选举", "\"国务院\"", "中国 美国", "xianggang"]
        with SearchLoad(srv.url, words, need_matches=True) as load:
            subprocess.run([*cli, "rebuild", *target], cwd=ROOT, check=True, timeout=600)
            time.sleep(1.0)
        second = set(os_client.indices.get_alias(name=alias))
        assert second != first and not any(os_client.indices.exists(index=name) for name in first)
        assert not load.errors, load.errors[:10]
        assert load.requests > 50
        assert os_client.count(index=alias)["count"] == 400 + 20 - 1  # the writes survived the rebuild
        assert srv.json("/healthz")[1]["documents"] == 419
        print(f"\n{load.requests} searches during the rebuild, 0 failed")
    finally:
        srv.stop()
        for name in os_client.indices.get_alias(name=alias) if os_client.indices.exists_alias(name=alias) else []:
            os_client.indices.delete(index=name)
        # The binding marker the build wrote beside the project's data/ (paths.store_marker).
        from indexer.paths import store_marker

        marker = os.path.join(ROOT, store_marker(alias, "opensearch"))
        if os.path.exists(marker):
            os.remove(marker)


def test_a_missing_alias_or_an_unreachable_cluster_is_a_503_naming_it():
    """The client's errors never reach readers as a 500: a missing index or
    alias and a cluster that cannot be reached are 503s that say which."""
    from conftest import Server, call

    missing = "news-missing-" + uuid.uuid4().hex[:8]
    for url, says in ((URL, f"the OpenSearch index or alias '{missing}' does not exist"),
                      ("http://127.0.0.1:9", "the OpenSearch cluster cannot be reached")):
        srv = Server(missing, workers=1, require_healthy=False,
                     extra_env={"SEARCH_BACKEND": "opensearch", "OPENSEARCH_URL": url})
        try:
            status, body = call(f"{srv.url}/api/search?q=%E9%A6%99%E6%B8%AF")
            assert status == 503 and json.loads(body)["error"].startswith(says), body
            status, body = call(f"{srv.url}/search?q=%E9%A6%99%E6%B8%AF")
            assert status == 503 and says in html.unescape(body.decode()), body[:300]
            assert call(f"{srv.url}/api/articles/x")[0] == 503
            status, body = call(f"{srv.url}/healthz")
            assert status == 503 and says in body.decode()
        finally:
            srv.stop()
