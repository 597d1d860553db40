"""Home page latency against the size of the query log (issue: 2 million
logged searches in 7 days made ``/`` take 22-27 s).

For each log size (0, 200k and 2M searches over the last 7 days; query
texts from the Sogou query log sample, Zipf-distributed, from 20,000
client addresses) the log file is filled as ``QueryLog.record`` would
leave it (raw rows, daily aggregate, daily client tags), a real gunicorn
serves the index with it (one server per size, all at once; measured once
every worker's suggester is built), and 4
concurrent clients request ``/`` 400 times per size in interleaved rounds
(the machine's other load falls on every size alike); ``/healthz`` is
requested alongside.  Target: the home page's p95
at 2M rows within 2x of its p95 at 0 rows.  Writes
``bench/results/querylog_home.json``.

    python -m bench.querylog_home --index DIR [--sizes 0,200000,2000000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sqlite3
import statistics
import tempfile
import threading
import time
import urllib.request

from web.loopback import ROOT, Server
from search.querylog import DAY_SQL, QueryLog, listable

QUERIES = os.path.join(os.path.dirname(ROOT), "shared", "corpus", "querylog-sogouq-sample.tsv.gz")
RESULTS = os.path.join(ROOT, "bench", "results", "querylog_home.json")


def sogou_queries() -> list[str]:
    path = os.environ.get("NEWS_QUERYLOG", QUERIES)
    with gzip.open(path, "rt", encoding="utf-8") as f:
        next(f)
        texts = {line.split("\t")[2].strip() for line in f if line.count("\t") >= 2}
    return sorted(t for t in texts if t)


def fill(path: str, rows: int, days: int = 7, seed: int = 7) -> None:
    """``rows`` searches spread over the last ``days`` days, written in
    bulk in the layout ``QueryLog.record`` keeps (the same tables and
    aggregates; one transaction, not one per search)."""
    log = QueryLog(path)  # creates the schema and the key
    rng = random.Random(seed)
    texts = sogou_queries()
    weights = [1.0 / (i + 1) for i in range(len(texts))]  # Zipf: a few queries are most of the log
    now = time.time()
    c = sqlite3.connect(path, isolation_level=None)
    c.create_function("listable", 1, lambda q: int(listable(q)), deterministic=True)
    c.execute("PRAGMA synchronous=OFF")
    c.execute("BEGIN")
    batch = 100_000
    for start in range(0, rows, batch):
        n = min(batch, rows - start)
        qs = rng.choices(texts, weights, k=n)
        out = []
        for q in qs:
            ts = now - rng.random() * days * 86400
            out.append((ts, q, rng.choice((0, 3, 12, 40)), log.client_tag(f"10.{rng.randrange(80)}.{rng.randrange(250)}.1", ts)))
        c.executemany("INSERT INTO queries (ts, q, total, client) VALUES (?, ?, ?, ?)", out)
    c.execute(f"INSERT OR IGNORE INTO daily_clients SELECT DISTINCT {DAY_SQL}, q, client FROM queries")
    c.execute(f"INSERT INTO daily SELECT {DAY_SQL} AS d, q, COUNT(*), SUM(total = 0), 0, total, MAX(ts), "
              "listable(q) FROM queries GROUP BY d, q")
    c.execute("CREATE TEMP TABLE cc AS SELECT day, q, COUNT(*) AS n FROM daily_clients GROUP BY day, q")
    c.execute("UPDATE daily SET clients = (SELECT n FROM cc WHERE cc.day = daily.day AND cc.q = daily.q)")
    c.execute("COMMIT")
    c.close()


def _get(url: str) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as r:
        r.read()
        assert r.status == 200
    return (time.perf_counter() - t0) * 1000


def _steady(url: str, timeout: float = 300) -> None:
    """Wait until every worker has built its suggester (a background job
    at start, as large for 200k as for 2M logged searches: at most 5,000
    readers' queries feed it) so that the rounds measure the steady state."""
    deadline, ready = time.time() + timeout, 0
    while ready < 20 and time.time() < deadline:
        with urllib.request.urlopen(url + "/api/suggest?q=%E4%B8%AD", timeout=60) as r:
            ready = ready + 1 if json.loads(r.read())["suggestions"] else 0
        time.sleep(0.1)
    time.sleep(2)


def _burst(url: str, requests: int, clients: int, times: list, health: list) -> None:
    """``requests`` GETs of ``url`` + "/" from ``clients`` threads, with
    /healthz polled alongside; latencies appended to ``times``/``health``."""
    lock = threading.Lock()
    todo = list(range(requests))

    def client():
        while True:
            with lock:
                if not todo:
                    return
                todo.pop()
            ms = _get(url + "/")
            with lock:
                times.append(ms)

    def healthz():
        while todo:
            health.append(_get(url + "/healthz"))
            time.sleep(0.02)

    threads = [threading.Thread(target=client) for _ in range(clients)] + [threading.Thread(target=healthz)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _summary(times: list, health: list) -> dict:
    times = sorted(times)
    return {"requests": len(times), "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[int(len(times) * 0.95) - 1], 1), "max_ms": round(times[-1], 1),
            "healthz_max_ms": round(max(health), 1) if health else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--sizes", default="0,200000,2000000")
    ap.add_argument("--requests", type=int, default=400, help="home page requests per log size")
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args(argv)
    from web.auth import digest

    sizes = [int(s) for s in args.sizes.split(",")]
    out = {"sizes": {}, "note": "all servers run at once and are measured in interleaved rounds, "
                                "so the machine's other load falls on every size alike"}
    with tempfile.TemporaryDirectory() as tmp:
        servers, samples = {}, {}
        try:
            for size in sizes:
                path = os.path.join(tmp, f"log-{size}.sqlite")
                t0 = time.perf_counter()
                fill(path, size)
                out["sizes"][str(size)] = {"fill_s": round(time.perf_counter() - t0, 1)}
                servers[size] = Server(args.index, workers=2, extra_env={"SEARCH_QUERY_LOG": path,
                                                                         "SEARCH_WRITE_TOKENS": digest("bench")})
                samples[size] = ([], [])
                for _ in range(5):
                    _get(servers[size].url + "/")  # the engine opens, the first hot list is computed
            for size in sizes:
                _steady(servers[size].url)
            per_round = max(1, args.requests // args.rounds)
            for r in range(args.rounds):
                order = sizes[r % len(sizes):] + sizes[:r % len(sizes)]
                for size in order:
                    _burst(servers[size].url, per_round, 4, *samples[size])
            for size in sizes:
                res = out["sizes"][str(size)]
                res.update(_summary(*samples[size]))
                req = urllib.request.Request(servers[size].url + "/staff/queries?days=7",
                                             headers={"Authorization": "Bearer bench"})
                t1 = time.perf_counter()
                urllib.request.urlopen(req, timeout=300).read()
                res["staff_queries_days7_ms"] = round((time.perf_counter() - t1) * 1000, 1)
                print(f"{size:>9} rows: home p50 {res['p50_ms']} ms, p95 {res['p95_ms']} ms, max {res['max_ms']} ms; "
                      f"/healthz max {res['healthz_max_ms']} ms; /staff/queries?days=7 "
                      f"{res['staff_queries_days7_ms']} ms (log filled in {res['fill_s']} s)", flush=True)
        finally:
            for server in servers.values():
                server.stop()
    by = out["sizes"]
    if "0" in by and "2000000" in by:
        ratio = by["2000000"]["p95_ms"] / by["0"]["p95_ms"]
        out["p95_ratio_2M_to_0"] = round(ratio, 2)
        out["target_reached"] = ratio <= 2.0
        print(f"home p95 at 2M rows / at 0 rows: {ratio:.2f} (target <= 2): "
              f"{'reached' if ratio <= 2 else 'NOT reached'}")
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
