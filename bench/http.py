"""HTTP load on the real service: gunicorn on loopback, loaded by wrk.

    python -m bench.http --index DIR [--seconds 30] [--connections 8]

Starts gunicorn with the settings of gunicorn.conf.py (the README's
recommendation for 2 cores), warms nothing, runs wrk with a Lua script that
cycles through bench/querymix.jsonl as /api/search requests, then reads the
workers' resident memory.  Requires Debian's ``wrk``.  Writes
bench/results/http.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from .measure import write_result

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

LUA = r"""
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%.3f %%.3f %%.3f\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.duration, 0,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000))
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _paths() -> list[str]:
    from bench.latency import load_mix

    out = []
    for item in load_mix():
        params = {"q": item["q"]}
        for k in ("sort", "category", "source", "from", "to"):
            if k in item:
                params[k] = item[k]
        out.append("/api/search?" + urllib.parse.urlencode(params))
    return out


def _memory_mb(pid: int) -> list[dict]:
    """Per worker: RSS (includes index pages mapped from the shared file
    cache), PSS, and private (anonymous, not shared) memory."""
    out = []
    for child in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split():
        fields = {}
        with open(f"/proc/{child}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                    fields[parts[0][:-1]] = int(parts[1]) / 1024
        out.append({"rss": round(fields.get("Rss", 0)), "pss": round(fields.get("Pss", 0)),
                    "private": round(fields.get("Private_Dirty", 0)), "anonymous": round(fields.get("Anonymous", 0))})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "http.json"))
    args = ap.parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    sys.path.insert(0, ROOT)
    port = _free_port()
    env = dict(os.environ, SEARCH_INDEX=args.index, PYTHONPATH=ROOT)
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([gunicorn, "-c", os.path.join(ROOT, "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}",
                             "web:create_app()"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    if r.status == 200:
                        break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        with tempfile.TemporaryDirectory() as tmp:
            paths_file = os.path.join(tmp, "paths.txt")
            with open(paths_file, "w", encoding="utf-8") as f:
                f.write("\n".join(_paths()) + "\n")
            script = os.path.join(tmp, "mix.lua")
            with open(script, "w") as f:
                f.write(LUA % {"paths": paths_file})
            out = subprocess.run(["wrk", "-t", "2", "-c", str(args.connections), "-d", f"{args.seconds}s",
                                  "--timeout", "10s", "-s", script, f"http://127.0.0.1:{port}"],
                                 capture_output=True, text=True, check=True).stdout
        m = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) \d+ ([\d.]+) ([\d.]+) ([\d.]+)", out)
        requests, errors, status_errors, duration_us = (int(m.group(i)) for i in range(1, 5))
        result = {
            "connections": args.connections, "seconds": duration_us / 1e6, "requests": requests,
            "requests_per_s": round(requests / (duration_us / 1e6), 1), "socket_errors": errors,
            "non_2xx_3xx": status_errors, "p50_ms": float(m.group(5)), "p99_ms": float(m.group(6)),
            "mean_ms": float(m.group(7)), "worker_memory_mb": _memory_mb(proc.pid),
            "workers": os.environ.get("WEB_CONCURRENCY", "2"), "threads": os.environ.get("GUNICORN_THREADS", "4"),
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
    print(json.dumps(result, indent=2))
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
