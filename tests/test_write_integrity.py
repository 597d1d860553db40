"""Issue 15, items 1-4, 10 (write API), 11, 13 and 19 (audit log, backup and
restore): one real gunicorn with its real writer process serves a small
index with the per-index default store and query log; every example is a
real HTTP request, a real SQLite file or a real CLI process."""

import json
import os
import sqlite3
import subprocess
import sys
import urllib.parse

import pytest

from conftest import ROOT, STAFF, STAFF_TOKEN, Server, call, call_json, digest, write_jsonl

PY = sys.executable
JSON = {**STAFF, "Content-Type": "application/json"}
PRINCIPAL = "token:" + digest(STAFF_TOKEN)[:12]


def cli(*args, env=None):
    e = dict(os.environ, PYTHONPATH=ROOT)
    e.pop("SEARCH_ARTICLE_STORE", None)
    e.update(env or {})
    return subprocess.run([PY, "-m", "indexer", *args], capture_output=True, text=True, cwd=ROOT, env=e, timeout=300)


def legacy_doc(index, doc_id, title):
    """An article indexed under an id that breaks today's rule (as versions
    before the rule wrote them), bypassing the rule."""
    from search.analysis import Analyzer
    from search.backends.whoosh import store as S
    from search.backends.whoosh.segwriter import write_segment
    from search.documents import prepare
    from search.models import Article
    from search.segmenter import get_segmenter

    session = S.WriteSession(index)
    doc = prepare(Article(id=doc_id, title=title, body=title + "。正文。"), Analyzer(get_segmenter(None)))
    session.add_segment(write_segment(session.storage, S.INDEXNAME, session.schema, [doc]))
    session.commit()
    session.close()


@pytest.fixture(scope="module")
def svc(tmp_path_factory, sample_records):
    from indexer import pipeline

    tmp = tmp_path_factory.mktemp("integrity")
    index = str(tmp / "news")
    pipeline.build(index, [write_jsonl(tmp / "seed.jsonl", sample_records[:40])], workers=1, progress=False)
    legacy_doc(index, " ghost2", "幽灵稿件乙号测试")
    # the per-index default store, holding the legacy id as earlier versions stored it
    store = index + ".articles.sqlite"
    from indexer.article_store import ArticleStore

    ArticleStore(store)
    with sqlite3.connect(store) as c:
        c.execute("INSERT INTO articles (id, record, updated) VALUES (?, ?, 0)",
                  (" ghost2", json.dumps({"id": " ghost2", "title": "幽灵稿件乙号测试"})))
    # SEARCH_ARTICLE_STORE / SEARCH_QUERY_LOG empty: the defaults beside the index.
    s = Server(index, workers=2, extra_env={
        "SEARCH_ARTICLE_STORE": "", "SEARCH_QUERY_LOG": "", "SEARCH_WRITE_TOKENS": digest(STAFF_TOKEN),
        "SEARCH_WRITE_WAIT": "20", "SEARCH_REFRESH_INTERVAL": "30"})
    assert s.wait_for_writer()
    yield {"server": s, "index": index, "store": store, "tmp": tmp, "records": sample_records}
    s.stop()


def req(svc, method, path, body=None, headers=JSON):
    return call_json(svc["server"].url + path, method, body, headers)


def put(svc, doc_id, record, quote=True):
    path = "/api/articles/" + (urllib.parse.quote(doc_id, safe="") if quote else doc_id)
    return req(svc, "PUT", path, json.dumps(record, ensure_ascii=False))


def rec(svc, i, title=None):
    r = {k: v for k, v in svc["records"][100 + i].items() if k != "id"}
    if title:
        r["title"] = title
    return r


# ---- item 1: one id rule ------------------------------------------------------
VALID = ["a-1", "abc/def", "https://example.com/news/2024/03/a.html?id=7#top", "新闻-2024-001", "a.b", "..a",
         "v1.0/x", "x/relatedness", "100"]
INVALID = [" ghost1", "ghost1 ", "\u3000ghost", "gh ost", "ghost\t", ".", "..", "a/..", "./a", "a/./b",
           "x/related", "x/coverage", "a\ufffd", "\ud800", "", "x" * 201, "/a", "a\u200bb", "a\x00b"]


def test_the_id_rule(sample_records):
    from indexer import ids
    from indexer.records import RecordError, to_article

    assert [v for v in VALID if ids.problem(v)] == []
    assert [v for v in INVALID if ids.problem(v) is None] == []
    assert all(ids.is_valid(r["id"]) for r in sample_records)  # every id the project already has
    for bad in INVALID:
        with pytest.raises(RecordError, match="'id'|surrogate"):
            to_article({"id": bad, "title": "标题"})
    assert to_article({"id": 7, "title": "标题"}).id == "7"
    with pytest.raises(ids.InvalidId, match="without whitespace"):
        ids.check(" ghost1")


@pytest.mark.parametrize("path", ["%20ghost1", "ghost1%20", "%E3%80%80ghost1", "gh%20ost", "%FFghost",
                                  ".", "..", "a/..", "x/related", "x/coverage", "%2Fa", "a%E2%80%8Bb"])
def test_write_api_refuses_ids_breaking_the_rule(svc, path):
    status, data = put(svc, path, rec(svc, 0), quote=False)
    # bytes that are not UTF-8 are refused as a path before any id is read
    rule = "the URL path is not UTF-8" if path == "%FFghost" else "an id is 1 to 200 characters"
    assert status == 400 and rule in data["error"], (path, status, data)


def test_ids_keep_their_form_end_to_end(svc):
    """Padded ids were stripped by the index and kept raw by the store:
    now they are refused, and deleting a padded form of a live id is a 400
    that leaves the article searchable."""
    doc_id = "https://example.com/news/2024/ghost1.html"
    status, data = put(svc, doc_id, rec(svc, 1, "幽灵稿件甲号测试"))
    assert status == 201 and data["status"] == "indexed"
    status, data = req(svc, "GET", "/api/articles/" + doc_id)
    assert status == 200 and data["id"] == doc_id
    status, data = req(svc, "DELETE", "/api/articles/%20" + urllib.parse.quote(doc_id, safe=""))
    assert status == 400 and "id" in data["error"]
    status, data = req(svc, "GET", "/api/search?q=" + urllib.parse.quote('"幽灵稿件甲号测试"'))
    assert [h["id"] for h in data["hits"]] == [doc_id]
    # bulk lines with such ids are rejected by line, the rest stored
    good = {**rec(svc, 2), "id": "bulk-good-1"}
    body = "\n".join(json.dumps(x, ensure_ascii=False) for x in
                     [good, {**rec(svc, 3), "id": " bulk-pad"}, {**rec(svc, 4), "id": "a/.."},
                      {**rec(svc, 5), "id": 20240001}])
    status, data = req(svc, "POST", "/api/articles:bulk", body)
    assert status in (200, 202) and data["accepted"] == 2
    from indexer.article_store import ArticleStore

    assert ArticleStore(svc["store"]).get("20240001")["id"] == "20240001"  # a number id, stored as its string
    assert [(r["line"], "id" in r["errors"][0]) for r in data["rejected"]] == [(2, True), (3, True)]


def test_existing_ids_breaking_the_rule_are_listed_and_withdrawable(svc):
    """An id written before the rule is never dropped: `indexer stats`
    lists it (index and store), and withdrawing it removes it from both,
    so a rebuild from the store does not bring it back."""
    out = cli("stats", "--index", svc["index"], "--json", "--store", svc["store"])
    assert out.returncode == 0, out.stderr
    stats = json.loads(out.stdout)
    assert stats["invalid_ids"] == [" ghost2"] and stats["invalid_store_ids"] == [" ghost2"]
    text = cli("stats", "--index", svc["index"], "--store", svc["store"]).stdout
    assert "break the id rule" in text and "' ghost2'" in text
    status, data = req(svc, "DELETE", "/api/articles/%20ghost2")
    assert status == 200 and data["status"] == "indexed"
    status, data = req(svc, "GET", "/api/search?q=" + urllib.parse.quote('"幽灵稿件乙号测试"'))
    assert data["total"] == 0
    from indexer.article_store import ArticleStore

    assert ArticleStore(svc["store"]).get(" ghost2") is None
    assert json.loads(cli("stats", "--index", svc["index"], "--json", "--store", svc["store"]).stdout)[
        "invalid_ids"] == []
    status, data = req(svc, "DELETE", "/api/articles/%20ghost2")  # gone, and not an id: the rule
    assert status == 400


def test_jsonl_files_follow_the_id_rule(tmp_path):
    from indexer import pipeline

    src = tmp_path / "a.jsonl"
    src.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in [
        {"id": " padded", "title": "甲"}, {"id": "ok-1", "title": "乙"}, {"id": "x/related", "title": "丙"}]) + "\n",
        encoding="utf-8")
    messages = []
    summary = pipeline.build(str(tmp_path / "ix"), [str(src)], workers=1, progress=False, report=messages.append)
    assert (summary.added, summary.skipped) == (1, 2)
    assert any("a.jsonl:1" in m and "id" in m for m in messages) and any("a.jsonl:3" in m for m in messages)


def test_html_importer_ids_follow_the_rule(tmp_path):
    from indexer.html_pages import page_record
    from indexer.records import to_article

    with open(os.path.join(ROOT, "tests", "data", "news_page.html"), "rb") as f:
        page = f.read()
    record, problem = page_record(page, "news_page.html")
    assert problem is None and to_article(record).id == record["id"]  # a canonical URL, '/' and all


# ---- item 4: "indexed" means readable, in every worker ---------------------------
def test_read_your_own_write_in_every_worker(svc):
    """The workers refresh only every 30 s here: an acknowledged write is
    readable at once anyway, by whichever worker answers."""
    for n in range(12):
        doc_id = f"ryw-{n}"
        status, data = put(svc, doc_id, rec(svc, 10 + n, f"即写即读测试第{n}篇"))
        assert (status, data["status"]) == (201, "indexed")
        for _ in range(4):  # connections go to both workers (no keep-alive)
            status, got = req(svc, "GET", "/api/articles/" + doc_id)
            assert status == 200 and got["title"] == f"即写即读测试第{n}篇"
    status, data = req(svc, "DELETE", "/api/articles/ryw-0")
    assert (status, data["status"]) == (200, "indexed")
    for _ in range(4):
        assert req(svc, "GET", "/api/articles/ryw-0")[0] == 404


# ---- item 10 (write API) and 11 ----------------------------------------------------
def test_bodies_that_cannot_be_stored_are_400(svc):
    deep = "[" * 10000 + "]" * 10000
    status, data = req(svc, "PUT", "/api/articles/deep-1", '{"title": "深", "x": ' + deep + "}")
    assert status == 400 and "nested" in data["error"]
    status, data = req(svc, "PUT", "/api/articles/sur-1", '{"title": "代理\\ud800对"}')
    assert status == 400 and "surrogate" in data["error"]
    status, data = req(svc, "PUT", "/api/articles/sur-2", '{"title": "标题", "tags": ["\\udc00"]}')
    assert status == 400 and "surrogate" in data["error"]
    status, data = req(svc, "PUT", "/api/articles/bytes-1", b'{"title": "\xff\xfe"}')
    assert status == 400 and "UTF-8" in data["error"]


def test_one_bad_bulk_line_costs_only_itself(svc):
    """Lines end at \\n only: U+2028, U+2029, U+0085 and a lone \\r stay
    inside their line, and line numbers are the client's."""
    lines = [
        json.dumps({**rec(svc, 30), "id": "nl-1", "title": "分隔\u2028符一"}, ensure_ascii=False),
        '{"id": "nl-deep", "title": "深", "x": ' + "[" * 10000 + "]" * 10000 + "}",
        json.dumps({**rec(svc, 31), "id": "nl-2", "title": "分隔\u2029符二\u0085"}, ensure_ascii=False),
        '{"id": "nl-sur", "title": "\\ud800"}',
        json.dumps({**rec(svc, 32), "id": "nl-3"}, ensure_ascii=False).replace(', "title"', ',\r"title"', 1),
        "",
        '{"id": "nl-bad", "title": ',
    ]
    body = "\n".join(lines).encode("utf-8") + b'\n{"id": "nl-bytes", "title": "\xff"}\n'
    status, data = req(svc, "POST", "/api/articles:bulk", body)
    assert status in (200, 202), data
    assert data["accepted"] == 3
    assert [r["line"] for r in data["rejected"]] == [2, 4, 7, 8]
    assert "nested" in data["rejected"][0]["errors"][0] and "surrogate" in data["rejected"][1]["errors"][0]
    assert req(svc, "GET", "/api/articles/nl-1")[1]["title"] == "分隔\u2028符一"


def test_jsonl_files_split_lines_at_newline_only(tmp_path):
    from indexer.sources import read_jsonl

    src = tmp_path / "x.jsonl"
    src.write_bytes(("\n".join([
        json.dumps({"id": "f1", "title": "甲\u2028乙\u2029丙\u0085丁"}, ensure_ascii=False),
        '{"id": "f2",\r"title": "戊"}',
        '{"id": "f3", "title": "\\ud800"}',
        '{"id": "f4", "x": ' + "[" * 5000 + "]" * 5000 + "}",
        json.dumps({"id": "f5", "title": "己"}, ensure_ascii=False)]) + "\n").encode("utf-8"))
    raws = list(read_jsonl(str(src)))
    assert [(r.location.rsplit(":", 1)[1], r.data and r.data["id"]) for r in raws] == [
        ("1", "f1"), ("2", "f2"), ("3", "f3"), ("4", None), ("5", "f5")]
    assert raws[0].data["title"] == "甲\u2028乙\u2029丙\u0085丁" and "nested" in raws[3].error
    from indexer.records import RecordError, to_article

    with pytest.raises(RecordError, match="surrogate"):
        to_article(raws[2].data)  # skipped by the build with that reason, the other lines kept


def test_a_locked_store_is_503_with_retry_after(svc):
    """Another process holds the store's write lock: the write is refused
    with 503 + Retry-After (SEARCH_STORE_BUSY_TIMEOUT, 3 s), nothing stored;
    once the lock is gone the same write is accepted."""
    holder = sqlite3.connect(svc["store"], timeout=1, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        status, headers, body = _raw(svc, "PUT", "/api/articles/locked-1", json.dumps(rec(svc, 40)))
        assert status == 503 and int(headers["Retry-After"]) > 0
        assert "cannot commit" in json.loads(body)["error"]
        status, headers, body = _raw(svc, "POST", "/api/articles:bulk", json.dumps({**rec(svc, 41), "id": "locked-2"}))
        assert status == 503 and "Retry-After" in headers
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert put(svc, "locked-1", rec(svc, 40))[0] == 201


def _raw(svc, method, path, body):
    import urllib.error
    import urllib.request

    r = urllib.request.Request(svc["server"].url + path, data=body.encode(), method=method, headers=JSON)
    try:
        with urllib.request.urlopen(r, timeout=20) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


# ---- item 13: a comma inside a tag --------------------------------------------------
def test_a_comma_belongs_to_its_tag(svc):
    assert put(svc, "tag-1", {**rec(svc, 50), "tags": ["香港,选举"]})[0] == 201
    assert put(svc, "tag-2", {**rec(svc, 51), "tags": ["香港"]})[0] == 201
    q = "/api/search?group=0&size=50&tag="
    assert [h["id"] for h in req(svc, "GET", q + urllib.parse.quote("香港"))[1]["hits"]] == ["tag-2"]
    assert [h["id"] for h in req(svc, "GET", q + urllib.parse.quote("香港,选举"))[1]["hits"]] == ["tag-1"]
    assert req(svc, "GET", q + urllib.parse.quote("选举"))[1]["total"] == 0


def test_csv_tags_split_on_bar_only(tmp_path):
    from indexer.sources import read_csv

    src = tmp_path / "t.csv"
    src.write_text('id,title,tags\nc1,标题,"香港,选举|体育"\nc2,标题,"香港,选举"\n', encoding="utf-8")
    assert [r.data["tags"] for r in read_csv(str(src))] == [["香港,选举", "体育"], ["香港,选举"]]


def test_a_comma_belongs_to_its_tag_on_opensearch(tmp_path):
    url = os.environ.get("OPENSEARCH_URL")
    if not url:
        pytest.skip("no OpenSearch cluster (OPENSEARCH_URL)")
    from indexer import pipeline
    from search.engine import SearchEngine
    from search.models import SearchRequest

    src = write_jsonl(tmp_path / "t.jsonl", [
        {"id": "t1", "title": "香港选举新闻", "body": "香港今天举行选举。", "tags": ["香港,选举"]},
        {"id": "t2", "title": "澳门新闻", "body": "澳门今天天气好。", "tags": ["香港"]}])
    alias = f"test-i15-tags-{os.getpid()}"
    pipeline.rebuild(alias, [src], backend="opensearch", opensearch_url=url, replicas=0)
    try:
        e = SearchEngine.open(alias, backend="opensearch", opensearch_url=url)
        for tag, want in (("香港", ["t2"]), ("香港,选举", ["t1"]), ("选举", [])):
            res = e.search(SearchRequest(q="", tag=[tag], facets=("tag",)))
            assert [h.id for h in res.hits] == want
        facet = {f.value: f.count for f in e.search(SearchRequest(q="", facets=("tag",))).facets["tag"]}
        assert facet == {"香港": 1, "香港,选举": 1}
        e.wait_ready(60)  # its background builders are done before the index goes
    finally:
        from search.backends.opensearch.target import connect

        client = connect(url)
        for name in list(client.indices.get_alias(name=alias)):
            client.indices.delete(index=name)


# ---- item 19: audit log, backup and restore -------------------------------------------
def test_withdrawals_and_replacements_are_audited(svc):
    assert put(svc, "audit-1", rec(svc, 60, "审计测试原稿"))[0] == 201
    assert put(svc, "audit-1", rec(svc, 60, "审计测试原稿"))[0] == 200  # unchanged: no entry
    assert put(svc, "audit-1", rec(svc, 60, "审计测试更正稿"))[0] == 200
    assert req(svc, "DELETE", "/api/articles/audit-1")[0] == 200
    status, data = req(svc, "GET", "/api/audit?id=audit-1")
    assert status == 200
    assert [(e["action"], e["principal"], e["id"]) for e in data["entries"]] == [
        ("replace", PRINCIPAL, "audit-1"), ("withdraw", PRINCIPAL, "audit-1")]
    assert data["entries"][0]["at"].endswith("+00:00")
    assert req(svc, "GET", "/api/audit", headers={})[0] == 401
    assert req(svc, "GET", "/api/audit?limit=0")[0] == 400
    for after in (2**63, 10**23, -1):  # beyond SQLite's integers: a 400, not a 500
        status, data = req(svc, "GET", f"/api/audit?after={after}")
        assert status == 400 and "'after' 0 to 9223372036854775807" in data["error"], (after, data)
    assert req(svc, "GET", f"/api/audit?after={2**63 - 1}")[0] == 200
    # from the command line: the OS user, and `indexer audit` reads it
    out = cli("delete", "--index", svc["index"], "--store", svc["store"], "tag-1")
    assert out.returncode == 0, out.stderr
    import getpass

    entries = [json.loads(line) for line in cli("audit", "--store", svc["store"], "--json").stdout.splitlines()]
    assert ("withdraw", "cli:" + getpass.getuser(), "tag-1") in [(e["action"], e["principal"], e["id"])
                                                               for e in entries]
    # append-only
    with sqlite3.connect(svc["store"]) as c:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            c.execute("DELETE FROM audit")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            c.execute("UPDATE audit SET principal = 'nobody'")


def test_principal_of_a_request():
    from flask import Flask, session

    from web import auth

    app = Flask(__name__)
    app.secret_key = "x"
    with app.test_request_context(headers={"Authorization": "Bearer " + STAFF_TOKEN}):
        assert auth.principal() == PRINCIPAL
    with app.test_request_context():
        assert auth.principal() == "staff"
        session["principal"] = "token:0123456789ab"
        assert auth.principal() == "token:0123456789ab"


def _wait_status(svc, doc_id, status, seconds=30):
    import time

    deadline = time.monotonic() + seconds
    while req(svc, "GET", "/api/articles/" + doc_id)[0] != status and time.monotonic() < deadline:
        time.sleep(0.1)
    return req(svc, "GET", "/api/articles/" + doc_id)[0]


def test_backup_while_serving_and_restore(svc):
    """Finding A: a restore never silently undoes a withdrawal; it says what
    differs from the current store, by count and id, audits each id, and the
    index follows; --as-is restores the backup as it is."""
    backup = str(svc["tmp"] / "backup.sqlite")
    assert put(svc, "bk-1", rec(svc, 70, "备份前的稿件"))[0] == 201
    assert put(svc, "bk-3", rec(svc, 72, "备份前的稿件丙"))[0] == 201
    out = cli("backup", "--store", svc["store"], backup)
    assert out.returncode == 0 and "backed up" in out.stderr, out.stderr
    assert cli("backup", "--store", svc["store"], backup).returncode == 2  # never overwrites
    assert put(svc, "bk-2", rec(svc, 71, "备份后的稿件"))[0] == 201
    assert put(svc, "bk-3", rec(svc, 72, "备份后更正的标题"))[0] == 200
    assert req(svc, "DELETE", "/api/articles/bk-1")[0] == 200
    from indexer.article_store import ArticleStore

    store = ArticleStore(svc["store"])
    before = store.last_seq()
    out = cli("restore", "--store", svc["store"], "--dry-run", backup)
    assert out.returncode == 0, out.stderr
    assert "withdraw 1 article(s) the backup lacks: bk-2" in out.stderr, out.stderr
    assert "replace 1 article(s) by the backup's record: bk-3" in out.stderr
    assert "keep withdrawn 1 article(s) the backup holds that were withdrawn after it" in out.stderr
    assert "bk-1" in out.stderr and "bring back 0 " in out.stderr
    assert store.last_seq() == before and store.get("bk-2") is not None  # a dry run changes nothing
    out = cli("restore", "--store", svc["store"], backup)
    assert out.returncode == 0 and "restored" in out.stderr, out.stderr
    assert "withdraw 1 article(s) the backup lacks: bk-2" in out.stderr
    assert "keep withdrawn 1 article(s) the backup holds that were withdrawn after it (--as-is would bring " \
           "them back): bk-1" in out.stderr
    assert store.get("bk-1") is None and store.get("bk-2") is None
    assert store.get("bk-3")["title"] == "备份前的稿件丙"
    last = {e["id"]: (e["action"], e["detail"]) for e in store.audit_entries(limit=10**6)}
    assert last["bk-1"][0] == "withdraw" and "kept withdrawn" in last["bk-1"][1]
    assert last["bk-2"] == ("restore", f"not in the backup {backup}: withdrawn")
    assert last["bk-3"] == ("restore", f"the record of the backup {backup} restored")
    assert last["*"][0] == "restore"
    # The index follows through the differences only, numbered after every
    # change number used before the restore (none is given twice).
    assert sorted((ch.id, ch.op) for ch in store.pending(before, 100)) == [
        ("bk-1", "delete"), ("bk-2", "delete"), ("bk-3", "put")]
    assert store.applied() >= before
    status, data = put(svc, "bk-4", rec(svc, 73, "恢复后的新稿件"))
    assert status == 201 and data["seq"] > before + 3, data
    # the live store is not a backup of itself
    out = cli("restore", "--store", svc["store"], svc["store"])
    assert out.returncode == 2 and "is the article store itself" in out.stderr, out.stderr
    # the index follows the restored store
    assert _wait_status(svc, "bk-2", 404) == 404 and _wait_status(svc, "bk-1", 404) == 404
    # --as-is: the backup as it is, bk-1 brought back (and audited)
    out = cli("restore", "--store", svc["store"], "--as-is", backup)
    assert out.returncode == 0 and "bring back 1 article(s) the current store does not hold: bk-1" in out.stderr, \
        out.stderr
    assert store.get("bk-1") is not None
    assert store.audit_entries("bk-1", limit=10**6)[-1]["detail"] == f"brought back from the backup {backup}"
    assert _wait_status(svc, "bk-1", 200) == 200
    bad = svc["tmp"] / "not-a-store.sqlite"
    bad.write_bytes(b"not sqlite at all" * 100)
    assert cli("restore", "--store", svc["store"], str(bad)).returncode == 2


# ---- items 2 and 3: a store feeds one index; per-index defaults --------------------------
def test_each_index_has_its_own_store_and_query_log(svc):
    assert os.path.exists(svc["index"] + ".articles.sqlite")
    req(svc, "GET", "/api/search?q=" + urllib.parse.quote("香港"))
    assert os.path.exists(svc["index"] + ".querylog.sqlite")
    from web.config import from_env

    cfg = from_env({"SEARCH_INDEX": "data/news2k"})
    assert (cfg["SEARCH_ARTICLE_STORE"], cfg["SEARCH_QUERY_LOG"]) == (
        os.path.join("data", "news2k.articles.sqlite"), os.path.join("data", "news2k.querylog.sqlite"))
    cfg = from_env({})
    assert cfg["SEARCH_ARTICLE_STORE"] == os.path.join("data", "index.articles.sqlite")
    cfg = from_env({"SEARCH_INDEX": "news", "SEARCH_BACKEND": "opensearch", "SEARCH_ARTICLE_STORE": "off"})
    assert cfg["SEARCH_ARTICLE_STORE"] == "off" and cfg["SEARCH_QUERY_LOG"].endswith("opensearch-news.querylog.sqlite")


def test_a_store_feeds_one_index(svc, tmp_path, sample_records):
    """The service's store is bound to its index: a rebuild, build or writer
    of another index with it is refused, and nothing happens to either."""
    from indexer import pipeline

    other = str(tmp_path / "other")
    pipeline.build(other, [write_jsonl(tmp_path / "o.jsonl", sample_records[200:260])], workers=1, progress=False)
    for args in (["rebuild", "--index", other, "--store", svc["store"]],
                 ["build", "--index", other, "--store", svc["store"], str(tmp_path / "o.jsonl")],
                 ["writer", "--index", other, "--store", svc["store"]]):
        out = cli(*args)
        assert out.returncode == 2 and "feeds the index" in out.stderr and svc["index"] in out.stderr, out.stderr
    from search.engine import SearchEngine

    assert SearchEngine.open(other).stats().documents == 60


def test_rebuild_never_drops_what_the_store_lacks(tmp_path, sample_records):
    """The issue's 2,000 -> 32: an index built without a store, rebuilt with
    a store holding a few articles."""
    from indexer import pipeline

    index = str(tmp_path / "ix")
    pipeline.build(index, [write_jsonl(tmp_path / "a.jsonl", sample_records[:50])], workers=1, progress=False)
    small = str(tmp_path / "small.sqlite")
    from indexer.article_store import ArticleStore

    ArticleStore(small).put([dict(r) for r in sample_records[:3]])
    out = cli("rebuild", "--index", index, "--store", small)
    assert out.returncode == 2 and "47 articles" in out.stderr and "--from-index" in out.stderr
    from search.engine import SearchEngine

    assert SearchEngine.open(index).stats().documents == 50


def test_legacy_shared_store_moves_to_its_index(tmp_path):
    from indexer import paths
    from indexer.article_store import ArticleStore

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        os.makedirs("data")
        ArticleStore(paths.LEGACY_STORE).put([{"id": "d1", "title": "演示"}])
        sqlite3.connect(paths.LEGACY_QUERY_LOG).execute("CREATE TABLE q (x)").connection.commit()
        notes = []
        assert paths.migrate_legacy("data/news2k", environ={}, report=notes.append) == []
        assert "left in place" in notes[0] and "SEARCH_ARTICLE_STORE=data/articles.sqlite" in notes[0]
        moved = paths.migrate_legacy("data/index", environ={}, report=notes.append)
        assert len(moved) == 2 and not os.path.exists(paths.LEGACY_STORE)
        assert ArticleStore("data/index.articles.sqlite").get("d1") == {"id": "d1", "title": "演示"}
        assert os.path.exists("data/index.querylog.sqlite") and os.path.exists("data/articles.sqlite.migrated")
        # a legacy store bound to another index follows that index
        ArticleStore("data/articles.sqlite").bind("data/news2k")
        assert paths.migrate_legacy("data/news2k", environ={}, report=notes.append) == [
            "data/articles.sqlite -> data/news2k.articles.sqlite"]
    finally:
        os.chdir(cwd)


def test_rebuilds_keep_ids_written_before_the_rule(tmp_path, sample_records):
    """Never dropped: a rebuild from the index or from the store, and the
    writer re-applying a restored change log, keep a legacy id."""
    from indexer import pipeline
    from indexer.article_store import ArticleStore
    from indexer.writer import IndexWriter
    from search.engine import SearchEngine

    index = str(tmp_path / "ix")
    pipeline.build(index, [write_jsonl(tmp_path / "a.jsonl", sample_records[:5])], workers=1, progress=False)
    legacy_doc(index, "x/related", "旧规则稿件丙号")
    out = cli("rebuild", "--index", index, "--from-index")
    assert out.returncode == 0, out.stderr
    assert SearchEngine.open(index).get("x/related")["title"] == "旧规则稿件丙号"
    store_path = str(tmp_path / "s.sqlite")
    ArticleStore(store_path).put([dict(r) for r in sample_records[:5]])
    with sqlite3.connect(store_path) as c:  # as an earlier version stored it, change log included
        c.execute("INSERT INTO articles (id, record, updated) VALUES ('x/related', ?, 0)",
                  (json.dumps({"id": "x/related", "title": "旧规则稿件丙号"}, ensure_ascii=False),))
        c.execute("INSERT INTO changes (id, op, at) VALUES ('x/related', 'put', 0)")
    out = cli("rebuild", "--index", index, "--store", store_path)
    assert out.returncode == 0, out.stderr
    assert SearchEngine.open(index).get("x/related")["title"] == "旧规则稿件丙号"
    store = ArticleStore(store_path)
    store.set_applied(0)  # as after a restore: the writer applies the whole log again
    writer = IndexWriter(index, store)
    try:
        writer.drain()
    finally:
        writer.close()
    engine = SearchEngine.open(index)
    assert engine.get("x/related")["title"] == "旧规则稿件丙号" and engine.stats().documents == 6


def test_audit_endpoint_matches_its_openapi_description(tmp_path, openapi):
    from conftest import validated
    from indexer.article_store import ArticleStore
    from web import create_app

    store = str(tmp_path / "s.sqlite")
    ArticleStore(store).put([{"id": "o-1", "title": "甲"}])
    ArticleStore(store).delete(["o-1"], principal="token:0123456789ab")
    app = create_app({"SEARCH_INDEX": str(tmp_path / "none"), "SEARCH_ARTICLE_STORE": store, "SEARCH_QUERY_LOG": "off",
                      "SEARCH_WRITE_TOKENS": (digest(STAFF_TOKEN),), "SEARCH_RATE_LIMIT": "off"})
    c = app.test_client()
    resp = validated(c, openapi, "/api/audit?id=o-1", headers=STAFF)
    assert [(e["action"], e["principal"]) for e in resp.get_json()["entries"]] == [("withdraw", "token:0123456789ab")]
    validated(c, openapi, "/api/audit?limit=5000", status=400, headers=STAFF)
    resp = c.put("/api/articles//lead", json={"title": "甲"}, headers=STAFF)
    assert resp.status_code == 400 and "starts with '/'" in resp.get_json()["error"]
    assert c.put("/api/articles//lead", json={"title": "甲"}).status_code == 401


def test_serving_your_own_index_leaves_the_demo_out(tmp_path, sample_records):
    """`SEARCH_INDEX=data/news2k scripts/serve`: the index is served as it
    is (no demo articles), with its own store and query log."""
    import signal
    import time

    from web.loopback import free_port
    from indexer import pipeline

    index = str(tmp_path / "news2k")
    pipeline.build(index, [write_jsonl(tmp_path / "n.jsonl", sample_records[:12])], workers=1, progress=False)
    port = free_port()
    env = dict(os.environ, PYTHONPATH=ROOT, SEARCH_VENV=os.path.dirname(os.path.dirname(PY)), SEARCH_INDEX=index,
               PORT=str(port), SEARCH_WRITE_TOKENS=digest(STAFF_TOKEN), SEARCH_RATE_LIMIT="off", WEB_CONCURRENCY="1")
    for k in ("SEARCH_ARTICLE_STORE", "SEARCH_QUERY_LOG"):
        env.pop(k, None)
    proc = subprocess.Popen([os.path.join(ROOT, "scripts", "serve")], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if call(url + "/healthz", timeout=2)[0] == 200 and json.loads(call(url + "/healthz")[1]).get(
                        "writer_running"):
                    break
            except OSError:
                pass
            time.sleep(0.2)
        status, body = call(url + "/api/search?q=&size=1&group=0")
        assert status == 200 and json.loads(body)["total"] == 12  # the 31 demo articles are not added
        status, body = call(url + "/api/articles/own-1", "PUT", json.dumps({"title": "自己的稿件"}, ensure_ascii=False),
                            JSON)
        assert status == 201, body
        from indexer.article_store import ArticleStore

        assert ArticleStore(index + ".articles.sqlite").get("own-1") is not None
        call(url + "/api/search?q=" + urllib.parse.quote("自己"))
        assert os.path.exists(index + ".querylog.sqlite")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def test_the_whoosh_schema_keeps_a_tag_whole():
    from search.backends.whoosh.schema import build_schema

    field = build_schema()["tags"]
    assert [t.text for t in field.analyzer("香港,选举\n体育 新闻")] == ["香港,选举", "体育 新闻"]


def test_a_raw_utf8_id_in_the_path_is_the_id_sent(svc):
    """A CMS that does not percent-encode: the id is the UTF-8 text it sent
    (not its Latin-1 reading), reachable by its encoded form; bytes that are
    not UTF-8 are a 400, never stored."""
    import socket

    def raw(method, target, body=b""):
        port = svc["server"].port
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(method + b" " + target + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                      b"Authorization: " + JSON["Authorization"].encode() + b"\r\n"
                      b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
                      + b"\r\n\r\n" + body)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        head, _, payload = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), json.loads(payload)

    body = json.dumps({"title": "原始字节编号稿件"}, ensure_ascii=False).encode()
    status, data = raw(b"PUT", "/api/articles/港-raw".encode(), body)
    assert status == 201 and data["id"] == "港-raw" and data["status"] == "indexed", data
    assert req(svc, "GET", "/api/articles/" + urllib.parse.quote("港-raw"))[1]["title"] == "原始字节编号稿件"
    for target in (b"/api/articles/x\xff", b"/api/articles/x%FF"):
        status, data = raw(b"PUT", target, body)
        assert status == 400 and data["error"].startswith("the URL path is not UTF-8"), data
    from indexer.article_store import ArticleStore

    ids = {r["id"] for r in ArticleStore(svc["store"]).records()}
    assert "港-raw" in ids and not any(i.startswith("x") and not i.isascii() for i in ids)
    assert req(svc, "DELETE", "/api/articles/" + urllib.parse.quote("港-raw"))[0] == 200


# ---- findings A-F of the store review ----------------------------------------------
def test_f_a_title_of_invisible_characters_is_empty(svc, tmp_path):
    """"\u200b" is as empty as "   ": refused by the write API and skipped
    by the CLI; a visible title with an invisible character is kept."""
    for title in ("\u200b", " \u200b\ufeff\u2060 ", "   "):
        status, body = put(svc, "inv-title", {"title": title, "body": "正文"})
        assert status == 400 and "title" in json.dumps(body, ensure_ascii=False), (title, status, body)
    assert req(svc, "GET", "/api/articles/inv-title")[0] == 404
    path = write_jsonl(tmp_path / "inv.jsonl", [{"id": "inv-1", "title": "\u200b"},
                                                 {"id": "inv-2", "title": "可见\u200b标题"}])
    out = cli("build", "--index", str(tmp_path / "ix"), "--store", "off", "--no-progress", path)
    assert out.returncode == 0 and "added 1," in out.stderr and "skipped 1 bad" in out.stderr, out.stderr
    from search.engine import SearchEngine

    assert SearchEngine.open(str(tmp_path / "ix")).stats().documents == 1


def test_e_rerunning_a_file_through_the_writer_changes_nothing(svc, tmp_path):
    """Finding E: the store skips a put identical to the stored record (no
    change row), for the CLI through the running writer and the write API
    alike; the CLI counts added/updated/unchanged."""
    from indexer.article_store import ArticleStore

    store = ArticleStore(svc["store"])
    records = [dict(svc["records"][300 + i], id=f"rerun-{i}") for i in range(5)]
    path = write_jsonl(tmp_path / "rerun.jsonl", records)
    out = cli("build", "--index", svc["index"], "--store", svc["store"], "--no-progress", path)
    assert out.returncode == 0 and "added 5, updated 0, unchanged 0" in out.stderr, out.stderr
    assert "through the running service's writer" in out.stderr
    seq = store.last_seq()
    out = cli("build", "--index", svc["index"], "--store", svc["store"], "--no-progress", path)
    assert out.returncode == 0 and "added 0, updated 0, unchanged 5" in out.stderr, out.stderr
    assert store.last_seq() == seq  # no change row
    records[2] = dict(records[2], title="重跑时更正的标题")
    path = write_jsonl(tmp_path / "rerun.jsonl", records)
    out = cli("build", "--index", svc["index"], "--store", svc["store"], "--no-progress", path)
    assert out.returncode == 0 and "added 0, updated 1, unchanged 4" in out.stderr, out.stderr
    assert store.last_seq() == seq + 1
    assert req(svc, "GET", "/api/articles/rerun-2")[1]["title"] == "重跑时更正的标题"
    # the write API: an identical PUT adds no change, and its answer is still "indexed" (the id's last change)
    status, first = put(svc, "rerun-api", rec(svc, 80))
    assert status == 201 and first["status"] == "indexed", first
    n = store.last_seq()
    status, again = put(svc, "rerun-api", rec(svc, 80))
    assert status == 200 and again["status"] == "indexed" and again["seq"] == first["seq"], again
    assert store.last_seq() == n
    assert [e["action"] for e in store.audit_entries("rerun-api")] == []


def test_b_a_deletion_never_skips_the_store_feeding_the_index(tmp_path, sample_records):
    """Finding B: the index records the store that feeds it; delete (and
    build) without --store go through it, or refuse naming it."""
    from indexer.article_store import ArticleStore
    from search.engine import SearchEngine

    index, st = str(tmp_path / "ix"), str(tmp_path / "elsewhere" / "nondefault.sqlite")
    path = write_jsonl(tmp_path / "a.jsonl", sample_records[:20])
    out = cli("build", "--index", index, "--store", st, "--no-progress", path)
    assert out.returncode == 0, out.stderr
    with open(index + ".store", encoding="utf-8") as f:
        assert f.read().strip() == os.path.abspath(st)
    gone = sample_records[3]["id"]
    out = cli("delete", "--index", index, gone)  # no --store; no default store beside the index
    assert out.returncode == 0 and "deleted 1" in out.stderr, out.stderr
    assert not os.path.exists(index + ".articles.sqlite")
    store = ArticleStore(st)
    assert store.get(gone) is None and store.audit_entries(gone)[-1]["action"] == "withdraw"
    out = cli("rebuild", "--index", index, "--store", st)
    assert out.returncode == 0, out.stderr
    engine = SearchEngine.open(index)
    assert engine.stats().documents == 19 and engine.get(gone) is None
    # still recorded after the rebuild replaced the index directory
    assert os.path.exists(index + ".store")
    other = str(tmp_path / "other.sqlite")
    victim = sample_records[4]["id"]
    for args, words in ((["delete", "--index", index, "--store", "off", victim], "would change the index alone"),
                        (["delete", "--index", index, "--store", other, victim], f"not {other}"),
                        (["build", "--index", index, "--store", "off", path], "would change the index alone")):
        out = cli(*args)
        assert out.returncode == 2 and os.path.abspath(st) in out.stderr and words in out.stderr, (args, out.stderr)
    os.rename(st, st + ".moved")
    out = cli("delete", "--index", index, victim)
    assert out.returncode == 2 and "which does not exist" in out.stderr and os.path.abspath(st) in out.stderr, \
        out.stderr
    assert SearchEngine.open(index).get(victim) is not None and not os.path.exists(other)


def test_c_pending_deletes_are_not_lacking(tmp_path, sample_records):
    """Finding C: ids deleted in the store but not yet applied to the index
    are not "lacking": the rebuild from the store goes ahead without them."""
    from indexer import rebuild
    from indexer.article_store import ArticleStore
    from search.engine import SearchEngine

    index, st = str(tmp_path / "ix"), str(tmp_path / "st.sqlite")
    out = cli("build", "--index", index, "--store", st, "--no-progress",
              write_jsonl(tmp_path / "a.jsonl", sample_records[:30]))
    assert out.returncode == 0, out.stderr
    store = ArticleStore(st)
    withdrawn = [r["id"] for r in sample_records[:11]]
    store.delete(withdrawn)  # written to the store, not yet applied by a writer
    assert store.backlog() == 11 and SearchEngine.open(index).stats().documents == 30
    assert rebuild.store_lacks("whoosh", index, store) == []
    out = cli("rebuild", "--index", index, "--store", st)
    assert out.returncode == 0 and "lacks" not in out.stderr, out.stderr
    engine = SearchEngine.open(index)
    assert engine.stats().documents == 19 and all(engine.get(i) is None for i in withdrawn)


def test_d_rebuild_can_drop_exactly_the_listed_articles(tmp_path, sample_records):
    """Finding D: the refusal lists the index's articles the store lacks;
    --drop-ids accepts dropping exactly those (each audited), and refuses
    when the store lacks others."""
    from indexer import pipeline
    from indexer.article_store import ArticleStore
    from search.engine import SearchEngine

    index, st = str(tmp_path / "ix"), str(tmp_path / "st.sqlite")
    pipeline.build(index, [write_jsonl(tmp_path / "a.jsonl", sample_records[:20])], workers=1, progress=False)
    ArticleStore(st).put([dict(r) for r in sample_records[:3]])
    lacking = sorted(r["id"] for r in sample_records[3:20])
    out = cli("rebuild", "--index", index, "--store", st)
    listing = index + ".store-lacks.txt"
    assert out.returncode == 2 and "17 articles" in out.stderr and listing in out.stderr, out.stderr
    assert f"--drop-ids {listing}" in out.stderr and "--from-index" in out.stderr
    with open(listing, encoding="utf-8") as f:
        assert f.read().split("\n")[:-1] == lacking
    partial = tmp_path / "partial.txt"
    partial.write_text("\n".join(lacking[1:]) + "\n", encoding="utf-8")
    out = cli("rebuild", "--index", index, "--store", st, "--drop-ids", str(partial))
    assert out.returncode == 2 and "1 articles" in out.stderr and lacking[0] in out.stderr, out.stderr
    assert SearchEngine.open(index).stats().documents == 20
    out = cli("rebuild", "--index", index, "--store", st, "--drop-ids", listing)
    assert out.returncode == 0 and "17 articles the store lacks dropped" in out.stderr, out.stderr
    assert SearchEngine.open(index).stats().documents == 3
    drops = [e["id"] for e in ArticleStore(st).audit_entries(limit=1000) if e["action"] == "drop"]
    assert sorted(drops) == lacking


def test_d_from_index_while_serving_points_to_a_way_that_works(svc):
    """Finding D: the refusals never send the operator in a circle."""
    out = cli("rebuild", "--index", svc["index"], "--from-index")
    assert out.returncode == 2 and "stop the service first" in out.stderr and "--drop-ids" in out.stderr, out.stderr


def test_d_rebuild_while_serving_drops_exactly_the_listed_articles(svc):
    """Finding D, while the service runs: an article the store lacks (as an
    earlier version's restore left them: removed from the store with no
    change queued) blocks `rebuild --store` until --drop-ids accepts it; the
    running writer then rebuilds without it."""
    from indexer.article_store import ArticleStore

    assert put(svc, "orphan-1", rec(svc, 90, "仓库缺少的稿件"))[0] in (200, 201)
    with sqlite3.connect(svc["store"]) as c:
        c.execute("DELETE FROM articles WHERE id = 'orphan-1'")
        c.execute("DELETE FROM changes WHERE id = 'orphan-1'")
    out = cli("rebuild", "--index", svc["index"], "--store", svc["store"])
    listing = svc["index"] + ".store-lacks.txt"
    assert out.returncode == 2 and "1 articles" in out.stderr and "orphan-1" in out.stderr, out.stderr
    assert "stop the service, then" in out.stderr and f"--drop-ids {listing}" in out.stderr
    assert req(svc, "GET", "/api/articles/orphan-1")[0] == 200
    out = cli("rebuild", "--index", svc["index"], "--store", svc["store"], "--drop-ids", listing)
    assert out.returncode == 0 and "1 articles the store lacks dropped" in out.stderr, out.stderr
    assert _wait_status(svc, "orphan-1", 404) == 404
    assert ArticleStore(svc["store"]).audit_entries("orphan-1")[-1]["action"] == "drop"
