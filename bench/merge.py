"""The k-way merge of segments (``python -m indexer optimize``), measured:
its own time and peak memory, and the cold query pass on the same articles
in several segments and merged into one, in the same run.

    python -m bench.merge --index DIR [--work DIR] [--runs 2]

``--index``: a Whoosh index of several segments (only read: it is copied
into ``--work``, default beside it, and the copy is removed at the end).
The copy is optimised in a child process (wall time, CPU time, peak RSS).
Then the cold pass of bench/querymix.jsonl (each distinct query once in a
fresh process, result cache off, after the background builders finished;
``bench.latency``'s requests) runs on the original and on the merged copy,
interleaved (A, B, A, B for ``--runs 2``), recording each query's CPU time
(``time.process_time``) beside its wall time: the machines are shared, so
read the ratios of the same run.  Writes bench/results/merge.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time

from .env import ROOT
from .latency import distinct_queries, load_mix, percentiles, request_for
from .measure import write_result

RESULT = os.path.join(ROOT, "bench", "results", "merge.json")


def cold_pass(index_dir: str) -> dict:
    """One cold pass in this process (run it in a fresh one): segments,
    CPU and wall milliseconds per query (percentiles), CPU seconds in all."""
    from search.engine import SearchEngine

    engine = SearchEngine.open(index_dir, refresh_interval=3600)
    engine.pinyin.get(wait=300)
    engine.suggester.get(wait=300)
    engine._cache.size = 0
    cpu_ms, wall_ms = [], []
    cpu0 = time.process_time()
    for item in distinct_queries(load_mix()):
        c, t = time.process_time(), time.perf_counter()
        engine.search(request_for(item))
        cpu_ms.append((time.process_time() - c) * 1000)
        wall_ms.append((time.perf_counter() - t) * 1000)
    return {"segments": len(engine.backend.view.segments), "cpu_seconds": round(time.process_time() - cpu0, 2),
            "cpu_ms": percentiles(cpu_ms), "wall_ms": percentiles(wall_ms)}


def _child(args: list[str]) -> tuple[str, dict]:
    """Run ``python args`` from the project root; (stdout, its resource use:
    wall s, CPU s, peak RSS MB of the children so far)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": ROOT})
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode:
        raise RuntimeError(f"{args[:3]} failed: {out.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out.stdout + out.stderr, {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                                     "peak_rss_mb": round(after.ru_maxrss / 1024)}


def run(index_dir: str, work: str, runs: int) -> dict:
    """Copy, optimise and compare (module docstring); the figures."""
    copy = os.path.join(work, "bench-merge-" + str(os.getpid()))
    shutil.copytree(index_dir, copy, symlinks=True)
    try:
        said, merge = _child(["-m", "indexer", "optimize", "--index", copy])
        # What optimize said, without this machine's paths.
        merge["said"] = said.strip().splitlines()[-1].replace(copy, "INDEX")
        passes = {"unmerged": [], "merged": []}
        for _ in range(runs):
            for name, path in (("unmerged", index_dir), ("merged", copy)):
                out, _use = _child(["-m", "bench.merge", "--cold-pass", path])
                passes[name].append(json.loads(out.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    cpu = {k: sum(p["cpu_seconds"] for p in v) for k, v in passes.items()}
    return {"index": os.path.basename(os.path.normpath(index_dir)), "merge": merge, "passes": passes,
            "cpu_ratio_unmerged_to_merged": round(cpu["unmerged"] / max(cpu["merged"], 1e-9), 2)}


def print_table(result: dict) -> None:
    """The figures as a table."""
    m = result["merge"]
    print(f"merge: {m['said']}; wall {m['wall_s']} s, CPU {m['cpu_s']} s, peak RSS {m['peak_rss_mb']} MB")
    print("| pass | segments | CPU s | CPU p50/p95/p99 ms | wall p50/p95/p99 ms |")
    print("|---|---|---|---|---|")
    for name, passes in result["passes"].items():
        for p in passes:
            c, w = p["cpu_ms"], p["wall_ms"]
            print(f"| {name} | {p['segments']} | {p['cpu_seconds']} | {c['p50']}/{c['p95']}/{c['p99']} | "
                  f"{w['p50']}/{w['p95']}/{w['p99']} |")
    print(f"CPU of the unmerged passes / the merged ones: {result['cpu_ratio_unmerged_to_merged']}x")


def main(argv=None) -> int:
    """The command line (module docstring)."""
    ap = argparse.ArgumentParser(prog="python -m bench.merge")
    ap.add_argument("--index", help="an index of several segments (copied, never changed)")
    ap.add_argument("--work", default=None, help="where the copy goes (default: beside --index)")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--cold-pass", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.cold_pass:
        print(json.dumps(cold_pass(args.cold_pass)))
        return 0
    if not args.index:
        ap.error("--index is required")
    index = os.path.abspath(args.index)
    result = run(index, args.work or os.path.dirname(index), args.runs)
    print_table(result)
    write_result(RESULT, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
