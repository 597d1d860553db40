"""Live ingestion: from PUT /api/articles/<id> to search results, with 3
workers serving the index while the writer merges segments.

    python -m bench.live_freshness --index DIR [--workers 3] [--probes 20]

Starts gunicorn (gunicorn.conf.py, the service's default 1 s refresh
interval) with its writer and a fresh article store on DIR (the full
corpora index for the figure in the issue).  To have a real merge running,
it first bulk-loads ``--merge-docs`` articles (copies of real ones under
new ids) as ten small segments, which makes the writer start merging
them; while /healthz says "merging", it PUTs probe articles one by one and
measures, from the start of each PUT, the first search answer containing
the probe and ten answers in a row containing it (so every worker has it).
Everything it wrote is deleted again at the end.  Writes
bench/results/live_freshness.json.  Rate limiting is off (one client).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from .env import CORPUS
from .measure import write_result
from web.loopback import Server

TOKEN = "bench-" + uuid.uuid4().hex
HERE = os.path.dirname(os.path.abspath(__file__))


def call(url, method="GET", body=None, timeout=60):
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    req = urllib.request.Request(url, data=body.encode() if body else None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def sample_articles(n: int) -> list[dict]:
    out = []
    with gzip.open(os.path.join(CORPUS, "news-hkcnews.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line))
            if len(out) >= n:
                break
    return out


def probe(srv: Server, i: int) -> dict:
    word = "探针" + uuid.uuid4().hex[:10]
    doc_id = f"live-probe-{i}"
    body = json.dumps({"id": doc_id, "title": f"实时上线探针 {word}", "body": f"测量稿件从提交到可检索的时间 {word}。",
                       "published": time.strftime("%Y-%m-%dT%H:%M:%S"), "source": "benchmark"}, ensure_ascii=False)
    merging = call(srv.url + "/healthz")[1].get("merging")
    t0 = time.perf_counter()
    status, answer = call(f"{srv.url}/api/articles/{doc_id}", "PUT", body)
    acked = time.perf_counter() - t0
    first, streak = None, 0
    while time.perf_counter() - t0 < 30:
        _, res = call(f"{srv.url}/api/search?q={urllib.parse.quote(word)}&group=0")
        if any(h["id"] == doc_id for h in res.get("hits", [])):
            first = first if first is not None else time.perf_counter() - t0
            streak += 1
            if streak == 10:
                break
        else:
            streak = 0
        time.sleep(0.01)
    return {"status": status, "answer": answer.get("status"), "acknowledged_s": round(acked, 3),
            "first_seen_s": round(first, 3) if first is not None else None,
            "seen_by_all_s": round(time.perf_counter() - t0, 3) if streak == 10 else None,
            "merge_running": bool(merging)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--probes", type=int, default=20)
    ap.add_argument("--merge-docs", type=int, default=2000)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "live_freshness.json"))
    args = ap.parse_args(argv)
    from web.auth import digest

    tmp = tempfile.mkdtemp(prefix="live-freshness-")
    t_start = time.perf_counter()
    srv = Server(os.path.abspath(args.index), workers=args.workers, timeout=300, extra_env={
        "SEARCH_ARTICLE_STORE": os.path.join(tmp, "articles.sqlite"), "SEARCH_WRITE_TOKENS": digest(TOKEN),
        "SEARCH_WRITE_WAIT": "10"})
    written = []
    try:
        while not call(srv.url + "/healthz")[1].get("writer_running"):
            time.sleep(0.5)
        started = time.perf_counter() - t_start
        docs = call(srv.url + "/healthz")[1]["documents"]
        print(f"service with writer up after {started:.1f} s on {docs} documents")
        base = sample_articles(args.merge_docs)
        per = max(1, len(base) // 10)
        for k in range(10):  # ten small segments: the writer starts merging them
            lines = [json.dumps(dict(r, id=f"live-bulk-{k}-{j}"), ensure_ascii=False)
                     for j, r in enumerate(base[k * per:(k + 1) * per])]
            written += [f"live-bulk-{k}-{j}" for j in range(len(lines))]
            call(srv.url + "/api/articles:bulk", "POST", "\n".join(lines))
        results = []
        for i in range(args.probes):
            results.append(probe(srv, i))
            written.append(f"live-probe-{i}")
            r = results[-1]
            print(f"probe {i}: acked {r['acknowledged_s']} s, first seen {r['first_seen_s']} s, "
                  f"every worker {r['seen_by_all_s']} s, merge running: {r['merge_running']}")
        health = call(srv.url + "/healthz")[1]
    finally:
        # Withdraw everything in one change batch (through the store the
        # writer drains, as the indexer CLI does), not 3,000 DELETE calls.
        from indexer.article_store import ArticleStore

        store = ArticleStore(os.path.join(tmp, "articles.sqlite"))
        store.wait_applied(store.delete(written), 300)
        srv.stop()
    during = [r for r in results if r["merge_running"]]
    all_seen = [r["seen_by_all_s"] for r in results if r["seen_by_all_s"] is not None]
    summary = {
        "workers": args.workers, "documents": docs, "probes": len(results),
        "probes_during_merge": len(during),
        "acknowledged_p50_s": statistics.median(r["acknowledged_s"] for r in results),
        "first_seen_p50_s": statistics.median(r["first_seen_s"] for r in results),
        "seen_by_all_p50_s": statistics.median(all_seen), "seen_by_all_max_s": max(all_seen),
        "seen_by_all_max_during_merge_s": max((r["seen_by_all_s"] for r in during), default=None),
        "refresh_interval_s": 1.0, "rate_limit": "off", "final_health": health, "probes_detail": results,
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "probes_detail"}, indent=1))
    write_result(args.out, summary)


if __name__ == "__main__":
    main()
