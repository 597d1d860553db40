"""Freshness: how long after ``indexer build`` commits a new article the
running service returns it.

    python -m bench.freshness --index DIR [--trials 5]

Starts gunicorn (gunicorn.conf.py settings, the service's default refresh
interval) on DIR, then per trial: writes one new article with a unique
word, runs ``python -m indexer build`` on it, and from the moment that
process has exited (its commit is done) polls /api/search every 20 ms.
Reports the time to the first answer containing the article and to ten
answers in a row containing it (so both workers have it).  Each probe
article is deleted again afterwards.  Writes bench/results/freshness.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from .measure import write_result
from web.loopback import ROOT, Server

HERE = os.path.dirname(os.path.abspath(__file__))


def _indexer(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "indexer", *args], cwd=ROOT, check=True,
                   env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True)


def trial(srv: Server, index_dir: str, tmp: str) -> dict:
    token = "probe" + uuid.uuid4().hex[:12]
    doc_id = "freshness-" + token
    src = os.path.join(tmp, token + ".jsonl")
    with open(src, "w", encoding="utf-8") as f:
        f.write(json.dumps({"id": doc_id, "title": f"新鲜度探针 {token}", "body": f"用于测量新稿上线速度的探针稿件 {token}。",
                            "published": time.strftime("%Y-%m-%dT%H:%M:%S"), "source": "benchmark"},
                           ensure_ascii=False) + "\n")
    _indexer("build", "--no-progress", "--index", index_dir, src)
    committed = time.perf_counter()
    first = None
    streak = 0
    while time.perf_counter() - committed < 30:
        status, body = srv.json(f"/api/search?q={token}")
        found = status == 200 and any(h["id"] == doc_id for h in body.get("hits", []))
        now = time.perf_counter() - committed
        if found:
            first = now if first is None else first
            streak += 1
            if streak == 10:
                break
        else:
            streak = 0
        time.sleep(0.02)
    stable = now if streak == 10 else None
    _indexer("delete", "--index", index_dir, doc_id)
    return {"first_seconds": first, "stable_seconds": stable}


def run(index_dir: str, trials: int) -> dict:
    with Server(index_dir, workers=int(os.environ.get("WEB_CONCURRENCY", "2")), timeout=180) as srv, \
            tempfile.TemporaryDirectory() as tmp:
        results = [trial(srv, index_dir, tmp) for _ in range(trials)]
    firsts = [r["first_seconds"] for r in results if r["first_seconds"] is not None]
    stables = [r["stable_seconds"] for r in results if r["stable_seconds"] is not None]
    return {
        "trials": results, "missed": trials - len(stables),
        "first_median_s": round(statistics.median(firsts), 3) if firsts else None,
        "first_max_s": round(max(firsts), 3) if firsts else None,
        "stable_max_s": round(max(stables), 3) if stables else None,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "freshness.json"))
    args = ap.parse_args(argv)
    result = run(args.index, args.trials)
    print(f"freshness: first seen median {result['first_median_s']} s, max {result['first_max_s']} s; "
          f"seen by every request within {result['stable_max_s']} s; missed {result['missed']}")
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
