"""Indexing while serving under load, through the real service: gunicorn
workers and the writer process started by its master, real HTTP."""

import json
import time
import urllib.error
import urllib.parse
import urllib.request

from conftest import STAFF, STAFF_TOKEN, SearchLoad, Server, call, digest, write_jsonl


def test_searches_never_fail_while_articles_change(tmp_path, sample_records):
    from indexer import pipeline

    base, fresh, bulk = sample_records[:300], sample_records[300:450], sample_records[450:550]
    ix = str(tmp_path / "index")
    pipeline.build(ix, [write_jsonl(tmp_path / "base.jsonl", base)], workers=1, progress=False)
    srv = Server(ix, workers=2, extra_env={
        "SEARCH_ARTICLE_STORE": str(tmp_path / "articles.sqlite"),
        "SEARCH_WRITE_TOKENS": digest(STAFF_TOKEN), "SEARCH_WRITE_WAIT": "10"})
    try:
        assert srv.wait_for_writer()

        words = ["香港", "习近平", "疫情", "经济", "选举", "法院", "学生", "\"国务院\"", "中国 美国", "xianggang"]
        with SearchLoad(srv.url, words) as load:
            auth = {**STAFF, "Content-Type": "application/json"}
            lags = []
            for i, r in enumerate(fresh):
                doc = dict(r, id=f"live-{i}")
                t0 = time.monotonic()
                status, body = call(f"{srv.url}/api/articles/live-{i}", "PUT", json.dumps(doc, ensure_ascii=False), auth)
                assert status in (200, 201, 202), body
                if i % 15 == 0:  # searchable soon after (the 2 s target is measured by bench.live_freshness)
                    phrase = urllib.parse.quote('"' + doc["title"][:12] + '"')
                    seen = False
                    while not seen and time.monotonic() - t0 < 10:
                        _, found = call(f"{srv.url}/api/search?q={phrase}&size=50&group=0&correct=0")
                        seen = f'"live-{i}"' in found.decode("utf-8")
                        if not seen:
                            time.sleep(0.05)
                    assert seen, f"live-{i} not searchable after 10 s"
                    lags.append(time.monotonic() - t0)
            for i in range(0, 50):  # corrections
                doc = dict(fresh[i], id=f"live-{i}", title="更正：" + fresh[i]["title"])
                assert call(f"{srv.url}/api/articles/live-{i}", "PUT", json.dumps(doc, ensure_ascii=False), auth)[0] in (200, 202)
            lines = "\n".join(json.dumps(dict(r, id=f"bulk-{i}"), ensure_ascii=False) for i, r in enumerate(bulk))
            status, body = call(f"{srv.url}/api/articles:bulk", "POST", lines, {**STAFF, "Content-Type": "application/x-ndjson"})
            assert status in (200, 202) and json.loads(body)["accepted"] == 100
            for r in base[:30]:  # withdrawals of indexed articles
                assert call(f"{srv.url}/api/articles/{urllib.parse.quote(r['id'])}", "DELETE", headers=STAFF)[0] in (200, 202)
            for i in range(130, 150):  # ... and of new ones
                assert call(f"{srv.url}/api/articles/live-{i}", "DELETE", headers=STAFF)[0] in (200, 202)
            expected = len(base) + len(fresh) + len(bulk) - 30 - 20
            deadline = time.time() + 30
            while time.time() < deadline:
                health = srv.json("/healthz")[1]
                if health.get("indexing_backlog") == 0 and health.get("documents") == expected:
                    break
                time.sleep(0.2)
            time.sleep(1.5)  # both workers have refreshed
        counts = {srv.json("/healthz")[1]["documents"] for _ in range(6)}
        assert counts == {expected}, counts
        assert not load.errors, load.errors[:10]
        assert load.requests > 200
        status, metrics = call(f"{srv.url}/metrics")
        assert f"news_search_index_documents {expected}" in metrics.decode()
        print(f"\nserved {load.requests} searches during {len(fresh) + 50 + 100 + 50} writes, "
              f"0 errors; put->searchable max {max(lags):.2f} s")
    finally:
        srv.stop()
