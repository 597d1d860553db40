"""Search latency while the writer applies one write a second.

    python -m bench.under_writes --index DIR [--runs 3] [--rate 1.0]

Production never searches one optimised segment: the service's writer adds
a small segment per step, merges in the background and the engine reopens
its view after each commit.  This benchmark copies ``DIR`` (left
untouched) to a temporary directory and measures, in the same run and
alternating (idle, writing, idle, writing, ...), the cold pass of
bench/latency.py (each distinct query of bench/querymix.jsonl once in a
fresh process, result cache off, after the background builders finished):

* idle: no writer running;
* under writes: ``python -m indexer writer`` running on the copy, fed one
  new article every ``1 / rate`` seconds through the article store (real
  articles of the 2,000-article sample under new ids), the engine
  refreshing its view as the service does (every second).

Reports each mode's median over ``--runs`` passes of p50/p95/p99 (ms), the
segments seen, the writes applied, and the ratio under writes / idle.
Writes bench/results/under_writes.json.  The target of issue 18 is p95 <=
25 ms under writes on the full corpora.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from .env import CORPUS, ROOT
from .measure import write_result

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(CORPUS, "news-sample-2k.jsonl.gz")

# One cold pass in a fresh process; prints its figures as one JSON line.
_PASS = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from bench.latency import distinct_queries, load_mix, percentiles, request_for
from search.engine import SearchEngine
engine = SearchEngine.open(sys.argv[2], refresh_interval=float(sys.argv[3]))
engine.pinyin.get(wait=300)
engine.suggester.get(wait=300)
engine._cache.size = 0
ms = []
segments = set()
for item in distinct_queries(load_mix()):
    t0 = time.perf_counter()
    engine.search(request_for(item))
    ms.append((time.perf_counter() - t0) * 1000)
    segments.add(len(engine.backend.view.segments))
out = percentiles(ms)
out["segments"] = sorted(segments)
print(json.dumps(out))
"""


def cold_pass(index: str, refresh: float) -> dict:
    """One cold pass in a fresh process (see ``_PASS``): percentiles in ms
    and the segment counts seen.  Raises CalledProcessError when it fails."""
    out = subprocess.run([sys.executable, "-c", _PASS, ROOT, index, str(refresh)], check=True,
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    return json.loads(out.stdout.strip().splitlines()[-1])


class Feeder:
    """Puts one new article into the article store every ``interval``
    seconds (a thread: the cost is one SQLite transaction)."""

    def __init__(self, store_path: str, interval: float):
        from indexer.article_store import ArticleStore

        self.store = ArticleStore(store_path)
        self.interval = interval
        self.written = 0
        self._stop = threading.Event()
        with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
            self._records = [json.loads(line) for line in f if line.strip()]
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        n = 0
        while not self._stop.wait(self.interval):
            r = dict(self._records[n % len(self._records)])
            r["id"] = f"underwrites-{os.getpid()}-{n}"
            self.store.put([r])
            n += 1
            self.written = n

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()


def median_of(passes: list[dict]) -> dict:
    return {k: round(statistics.median(p[k] for p in passes), 2) for k in ("p50", "p95", "p99")}


def run(index: str, runs: int, rate: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="underwrites-") as tmp:
        copy = os.path.join(tmp, "index")
        shutil.copytree(index, copy)
        store = os.path.join(tmp, "articles.sqlite")
        idle, writing, applied = [], [], []
        for _ in range(runs):
            idle.append(cold_pass(copy, 3600.0))
            writer = subprocess.Popen([sys.executable, "-m", "indexer", "writer", "--index", copy, "--store", store],
                                      cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            feeder = None
            try:
                time.sleep(3)  # the writer opens the index
                feeder = Feeder(store, 1.0 / rate)
                feeder.start()
                time.sleep(3)
                writing.append(cold_pass(copy, 1.0))
            finally:
                if feeder is not None:
                    feeder.stop()
                    applied.append(feeder.written)
                writer.terminate()
                writer.wait(60)
        result = {
            "runs": runs, "rate_per_s": rate, "idle": median_of(idle), "under_writes": median_of(writing),
            "idle_passes": idle, "under_writes_passes": writing, "writes_per_pass": applied,
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        result["ratio"] = {k: round(result["under_writes"][k] / result["idle"][k], 2) for k in ("p50", "p95", "p99")}
        return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rate", type=float, default=1.0, help="writes per second")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "under_writes.json"))
    args = ap.parse_args(argv)
    r = run(args.index, args.runs, args.rate)
    print(f"{'cold pass (ms)':22} {'p50':>7} {'p95':>7} {'p99':>7}")
    for name in ("idle", "under_writes"):
        v = r[name]
        print(f"{name:22} {v['p50']:7.1f} {v['p95']:7.1f} {v['p99']:7.1f}")
    print(f"under writes / idle: p50 {r['ratio']['p50']}x, p95 {r['ratio']['p95']}x, p99 {r['ratio']['p99']}x; "
          f"writes per pass {r['writes_per_pass']}; segments seen {[p['segments'] for p in r['under_writes_passes']]}")
    print(f"target: p95 <= 25 ms under writes: {'reached' if r['under_writes']['p95'] <= 25 else 'not reached'}")
    write_result(args.out, r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
