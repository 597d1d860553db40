"""HTTP load on the real service: gunicorn on loopback, loaded by wrk and
by Python clients, against the issue's targets.

    python -m bench.http_load --index DIR [--seconds 30] [--connections 8] [--rate 50]

Starts gunicorn with the settings of gunicorn.conf.py (the README's
recommendation for 2 cores; the load generator runs on the same cores)
and runs, with the query mix of bench/querymix.jsonl as /api/search
requests:

* open loop (a fresh service): every distinct query once, sent at a fixed
  ``--rate`` whatever the answers do (one request every 1/rate s, from one
  asyncio loop; wrk2's ``-R`` semantics).  A request's latency runs from
  the moment it was due to be sent, not from when it was sent, so a stall
  counts against every request it delays (no coordinated omission);
* cold (the headline figure, a second fresh service): every distinct query
  once, sent by ``--connections`` concurrent clients (closed loop: Python
  threads, as wrk cannot stop after a fixed list of requests);
* warm: wrk cycling the whole mix for ``--seconds`` (repeated queries hit
  the result caches, as real traffic does), after the distinct queries
  went round three more times unmeasured (each worker has its own cache);
* trivial: ``/healthz`` (the app's hooks, routing and a small JSON answer,
  no search), by the same closed-loop clients, to tell the per-request
  cost of Flask and gunicorn from a search's.

For each phase the workers' CPU time (user + system, from /proc) per
request is reported next to the wall-clock figures: on a shared machine
it is the steadier measure.  Then the workers' memory.  A request that
fails, answers other than 200, or times out (10 s) counts as an error.
Requires Debian's ``wrk``.  Prints each target as met or not, with the
measured figure; writes bench/results/http.json.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
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
# The targets (full corpora, 2 cores, the load generator on the same cores).
TARGETS = {"cold_requests_per_s": 180, "cold_p99_ms": 150, "open_p99_ms": 60, "warm_requests_per_s": 1000}
TRIVIAL = "/healthz"

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


def worker_cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds the processes ``pids`` have used so far
    (/proc/PID/stat; a process gone counts 0)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks


def _percentiles(latencies: list[float]) -> dict:
    import numpy as np

    a = np.asarray(latencies) if latencies else np.zeros(1)
    return {"p50_ms": round(float(np.percentile(a, 50)), 2), "p99_ms": round(float(np.percentile(a, 99)), 2),
            "mean_ms": round(float(a.mean()), 2)}


def cold_pass(url: str, connections: int, paths: list[str] | None = None, mode: str = "cold") -> dict:
    """Every distinct query once (or each of ``paths``), by ``connections``
    concurrent clients (closed loop: each sends its next request when the
    last is answered); a failed, non-200 or timed-out request is an error."""
    import http.client
    import queue
    import threading

    import numpy as np

    todo: queue.Queue = queue.Queue()
    for path in _paths(distinct=True) if paths is None else paths:
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
    return {"mode": mode, "distinct_queries": len(a), "connections": connections, "seconds": round(wall, 2),
            "requests": len(a), "requests_per_s": round(len(a) / wall, 1), "errors": errors[0],
            **_percentiles(latencies)}


async def _get(host: str, port: int, path: str, timeout: float) -> int:
    """One GET on a new connection (the service closes after each answer):
    the status, having read the whole answer."""
    async def exchange():
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            head = await reader.readline()
            await reader.read()  # the rest, to the close
            return int(head.split()[1])
        finally:
            writer.close()

    return await asyncio.wait_for(exchange(), timeout)


def open_loop(url: str, rate: float, paths: list[str] | None = None, timeout: float = 10.0) -> dict:
    """Each of ``paths`` (default: every distinct query of the mix) once, the
    i-th due at start + i / ``rate`` seconds, sent then whatever earlier
    requests are doing (wrk2's ``-R``).  Latency: from when a request was
    due to its whole answer, so the time a late send waited is counted (no
    coordinated omission).  Errors: failed, non-200 or over ``timeout`` s."""
    paths = _paths(distinct=True) if paths is None else paths
    host, port = urllib.parse.urlsplit(url).netloc.split(":")
    latencies: list[float] = []
    late: list[float] = []  # how late each request was sent (ms): the load generator's own delay
    errors = [0]

    async def one(path: str, due: float):
        loop = asyncio.get_running_loop()
        late.append((loop.time() - due) * 1000)
        try:
            ok = await _get(host, int(port), path, timeout) == 200
        except Exception:  # noqa: BLE001 - counted as an error
            ok = False
        latencies.append((loop.time() - due) * 1000)
        errors[0] += 0 if ok else 1

    async def main():
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05
        tasks = []
        for i, path in enumerate(paths):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(path, due)))
        await asyncio.gather(*tasks)
        return loop.time() - start

    # Its own event loop in its own thread: the caller may be inside another
    # loop (the test session's browser runs Playwright's in the main thread).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        wall = pool.submit(lambda: asyncio.run(main())).result()
    return {"mode": "open", "rate_per_s": rate, "requests": len(latencies), "seconds": round(wall, 2),
            "requests_per_s": round(len(latencies) / wall, 1), "errors": errors[0],
            "send_late_p99_ms": round(sorted(late)[int(0.99 * (len(late) - 1))], 2) if late else 0.0,
            **_percentiles(latencies)}


def drain(url: str, timeout: float = 120.0) -> None:
    """Wait (up to ``timeout`` s) until the service answers ``/healthz``
    within a second: an overloaded open-loop run leaves accepted requests
    queued, which the next phase must not pay for."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen(url + TRIVIAL, timeout=timeout) as r:
                r.read()
        except Exception:  # noqa: BLE001 - still busy or refusing: try again
            time.sleep(0.2)
            continue
        if time.monotonic() - t0 < 1.0:
            return


def with_cpu(pids: list[int], phase) -> dict:
    """Run ``phase()`` (-> a phase's dict) and add the workers' CPU
    milliseconds per request it cost."""
    before = worker_cpu_s(pids)
    out = phase()
    out["worker_cpu_ms_per_request"] = round((worker_cpu_s(pids) - before) * 1000 / max(out["requests"], 1), 3)
    return out


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


def run(index_dir: str, seconds: int, connections: int, rate: float = 50.0, trivial_requests: int = 2000,
        open_loop_first: bool = True, prime_rounds: int = 3) -> dict:
    """The phases (see the module docstring) on ``index_dir``: two fresh
    services (open loop on the first, then the trivial endpoint; cold and
    warm on the second).  ``open_loop_first`` False: one service only, no
    open-loop run."""
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
    out: dict = {}
    if open_loop_first:
        with Server(index_dir, workers=workers, timeout=180) as srv:
            pids = srv.worker_pids()
            out["open"] = with_cpu(pids, lambda: open_loop(srv.url, rate))
            drain(srv.url)  # requests the open loop gave up on may still be queued
            out["trivial"] = with_cpu(pids, lambda: cold_pass(srv.url, connections, [TRIVIAL] * trivial_requests,
                                                              mode="trivial"))
    with Server(index_dir, workers=workers, timeout=180) as srv:
        pids = srv.worker_pids()
        cold = with_cpu(pids, lambda: cold_pass(srv.url, connections))
        cold["worker_memory_mb"] = memory_mb(pids)
        # Warm means answered from the result caches: each worker has its
        # own, and the cold pass reached each query in one worker only; the
        # distinct queries go round ``prime_rounds`` more times first
        # (unmeasured; a worker then misses a query with odds 1 in 2^rounds).
        cold_pass(srv.url, connections, _paths(distinct=True) * prime_rounds, mode="prime")
        warm = with_cpu(pids, lambda: run_wrk(srv.url, "warm", connections, seconds))
        warm["worker_memory_mb"] = memory_mb(pids)
    out.update({"cold": cold, "warm": warm, "workers": os.environ.get("WEB_CONCURRENCY", "2"),
                # The machine's load when done (1, 5, 15 minutes): these
                # figures share the cores with whatever else runs.
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "threads": os.environ.get("GUNICORN_THREADS", "2"), "date": time.strftime("%Y-%m-%d %H:%M:%S")})
    out["targets"] = targets(out)
    return out


def targets(result: dict) -> list[dict]:
    """The issue's HTTP targets against the measured figures:
    [{"target", "wanted", "measured", "met"}] (a phase not run is left out)."""
    rows = []

    def row(name, wanted, measured, met):
        rows.append({"target": name, "wanted": wanted, "measured": measured, "met": bool(met)})

    cold, warm, opened = result.get("cold"), result.get("warm"), result.get("open")
    if cold:
        row("cold, concurrency %d: requests/s" % cold["connections"], f">= {TARGETS['cold_requests_per_s']}",
            cold["requests_per_s"], cold["requests_per_s"] >= TARGETS["cold_requests_per_s"])
        row("cold: p99 ms", f"<= {TARGETS['cold_p99_ms']}", cold["p99_ms"], cold["p99_ms"] <= TARGETS["cold_p99_ms"])
    if opened:
        row("open loop %g requests/s: p99 ms" % opened["rate_per_s"], f"<= {TARGETS['open_p99_ms']}",
            opened["p99_ms"], opened["p99_ms"] <= TARGETS["open_p99_ms"])
    if warm:
        row("warm: requests/s", f">= {TARGETS['warm_requests_per_s']}", warm["requests_per_s"],
            warm["requests_per_s"] >= TARGETS["warm_requests_per_s"])
    errors = sum(result[m]["errors"] for m in ("open", "trivial", "cold", "warm") if m in result)
    row("errors", "0", errors, errors == 0)
    return rows


def print_table(result: dict) -> None:
    print(f"{'HTTP':8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'CPU ms/req':>10}  worker RSS MB")
    for mode in ("open", "trivial", "cold", "warm"):
        r = result.get(mode)
        if r is None:
            continue
        rss = ", ".join(str(w["rss"]) for w in r.get("worker_memory_mb", []))
        cpu = r.get("worker_cpu_ms_per_request")
        print(f"{mode:8} {r['requests_per_s']:7.1f} {r['p50_ms']:7.1f} {r['p99_ms']:7.1f} {r['errors']:6d} "
              f"{'' if cpu is None else format(cpu, '.2f'):>10}  {rss}")
    for t in result.get("targets", []):
        print(f"  {'met    ' if t['met'] else 'NOT met'}  {t['target']}: {t['measured']} (wanted {t['wanted']})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--rate", type=float, default=50.0, help="open loop: requests per second (default 50)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "http.json"))
    args = ap.parse_args(argv)
    sys.path.insert(0, ROOT)
    result = run(args.index, args.seconds, args.connections, rate=args.rate)
    print_table(result)
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
