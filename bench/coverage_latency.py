"""What coverage comparison and significant terms cost, next to the plain
search of the same queries, in-process, in the same run.

    python -m bench.coverage_latency --index DIR     # or --sample: the 2,000-article sample

For the distinct queries of bench/querymix.jsonl (``--limit`` of them):
the results page's search (10 hits, facets, timeline; result cache
emptied before each: every search computed) is the baseline; beside it
the significant terms of the same request, computed (answer and article
words cache emptied: ``cold``) and again with the articles' words known
(another query over the same articles: ``words_known``) and once more
(the answer cached: ``cached``); and the timeline
of three queries compared as shares (``compare_share``) next to the three
single timelines it is made of (``timelines``).  Writes
bench/results/coverage.json.  Machines here are shared and noisy: read
the ratios.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time

from .latency import distinct_queries, load_mix, percentiles, request_for
from .measure import write_result

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)


def _ms(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def run(index_dir: str, limit: int = 60) -> dict:
    from search.engine import SearchEngine
    from search.result_cache import ResultCache

    engine = SearchEngine.open(index_dir, refresh_interval=3600)
    engine.wait_ready(120)
    reqs = [dataclasses.replace(request_for(i), timeline=True, group=True) for i in distinct_queries(load_mix())]
    reqs = [r for r in reqs if r.q.strip()][:limit]
    terms = engine.significant_terms
    search_ms, cold_ms, known_ms, cached_ms, single_ms, compare_ms = [], [], [], [], [], []
    for req in reqs:
        engine.search(req)  # warm the index pages this query reads, for both sides alike
        engine._cache = ResultCache(16)
        search_ms.append(_ms(lambda: engine.search(req)))
        terms._answers, terms._words = ResultCache(16), type(terms._words)()
        cold_ms.append(_ms(lambda: engine.significant(req)))
        terms._answers = ResultCache(16)
        known_ms.append(_ms(lambda: engine.significant(req)))
        cached_ms.append(_ms(lambda: engine.significant(req)))
    plain = [dataclasses.replace(r, timeline=False, facets=(), size=0) for r in reqs]
    for i in range(0, len(plain) - 2, 3):
        trio = plain[i:i + 3]
        single_ms.append(_ms(lambda: [engine.timeline(r) for r in trio]))
        engine._derived = ResultCache(16)
        compare_ms.append(_ms(lambda: engine.compare(trio, share=True)))
    search, cold = percentiles(search_ms), percentiles(cold_ms)
    return {"documents": engine.backend.doc_count(), "queries": len(reqs),
            "search_ms": search, "significant_cold_ms": cold, "significant_words_known_ms": percentiles(known_ms),
            "significant_cached_ms": percentiles(cached_ms),
            "significant_over_search_p50": round(cold["p50"] / search["p50"], 1) if search["p50"] else None,
            "timelines_3_ms": percentiles(single_ms), "compare_3_share_ms": percentiles(compare_ms),
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def print_table(r: dict) -> None:
    print(f"\ncoverage panels on {r['documents']} articles, {r['queries']} queries (ms)")
    print(f"{'':34} {'p50':>8} {'p95':>8} {'mean':>8}")
    for key, label in (("search_ms", "search (baseline, computed)"),
                       ("significant_cold_ms", "significant terms, cold"),
                       ("significant_words_known_ms", "significant terms, words known"),
                       ("significant_cached_ms", "significant terms, cached answer"),
                       ("timelines_3_ms", "3 single timelines (baseline)"),
                       ("compare_3_share_ms", "3 compared, as shares")):
        v = r[key]
        print(f"{label:34} {v['p50']:>8} {v['p95']:>8} {v['mean']:>8}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--index")
    where.add_argument("--sample", action="store_true", help="build and measure the 2,000-article sample")
    ap.add_argument("--limit", type=int, default=60)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "coverage.json"))
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        index = args.index
        if args.sample:
            from indexer import pipeline

            from .env import CORPUS

            index = os.path.join(work, "sample")
            pipeline.build(index, [os.path.join(CORPUS, "news-sample-2k.jsonl.gz")], workers=2, progress=False)
        result = run(index, args.limit)
    print_table(result)
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
