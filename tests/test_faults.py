"""The service under faults, for real: gunicorn with its supervised index
writer, ``kill -9``, corrupt segments, and what /healthz says meanwhile."""

import fcntl
import json
import subprocess
import sys
import os
import signal
import time
from urllib.parse import quote

import pytest

from conftest import ROOT, STAFF, STAFF_TOKEN, Server, call, digest, write_jsonl

AUTH = {**STAFF, "Content-Type": "application/json"}


def poll(fn, seconds=30.0, every=0.1):
    """fn() until it returns something true (returned), or the last value."""
    deadline = time.time() + seconds
    value = fn()
    while not value and time.time() < deadline:
        time.sleep(every)
        value = fn()
    return value


def put(srv, doc_id, title, body="正文。"):
    status, raw = call(f"{srv.url}/api/articles/{quote(doc_id)}", "PUT",
                       json.dumps({"title": title, "body": body, "published": "2024-03-01"}), AUTH)
    return status, json.loads(raw)


def health(srv):
    return srv.json("/healthz")


@pytest.fixture(scope="module")
def live(tmp_path_factory, sample_records):
    """gunicorn (1 worker) with a store, its writer restarted 1.5 s after a
    failure (so that a test can see it down), writes waiting 0.3 s."""
    from indexer import pipeline

    tmp = tmp_path_factory.mktemp("faults")
    ix = str(tmp / "index")
    pipeline.build(ix, [write_jsonl(tmp / "seed.jsonl", sample_records[:40])], workers=1, progress=False)
    from indexer.article_store import ArticleStore

    ArticleStore(str(tmp / "articles.sqlite")).put(sample_records[:40], already_indexed=True)
    srv = Server(ix, workers=1, require_healthy=False, extra_env={
        "SEARCH_ARTICLE_STORE": str(tmp / "articles.sqlite"), "SEARCH_WRITE_TOKENS": digest(STAFF_TOKEN),
        "SEARCH_WRITE_WAIT": "0.3", "SEARCH_WRITER_RESTART_DELAY": "1.5", "SEARCH_WRITER_RESTART_MAX": "3",
        "SEARCH_WRITER_STATUS": str(tmp / "writer-status.json")})
    srv.index, srv.store = ix, str(tmp / "articles.sqlite")
    assert srv.wait_for_writer()
    yield srv
    srv.stop()


def test_healthz_ok_when_all_works(live):
    status, data = health(live)
    assert status == 200 and data["ok"] and data["status"] == "ok" and data["problems"] == [], json.dumps(data)
    assert data["writer_running"] and data["writer"]["state"] == "running" and data["indexing_backlog"] == 0
    assert data["backlog_oldest_age_s"] is None


def test_killed_writer_is_restarted_and_later_writes_are_indexed(live):
    assert put(live, "before-kill", "杀死之前")[0] in (200, 201, 202)
    assert poll(lambda: live.get("/api/articles/before-kill")[0] == 200, 30)
    pid = health(live)[1]["writer"]["pid"]
    os.kill(pid, signal.SIGKILL)
    # While it is down: /healthz degraded with the reason; writes still
    # committed to the store and answered 202 (never a CMS outage).
    status, data = poll(lambda: (lambda h: h if any(p["code"] == "writer_down" for p in h[1]["problems"])
                                 else None)(health(live)), 5)
    assert status == 503 and not data["ok"] and data["status"] == "degraded" and not data["writer_running"], data
    down = [p for p in data["problems"] if p["code"] == "writer_down"]
    assert down[0]["message"].startswith("the index writer is not running: killed by SIGKILL") or \
        down[0]["message"].startswith("the index writer is not running: exited unexpectedly"), data
    status, body = put(live, "after-kill", "杀死之后的文章")
    assert status in (200, 201, 202) and body["seq"] > 0, body
    # The supervisor starts a new writer, which indexes the later write.
    assert poll(lambda: live.get("/api/articles/after-kill")[0] == 200, 30)
    status, data = poll(lambda: (lambda h: h if h[0] == 200 else None)(health(live)), 30)
    assert status == 200 and data["writer_running"] and data["writer"]["pid"] != pid
    assert data["writer"]["restarts"] >= 1 and data["writer"]["last_exit"]["reason"] in (
        "killed by SIGKILL", "exited unexpectedly")


def test_write_while_writer_down_answers_202_and_healthz_gives_backlog_age(live):
    """The test takes the index's write lock once the writer is killed, so
    the restarted writer waits for it: the outage lasts as long as the
    test wants."""
    os.kill(health(live)[1]["writer"]["pid"], signal.SIGKILL)
    with open(os.path.join(os.path.realpath(live.index), "MAIN_WRITELOCK"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # free as soon as the killed writer is gone
        try:
            status, body = put(live, "queued-1", "排队的文章")
            assert status == 202 and body["status"] == "queued" and body["status_url"] == f"/api/changes/{body['seq']}"
            status, data = health(live)
            assert status == 503 and not data["writer_running"] and data["indexing_backlog"] >= 1
            assert data["backlog_oldest_age_s"] >= 0 and "changes wait in the store, the oldest for" in data["reason"]
            assert live.get("/api/articles/queued-1")[0] == 404
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    assert poll(lambda: live.get("/api/articles/queued-1")[0] == 200, 30)
    assert poll(lambda: health(live)[0] == 200, 30)


def truncate_a_segment(index):
    """Cut the largest segment file of the index to half its size."""
    real = os.path.realpath(index)
    seg = max((f for f in os.listdir(real) if f.endswith(".seg")), key=lambda f: os.path.getsize(os.path.join(real, f)))
    path = os.path.join(real, seg)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    return seg


def indexer_cli(*args):
    """``python -m indexer ARGS`` in a real process."""
    return subprocess.run([sys.executable, "-m", "indexer", *args], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT), timeout=300)


def test_rebuild_of_a_damaged_index_without_a_service(tmp_path, sample_records):
    """From the index itself: refused, naming the damaged segment and its
    articles (they would be lost).  From the store: done, saying exactly
    what it does."""
    from indexer import pipeline
    from indexer.article_store import ArticleStore
    from search.engine import SearchEngine

    ix, st = str(tmp_path / "index"), str(tmp_path / "articles.sqlite")
    records = sample_records[100:130]
    pipeline.build(ix, [write_jsonl(tmp_path / "a.jsonl", records)], workers=1, progress=False, batch_size=10)
    ArticleStore(st).put(records, already_indexed=True)
    seg = truncate_a_segment(ix)
    done = indexer_cli("rebuild", "--index", ix, "--from-index")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"segment file {seg} (10 documents) is truncated" in done.stderr
    assert "would lose the articles of the damaged segment, so none was made" in done.stderr
    done = indexer_cli("rebuild", "--index", ix, "--store", st)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert f"warning: {ix} is damaged: segment file {seg} (10 documents)" in done.stderr
    assert f"the new index holds the 30 articles of {st}" in done.stderr
    engine = SearchEngine.open(ix, refresh_interval=0)
    assert engine.stats().documents == 30 and all(engine.get(r["id"]) for r in records)


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_a_damaged_document_data_file_is_damage(tmp_path, sample_records, damage):
    """A segment's per-document data (sentence and word boundaries, dates,
    near-duplicate signatures) deleted or cut: the open index and a service
    refreshing it raise IndexCorrupt naming the file (503 on the web), not
    a reader's 400 ("this index has no sentence ends") or silently ungrouped
    copies; the rebuild from the store repairs it."""
    from indexer import pipeline
    from indexer.article_store import ArticleStore
    from search.backends.base import IndexCorrupt
    from search.engine import SearchEngine
    from search.models import SearchRequest

    ix, st = str(tmp_path / "index"), str(tmp_path / "articles.sqlite")
    records = sample_records[200:230]
    pipeline.build(ix, [write_jsonl(tmp_path / "a.jsonl", records)], workers=1, progress=False, batch_size=10)
    ArticleStore(st).put(records, already_indexed=True)
    served = SearchEngine.open(ix, refresh_interval=0)
    assert served.search(SearchRequest(q=records[0]["title"][:4], facets=())).total > 0
    name = sorted(f for f in os.listdir(ix) if f.endswith(".docinfo.npz"))[0]
    path = os.path.join(ix, name)
    if damage == "missing":
        os.remove(path)
    else:
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) - 30)
    with pytest.raises(IndexCorrupt, match=f"document data file {name} \\(10 documents\\) is {damage}"):
        SearchEngine.open(ix, refresh_interval=0).search(SearchRequest(q="香港", facets=()))
    with pytest.raises(IndexCorrupt, match=name):
        served.check()
    done = indexer_cli("rebuild", "--index", ix, "--store", st)
    assert done.returncode == 0 and name in done.stderr, done.stderr
    served.check()
    assert served.stats().documents == 30


def test_corrupt_segment_under_the_service_503_with_reason_then_rebuild_from_store(live):
    """(Last of the module: it damages the served index and repairs it.)"""
    assert live.get("/api/search?q=%E9%A6%99%E6%B8%AF")[0] == 200
    seg = truncate_a_segment(live.index)
    # noticed at the worker's next refresh (SEARCH_REFRESH_INTERVAL)
    status, headers, body = poll(lambda: (lambda r: r if r[0] != 200 else None)(
        live.get("/api/search?q=%E9%A6%99%E6%B8%AF")), 10)
    data = json.loads(body)
    assert status == 503 and headers["Retry-After"] and f"segment file {seg}" in data["error"], data
    assert "is truncated" in data["error"] and "python -m indexer rebuild" in data["error"]
    status, headers, body = live.get("/search?q=%E9%A6%99%E6%B8%AF")
    assert status == 503 and "索引已损坏" in body.decode() and seg in body.decode()
    status, data = health(live)
    assert status == 503 and data["status"] == "unavailable" and not data["index_open"]
    assert data["problems"][0]["code"] == "index_unavailable" and seg in data["problems"][0]["message"]
    # A write meanwhile is stored, but not "indexed": it cannot be read until the rebuild.
    status, body = put(live, "written-while-damaged", "索引损坏期间写入的稿件")
    assert status == 202 and body["status"] == "queued" and seg in body["problem"], body
    status, change = call(f"{live.url}/api/changes/{body['seq']}", headers=STAFF)
    change = json.loads(change)
    assert change["status"] == "queued" and seg in change.get("problem", ""), change
    # The documented rebuild, run as documented, while the service runs.
    done = indexer_cli("rebuild", "--index", live.index, "--store", live.store)
    assert done.returncode == 0, done.stderr
    assert poll(lambda: health(live)[0] == 200, 30), health(live)
    status, _, body = live.get("/api/search?q=%E9%A6%99%E6%B8%AF")
    assert status == 200 and json.loads(body)["total"] > 0
    from indexer.article_store import ArticleStore

    ids = [r["id"] for r in ArticleStore(live.store).records()]
    assert health(live)[1]["documents"] == len(ids)
    assert "written-while-damaged" in ids
    assert all(live.get(f"/api/articles/{quote(i, safe='')}")[0] == 200 for i in ids)



def test_writer_failing_at_start_on_a_damaged_index_is_reported_then_recovers(live):
    """(After the test above.)  The writer restarted on a damaged index
    fails at start: /healthz gives its own error as the reason; writes are
    still stored (202); the rebuild from the store (no writer running: done
    by the command itself) lets the next restart succeed, and the write
    made meanwhile is indexed."""
    seg = truncate_a_segment(live.index)
    os.kill(health(live)[1]["writer"]["pid"], signal.SIGKILL)

    def failed_at_start():
        data = health(live)[1]
        last = (data.get("writer") or {}).get("last_exit") or {}
        return data if seg in last.get("reason", "") else None

    data = poll(failed_at_start, 30)
    assert data and not data["ok"], json.dumps(health(live)[1], ensure_ascii=False)
    codes = {p["code"]: p["message"] for p in data["problems"]}
    assert "index_unavailable" in codes and seg in codes["writer_down"], codes
    status, body = put(live, "during-damage", "损坏期间写入的文章")
    assert status == 202 and body["status"] == "queued"
    done = indexer_cli("rebuild", "--index", live.index, "--store", live.store)
    assert done.returncode == 0 and f"segment file {seg}" in done.stderr, done.stderr
    assert poll(lambda: live.get("/api/articles/during-damage")[0] == 200, 60)
    assert poll(lambda: health(live)[0] == 200, 30), health(live)

def test_supervisor_restarts_a_failing_writer_with_doubling_delays(tmp_path):
    """A writer that fails at start (here a stand-in that writes its error
    and exits 1, as ``indexer.writer.serve`` does) is restarted after 0.1,
    0.2, 0.4, 0.4 s (the maximum), and its own error is the reason."""
    from indexer.supervisor import WriterSupervisor, read_status

    script = "import sys; open(sys.argv[-1], 'w').write('TimeoutError: another writer holds the lock'); sys.exit(1)"
    sup = WriterSupervisor([sys.executable, "-c", script], str(tmp_path / "status.json"), first_delay=0.1,
                           max_delay=0.4, stable_after=60)
    delays = []

    def seen():
        st = read_status(sup.status_path)
        if st and st["state"] == "waiting" and st["restarts"] > len(delays):
            delays.append(round(st["next_start_at"] - st["last_exit"]["at"], 1))
            assert st["last_exit"] == {"at": st["last_exit"]["at"], "code": 1,
                                       "reason": "TimeoutError: another writer holds the lock"}
        return len(delays) >= 4

    sup.start()
    try:
        assert poll(seen, 20, every=0.01), delays
    finally:
        sup.stop()
    assert delays[:4] == [0.1, 0.2, 0.4, 0.4]
    assert read_status(sup.status_path)["state"] == "stopped"


def test_healthz_names_an_unreadable_store(tmp_path, sample_index):
    from web import create_app

    bad = tmp_path / "articles.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    app = create_app({"SEARCH_INDEX": sample_index, "SEARCH_ARTICLE_STORE": str(bad), "SEARCH_QUERY_LOG": "off",
                      "SEARCH_RATE_LIMIT": "off"})
    resp = app.test_client().get("/healthz")
    data = resp.get_json()
    assert resp.status_code == 503 and data["status"] == "degraded" and data["index_open"]
    assert [p["code"] for p in data["problems"]] == ["store_unavailable"]
    assert data["problems"][0]["message"].startswith("the article store cannot be read: file is not a database")
    # The other readers of the store answer too (no 500): metrics leave the backlog gauge out.
    metrics = app.test_client().get("/metrics")
    assert metrics.status_code == 200 and "news_search_index_documents" in metrics.get_data(as_text=True)
    assert "news_search_indexing_queue_length" not in metrics.get_data(as_text=True)
