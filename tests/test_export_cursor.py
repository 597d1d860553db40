"""Complete exports and the API cursor (issue 19, part 2) through the real
service: gunicorn with its writer process, the article store, real HTTP,
on Whoosh and on OpenSearch, the 2,000-article sample, a result window of
500.  A walk (``/api/export?limit=0``, ``/api/search?cursor=``) returns
exactly the search's articles on the snapshot it started on, each once, in
the search's order, while articles are written and withdrawn meanwhile;
anonymous walks stop at the window; a changed cursor is a 400, an expired
one a 410.  One service per backend, shared by the module's tests."""

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid

import pytest

from conftest import ROOT, SAMPLE, STAFF, STAFF_TOKEN, Server, call, call_json, digest

URL = os.environ.get("OPENSEARCH_URL")
WINDOW = 500
Q = "香港"  # 659 of the 2,000 sample articles: more than the window


@pytest.fixture(scope="module", params=["whoosh", "opensearch"])
def service(request, tmp_path_factory):
    """The sample served with the write API and SEARCH_MAX_RESULT_WINDOW=500:
    dict with ``server``, ``backend``, ``index`` and ``engine`` (a direct
    engine on the same index: the oracle's ranking)."""
    from search.engine import SearchEngine

    backend = request.param
    if backend == "opensearch" and not URL:
        if os.environ.get("REQUIRE_OPENSEARCH"):
            pytest.fail("OPENSEARCH_URL is not set: scripts/opensearch start")
        pytest.skip("no OpenSearch cluster")
    tmp = tmp_path_factory.mktemp(f"export-{backend}")
    synonyms = tmp / "synonyms.txt"  # the project's, in a file a test may change
    shutil.copyfile(os.path.join(ROOT, "search", "data", "synonyms.txt"), synonyms)
    if backend == "whoosh":
        index = str(tmp / "ix")
        # without the cursor leases other tests' exports left on the shared sample index
        shutil.copytree(request.getfixturevalue("sample_index"), index,
                        ignore=shutil.ignore_patterns("cursor-*.lease", "cursor-leases.lock"))
    else:
        from indexer import pipeline

        index = "export19-" + uuid.uuid4().hex[:8]
        pipeline.build(index, [SAMPLE], workers=2, progress=False, backend=backend, opensearch_url=URL, replicas=0)
    env = {"SEARCH_BACKEND": backend, "SEARCH_ARTICLE_STORE": str(tmp / "articles.sqlite"),
           "SEARCH_WRITE_TOKENS": digest(STAFF_TOKEN), "SEARCH_WRITE_WAIT": "20",
           "SEARCH_MAX_RESULT_WINDOW": str(WINDOW), "SEARCH_SECRET_KEY_FILE": str(tmp / "secret_key"),
           "SEARCH_SYNONYMS": str(synonyms)}
    if URL:
        env["OPENSEARCH_URL"] = URL
    srv = Server(index, workers=2, extra_env=env)
    engine = None
    try:
        assert srv.wait_for_writer()
        engine = SearchEngine.open(index, backend=backend, opensearch_url=URL, refresh_interval=0,
                                   synonyms_path=str(synonyms))
        yield {"server": srv, "backend": backend, "index": index, "engine": engine, "synonyms": synonyms}
    finally:
        srv.stop()
        if engine is not None:
            engine.pinyin.get(wait=60)
            engine.suggester.get(wait=60)
            engine.backend.close()
        if backend == "opensearch":
            from opensearchpy import OpenSearch

            client = OpenSearch(URL, timeout=60)
            client.indices.delete(index=list(client.indices.get_alias(name=index)), ignore=[404])
            from indexer import paths

            # The writer's note of the store feeding the index (beside it: in data/ for an alias).
            for marker in {paths.store_marker(index, backend), os.path.join(ROOT, paths.store_marker(index, backend))}:
                if os.path.exists(marker):
                    os.remove(marker)


def _ranked_ids(service, q=Q, sort="newest"):
    """The ungrouped search's ids in its order (a direct engine on the index)."""
    from search.models import SearchRequest

    engine = service["engine"]
    engine.backend.refresh(force=True)
    res = engine.search(SearchRequest(q=q, size=5000, sort=sort, group=False, facets=(), correct=False,
                                      highlight=False))
    return [h.id for h in res.hits]


def _brute_force(records, q=Q):
    """Ids of the records whose title or body has ``q`` (folded as queries are)."""
    from search.normalize import normalize_query

    return {r["id"] for r in records if q in normalize_query(r["title"]) or q in normalize_query(r["body"] or "")}


def _put(srv, doc_id, record):
    status, body = call(f"{srv.url}/api/articles/{urllib.parse.quote(doc_id)}", "PUT",
                        json.dumps(dict(record, id=doc_id), ensure_ascii=False),
                        {**STAFF, "Content-Type": "application/json"})
    assert status in (200, 201), body  # indexed: committed by the writer
    return json.loads(body)


def _page(srv, params, headers=None):
    return call_json(f"{srv.url}/api/search?{urllib.parse.urlencode(params)}", headers=headers)


def _walk(srv, params, headers=None, first=None):
    """Every page of a cursor walk: (ids, the last answer)."""
    status, page = first or _page(srv, {**params, "cursor": "*"}, headers)
    ids = []
    while True:
        assert status == 200, page
        ids += [h["id"] for h in page["hits"]]
        if not page["next_cursor"]:
            return ids, page
        status, page = _page(srv, {"cursor": page["next_cursor"], "size": params.get("size", 10)}, headers)


def _walk_or_none(srv, params, headers=None):
    """``_walk``'s ids, or None when a page answers 409 (the plan changed)."""
    status, page = _page(srv, {**params, "cursor": "*"}, headers)
    ids = []
    while status == 200:
        ids += [h["id"] for h in page["hits"]]
        if not page["next_cursor"]:
            return ids
        status, page = _page(srv, {"cursor": page["next_cursor"], "size": params.get("size", 10)}, headers)
    assert status == 409, page
    return None


def test_export_and_cursor_walk_the_snapshot_while_articles_are_written(service, indexed_records):
    srv = service["server"]
    oracle = _ranked_ids(service)
    assert set(oracle) == _brute_force(indexed_records) and len(oracle) == 659 > WINDOW
    # Both walks start (their snapshots pinned) before anything is written.
    export = urllib.request.urlopen(urllib.request.Request(
        f"{srv.url}/api/export?q={urllib.parse.quote(Q)}&sort=newest&format=jsonl&limit=0", headers=STAFF), timeout=60)
    assert export.status == 200 and int(export.headers["X-Total-Count"]) == len(oracle)
    lines = [export.readline()]
    status, first = _page(srv, {"q": Q, "sort": "newest", "size": 100, "cursor": "*"}, STAFF)
    assert status == 200 and first["total"] == len(oracle) and first["walked"] == 100

    # Meanwhile (one commit each): five new articles that match and a walked
    # one changed to match no more; one walked article withdrawn.
    new = [f"export-new-{service['backend']}-{i}" for i in range(5)]
    changed, gone = oracle[-2], oracle[-1]
    lines_in = [{"id": doc_id, "title": f"香港新闻 {doc_id}", "body": "香港今日有新的报道。",
                 "published": "2025-01-01T10:00:00+08:00"} for doc_id in new]
    lines_in.append({"id": changed, "title": "改写的标题", "body": "改写后不再提到那座城市。", "published": "2020-01-01"})
    status, body = call(f"{srv.url}/api/articles:bulk", "POST",
                        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines_in),
                        {**STAFF, "Content-Type": "application/x-ndjson"})
    assert status == 200 and json.loads(body)["accepted"] == 6, body  # indexed: committed
    status, body = call(f"{srv.url}/api/articles/{urllib.parse.quote(gone)}", "DELETE", headers=STAFF)
    assert status == 200, body
    now = _ranked_ids(service)
    assert set(now) == (set(oracle) | set(new)) - {gone, changed}  # the writes are searchable

    lines += export.read().splitlines(keepends=True)
    rows = [json.loads(line) for line in lines if line.strip()]
    exported = [r["id"] for r in rows]
    # Exactly the snapshot's result set, each once, in the search's order:
    # the new articles left out, the withdrawn and changed ones as they were.
    assert exported == oracle and len(set(exported)) == len(oracle)
    by_row = {r["id"]: r for r in rows}
    assert "香港" in by_row[changed]["title"] + by_row[changed]["body"]

    walked, last = _walk(srv, {"q": Q, "sort": "newest", "size": 100}, STAFF, first=(status, first))
    assert walked == oracle and last["walked"] == len(oracle) and not last["window_ended"]
    assert last["next_cursor"] is None

    # A new walk sees the index as it is now; relevance order too.
    assert _walk(srv, {"q": Q, "size": 100}, STAFF)[0] == _ranked_ids(service, sort="relevance")


def test_export_rows_carry_every_field_and_why_they_matched(service, indexed_records):
    from search.timeutil import local_iso

    srv = service["server"]
    records = {r["id"]: r for r in indexed_records}
    q = "韩国 国会 弹劾 总统 尹锡悦 戒严令"  # no article has every word: partial matches only
    status, body = call(f"{srv.url}/api/export?q={urllib.parse.quote(q)}&format=jsonl&limit=0", headers=STAFF)
    assert status == 200
    rows = [json.loads(line) for line in body.decode("utf-8").splitlines()]
    status, search = _page(srv, {"q": q, "group": 0, "size": 100})
    assert status == 200 and len(rows) == search["total"] > 100 and search["total_full"] == 0
    assert [r["id"] for r in rows[:100]] == [h["id"] for h in search["hits"]]
    assert {r["match"] for r in rows} == {"partial"}
    checked = 0
    for r in rows:
        rec = records.get(r["id"])
        if rec is None:
            continue
        assert list(r) == ["id", "title", "body", "published", "category", "source", "author", "tags", "url",
                           "match"]
        assert (r["title"], r["body"], r["published"]) == (rec["title"], rec["body"], local_iso(rec.get("published")))
        assert (r["category"], r["source"], r["url"]) == (rec.get("category") or "", rec.get("source") or "",
                                                          rec.get("url") or "")
        assert r["tags"] == list(rec.get("tags") or [])
        checked += 1
    assert checked == len(rows)
    full = [json.loads(line) for line in call(f"{srv.url}/api/export?q={urllib.parse.quote('title:香港')}&format=jsonl"
                                               "&limit=3", headers=STAFF)[1].decode("utf-8").splitlines()]
    assert len(full) == 3 and {r["match"] for r in full} == {"full"}


def test_csv_export_neutralises_formula_cells(service):
    srv = service["server"]
    word = "公式核查词" + service["backend"]
    _put(srv, "=cmd-" + service["backend"], {"title": "=HYPERLINK(\"http://evil.example\",\"点击\")",
                                             "body": f"@SUM(A1:A9) {word}。", "category": "+国际", "source": "-新华社",
                                             "author": "@某人", "tags": ["=1+1", "正常"], "url": "=http://x",
                                             "published": "2024-03-01T23:30:00Z"})
    q = urllib.parse.quote(f'"{word}"')  # a phrase: exact, never partial matches
    status, body = call(f"{srv.url}/api/export?q={q}&format=csv&limit=0", headers=STAFF)
    assert status == 200 and body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == "'=cmd-" + service["backend"] and row["title"].startswith("'=HYPERLINK")
    assert row["body"].startswith("'@SUM") and row["category"] == "'+国际" and row["source"] == "'-新华社"
    assert row["author"] == "'@某人" and row["tags"] == "'=1+1|正常" and row["url"] == "'=http://x"
    assert row["published"] == "2024-03-02T07:30:00+08:00" and row["match"] == "full"


def test_an_anonymous_walk_stops_at_the_result_window(service):
    srv = service["server"]
    staff_ids = _ranked_ids(service, sort="oldest")
    assert len(staff_ids) > WINDOW
    ids, last = _walk(srv, {"q": Q, "sort": "oldest", "size": 90})
    assert ids == staff_ids[:WINDOW] and last["walked"] == WINDOW and last["size"] == WINDOW - 5 * 90
    assert last["window_ended"] and last["next_cursor"] is None
    assert "500" in last["notice"] and "staff" in last["notice"]
    # A bearer token that is not valid is refused, not read as anonymous.
    status, body = _page(srv, {"q": Q, "cursor": "*"}, {"Authorization": "Bearer wrong"})
    assert status == 403 and body["status"] == 403


def test_a_changed_foreign_or_misused_cursor_is_a_400(service):
    from search import cursor as cursors

    srv = service["server"]
    status, page = _page(srv, {"q": Q, "size": 5, "cursor": "*"})
    assert status == 200
    token = page["next_cursor"]
    payload, _, sig = token.rpartition(".")
    tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + sig
    foreign = cursors.encode(cursors.Cursor(**cursors.URLSafeTimedSerializer("x").loads_unsafe(token)[1]),
                             "another service's key, long enough to sign with")
    for bad, says in [(tampered, "not valid"), (foreign, "not valid"), (token + "x", "not valid"),
                      ("", "empty")]:
        status, body = _page(srv, {"cursor": bad})
        assert status == 400 and says in body["error"], (bad, body)
    status, body = _page(srv, {"cursor": token, "q": "选举"})
    assert status == 400 and "another search" in body["error"]
    status, body = _page(srv, {"cursor": token, "page": 2})
    assert status == 400 and "'page'" in body["error"]
    # The same cursor with its own parameters (and another size) goes on.
    status, body = _page(srv, {"cursor": token, "q": Q, "size": 7})
    assert status == 200 and body["walked"] == 12 and len(body["hits"]) == 7


def test_an_expired_cursor_is_a_410(service):
    from search import cursor as cursors

    srv = service["server"]
    status, page = _page(srv, {"q": Q, "size": 5, "cursor": "*"}, STAFF)
    assert status == 200
    token = page["next_cursor"]
    assert _page(srv, {"cursor": token}, STAFF)[0] == 200  # used: renewed
    snapshot = cursors.URLSafeTimedSerializer("x").loads_unsafe(token)[1]["snapshot"]
    # Expire it as time would: the lease's last use long ago (Whoosh), the
    # point in time gone (OpenSearch, whose expired contexts go only at its
    # reaper's next round, up to a minute later).
    if service["backend"] == "whoosh":
        generation, _, lease_id = snapshot.partition("-")
        lease = os.path.join(os.path.realpath(service["index"]), f"cursor-{generation}-{lease_id}.lease")
        past = os.path.getmtime(lease) - 3600
        os.utime(lease, (past, past))
    else:
        from opensearchpy import OpenSearch

        OpenSearch(URL, timeout=60).delete_pit(body={"pit_id": [snapshot.partition(":")[2]]})
    status, body = _page(srv, {"cursor": token}, STAFF)
    assert status == 410 and "start the walk again" in body["error"], body


def test_a_cursor_unused_past_its_keep_alive_is_a_410_on_every_backend():
    """The keep-alive is counted from the page that issued the cursor, by
    the token itself: a cluster reaps expired points in time only about
    once a minute, and a page read meanwhile must not answer from them."""
    import time

    from search import cursor as cursors
    from search.backends.base import SnapshotGone

    token = cursors.encode(cursors.Cursor("7-abc", [["q", "香港"]], 1.0, None, 0, "whoosh"), "k" * 32)
    assert cursors.decode(token, "k" * 32, "whoosh", max_age=600).snapshot == "7-abc"
    time.sleep(1.1)
    with pytest.raises(SnapshotGone, match="keep-alive"):
        cursors.decode(token, "k" * 32, "whoosh", max_age=0.5)


def test_command_line_export_with_a_progress_bar(service, tmp_path):
    if service["backend"] != "whoosh":
        pytest.skip("the command line walks as the service does: once, on the Whoosh index directory")
    out = tmp_path / "export.csv"
    env = dict(os.environ, PYTHONPATH=ROOT, SEARCH_BACKEND=service["backend"], SEARCH_QUERY_LOG="off")
    proc = subprocess.run([sys.executable, "-m", "search", "export", "--index", service["index"], "--query", Q,
                           "--format", "csv", "--sort", "newest", "--output", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [r["id"] for r in rows] == _ranked_ids(service)
    assert f"{len(rows)}/{len(rows)}" in proc.stderr and "article" in proc.stderr  # tqdm's bar


def _live_snapshots(service) -> int:
    """Snapshots held on the service's index: live Whoosh leases, or the
    index's open OpenSearch search contexts (a point in time holds one per
    shard; searches hold none between requests)."""
    if service["backend"] == "whoosh":
        from search.backends.whoosh import leases

        return leases.live_count(os.path.realpath(service["index"]))
    from opensearchpy import OpenSearch

    stats = OpenSearch(URL, timeout=60).indices.stats(index=service["index"], metric="search")
    return stats["_all"]["total"]["search"]["open_contexts"]


def _poll(check, seconds=10.0):
    """Poll ``check()`` until it is true (short intervals, up to ``seconds``): its last value."""
    import time

    deadline = time.monotonic() + seconds
    while not (ok := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return ok


def _payload(token):
    from search import cursor as cursors

    return cursors.URLSafeTimedSerializer("x").loads_unsafe(token)[1]


def test_anonymous_walks_hold_no_snapshot_so_staff_walks_never_wait(service):
    """Anonymous walks page the live index from an offset signed into the
    cursor: however many there are, no lease or point in time is held, so
    staff exports and cursors (which do hold one) never meet a full budget."""
    srv = service["server"]
    assert _poll(lambda: _live_snapshots(service) == 0)
    tokens = []
    for i in range(40):
        status, page = _page(srv, {"q": Q, "size": 1, "cursor": "*", "sort": "oldest" if i % 2 else "newest"})
        assert status == 200 and len(page["hits"]) == 1 and page["next_cursor"], page
        tokens.append(page["next_cursor"])
    assert _live_snapshots(service) == 0
    assert {_payload(t)["snapshot"] for t in tokens} == {""} and not any(_payload(t)["staff"] for t in tokens)
    # They go on from their offsets: the next article of the search's order.
    oracle = _ranked_ids(service, sort="oldest")
    status, page = _page(srv, {"cursor": tokens[1], "size": 3})
    assert status == 200 and [h["id"] for h in page["hits"]] == oracle[1:4] and page["walked"] == 4
    # A staff export and a staff cursor pin their snapshot and walk everything.
    status, body = call(f"{srv.url}/api/export?q={urllib.parse.quote(Q)}&sort=oldest&format=jsonl&limit=0",
                        headers=STAFF)
    assert status == 200 and [json.loads(line)["id"] for line in body.decode("utf-8").splitlines()] == oracle
    status, page = _page(srv, {"q": Q, "sort": "oldest", "size": 5, "cursor": "*"}, STAFF)
    assert status == 200 and _payload(page["next_cursor"])["snapshot"] and _live_snapshots(service) > 0
    assert [h["id"] for h in page["hits"]] == oracle[:5]
    _walk(srv, {"size": 100}, STAFF, first=(status, page))  # to its end: released
    assert _poll(lambda: _live_snapshots(service) == 0)


def test_an_export_never_read_releases_its_snapshot(service):
    """A HEAD request (the body never iterated) and a download dropped after
    its headers release the export's snapshot when the response closes."""
    srv = service["server"]
    assert _poll(lambda: _live_snapshots(service) == 0)
    url = f"{srv.url}/api/export?q={urllib.parse.quote(Q)}&format=csv&limit=0"
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD", headers=STAFF), timeout=60) as r:
        assert r.status == 200 and int(r.headers["X-Total-Count"]) >= 659 and r.read() == b""
    assert _poll(lambda: _live_snapshots(service) == 0), "a HEAD request left its snapshot alive"
    r = urllib.request.urlopen(urllib.request.Request(url, headers=STAFF), timeout=60)
    assert r.status == 200
    r.close()  # gone after the headers
    assert _poll(lambda: _live_snapshots(service) == 0), "an unread download left its snapshot alive"


def test_a_staff_walk_cursor_needs_staff_authentication(service):
    """The cursor says the walk is a staff one: without staff authentication
    it is a 403 (not one article past the window), and its snapshot stays
    for staff to go on."""
    srv = service["server"]
    oracle = _ranked_ids(service, sort="oldest")
    status, page = _page(srv, {"q": Q, "sort": "oldest", "size": 100, "cursor": "*"}, STAFF)
    ids = [h["id"] for h in page["hits"]]
    while len(ids) < WINDOW:  # staff walk past the anonymous window
        status, page = _page(srv, {"cursor": page["next_cursor"], "size": 100}, STAFF)
        assert status == 200
        ids += [h["id"] for h in page["hits"]]
    token = page["next_cursor"]
    assert _payload(token)["staff"] and len(ids) == WINDOW
    status, body = _page(srv, {"cursor": token})
    assert status == 403 and "staff walk" in body["error"] and "hits" not in body, body
    status, body = _page(srv, {"cursor": token}, {"Authorization": "Bearer wrong"})
    assert status == 403 and "hits" not in body, body
    status, page = _page(srv, {"cursor": token, "size": 100}, STAFF)
    assert status == 200 and page["walked"] == WINDOW + 100 and not page["window_ended"]
    ids += [h["id"] for h in page["hits"]]
    assert ids == oracle[:WINDOW + 100]
    _walk(srv, {"size": 100}, STAFF, first=(status, page))  # to its end: released


def test_a_plan_changed_between_pages_is_a_409_never_a_skip(service):
    """The synonyms file changes between two pages of a walk (the real file,
    re-read by every worker): the next page is a 409 saying to start again
    (or, from a worker yet to re-read it, the walk goes on unchanged); a
    new walk ranks by the new synonyms."""
    srv = service["server"]
    q = "立法会"
    before = _ranked_ids(service, q=q, sort="relevance")
    for headers in (STAFF, None):
        status, first = _page(srv, {"q": q, "size": 10, "cursor": "*"}, headers)
        assert status == 200 and [h["id"] for h in first["hits"]] == before[:10]
        if headers is STAFF:
            staff_first = first
        else:
            anonymous_first = first
    with open(service["synonyms"], "a", encoding="utf-8") as f:
        f.write("\n立法会, 议会\n")
    # Every worker re-reads it within seconds (watched file): polled.
    assert _poll(lambda: all(_page(srv, {"q": q})[1].get("synonyms") for _ in range(6)), 20)
    # The oracle's engine re-reads it too; the change matters to this walk's order.
    assert _poll(lambda: len(_ranked_ids(service, q=q, sort="relevance")) > len(before), 20)
    after = _ranked_ids(service, q=q, sort="relevance")
    for headers, first in ((STAFF, staff_first), (None, anonymous_first)):
        status, body = _page(srv, {"cursor": first["next_cursor"], "size": 10}, headers)
        if status == 200:  # a worker yet to re-read the file: the same walk, unchanged
            assert [h["id"] for h in body["hits"]] == before[10:20], body
            while status == 200 and body["next_cursor"]:  # on to its end or the 409 (either ends it)
                status, body = _page(srv, {"cursor": body["next_cursor"], "size": 100}, headers)
        else:
            assert status == 409 and "start the walk again" in body["error"], body
    # A new walk ranks by the new synonyms (once every worker has them: a
    # walk whose pages span a worker yet to re-read it is the 409 again).
    assert _poll(lambda: _walk_or_none(srv, {"q": q, "size": 100}, STAFF) == after, 20)
    assert _poll(lambda: _live_snapshots(service) == 0)
