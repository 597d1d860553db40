"""The service under faults, for real: gunicorn with its supervised index
writer, ``kill -9``, corrupt segments, and what /healthz says meanwhile."""

import json
import os
import signal
import time
from urllib.parse import quote

import pytest

from conftest import STAFF, STAFF_TOKEN, Server, call, digest, write_jsonl

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
    srv = Server(ix, workers=1, require_healthy=False, extra_env={
        "SEARCH_ARTICLE_STORE": str(tmp / "articles.sqlite"), "SEARCH_WRITE_TOKENS": digest(STAFF_TOKEN),
        "SEARCH_WRITE_WAIT": "0.3", "SEARCH_WRITER_RESTART_DELAY": "1.5", "SEARCH_WRITER_RESTART_MAX": "3",
        "SEARCH_WRITER_STATUS": str(tmp / "writer-status.json")})
    srv.index = ix
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
    status, data = poll(lambda: (lambda h: h if not h[1]["writer_running"] else None)(health(live)), 5)
    assert status == 503 and not data["ok"] and data["status"] == "degraded", data
    down = [p for p in data["problems"] if p["code"] == "writer_down"]
    assert down and down[0]["message"].startswith("the index writer is not running: "), data
    status, body = put(live, "after-kill", "杀死之后的文章")
    assert status in (200, 201, 202) and body["seq"] > 0, body
    # The supervisor starts a new writer, which indexes the later write.
    assert poll(lambda: live.get("/api/articles/after-kill")[0] == 200, 30)
    status, data = poll(lambda: (lambda h: h if h[0] == 200 else None)(health(live)), 30)
    assert status == 200 and data["writer_running"] and data["writer"]["pid"] != pid
    assert data["writer"]["restarts"] >= 1 and data["writer"]["last_exit"]["reason"] in (
        "killed by SIGKILL", "exited unexpectedly")


def test_write_while_writer_down_answers_202_and_healthz_gives_backlog_age(live):
    pid = health(live)[1]["writer"]["pid"]
    os.kill(pid, signal.SIGKILL)
    assert poll(lambda: not health(live)[1]["writer_running"], 5)
    status, body = put(live, "queued-1", "排队的文章")
    if status == 202:  # the usual case: the writer is still waiting for its restart
        assert body["status"] == "queued" and body["status_url"] == f"/api/changes/{body['seq']}"
        status, data = health(live)
        if not data["writer_running"]:
            assert status == 503 and data["indexing_backlog"] >= 1 and data["backlog_oldest_age_s"] >= 0
            assert "changes wait in the store, the oldest for" in data["reason"], data
    assert poll(lambda: live.get("/api/articles/queued-1")[0] == 200, 30)
    assert poll(lambda: health(live)[0] == 200, 30)
