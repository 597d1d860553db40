"""The real service: gunicorn workers on loopback, real HTTP."""

import os
import subprocess
import sys
import time
import urllib.parse

import pytest

from conftest import ROOT, Server, write_jsonl


def test_search_over_real_http(server):
    status, data = server.json("/api/search?q=" + urllib.parse.quote("香港 选举") + "&size=3")
    assert status == 200 and data["total"] > 3 and len(data["hits"]) == 3
    status, headers, body = server.get("/search?q=" + urllib.parse.quote("立法會"))
    assert status == 200 and "<mark>立法會</mark>" in body.decode()
    assert "Content-Security-Policy" in headers
    status, data = server.json("/api/search?page=0")
    assert status == 400 and "page" in data["error"]
    status, data = server.json("/healthz")
    assert status == 200 and data["documents"] == 2000


def test_bad_input_never_500(server):
    for q in ["%ZZ", "%00", "a" * 5000, "%E4%B8", "'\";--", "title:", '"', "-"]:
        status, _, _ = server.get("/api/search?q=" + q)
        assert status in (200, 400), (q, status)
        status, _, _ = server.get("/search?q=" + q)
        assert status in (200, 400), (q, status)


def test_workers_pick_up_new_commits_without_restart(tmp_path):
    """Indexing while serving: a committed article appears in the running
    service's results, on every worker, without a restart (how fast is
    measured by bench/freshness.py, not asserted here)."""
    from indexer import pipeline

    ix = str(tmp_path / "ix")
    first = write_jsonl(tmp_path / "a.jsonl", [
        {"id": "s1", "title": "江南市地铁开通", "body": "地铁5号线今天开通。", "published": "2026-05-01"}])
    pipeline.build(ix, [first], workers=1, progress=False)
    srv = Server(ix, workers=2)
    try:
        status, data = srv.json("/api/search?q=" + urllib.parse.quote("台风"))
        assert status == 200 and data["total"] == 0
        second = write_jsonl(tmp_path / "b.jsonl", [
            {"id": "s2", "title": "台风“海燕”登陆江南市", "body": "台风带来强降雨。", "published": "2026-07-01"}])
        env = dict(os.environ, PYTHONPATH=ROOT)
        subprocess.run([sys.executable, "-m", "indexer", "build", "--index", ix, second], env=env, check=True,
                       capture_output=True)
        committed = time.monotonic()
        seen = []
        while time.monotonic() - committed < 10 and len(seen) < 6:
            status, data = srv.json("/api/search?q=" + urllib.parse.quote("台风"))
            if data["total"] == 1:
                seen.append(time.monotonic() - committed)
            time.sleep(0.05)
        assert len(seen) >= 6, "new article never appeared"
        # Both workers answer with it now (requests are spread over them).
        assert all(srv.json("/api/search?q=" + urllib.parse.quote("台风"))[1]["total"] == 1 for _ in range(10))
    finally:
        srv.stop()


def test_service_starts_without_index_and_recovers(tmp_path):
    from indexer import pipeline

    ix = str(tmp_path / "missing")
    # Start without an index: the health check reports why; pages answer 503.
    srv = Server(ix, workers=1, require_healthy=False)
    try:
        status, data = srv.json("/healthz")
        assert status == 503 and not data["ok"] and "no index" in data["reason"]
        assert srv.get("/api/search?q=a")[0] == 503
        src = write_jsonl(tmp_path / "a.jsonl", [{"id": "r1", "title": "恢复测试", "body": "索引重建后恢复。"}])
        pipeline.build(ix, [src], workers=1, progress=False)
        time.sleep(2.5)  # the failed open is retried after a short pause
        status, data = srv.json("/healthz")
        assert status == 200 and data["documents"] == 1
    finally:
        srv.stop()


@pytest.mark.parametrize("damage", ["truncated segment", "garbage table of contents"])
def test_corrupt_index_is_reported_and_recovers(tmp_path, sample_records, damage):
    """A damaged index: the service still starts, /healthz says what is
    wrong (503), and it recovers once the index is rebuilt (atomic swap)."""
    from indexer import pipeline

    src = write_jsonl(tmp_path / "a.jsonl", sample_records[:50])
    ix = str(tmp_path / "index")
    pipeline.build(ix, [src], workers=1, progress=False)
    if damage == "truncated segment":
        seg = next(f for f in os.listdir(ix) if f.endswith(".seg"))
        with open(os.path.join(ix, seg), "r+b") as f:
            f.truncate(100)
    else:
        toc = max(f for f in os.listdir(ix) if f.endswith(".toc"))
        with open(os.path.join(ix, toc), "wb") as f:
            f.write(b"\x00garbage" * 10)
    srv = Server(ix, workers=1, require_healthy=False)
    try:
        status, data = srv.json("/healthz")
        assert status == 503 and not data["ok"] and data["reason"], data
        assert srv.get("/api/search?q=a")[0] == 503
        pipeline.rebuild(ix, [src], workers=1, progress=False)
        deadline = time.time() + 15
        while time.time() < deadline:
            status, data = srv.json("/healthz")
            if status == 200:
                break
            time.sleep(0.5)
        assert status == 200 and data["documents"] == 50
        assert srv.json("/api/search?q=%E9%A6%99%E6%B8%AF")[0] == 200
    finally:
        srv.stop()
