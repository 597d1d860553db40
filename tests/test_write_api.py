"""The write API end to end: real article store, the real single writer
(in a thread here; gunicorn runs it as a process), a real index, searched
through the app right after each write."""

import json
import threading
import time
from urllib.parse import quote

import pytest

from conftest import STAFF, STAFF_TOKEN, digest, validated, write_jsonl


@pytest.fixture
def live(tmp_path, sample_records):
    from indexer import pipeline
    from indexer.article_store import ArticleStore
    from indexer.writer import IndexWriter
    from web import create_app

    index = str(tmp_path / "index")
    seed = write_jsonl(tmp_path / "seed.jsonl", sample_records[:100])
    pipeline.build(index, [seed], workers=1, progress=False)
    store_path = str(tmp_path / "articles.sqlite")
    config = {"SEARCH_INDEX": index, "SEARCH_ARTICLE_STORE": store_path, "SEARCH_QUERY_LOG": "off",
              "SEARCH_WRITE_TOKENS": (digest(STAFF_TOKEN),), "SEARCH_REFRESH_INTERVAL": 0.0,
              "SEARCH_WRITE_WAIT": 10.0, "MAX_CONTENT_LENGTH": 2 * 2**20, "SEARCH_RATE_LIMIT": "off"}
    app = create_app(config)
    writer = IndexWriter(index, ArticleStore(store_path), regroup_interval=0.0)
    stop = threading.Event()
    thread = threading.Thread(target=writer.run, kwargs={"stop": stop, "poll": 0.02}, daemon=True)
    thread.start()
    yield {"client": app.test_client(), "index": index, "store": store_path, "config": config, "writer": writer,
           "seed": seed}
    stop.set()
    thread.join(30)


def ids_for(client, phrase):
    data = client.get(f"/api/search?q={quote(chr(34) + phrase + chr(34))}&size=100&group=0&correct=0").get_json()
    return [h["id"] for h in data["hits"]]


def article(sample_records, i, new_id):
    r = dict(sample_records[i])
    r["id"] = new_id
    return r


def test_writes_need_a_valid_token(live, sample_records):
    c = live["client"]
    body = article(sample_records, 500, "w-1")
    resp = c.put("/api/articles/w-1", json=body)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert c.put("/api/articles/w-1", json=body, headers={"Authorization": "Bearer nope"}).status_code == 403
    assert c.delete("/api/articles/" + sample_records[0]["id"]).status_code == 401
    assert c.post("/api/articles:bulk", data="{}").status_code == 401
    from web import create_app

    disabled = create_app({**live["config"], "SEARCH_WRITE_TOKENS": ()}).test_client()
    resp = disabled.put("/api/articles/w-1", json=body, headers=STAFF)
    assert resp.status_code == 403 and "disabled" in resp.get_json()["error"]


def test_put_replace_delete_show_up_in_search(live, sample_records):
    c = live["client"]
    body = article(sample_records, 500, "w-2")
    body["title"] = "编辑部测试稿件甲乙丙 " + body["title"]
    resp = c.put("/api/articles/w-2", json=body, headers=STAFF)
    assert resp.status_code == 201 and resp.get_json()["status"] == "indexed"
    assert "w-2" in ids_for(c, "编辑部测试稿件甲乙丙")  # searchable as soon as acknowledged
    body["title"] = "更正后的标题丁戊己"
    assert c.put("/api/articles/w-2", json=body, headers=STAFF).status_code == 200
    assert ids_for(c, "更正后的标题丁戊己") == ["w-2"] and "w-2" not in ids_for(c, "编辑部测试稿件甲乙丙")
    assert c.get("/api/articles/w-2").get_json()["title"] == "更正后的标题丁戊己"
    # Withdrawn: gone from search, the article API and every related list.
    victim = sample_records[3]["id"]
    assert c.delete("/api/articles/" + victim, headers=STAFF).status_code == 200
    assert c.get("/api/articles/" + victim).status_code == 404
    assert victim not in ids_for(c, sample_records[3]["title"][:8])
    for r in sample_records[:20]:
        related = c.get(f"/api/articles/{quote(r['id'])}/related?size=20").get_json().get("hits", [])
        assert victim not in [h["id"] for h in related]
    assert c.delete("/api/articles/no-such-id", headers=STAFF).status_code == 404


def test_validation_lists_every_bad_field(live):
    resp = live["client"].put("/api/articles/w-3", headers=STAFF,
                              json={"body": "正文", "published": "昨天", "tags": "不是列表", "source": 5})
    assert resp.status_code == 400
    errors = resp.get_json()["errors"]
    assert len(errors) == 4 and any("title" in e for e in errors) and any("published" in e for e in errors)
    assert any("tags" in e for e in errors) and any("source" in e for e in errors)
    resp = live["client"].put("/api/articles/w-3", headers=STAFF, json={"id": "other", "title": "标题"})
    assert resp.status_code == 400 and "differs" in resp.get_json()["errors"][0]
    resp = live["client"].put("/api/articles/w-3", headers=STAFF, data="not json", content_type="application/json")
    assert resp.status_code == 400


def test_a_misspelt_field_is_refused_and_other_fields_are_named(live):
    client = live["client"]
    resp = client.put("/api/articles/w-typo", headers=STAFF,
                      json={"title": "标题", "publshed": "2024-01-01", "catgory": "财经"})
    assert resp.status_code == 400
    assert resp.get_json()["errors"] == ["unknown field 'catgory' (did you mean 'category'?)",
                                         "unknown field 'publshed' (did you mean 'published'?)"]
    assert client.get("/api/articles/w-typo").status_code == 404  # nothing stored
    for typo, meant in (("auther", "author"), ("titel", "title"), ("bdoy", "body"), ("lnag", "lang"),
                        ("ulr", "url"), ("Author", "author"), ("TAGS", "tags"), ("ａｕｔｈｏｒ", "author"),
                        ("photo_credit", "photo_credits"), ("author ", "author")):
        resp = client.put("/api/articles/w-typo", headers=STAFF, json={"title": "标题", "author": "甲", typo: "乙"}
                          if typo != "titel" else {typo: "标题"})
        assert resp.status_code == 400, typo
        assert f"unknown field {typo!r} (did you mean {meant!r}?)" in resp.get_json()["errors"], typo
    # A CMS's own fields are not misspellings: stored without them, and named.
    resp = client.put("/api/articles/w-cms", headers=STAFF,
                      json={"title": "标题", "body": "正文。", "categories": ["财经"], "origin_file": "x.json"})
    assert resp.status_code == 201 and resp.get_json()["ignored_fields"] == ["categories", "origin_file"]
    resp = client.post("/api/articles:bulk", headers=STAFF, data='{"id": "b-1", "title": "甲", "archived_at": 1}\n'
                       '{"id": "b-2", "title": "乙", "publshed": "2024-01-01"}\n')
    body = resp.get_json()
    assert (body["accepted"], body["ignored_fields"]) == (1, ["archived_at"])
    assert body["rejected"] == [{"line": 2, "id": "b-2",
                                 "errors": ["unknown field 'publshed' (did you mean 'published'?)"]}]


@pytest.mark.parametrize("kind", ["text/html", "multipart/form-data", "application/xml"])
def test_a_body_that_says_it_is_not_json_is_a_415(live, kind):
    for method, url in (("PUT", "/api/articles/w-html"), ("POST", "/api/articles:bulk")):
        resp = live["client"].open(url, method=method, headers={**STAFF, "Content-Type": kind},
                                   data='{"title": "标题"}')
        assert resp.status_code == 415 and "must be JSON" in resp.get_json()["error"], (method, kind)
    # curl -d sends application/x-www-form-urlencoded unless told otherwise: read as JSON.
    resp = live["client"].put("/api/articles/w-curl", headers={**STAFF, "Content-Type":
                                                             "application/x-www-form-urlencoded"},
                              data='{"title": "标题", "body": "正文。"}')
    assert resp.status_code == 201


def test_bulk_keeps_the_good_lines_and_reports_the_bad(live, sample_records):
    good = [article(sample_records, 600 + i, f"b-{i}") for i in range(3)]
    lines = [json.dumps(good[0], ensure_ascii=False), "{broken", json.dumps(good[1], ensure_ascii=False),
             json.dumps({"id": "b-x", "title": ""}), json.dumps(good[2], ensure_ascii=False)]
    resp = live["client"].post("/api/articles:bulk", data="\n".join(lines), headers=STAFF,
                               content_type="application/x-ndjson")
    data = resp.get_json()
    assert resp.status_code == 200 and data["accepted"] == 3 and data["status"] == "indexed"
    assert [r["line"] for r in data["rejected"]] == [2, 4] and data["rejected"][1]["id"] == "b-x"
    for g in good:
        assert live["client"].get("/api/articles/" + g["id"]).status_code == 200
    big = "\n".join([json.dumps(good[0], ensure_ascii=False)] * 3000)
    assert live["client"].post("/api/articles:bulk", data=big, headers=STAFF).status_code == 413


def test_queued_answer_and_status_url(live, sample_records, openapi):
    from web import create_app

    impatient = create_app({**live["config"], "SEARCH_WRITE_WAIT": 0.0}).test_client()
    resp = impatient.put("/api/articles/w-4", json=article(sample_records, 700, "w-4"), headers=STAFF)
    if resp.status_code == 202:  # the writer may already have been faster
        assert resp.headers["Location"] == resp.get_json()["status_url"]
    seq = resp.get_json()["seq"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status = impatient.get(f"/api/changes/{seq}", headers=STAFF).get_json()
        if status["status"] == "indexed":
            break
        time.sleep(0.05)
    assert status["status"] == "indexed" and status["backlog"] == 0
    assert impatient.get(f"/api/changes/{seq + 100}", headers=STAFF).status_code == 404


def test_store_is_the_source_of_truth(live, sample_records, tmp_path):
    """The index can be rebuilt from the store alone and holds exactly its articles."""
    from indexer import pipeline
    from indexer.article_store import ArticleStore
    from search.engine import SearchEngine

    c = live["client"]
    c.post("/api/articles:bulk", headers=STAFF,
           data="\n".join(json.dumps(article(sample_records, 800 + i, f"s-{i}"), ensure_ascii=False) for i in range(5)))
    c.delete("/api/articles/s-2", headers=STAFF)
    store = ArticleStore(live["store"])
    records = list(store.records())
    assert sorted(r["id"] for r in records) == ["s-0", "s-1", "s-3", "s-4"]
    rebuilt = str(tmp_path / "rebuilt")
    pipeline.build(rebuilt, [write_jsonl(tmp_path / "dump.jsonl", records)], workers=1, progress=False)
    assert SearchEngine.open(rebuilt, synonyms_path=None, blocklist_path=None).stats().documents == 4


def test_cli_hands_its_work_to_the_running_writer(live, sample_records, tmp_path):
    from indexer.cli import main

    src = write_jsonl(tmp_path / "more.jsonl", [article(sample_records, 900 + i, f"cli-{i}") for i in range(4)]
                      + ["{not json"])
    assert main(["build", "--index", live["index"], "--store", live["store"], "--no-progress", src]) == 0
    for i in range(4):  # committed by the writer, not by a second Whoosh writer
        resp = live["client"].get(f"/api/articles/cli-{i}")
        assert resp.status_code == 200, resp.get_data(as_text=True)


def test_write_endpoints_are_documented(live, openapi):
    spec = live["client"].get("/api/openapi.json").get_json()
    assert {"put", "delete", "get"} <= set(spec["paths"]["/api/articles/{id}"])
    assert spec["paths"]["/api/articles:bulk"]["post"]["security"] == [{"bearer": []}]
    validated(live["client"], openapi, "/api/articles/" + "no-such", status=404)


def test_merges_keep_changes_made_while_they_run(tmp_path, sample_records):
    """Small segments are merged in the background; an article corrected or
    withdrawn while the merge runs keeps its newest state."""
    from indexer import pipeline
    from indexer.article_store import ArticleStore
    from indexer.writer import IndexWriter
    from search.engine import SearchEngine
    from search.models import SearchRequest

    index = str(tmp_path / "index")
    pipeline.build(index, [write_jsonl(tmp_path / "seed.jsonl", sample_records[:50])], workers=1, progress=False)
    store = ArticleStore(str(tmp_path / "articles.sqlite"))
    writer = IndexWriter(index, store, regroup_interval=3600, merge_at=4, merge_max_docs=100)
    try:
        for i in range(4):  # four one-article segments (plus the seed's): a merge starts
            store.put([dict(sample_records[100 + i], id=f"m-{i}")])
            writer.step()
        assert writer.target.merging
        writer.target._merge.wait()  # the merge is done but not swapped in yet
        store.put([dict(sample_records[100], id="m-0", title="合并期间更正的标题")])
        store.delete(["m-1", sample_records[0]["id"]])
        writer.step()  # applies the changes and swaps the merge in
        writer.drain()
        assert writer.target.merges == 1
        segs = writer.target.session.segments
        assert len(segs) < 6 and sum(s.doc_count() for s in segs) == 50 + 4 - 2
    finally:
        writer.close()
    engine = SearchEngine.open(index, refresh_interval=0, synonyms_path=None, blocklist_path=None)
    assert engine.stats().documents == 52
    assert engine.get("m-0")["title"] == "合并期间更正的标题"
    assert engine.get("m-1") is None and engine.get(sample_records[0]["id"]) is None
    assert engine.get("m-2") is not None and engine.get(sample_records[1]["id"]) is not None
    hits = engine.search(SearchRequest(q='"合并期间更正的标题"', group=False)).hits
    assert [h.id for h in hits] == ["m-0"]


def test_withdrawn_article_leaves_the_suggestions(live, sample_records):
    """A headline word only a withdrawn article had (in its title or body)
    is no longer suggested."""
    from search.segmenter import get_segmenter

    c = live["client"]
    engine = c.application.extensions["search_engine"].get()
    engine.suggester.get(wait=60)
    view_words = engine.backend.vocabulary("title")
    target = None
    for r in sample_records[:100]:
        for word, _, _ in get_segmenter().cut(r["title"]):
            if (len(word) >= 2 and view_words.get(word) == 1 and engine.backend.doc_frequency(word) == 1
                    and engine.suggest(word[:-1], 20).count(word)):
                target = (r["id"], word)
                break
        if target:
            break
    assert target, "a headline word of one article that is suggested"
    doc_id, word = target
    assert c.delete("/api/articles/" + quote(doc_id), headers=STAFF).status_code == 200
    assert word not in c.get(f"/api/suggest?q={quote(word[:-1])}&size=20").get_json()["suggestions"]


def test_rebuild_from_the_store_while_serving(live, sample_records, capsys):
    """The index is derived: rebuilt from the store into a new directory and
    swapped in while the app serves; writes go on afterwards."""
    import os

    from indexer.cli import main

    c = live["client"]
    lines = "\n".join(json.dumps(article(sample_records, 1000 + i, f"r-{i}"), ensure_ascii=False) for i in range(20))
    assert c.post("/api/articles:bulk", data=lines, headers=STAFF).status_code == 200
    assert c.delete("/api/articles/r-3", headers=STAFF).status_code == 200
    seed = sample_records[10]["id"]  # indexed from a file, never given to the store
    assert c.get(f"/api/articles/{quote(seed)}").status_code == 200
    # The store lacks the 100 articles indexed from the file: a rebuild from
    # it would drop them, so it is refused and nothing changes.
    capsys.readouterr()
    assert main(["rebuild", "--index", live["index"], "--store", live["store"]]) == 2
    assert "holds 100 articles that the article store" in capsys.readouterr().err
    assert c.get("/healthz").get_json()["documents"] == 119 and live["writer"].rebuilds == 0
    # Imported into the store (through the running writer), they are kept.
    assert main(["build", "--index", live["index"], "--store", live["store"], "--no-progress", live["seed"]]) == 0
    assert main(["rebuild", "--index", live["index"], "--store", live["store"]]) == 0
    assert os.path.islink(live["index"])  # a new build directory, switched atomically
    assert live["writer"].rebuilds == 1
    health = c.get("/healthz").get_json()
    assert health["documents"] == 119 and health["writer_running"]
    assert c.get("/api/articles/r-0").status_code == 200 and c.get("/api/articles/r-3").status_code == 404
    assert c.get(f"/api/articles/{quote(seed)}").status_code == 200
    resp = c.put("/api/articles/r-99", json=article(sample_records, 1100, "r-99"), headers=STAFF)
    assert resp.status_code == 201 and c.get("/healthz").get_json()["documents"] == 120


def test_copies_written_last_are_grouped_without_another_write(live, sample_records):
    """The writer publishes a finished regrouping while idle: three copies of
    one story written in one bulk upload, and nothing after, are one group."""
    c = live["client"]
    texts = [r["title"] + "\n" + r.get("body", "") for r in sample_records]
    # a story whose headline appears in no other article (brute force over the records)
    n = next(i for i in range(600, 2000) if len(sample_records[i]["title"]) >= 8
             and sum(sample_records[i]["title"] in t for t in texts) == 1)
    original = sample_records[n]
    lines = "\n".join(json.dumps(article(sample_records, n, f"copy-{i}"), ensure_ascii=False) for i in range(3))
    resp = c.post("/api/articles:bulk", data=lines.encode(), headers=STAFF)
    assert resp.status_code == 200 and resp.get_json()["accepted"] == 3
    phrase = original["title"]
    url = f"/api/search?q={quote(chr(34) + phrase + chr(34))}&size=10&correct=0"
    assert sorted(ids_for(c, phrase)) == ["copy-0", "copy-1", "copy-2"]
    deadline = time.monotonic() + 20
    while c.get(url + "&group=1").get_json()["total"] != 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    grouped = c.get(url + "&group=1").get_json()
    assert grouped["total"] == 1 and c.get(url + "&group=0").get_json()["total"] == 3, grouped


def test_a_byte_order_mark_is_ignored_and_a_compressed_body_named(live, sample_records):
    """Bodies from Windows tools start with a UTF-8 BOM: read as the JSON
    after it (PUT and bulk, line numbers unchanged); a gzip body is a 415
    naming the coding, not "not UTF-8"."""
    import gzip

    c = live["client"]
    body = "\ufeff" + json.dumps(article(sample_records, 700, "bom-1"), ensure_ascii=False)
    resp = c.put("/api/articles/bom-1", data=body.encode("utf-8"),
                 headers={**STAFF, "Content-Type": "application/json"})
    assert resp.status_code == 201, resp.get_json()
    assert c.get("/api/articles/bom-1").get_json()["title"] == sample_records[700]["title"]
    lines = "\ufeff" + "\n".join(json.dumps(article(sample_records, 701 + i, f"bom-{i + 2}"), ensure_ascii=False)
                                 for i in range(2)) + "\n{bad"
    resp = c.post("/api/articles:bulk", data=lines.encode("utf-8"), headers=STAFF)
    data = resp.get_json()
    assert resp.status_code == 200 and data["accepted"] == 2 and [r["line"] for r in data["rejected"]] == [3]
    packed = gzip.compress(json.dumps(article(sample_records, 705, "gz-1")).encode())
    for path, method in (("/api/articles/gz-1", c.put), ("/api/articles:bulk", c.post)):
        resp = method(path, data=packed, headers={**STAFF, "Content-Type": "application/json",
                                                   "Content-Encoding": "gzip"})
        assert resp.status_code == 415 and "Content-Encoding 'gzip' is not supported" in resp.get_json()["error"]
    assert c.get("/api/articles/gz-1").status_code == 404


def test_the_index_opens_and_refreshes_while_the_writer_commits(tmp_path, sample_records):
    """A reader opening or refreshing the index while the writer commits and
    cleans older generations (their table of contents and merged-away
    segments vanish between listing and reading) reads the newer commit:
    never an error, never "damaged"."""
    from indexer import pipeline
    from indexer.article_store import ArticleStore
    from indexer.writer import IndexWriter
    from search.backends.whoosh.backend import WhooshBackend

    index = str(tmp_path / "index")
    pipeline.build(index, [write_jsonl(tmp_path / "seed.jsonl", sample_records[:40])], workers=1, progress=False)
    store = ArticleStore(str(tmp_path / "articles.sqlite"))
    writer = IndexWriter(index, store, regroup_interval=0.0, merge_at=3, merge_max_docs=100)
    stop = threading.Event()

    def write():
        i = 0
        while not stop.is_set():
            store.put([article(sample_records, 40 + i % 200, f"churn-{i % 20}")])
            writer.drain()
            i += 1

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        refreshing = WhooshBackend(index, refresh_interval=0)
        for _ in range(150):
            fresh = WhooshBackend(index, refresh_interval=0)
            assert fresh.view.n_all >= 40
            refreshing.refresh(force=True)
            assert refreshing.view.n_all >= 40
            for backend in (fresh, refreshing):
                backend.check()  # no false damage
    finally:
        stop.set()
        thread.join(30)
        writer.close()
    assert writer.commits > 20, writer.commits


def test_post_page_answers_as_documented(live, openapi):
    """POST /api/pages: a page -> 201 indexed, no article -> 400, JSON -> 415, each answer
    valid against the OpenAPI description."""
    from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    story = "".join(f"<p>{p}</p>" for p in (
        "河西新区第三座图书馆今天开馆，馆内藏书二十万册，设有儿童阅览区和自习室，周末开放到晚上九点。",
        "区文化局介绍，图书馆与全市公共图书馆通借通还，市民持身份证即可办理借阅证。"))
    page = (f"<html><head><meta charset='utf-8'><title>河西新区第三座图书馆开馆</title>"
            f"<link rel='canonical' href='https://news.example.cn/culture/library.html'></head>"
            f"<body><article><h1>河西新区第三座图书馆开馆</h1>{story}</article></body></html>")
    cases = [(page, "text/html; charset=utf-8", 201), ("<html><body><nav>首页</nav></body></html>", "text/html", 400),
             ('{"title": "x"}', "application/json", 415)]
    for body, ctype, status in cases:
        resp = live["client"].post("/api/pages", data=body.encode("utf-8"), headers={**STAFF, "Content-Type": ctype})
        assert resp.status_code == status, resp.get_json()
        req = Request(EnvironBuilder(path="/api/pages", method="POST", data=body.encode("utf-8"), content_type=ctype,
                                     base_url="http://localhost").get_environ())
        openapi.validate_response(WerkzeugOpenAPIRequest(req), WerkzeugOpenAPIResponse(resp))
    assert ids_for(live["client"], "第三座图书馆") == ["news.example.cn/culture/library.html"]
