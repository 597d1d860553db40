"""The cost of explaining scores (``explain=1``): the same queries with
and without it, in the same run, on each backend given.

    python -m bench.explain_cost --index DIR [--opensearch-url URL --opensearch-index NAME]
                                 [--queries 120] [--repeat 3]

Queries: every n-th distinct query of bench/querymix.jsonl (one-word,
multi-word, phrase, filtered, newest-sorted, query-log and QBQTC
queries), top 10 as the search page asks (category and source facets,
highlighting, near-duplicates grouped), the result cache off.  After one
warm-up pass, each query runs off then on, ``--repeat`` times, so both
see the same warm caches.  The baseline is the plain search (explain off);
the figures are the ratio of the means and each one's percentiles.  Every
explained hit is also checked: its components add up to its score.
Writes bench/results/explain.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time

from .latency import distinct_queries, load_mix, percentiles, request_for
from .measure import write_result

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def measure(engine, items: list[dict], repeat: int) -> dict:
    """Milliseconds per search, explain off and on, and recombination misses."""
    from search.explain import recombine

    engine._cache.size = 0  # every search runs
    reqs = []
    for item in items:
        req = dataclasses.replace(request_for(item), group=True)
        reqs.append((req, dataclasses.replace(req, explain=True)))
    for off, on in reqs:  # warm-up: postings and stored fields read once
        engine.search(off)
        engine.search(on)
    times = {"off": [], "on": []}
    misses = hits = 0
    for _ in range(repeat):
        for off, on in reqs:
            for name, req in (("off", off), ("on", on)):
                t = time.perf_counter()
                res = engine.search(req)
                times[name].append((time.perf_counter() - t) * 1000)
                if name == "on":
                    for h in res.hits:
                        hits += 1
                        misses += not math.isclose(recombine(h.explain), h.score, rel_tol=1e-6, abs_tol=1e-6)
    off, on = percentiles(times["off"]), percentiles(times["on"])
    return {"queries": len(reqs), "repeat": repeat, "explain_off_ms": off, "explain_on_ms": on,
            "on_over_off_mean": round(on["mean"] / off["mean"], 2),
            "on_over_off_p50": round(on["p50"] / off["p50"], 2),
            "hits_explained": hits, "recombination_misses": misses}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True, help="a Whoosh index directory")
    ap.add_argument("--opensearch-url")
    ap.add_argument("--opensearch-index", help="an OpenSearch index or alias holding the same articles")
    ap.add_argument("--queries", type=int, default=120)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "explain.json"))
    args = ap.parse_args(argv)
    from search.engine import SearchEngine

    mix = distinct_queries(load_mix())
    items = mix[:: max(1, len(mix) // args.queries)][: args.queries]
    result = {"index": args.index, "whoosh": measure(SearchEngine.open(args.index, refresh_interval=0), items,
                                                     args.repeat)}
    if args.opensearch_index:
        engine = SearchEngine.open(args.opensearch_index, backend="opensearch", opensearch_url=args.opensearch_url,
                                   refresh_interval=0)
        result["opensearch"] = measure(engine, items, args.repeat)
    for backend in ("whoosh", "opensearch"):
        r = result.get(backend)
        if r:
            print(f"{backend:10s} {r['queries']} queries x {r['repeat']}: explain off p50 {r['explain_off_ms']['p50']} "
                  f"ms mean {r['explain_off_ms']['mean']} ms; on p50 {r['explain_on_ms']['p50']} ms mean "
                  f"{r['explain_on_ms']['mean']} ms: x{r['on_over_off_mean']} (mean), x{r['on_over_off_p50']} (p50); "
                  f"{r['hits_explained']} hits explained, {r['recombination_misses']} not adding up")
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
