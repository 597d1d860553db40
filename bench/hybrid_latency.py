"""Hybrid and semantic search against lexical search, in the same run
(issue 20).

    python -m bench.hybrid_latency --index DIR [--queries FILE] [--limit 100] [--rounds 2]

The index must be embedded (``python -m indexer embed``) and the
``semantic`` extra installed.  The queries: the distinct queries of
``bench/querymix.jsonl`` (the first ``--limit``).  Each mode runs in a
fresh process per round (rounds alternate the modes, so that the shared
machine's load falls on all alike), after the pinyin lexicon and the
suggester are built and the query model is loaded (its load time is
reported apart); every query once, so each search is cold for the engine
(result cache and per-query work), the file cache warm.  Per search: the
wall milliseconds and the calling thread's CPU milliseconds
(``time.thread_time``), 10 hits with snippets, category and source
counts, near-duplicates grouped (the API's defaults).  In the hybrid
process each query is also embedded once more alone (the query
embedding's own cost).

The anchor is lexical search measured in the same run: prints p50/p95
per mode and clock, hybrid/lexical and semantic/lexical ratios, how many
dense-only hits hybrid added (share of queries with any, mean count), and
the distribution that the similarity floor reads (per query, how many
articles' cosines lie 2 / 2.5 / 3 / 3.5 / 4 standard deviations above
its mean); writes ``bench/results/hybrid_latency.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from .measure import git_commit, write_result

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODES = ("lexical", "hybrid", "semantic")
Z_STEPS = (2.0, 2.5, 3.0, 3.5, 4.0)

_PASS = r"""
import json, sys, time
import numpy as np
from search.engine import SearchEngine
from search.models import SearchRequest
index, mode, qs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
e = SearchEngine.open(index, refresh_interval=3600)
e.pinyin.get(wait=600)
e.suggester.get(wait=600)
out = {"mode": mode, "documents": e.backend.doc_count(), "wall": [], "cpu": [], "dense_total": [],
       "embed_ms": [], "above": []}
if mode != "lexical":
    t = time.perf_counter()
    e.query_embedder.embedder()
    out["model_load_ms"] = (time.perf_counter() - t) * 1000
for q in qs:
    req = SearchRequest(q=q, mode=mode, group=True)
    t, c = time.perf_counter(), time.thread_time()
    res = e.search(req)
    out["cpu"].append((time.thread_time() - c) * 1000)
    out["wall"].append((time.perf_counter() - t) * 1000)
    out["dense_total"].append(res.dense_total or 0)
    if mode == "hybrid":
        t = time.perf_counter()
        vector, _ = e.query_embedder.vector(q)
        out["embed_ms"].append((time.perf_counter() - t) * 1000)
        from search.backends.whoosh.dense import folder_of, vector_index
        view = e.backend.view
        _, cos = vector_index(view, folder_of(view)).scores(vector)
        z = (cos - cos.mean()) / cos.std()
        out["above"].append([int((z >= s).sum()) for s in Z_STEPS])
print(json.dumps(out))
""".replace("Z_STEPS", repr(Z_STEPS))


def percentiles(ms: list[float]) -> dict:
    """p50/p95/p99 and mean of ``ms`` (``bench.latency.percentiles``)."""
    from .latency import percentiles as p

    return p(ms)


def one_pass(index: str, mode: str, queries: list[str]) -> dict:
    """A fresh process of this tree's code searching every query in ``mode``."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", _PASS, os.path.abspath(index), mode, json.dumps(queries)],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{mode}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_queries(path: str, limit: int) -> list[str]:
    """The distinct queries of a query mix (JSON Lines with "q"), in file order, at most ``limit``."""
    with open(path, encoding="utf-8") as f:
        qs = list(dict.fromkeys(json.loads(line)["q"] for line in f if line.strip()))
    return [q for q in qs if q.strip()][:limit]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True, help="an embedded Whoosh index directory")
    ap.add_argument("--queries", default=os.path.join(HERE, "querymix.jsonl"))
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "hybrid_latency.json"))
    args = ap.parse_args(argv)
    queries = load_queries(args.queries, args.limit)
    runs = {m: [] for m in MODES}
    for r in range(args.rounds):
        for mode in MODES:
            runs[mode].append(one_pass(args.index, mode, queries))
            print(f"round {r + 1} {mode}: wall p50 {percentiles(runs[mode][-1]['wall'])['p50']} ms", flush=True)
    result = {"queries": len(queries), "rounds": args.rounds, "documents": runs["lexical"][0]["documents"]}
    for mode in MODES:
        result[mode] = {clock: {k: round(statistics.median(percentiles(p[clock])[k] for p in runs[mode]), 2)
                                for k in ("p50", "p95", "p99", "mean")} for clock in ("wall", "cpu")}
    for mode in ("hybrid", "semantic"):
        result[f"{mode}_over_lexical_p50"] = {
            clock: round(result[mode][clock]["p50"] / result["lexical"][clock]["p50"], 2) for clock in ("wall", "cpu")}
        result[mode]["model_load_ms"] = round(statistics.median(p["model_load_ms"] for p in runs[mode]), 1)
    hybrid = runs["hybrid"][0]
    result["embed_ms"] = percentiles([x for p in runs["hybrid"] for x in p["embed_ms"]])
    dense = hybrid["dense_total"]
    result["hybrid_dense_only"] = {"queries_with_any": sum(1 for n in dense if n),
                                   "mean": round(sum(dense) / len(dense), 2), "max": max(dense)}
    result["articles_above_z"] = {str(s): {"median": statistics.median(a[i] for a in hybrid["above"]),
                                           "p95": percentiles([a[i] for a in hybrid["above"]])["p95"]}
                                  for i, s in enumerate(Z_STEPS)}
    result.update(date=time.strftime("%Y-%m-%d %H:%M:%S"), commit=git_commit())
    print(f"{result['queries']} queries, {result['documents']} documents, median of {args.rounds} rounds (ms)")
    print(f"{'':10} {'wall p50':>9} {'p95':>7} {'cpu p50':>9} {'p95':>7}")
    for mode in MODES:
        w, c = result[mode]["wall"], result[mode]["cpu"]
        print(f"{mode:10} {w['p50']:9.1f} {w['p95']:7.1f} {c['p50']:9.1f} {c['p95']:7.1f}")
    print(f"hybrid / lexical p50: {result['hybrid_over_lexical_p50']}; semantic / lexical p50: "
          f"{result['semantic_over_lexical_p50']}")
    print(f"query embedding alone: p50 {result['embed_ms']['p50']} ms, p95 {result['embed_ms']['p95']} ms; "
          f"model load {result['hybrid']['model_load_ms']} ms")
    print(f"dense-only hits in hybrid: {result['hybrid_dense_only']}")
    print(f"articles per query above the mean + z standard deviations: {result['articles_above_z']}")
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
