"""Highlighting cost on the 2,000-article sample: the fast path (only the
pieces that may hold a needle normalised, only the sentences around the
matches read) against the straightforward reference path (the whole text
normalised, every sentence weighed), measured in the same run.

    python -m bench.highlight [--index DIR] [--runs 3] [--profile]

* Per hit: every hit of every distinct query of bench/querymix.jsonl (the
  titles, bodies and needles the engine highlighted), highlighted title and
  snippet, each path timed on the same hits, in alternating rounds; the
  outputs are compared (they must be equal).
* Cold per query: a fresh process per run and path runs each distinct query
  once through SearchEngine (result cache off, after the background
  builders and the fast path's tables are ready); median of ``--runs``
  runs of each percentile.  ``--profile``: cProfile's top functions of one
  cold pass per path (where the time goes).

Without ``--index`` the sample is indexed into a temporary directory
(~10 s).  Writes bench/results/highlight.json.
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

from .latency import distinct_queries, load_mix, percentiles, request_for
from .measure import write_result

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
PATHS = ("reference", "fast")


def use_path(path: str) -> None:
    """Make the engine highlight with ``path`` ("reference" or "fast")."""
    from search import highlight, results

    if path == "reference":
        highlight.find_spans = highlight.reference_find_spans
        results.snippet = highlight.reference_snippet
    else:
        assert highlight.prepare(wait=None), "the fast path's tables could not be built"


def open_engine(index_dir: str):
    from search.engine import SearchEngine

    engine = SearchEngine.open(index_dir, refresh_interval=3600, cache_size=0)
    engine.wait_ready(timeout=300)
    return engine


def collect_hits(index_dir: str) -> list[tuple[str, str, list[str]]]:
    """(title, body, needles) of every highlighted hit of every distinct query."""
    import search.engine as engine_module

    engine = open_engine(index_dir)
    seen, original = [], engine_module.hit

    def recording_hit(stored, score, needles, highlight=True):
        if highlight:
            seen.append((stored.get("title", ""), stored.get("body", "") or "", list(needles)))
        return original(stored, score, needles, highlight)

    engine_module.hit = recording_hit
    try:
        for item in distinct_queries(load_mix()):
            engine.search(request_for(item))
    finally:
        engine_module.hit = original
    return seen


def per_hit(hits: list[tuple[str, str, list[str]]], rounds: int = 3) -> dict:
    """Microseconds per hit (title + snippet) of each path, same hits, alternating rounds."""
    from search import highlight as hl

    def reference(title, body, needles):
        return hl.mark(title, hl.reference_find_spans(title, needles)), hl.reference_snippet(body, needles)

    def fast(title, body, needles):
        return hl.highlight_title(title, needles), hl.snippet(body, needles)

    hl.prepare(wait=None)
    timings: dict[str, list[float]] = {"reference": [], "fast": []}
    cpu: dict[str, list[float]] = {"reference": [], "fast": []}
    mismatches = sum(reference(*h) != fast(*h) for h in hits)  # also warms both paths' tables
    for _ in range(rounds):
        for name, fn in (("reference", reference), ("fast", fast)):
            clock = time.perf_counter
            c0 = time.thread_time()
            for h in hits:
                t0 = clock()
                fn(*h)
                timings[name].append((clock() - t0) * 1e6)
            cpu[name].append((time.thread_time() - c0) * 1e6 / len(hits))
    out = {name: percentiles(v) for name, v in timings.items()}
    for name in cpu:  # CPU time of a whole pass over the hits, per hit (the least disturbed round)
        out[name]["cpu_mean"] = round(min(cpu[name]), 2)
    out["mean_ratio"] = round(out["reference"]["mean"] / out["fast"]["mean"], 1)
    out["cpu_mean_ratio"] = round(out["reference"]["cpu_mean"] / out["fast"]["cpu_mean"], 1)
    out["hits"], out["rounds"], out["mismatches"] = len(hits), rounds, mismatches
    out["with_needles"] = sum(bool(n) for _, _, n in hits)
    return out


def cold_pass(index_dir: str, path: str, profile: bool) -> dict:
    """One cold pass (this process: fresh) of the distinct queries with ``path``."""
    import search.engine as engine_module

    use_path(path)
    engine = open_engine(index_dir)
    spent = [0.0, 0.0]
    original = engine_module.hit

    def timed_hit(*args, **kw):
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return original(*args, **kw)
        finally:
            spent[0] += time.perf_counter() - t0
            spent[1] += time.thread_time() - c0

    engine_module.hit = timed_hit
    items = distinct_queries(load_mix())
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    ms = []
    c0 = time.thread_time()
    for item in items:
        t0 = time.perf_counter()
        engine.search(request_for(item))
        ms.append((time.perf_counter() - t0) * 1000)
    out = {"queries": percentiles(ms), "total_s": round(sum(ms) / 1000, 3),
           "hit_building_s": round(spent[0], 3), "cpu_s": round(time.thread_time() - c0, 3),
           "hit_building_cpu_s": round(spent[1], 3)}
    if prof is not None:
        import pstats

        prof.disable()
        stats = pstats.Stats(prof).stats
        top = sorted(stats.items(), key=lambda kv: -kv[1][3])[:25]
        out["profile_cumulative_s"] = [{"function": f"{_where(k[0])}:{k[1]}({k[2]})", "calls": v[1],
                                        "cumulative_s": round(v[3], 3),
                                        "own_s": round(v[2], 3)} for k, v in top]
    return out


def _where(path: str) -> str:
    """A profiled function's file as results name it, free of this machine's
    paths: within the project relative to its root, an installed package by
    its path inside site-packages."""
    if "site-packages" + os.sep in path:
        return path.split("site-packages" + os.sep, 1)[1]
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def cold(index_dir: str, runs: int, profile: bool) -> dict:
    """Median over ``runs`` fresh processes per path, the paths alternating."""
    results: dict[str, list[dict]] = {p: [] for p in PATHS}
    for _ in range(runs):
        for path in PATHS:
            cmd = [sys.executable, "-m", "bench.highlight", "--cold-pass", path, "--index", index_dir]
            out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True,
                                 env={**os.environ, "PYTHONPATH": ROOT})
            results[path].append(json.loads(out.stdout.strip().splitlines()[-1]))
    summary: dict = {}
    for path, passes in results.items():
        summary[path] = {
            "queries": {k: round(statistics.median(p["queries"][k] for p in passes), 2)
                        for k in ("p50", "p95", "p99", "mean")},
            "total_s": round(statistics.median(p["total_s"] for p in passes), 3),
            "hit_building_s": round(statistics.median(p["hit_building_s"] for p in passes), 3),
            "cpu_s": round(statistics.median(p["cpu_s"] for p in passes), 3),
            "hit_building_cpu_s": round(statistics.median(p["hit_building_cpu_s"] for p in passes), 3),
            "runs": len(passes),
        }
        summary[path]["cpu_ms_per_query"] = round(summary[path]["cpu_s"] * 1000 / len(distinct_queries(load_mix())),
                                                  2)
        summary[path]["hit_building_share"] = round(summary[path]["hit_building_s"] / summary[path]["total_s"], 3)
    summary["ratio"] = {k: round(summary["reference"]["queries"][k] / summary["fast"]["queries"][k], 2)
                        for k in ("p50", "p95", "p99", "mean")}
    summary["ratio"]["cpu"] = round(summary["reference"]["cpu_s"] / summary["fast"]["cpu_s"], 2)
    if profile:
        for path in PATHS:
            cmd = [sys.executable, "-m", "bench.highlight", "--cold-pass", path, "--index", index_dir, "--profile"]
            out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True,
                                 env={**os.environ, "PYTHONPATH": ROOT})
            summary[path]["profile"] = json.loads(out.stdout.strip().splitlines()[-1])
    return summary


def run(index_dir: str | None = None, runs: int = 3, profile: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        if index_dir is None:
            from indexer import pipeline

            from .env import CORPUS

            index_dir = os.path.join(tmp, "index")
            pipeline.build(index_dir, [os.path.join(CORPUS, "news-sample-2k.jsonl.gz")], workers=2,
                           batch_size=700, progress=False)
        hits = collect_hits(index_dir)
        result = {"per_hit_us": per_hit(hits), "cold_ms": cold(index_dir, runs, profile),
                  "distinct_queries": len(distinct_queries(load_mix())), "documents": 2000}
    result["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
    return result


def print_table(result: dict) -> None:
    h, c = result["per_hit_us"], result["cold_ms"]
    print(f"highlighting per hit (us; {h['hits']} hits x {h['rounds']}, {h['mismatches']} outputs differ)")
    print(f"{'':28} {'mean':>8} {'p50':>8} {'p95':>8} {'p99':>8}")
    for name in PATHS:
        r = h[name]
        print(f"{name:28} {r['mean']:8.1f} {r['p50']:8.1f} {r['p95']:8.1f} {r['p99']:8.1f}")
    print(f"reference / fast: {h['mean_ratio']}x (mean); CPU per hit {h['reference']['cpu_mean']} -> "
          f"{h['fast']['cpu_mean']} us ({h['cpu_mean_ratio']}x)")
    print(f"cold engine time per query on the 2k sample (ms, {result['distinct_queries']} distinct queries, "
          f"median of {c['fast']['runs']} fresh processes)")
    print(f"{'':28} {'mean':>8} {'p50':>8} {'p95':>8} {'p99':>8}   hit building")
    for name in PATHS:
        r = c[name]["queries"]
        print(f"{name:28} {r['mean']:8.2f} {r['p50']:8.2f} {r['p95']:8.2f} {r['p99']:8.2f}   "
              f"{c[name]['hit_building_s']:.2f} s of {c[name]['total_s']:.2f} s ({c[name]['hit_building_share']:.0%}); "
              f"CPU {c[name]['cpu_ms_per_query']} ms/query, hits {c[name]['hit_building_cpu_s']:.2f} s "
              f"of {c[name]['cpu_s']:.2f} s")
    print("reference / fast: " + ", ".join(f"{k} {v}x" for k, v in c["ratio"].items()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", help="an index of the 2k sample (default: built in a temporary directory)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--cold-pass", choices=PATHS, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "highlight.json"))
    args = ap.parse_args(argv)
    if args.cold_pass:
        print(json.dumps(cold_pass(args.index, args.cold_pass, args.profile)))
        return 0
    result = run(args.index, args.runs, args.profile)
    print_table(result)
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
