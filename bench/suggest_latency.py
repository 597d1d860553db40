"""Suggest-as-you-type latency in-process on an index (issue 5 target:
p95 under 20 ms on the full corpora).

    python -m bench.suggest_latency --index DIR

Prefixes as readers type them: the first 1-4 characters of every distinct
query of bench/querymix.jsonl, and the first 2-8 letters of the pinyin
queries of eval/reader_queries.jsonl.  Also reports how long the
suggester takes to build (in the background, when a worker starts).
Writes bench/results/suggest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from .latency import distinct_queries, load_mix, percentiles
from .measure import write_result

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)


def prefixes() -> list[str]:
    out: dict[str, None] = {}
    for item in distinct_queries(load_mix()):
        q = item["q"].strip().strip('"')
        for n in range(1, min(4, len(q)) + 1):
            out[q[:n]] = None
    with open(os.path.join(ROOT, "eval", "reader_queries.jsonl"), encoding="utf-8") as f:
        for line in f:
            item = json.loads(line)
            if item["kind"] == "pinyin":
                word = item["query"].split()[0]
                for n in range(2, min(8, len(word)) + 1):
                    out[word[:n]] = None
    return list(out)


def run(index_dir: str) -> dict:
    from search.engine import SearchEngine

    engine = SearchEngine.open(index_dir, refresh_interval=3600)
    t = time.perf_counter()
    engine.suggester.get(wait=600)
    build_s = time.perf_counter() - t
    times, empty = [], 0
    for p in prefixes():
        t0 = time.perf_counter()
        got = engine.suggest(p)
        times.append((time.perf_counter() - t0) * 1000)
        empty += not got
    return {"documents": engine.backend.doc_count(), "suggester_entries": len(engine.suggester.get()),
            "build_seconds_after_open": round(build_s, 1), "prefixes": len(times), "no_suggestion": empty,
            "latency_ms": percentiles(times), "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "suggest.json"))
    args = ap.parse_args(argv)
    result = run(args.index)
    r = result["latency_ms"]
    print(f"suggest: {result['prefixes']} prefixes, p50 {r['p50']} ms, p95 {r['p95']} ms, p99 {r['p99']} ms; "
          f"{result['no_suggestion']} without suggestions; suggester of {result['suggester_entries']} entries "
          f"built {result['build_seconds_after_open']} s after opening")
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
