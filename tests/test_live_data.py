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
            from indexer.paths import store_marker

            # the cluster's index is gone: so is the marker naming its store (data/ of the project)
            if os.path.exists(store_marker(index, "opensearch")):
                os.remove(store_marker(index, "opensearch"))


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


WORD_ARTICLES = {
    "ud-word": {"title": "爱看4K客户端上线", "body": "新版爱看4K客户端今天上线，支持更多设备。",
                "published": "2024-05-01T09:00:00+08:00", "source": "测试"},
    "ud-chars": {"title": "周末见闻", "body": "她平时爱看电影，家里换了4K电视。",
                 "published": "2024-05-02T09:00:00+08:00", "source": "测试"},
}


def _hits(srv, q):
    """[(id, full match?)] of a search for ``q``."""
    status, data = srv.json(f"/api/search?q={urllib.parse.quote(q)}&group=0&correct=0&size=10")
    assert status == 200, data
    return [(h["id"], h["match"]["full"]) for h in data["hits"]]


def _indexed_as_word(live, word):
    """Ids of the articles whose title words, as indexed, hold ``word``
    (read from the index itself: the Whoosh directory, or the cluster)."""
    if live["backend"] == "whoosh":
        from whoosh.query import Term

        from search.backends.whoosh import store

        with store.open_index(live["index"]).searcher() as searcher:
            return sorted(hit["id"] for hit in searcher.search(Term("title_w", word), limit=None))
    from opensearchpy import OpenSearch

    client = OpenSearch(URL, timeout=60)
    client.indices.refresh(index=live["index"])
    res = client.search(index=live["index"], body={"query": {"term": {"title_w": word}}, "size": 100})
    return sorted(hit["_id"] for hit in res["hits"]["hits"])


def _userdict_done(srv, version_before):
    """/healthz's user dictionary part once the writer is on a new version and done, else None."""
    part = srv.json("/healthz")[1].get("userdict") or {}
    if part.get("version") not in (None, version_before) and not part.get("reindexing"):
        return part
    return None


def test_a_user_dictionary_word_added_and_removed_while_serving(live):
    """A line added to the user dictionary while the service runs: every
    worker and the writer re-read it; the writer re-indexes the article
    holding the word (/healthz: done 1 of 1), which then ranks first, the
    article with the same characters apart (爱看电影…4K电视) only as a
    partial match; the article is found at every moment in between.  Removing the word re-indexes it
    again."""
    srv, userdict = live["server"], live["userdict"]
    for doc_id, record in WORD_ARTICLES.items():
        assert put(srv, doc_id, record)["status"] == "indexed"
    before = _hits(srv, "爱看4K")
    assert before == [("ud-word", True), ("ud-chars", True)]  # 爱看 and 4K: two words, both there
    start = srv.json("/healthz")[1]["userdict"]
    assert start["reindexing"] is False and start["pending_words"] == []
    assert _indexed_as_word(live, "爱看4k") == []  # cut as 爱看 / 4k

    userdict.write_text("# the newsroom's words\n爱看4K 100 nz\n", encoding="utf-8")
    seen = []

    def reindexed():
        seen.append(_hits(srv, "爱看4K"))  # found at every moment of the change
        return _userdict_done(srv, start["version"])

    done = poll(reindexed, 30)
    assert done is not None, srv.json("/healthz")[1]
    assert (done["done"], done["total"], done["pending_words"]) == (1, 1, [])
    assert all(hits and hits[0] == ("ud-word", True) for hits in seen), seen
    assert _indexed_as_word(live, "爱看4k") == ["ud-word"]  # re-indexed: the new word is a term
    after = _hits(srv, "爱看4K")  # one word now: the other article is at most a partial match
    assert after[0] == ("ud-word", True) and ("ud-chars", True) not in after, after
    assert _hits(srv, '"爱看4K客户端"') == [("ud-word", True)]  # a phrase across the new word

    # Taken out again: the article is cut without it, and still found first.
    userdict.write_text("# the newsroom's words\n", encoding="utf-8")
    again = poll(lambda: _userdict_done(srv, done["version"]), 30)
    assert again is not None and (again["done"], again["total"]) == (1, 1), srv.json("/healthz")[1]
    assert again["version"] == start["version"]  # the same file content: the same version
    assert _indexed_as_word(live, "爱看4k") == []
    # The writer's commit reaches each worker within its refresh interval
    # (SEARCH_REFRESH_INTERVAL 0.5 s here): /healthz may say "done" first.
    # Every worker: three searches in a row (the workers take turns) agree.
    expected = [("ud-word", True), ("ud-chars", True)]
    assert poll(lambda: all(_hits(srv, "爱看4K") == expected for _ in range(3)), 10), _hits(srv, "爱看4K")


def test_an_index_cut_with_the_old_dictionary_still_finds_a_new_word(tmp_path):
    """Before the writer has re-indexed, a worker with the new dictionary
    searches an index cut without it: the new word still finds its
    article (as the text of its characters), first and fully."""
    from indexer import pipeline
    from search.engine import SearchEngine
    from search.models import SearchRequest

    index = str(tmp_path / "ix")
    records = [dict(r, id=i) for i, r in WORD_ARTICLES.items()]
    pipeline.build(index, [write_jsonl(tmp_path / "a.jsonl", records)], workers=1, progress=False)
    userdict = tmp_path / "userdict.txt"
    userdict.write_text("爱看4K 100 nz\n", encoding="utf-8")
    engine = SearchEngine.open(index, userdict_path=str(userdict), refresh_interval=0)
    result = engine.search(SearchRequest(q="爱看4K", facets=(), correct=False))
    assert [(h.id, h.match["full"]) for h in result.hits] == [("ud-word", True), ("ud-chars", False)]
    result = engine.search(SearchRequest(q='"爱看4K客户端"', facets=(), correct=False))
    assert [h.id for h in result.hits] == ["ud-word"]


def test_pending_words_are_searched_as_the_word_and_as_its_characters(tmp_path):
    """While the index may hold articles cut either way (a word added to or
    removed from the user dictionary and not yet re-indexed), the query
    searches the word or the phrase of its characters: an index cut WITH
    the word, queried by a worker WITHOUT it (a word just removed), still
    finds the article first and fully; without the pending word it would
    not (the Latin part 4k is no word of that article)."""
    from indexer import pipeline
    from search.engine import SearchEngine
    from search.models import SearchRequest

    userdict = tmp_path / "userdict.txt"
    userdict.write_text("爱看4K 100 nz\n", encoding="utf-8")
    index = str(tmp_path / "ix")
    records = [dict(r, id=i) for i, r in WORD_ARTICLES.items()]
    pipeline.build(index, [write_jsonl(tmp_path / "a.jsonl", records)], userdict=str(userdict), workers=1,
                   progress=False)
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    engine = SearchEngine.open(index, userdict_path=str(empty), refresh_interval=0)
    request = SearchRequest(q="爱看4K", facets=(), correct=False)
    assert ("ud-word", True) not in [(h.id, h.match["full"]) for h in engine.search(request).hits]
    engine.index_userdict = lambda: (("爱看4k",), (), None)  # the index was cut with the word (stored normalised)
    assert engine.pending_words() == frozenset({"爱看4k"})
    hits = [(h.id, h.match["full"]) for h in engine.search(request).hits]
    assert hits[0] == ("ud-word", True), hits


def test_a_restarted_writer_resumes_the_re_index(tmp_path):
    """The writer records in the store which dictionary the index was cut
    with and how far a re-index got: a writer stopped after one article of
    three (a new process would start the same way) goes on from there
    instead of forgetting or starting over."""
    from indexer.article_store import ArticleStore
    from indexer.userdict_reindex import progress, read_state
    from indexer.writer import IndexWriter

    userdict = tmp_path / "userdict.txt"
    userdict.write_text("", encoding="utf-8")
    index, store_path = str(tmp_path / "ix"), str(tmp_path / "articles.sqlite")
    store = ArticleStore(store_path)
    records = [{"id": f"tv-{i}", "title": f"爱看4K第{i}期", "body": "新版客户端上线。", "published": "2024-05-01"}
               for i in range(3)] + [{"id": "other", "title": "周末见闻", "body": "家里换了电视。",
                                      "published": "2024-05-02"}]
    store.put(records)
    writer = IndexWriter(index, store, userdict=str(userdict))
    writer.userdict.batch = 1
    writer.drain()
    assert read_state(store) == {"version": writer.userdict.segmenter.version, "words": [], "reindex": None}

    userdict.write_text("爱看4K 100 nz\n", encoding="utf-8")
    writer.userdict.segmenter.check(force=True)
    deadline = time.monotonic() + 20
    while (progress(store)["done"] or 0) < 1 and time.monotonic() < deadline:
        writer.step()
        time.sleep(0.02)
    state = read_state(store)
    assert state["reindex"]["words"] == ["爱看4k"] and (state["reindex"]["done"], state["reindex"]["total"]) == (1, 3)
    writer.close()

    again = IndexWriter(index, ArticleStore(store_path), userdict=str(userdict))
    again.userdict.batch = 1
    steps = []
    deadline = time.monotonic() + 20
    while progress(store)["reindexing"] and time.monotonic() < deadline:
        again.step()
        steps.append(progress(store)["done"])
        time.sleep(0.02)
    again.close()
    assert progress(store) == {"version": state["reindex"]["target"], "pending_words": [], "reindexing": False,
                               "done": 3, "total": 3}
    assert [n for n in dict.fromkeys(steps)] == [1, 2, 3]  # resumed at 1 of 3, not from 0


def test_a_user_dictionary_that_cannot_be_read_keeps_the_last_good_one(tmp_path):
    """A bad line saved while serving: the segmenter keeps cutting with the
    last good dictionary and says why (shown by /healthz); fixed, it loads."""
    from search.analysis import Analyzer
    from search.segmenter import Segmenter

    path = tmp_path / "userdict.txt"
    path.write_text("爱看4K 100 nz\n", encoding="utf-8")
    seg = Segmenter(str(path))
    words = Analyzer(seg).query_words("爱看4k客户端")
    assert "爱看4k" in words and seg.error is None
    path.write_text("爱看4K 100 nz\n坏 行 多 了\n", encoding="utf-8")
    assert seg.check(force=True) is False
    assert "line 2" in seg.error or ":2:" in seg.error, seg.error
    assert Analyzer(seg).query_words("爱看4k客户端") == words
    path.write_text("爱看4K 100 nz\n客户端上线 50\n", encoding="utf-8")
    assert seg.check(force=True) is True and seg.error is None and seg.user_words == ["爱看4K", "客户端上线"]
