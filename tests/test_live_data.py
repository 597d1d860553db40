"""Live data reaching readers over the real service (issue 16): gunicorn,
its supervised writer process, the article store, real HTTP, on Whoosh and
on OpenSearch.  One service per backend, shared by the module's tests."""

import json
import os
import time
import urllib.parse
import uuid

import pytest

from conftest import STAFF, STAFF_TOKEN, Server, call, digest, write_jsonl

URL = os.environ.get("OPENSEARCH_URL")


@pytest.fixture(scope="module", params=["whoosh", "opensearch"])
def live(request, tmp_path_factory, sample_records):
    """A served index of 20 sample articles with the write API and a user
    dictionary file (initially one comment line); dict with ``server``,
    ``backend``, ``userdict`` (path), ``index``."""
    from indexer import pipeline

    backend = request.param
    if backend == "opensearch" and not URL:
        if os.environ.get("REQUIRE_OPENSEARCH"):
            pytest.fail("OPENSEARCH_URL is not set: scripts/opensearch start")
        pytest.skip("no OpenSearch cluster")
    tmp = tmp_path_factory.mktemp(f"live-{backend}")
    userdict = tmp / "userdict.txt"
    userdict.write_text("# the newsroom's words\n", encoding="utf-8")
    index = str(tmp / "ix") if backend == "whoosh" else "live16-" + uuid.uuid4().hex[:8]
    store = str(tmp / "articles.sqlite")
    seed = write_jsonl(tmp / "seed.jsonl", sample_records[:20])
    pipeline.build(index, [seed], userdict=str(userdict), workers=1, progress=False, backend=backend,
                   opensearch_url=URL, replicas=0)
    env = {"SEARCH_BACKEND": backend, "SEARCH_ARTICLE_STORE": store, "SEARCH_USERDICT": str(userdict),
           "SEARCH_WRITE_TOKENS": digest(STAFF_TOKEN), "SEARCH_WRITE_WAIT": "10"}
    if URL:
        env["OPENSEARCH_URL"] = URL
    srv = Server(index, workers=2, extra_env=env)
    try:
        assert srv.wait_for_writer()
        yield {"server": srv, "backend": backend, "userdict": userdict, "index": index}
    finally:
        srv.stop()
        if backend == "opensearch":
            from opensearchpy import OpenSearch

            client = OpenSearch(URL, timeout=60)
            client.indices.delete(index=list(client.indices.get_alias(name=index)), ignore=[404])


def put(srv, doc_id, record):
    status, body = call(f"{srv.url}/api/articles/{urllib.parse.quote(doc_id)}", "PUT",
                        json.dumps(dict(record, id=doc_id), ensure_ascii=False),
                        {**STAFF, "Content-Type": "application/json"})
    assert status in (200, 201), body
    return json.loads(body)


def poll(check, seconds=20.0):
    """``check()`` until it returns a true value or ``seconds`` pass; its last value."""
    deadline = time.monotonic() + seconds
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(0.2)
        value = check()
    return value


def test_copies_written_one_by_one_are_grouped_with_no_further_write(live, sample_records):
    """Two identical articles written through the API (two requests) and
    nothing after: the idle writer regroups and publishes the groups, so a
    grouped search shows one hit (it used to wait for another write or a
    30 s interval)."""
    srv = live["server"]
    original = sample_records[30]
    for doc_id in ("dup-a", "dup-b"):
        assert put(srv, doc_id, original)["status"] == "indexed"
    q = urllib.parse.quote('"' + original["title"] + '"')
    status, ungrouped = srv.json(f"/api/search?q={q}&group=0&correct=0&size=10")
    assert status == 200 and sorted(h["id"] for h in ungrouped["hits"]) == ["dup-a", "dup-b"]

    def grouped():
        data = srv.json(f"/api/search?q={q}&group=1&correct=0&size=10")[1]
        return data if data["total"] == 1 else None

    data = poll(grouped)
    assert data is not None, srv.json(f"/api/search?q={q}&group=1&correct=0&size=10")[1]
    assert data["hits"][0]["id"] in ("dup-a", "dup-b")
