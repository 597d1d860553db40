"""In-process query latency of our engine on an index, as the web page uses
it (top 10, highlighting, category and source facets).

    python -m bench.latency --index DIR [--repeat 3]

Cold: a fresh process runs each distinct query of bench/querymix.jsonl once
(the engine's caches are empty; the operating system's file cache is not
dropped).  Warm: the mix, shuffled, ``--repeat`` times in the same process.
Related articles: 200 random articles, cold then warm.  Writes
bench/results/latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

from .measure import write_result

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)


def load_mix(path=os.path.join(HERE, "querymix.jsonl")):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def request_for(item):
    from search.engine import parse_date
    from search.models import SearchRequest

    return SearchRequest(
        q=item["q"], size=10, sort=item.get("sort", "relevance"),
        category=[item["category"]] if "category" in item else [],
        source=[item["source"]] if "source" in item else [],
        date_from=parse_date(item["from"]) if "from" in item else None,
        date_to=parse_date(item["to"]) if "to" in item else None,
        facets=("category", "source"),
    )


def percentiles(ms: list[float]) -> dict:
    import numpy as np

    a = np.asarray(ms)
    return {"n": len(a), "p50": round(float(np.percentile(a, 50)), 2), "p95": round(float(np.percentile(a, 95)), 2),
            "p99": round(float(np.percentile(a, 99)), 2), "mean": round(float(a.mean()), 2)}


def run(index_dir: str, repeat: int) -> dict:
    from search.engine import SearchEngine

    mix = load_mix()
    t = time.perf_counter()
    engine = SearchEngine.open(index_dir, refresh_interval=3600)
    open_s = time.perf_counter() - t
    errors = 0

    def timed(item):
        nonlocal errors
        t0 = time.perf_counter()
        try:
            engine.search(request_for(item))
        except Exception:  # noqa: BLE001 - counted, not hidden
            errors += 1
        return (time.perf_counter() - t0) * 1000

    distinct = list({json.dumps(i, sort_keys=True): i for i in mix}.values())
    cold = [timed(i) for i in distinct]
    rng = random.Random(7)
    warm = []
    for _ in range(repeat):
        order = mix[:]
        rng.shuffle(order)
        warm.extend(timed(i) for i in order)
    by_kind: dict[str, list[float]] = {}
    for item, ms in zip(distinct, cold):
        by_kind.setdefault(item["kind"], []).append(ms)
    view = engine.backend.view
    ids = [view.stored(int(g))["id"] for g in random.Random(11).sample(range(view.n_all), 200) if view.live[g]]
    rel_cold = []
    for doc_id in ids:
        t0 = time.perf_counter()
        engine.related(doc_id, size=5)
        rel_cold.append((time.perf_counter() - t0) * 1000)
    rel_warm = []
    for doc_id in ids:
        t0 = time.perf_counter()
        engine.related(doc_id, size=5)
        rel_warm.append((time.perf_counter() - t0) * 1000)
    return {
        "documents": view.n_live, "open_seconds": round(open_s, 2), "errors": errors,
        "cold": percentiles(cold), "warm": percentiles(warm),
        "cold_by_kind": {k: percentiles(v) for k, v in sorted(by_kind.items())},
        "related_cold": percentiles(rel_cold), "related_warm": percentiles(rel_warm),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "latency.json"))
    args = ap.parse_args(argv)
    result = run(args.index, args.repeat)
    result["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{'':14} {'p50':>8} {'p95':>8} {'p99':>8}   (ms; {result['documents']} documents)")
    for name in ("cold", "warm", "related_cold", "related_warm"):
        r = result[name]
        print(f"{name:14} {r['p50']:8.1f} {r['p95']:8.1f} {r['p99']:8.1f}")
    print("cold by kind: " + ", ".join(f"{k} p50 {v['p50']:.1f}/p99 {v['p99']:.1f}"
                                       for k, v in result["cold_by_kind"].items()))
    print(f"errors: {result['errors']}")
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
