"""HTTP load on the real service: gunicorn on loopback, loaded by wrk.

    python -m bench.http_load --index DIR [--seconds 30] [--connections 8]

Starts gunicorn with the settings of gunicorn.conf.py (the README's
recommendation for 2 cores) and runs wrk twice with the query mix of
bench/querymix.jsonl as /api/search requests:

* cold (the headline figure): a fresh service, every distinct query once,
  sent by ``--connections`` concurrent clients (Python threads: wrk cannot
  stop after a fixed list of requests);
* warm: wrk cycling the whole mix for ``--seconds`` (repeated queries hit
  the result caches, as real traffic does).

Then reads the workers' memory.  A request that fails or times out (10 s)
counts as an error.  Requires Debian's ``wrk``.  Writes
bench/results/http.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

from .measure import write_result
from web.loopback import ROOT, Server

HERE = os.path.dirname(os.path.abspath(__file__))
THREADS = 2

LUA = r"""
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
local sent = 0
request = function()
  local idx = (tid * 7919 + sent) %% #paths + 1
  sent = sent + 1
  return wrk.format("GET", paths[idx])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d %%.3f %%.3f %%.3f\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000))
end
"""


def _paths(distinct: bool) -> list[str]:
    from bench.latency import load_mix

    mix = load_mix()
    if distinct:
        mix = list({json.dumps(i, sort_keys=True): i for i in mix}.values())
    out = []
    for item in mix:
        params = {"q": item["q"]}
        for k in ("sort", "category", "source", "from", "to"):
            if k in item:
                params[k] = item[k]
        out.append("/api/search?" + urllib.parse.urlencode(params))
    return out


def memory_mb(pids: list[int]) -> list[dict]:
    """Per worker: RSS (what the target counts), PSS, and anonymous memory
    (the worker's own heap; the index's bytes stay in the page cache)."""
    out = []
    for pid in pids:
        fields = {}
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                    fields[parts[0][:-1]] = int(parts[1]) / 1024
        out.append({"rss": round(fields.get("Rss", 0)), "pss": round(fields.get("Pss", 0)),
                    "anonymous": round(fields.get("Anonymous", 0))})
    return out


def cold_pass(url: str, connections: int) -> dict:
    """Every distinct query once, by ``connections`` concurrent keep-alive
    clients; a failed or timed-out request is an error."""
    import http.client
    import queue
    import threading

    import numpy as np

    todo: queue.Queue = queue.Queue()
    for path in _paths(distinct=True):
        todo.put(path)
    host, port = urllib.parse.urlsplit(url).netloc.split(":")
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client():
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        while True:
            try:
                path = todo.get_nowait()
            except queue.Empty:
                break
            t0 = time.perf_counter()
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except Exception:  # noqa: BLE001 - counted as an error
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
            ms = (time.perf_counter() - t0) * 1000
            with lock:
                latencies.append(ms)
                errors[0] += 0 if ok else 1
        conn.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    a = np.asarray(latencies)
    return {"mode": "cold", "distinct_queries": len(a), "connections": connections, "seconds": round(wall, 2),
            "requests": len(a), "requests_per_s": round(len(a) / wall, 1), "errors": errors[0],
            "p50_ms": round(float(np.percentile(a, 50)), 2), "p99_ms": round(float(np.percentile(a, 99)), 2),
            "mean_ms": round(float(a.mean()), 2)}


def run_wrk(url: str, mode: str, connections: int, seconds: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        paths = _paths(distinct=False)
        paths_file = os.path.join(tmp, "paths.txt")
        with open(paths_file, "w", encoding="utf-8") as f:
            f.write("\n".join(paths) + "\n")
        script = os.path.join(tmp, "mix.lua")
        with open(script, "w") as f:
            f.write(LUA % {"paths": paths_file})
        out = subprocess.run(["wrk", "-t", str(THREADS), "-c", str(connections), "-d", f"{seconds}s",
                              "--timeout", "10s", "-s", script, url],
                             capture_output=True, text=True, check=True).stdout
    m = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", out)
    requests, errors, status_errors, duration_us = (int(m.group(i)) for i in range(1, 5))
    return {"mode": mode, "mix_queries": len(paths), "connections": connections,
            "seconds": round(duration_us / 1e6, 2), "requests": requests,
            "requests_per_s": round(requests / (duration_us / 1e6), 1), "errors": errors + status_errors,
            "p50_ms": float(m.group(5)), "p99_ms": float(m.group(6)), "mean_ms": float(m.group(7))}


def run(index_dir: str, seconds: int, connections: int) -> dict:
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    with Server(index_dir, workers=int(os.environ.get("WEB_CONCURRENCY", "2")), timeout=180) as srv:
        cold = cold_pass(srv.url, connections)
        cold["worker_memory_mb"] = memory_mb(srv.worker_pids())
        warm = run_wrk(srv.url, "warm", connections, seconds)
        warm["worker_memory_mb"] = memory_mb(srv.worker_pids())
    return {"cold": cold, "warm": warm, "workers": os.environ.get("WEB_CONCURRENCY", "2"),
            "threads": os.environ.get("GUNICORN_THREADS", "2"), "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def print_table(result: dict) -> None:
    print(f"{'HTTP':6} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}  worker RSS MB")
    for mode in ("cold", "warm"):
        r = result[mode]
        rss = ", ".join(str(w["rss"]) for w in r["worker_memory_mb"])
        print(f"{mode:6} {r['requests_per_s']:7.1f} {r['p50_ms']:7.1f} {r['p99_ms']:7.1f} {r['errors']:6d}  {rss}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "http.json"))
    args = ap.parse_args(argv)
    sys.path.insert(0, ROOT)
    result = run(args.index, args.seconds, args.connections)
    print_table(result)
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
