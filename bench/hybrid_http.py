"""Hybrid search through the real service (issue 20): the workers' memory
with the embedding model loaded, and latency, against lexical in the same
run.

    python -m bench.hybrid_http --index DIR [--connections 4]

Starts gunicorn (gunicorn.conf.py's settings, ``WEB_CONCURRENCY`` workers,
default 2) on an embedded index and sends the distinct queries of
bench/querymix.jsonl as /api/search requests, by ``--connections``
concurrent clients (``bench.http_load.cold_pass``): first lexical (the
anchor), then the same queries with ``mode=hybrid`` (each worker loads the
model at its first such request, then embeds each query).  After each
pass, every worker's RSS, PSS and anonymous memory (``/proc``): the
difference is what the model and the memory-mapped vectors cost a worker.
Writes bench/results/hybrid_http.json.
"""

from __future__ import annotations

import argparse
import os
import time

from .http_load import _paths, cold_pass, memory_mb, with_cpu
from .measure import write_result
from web.loopback import Server

HERE = os.path.dirname(os.path.abspath(__file__))


def run(index_dir: str, connections: int) -> dict:
    """{"lexical": pass, "hybrid": pass, "memory_mb": {"lexical", "hybrid"}, ...};
    a pass as ``bench.http_load.with_cpu`` gives it."""
    workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
    lexical_paths = _paths(distinct=True)
    hybrid_paths = [p + "&mode=hybrid" for p in lexical_paths]
    out: dict = {"index": os.path.basename(os.path.normpath(index_dir)), "queries": len(lexical_paths),
                 "workers": workers, "connections": connections}
    with Server(index_dir, workers=workers, timeout=180) as srv:
        pids = srv.worker_pids()
        out["memory_mb"] = {"started": memory_mb(pids)}
        out["lexical"] = with_cpu(pids, lambda: cold_pass(srv.url, connections, lexical_paths, mode="lexical"))
        out["memory_mb"]["lexical"] = memory_mb(pids)
        out["hybrid"] = with_cpu(pids, lambda: cold_pass(srv.url, connections, hybrid_paths, mode="hybrid"))
        out["memory_mb"]["hybrid"] = memory_mb(pids)
    before, after = out["memory_mb"]["lexical"], out["memory_mb"]["hybrid"]
    out["model_cost_mb"] = [{k: a[k] - b[k] for k in a} for a, b in zip(after, before)]
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    out["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True, help="an embedded Whoosh index directory")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "hybrid_http.json"))
    args = ap.parse_args(argv)
    result = run(args.index, args.connections)
    for mode in ("lexical", "hybrid"):
        p = result[mode]
        print(f"{mode:8} {p.get('requests_per_s', 0):7.1f} req/s  p50 {p['p50_ms']:7.1f} ms  p99 {p['p99_ms']:7.1f} ms  "
              f"errors {p.get('errors', 0)}")
    for i, (b, a) in enumerate(zip(result["memory_mb"]["lexical"], result["memory_mb"]["hybrid"])):
        print(f"worker {i}: PSS {b['pss']} -> {a['pss']} MB, RSS {b['rss']} -> {a['rss']} MB, "
              f"anonymous {b['anonymous']} -> {a['anonymous']} MB")
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
