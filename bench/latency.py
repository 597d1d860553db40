"""In-process query latency, ours against the stock setup, as the search
page runs queries (top 10, highlighting, category and source facets).

    python -m bench.latency --index DIR [--stock-index DIR] [--repeat 3]

* Cold (the headline figure): a fresh process runs each distinct query of
  bench/querymix.jsonl once (every cache of the engine empty; the operating
  system's file cache is not dropped).
* Warm: the whole mix, shuffled, ``--repeat`` times in the same process,
  once with the result cache (repeated queries, as real traffic has) and
  once without it (the engine's own speed on data already read).
* Stock: whoosh 2.7.4 + jieba with its default highlighter, on a
  stratified sample of the distinct queries (every ``--stock-every``-th; the
  stock setup needs seconds for some); ours on the same sample for the
  ratio.  A stock query over ``--timeout`` seconds is an error, and is
  counted at the time limit in the percentiles.
* Related articles: 200 random articles, cold then warm.
* Facet exactness: for the most frequent words and every 10th other query,
  each of the top 3 category and source facet values is checked against
  the total of the same search filtered by that value.

Writes bench/results/latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time

from .measure import write_result

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)


def load_mix(path=os.path.join(HERE, "querymix.jsonl")):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def distinct_queries(mix: list[dict]) -> list[dict]:
    return list({json.dumps(i, sort_keys=True): i for i in mix}.values())


def request_for(item):
    from search.models import SearchRequest
    from search.timeutil import parse_range

    date_from, date_to = parse_range(item.get("from"), item.get("to"))  # as the API reads them
    return SearchRequest(
        q=item["q"], size=10, sort=item.get("sort", "relevance"),
        category=[item["category"]] if "category" in item else [],
        source=[item["source"]] if "source" in item else [],
        date_from=date_from, date_to=date_to,
        facets=("category", "source"),
    )


def percentiles(ms: list[float]) -> dict:
    import numpy as np

    a = np.asarray(ms)
    return {"n": len(a), "p50": round(float(np.percentile(a, 50)), 2), "p95": round(float(np.percentile(a, 95)), 2),
            "p99": round(float(np.percentile(a, 99)), 2), "mean": round(float(a.mean()), 2)}


def check_facets(engine, items: list[dict]) -> dict:
    """Facet counts must equal the filtered totals, exactly."""
    checked, wrong = 0, []
    for item in items:
        res = engine.search(request_for(item))
        for name in ("category", "source"):
            for fv in res.facets.get(name, [])[:3]:
                req = request_for(item)
                setattr(req, name, [fv.value])
                total = engine.search(req).total
                checked += 1
                if total != fv.count:
                    wrong.append({"q": item["q"], "facet": name, "value": fv.value, "count": fv.count,
                                  "filtered_total": total})
    return {"queries": len(items), "values_checked": checked, "mismatches": len(wrong), "examples": wrong[:5]}


def ours(index_dir: str, repeat: int, every: int) -> dict:
    from search.engine import SearchEngine

    mix = load_mix()
    t = time.perf_counter()
    engine = SearchEngine.open(index_dir, refresh_interval=3600)
    open_s = time.perf_counter() - t
    # As the service does before its first request: the background builds
    # (pinyin lexicon, suggester) would otherwise compete with the first queries.
    engine.pinyin.get(wait=300)
    engine.suggester.get(wait=300)
    errors = 0

    def timed(item):
        nonlocal errors
        t0 = time.perf_counter()
        try:
            engine.search(request_for(item))
        except Exception:  # noqa: BLE001 - counted, not hidden
            errors += 1
        return (time.perf_counter() - t0) * 1000

    distinct = distinct_queries(mix)
    cold = [timed(i) for i in distinct]
    rng = random.Random(7)
    warm, warm_uncached = [], []
    for _ in range(repeat):
        order = mix[:]
        rng.shuffle(order)
        warm.extend(timed(i) for i in order)
    cache_size, engine._cache.size = engine._cache.size, 0
    for _ in range(repeat):
        order = mix[:]
        rng.shuffle(order)
        warm_uncached.extend(timed(i) for i in order)
    engine._cache.size = cache_size
    by_kind: dict[str, list[float]] = {}
    for item, ms in zip(distinct, cold):
        by_kind.setdefault(item["kind"], []).append(ms)
    view = engine.backend.view
    ids = [view.stored(int(g))["id"] for g in random.Random(11).sample(range(view.n_all), 200) if view.live[g]]
    rel_cold, rel_warm = [], []
    for out in (rel_cold, rel_warm):
        for doc_id in ids:
            t0 = time.perf_counter()
            engine.related(doc_id, size=5)
            out.append((time.perf_counter() - t0) * 1000)
    facet_items = [i for n, i in enumerate(distinct) if i["kind"] == "frequent" or n % 10 == 0]
    return {
        "facet_check": check_facets(engine, facet_items),
        "documents": view.n_live, "segments": len(view.segments), "open_seconds": round(open_s, 2),
        "errors": errors, "cold": percentiles(cold), "warm_result_cache": percentiles(warm),
        "warm_no_result_cache": percentiles(warm_uncached),
        "cold_by_kind": {k: percentiles(v) for k, v in sorted(by_kind.items())},
        "cold_stock_sample": percentiles(cold[::every]),
        "related_cold": percentiles(rel_cold), "related_warm": percentiles(rel_warm),
    }


def stock(index_dir: str, every: int, timeout: float) -> dict:
    from .env import run_stock

    sample = distinct_queries(load_mix())[::every]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "queries.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(i, ensure_ascii=False) + "\n" for i in sample)
        out = run_stock("latency", index_dir, path, f"--timeout={timeout}")["queries"]
    errors = [q for q in out if q["status"] != "ok"]
    ms = [min(q["ms"], timeout * 1000) if q["status"] == "ok" else timeout * 1000 for q in out]
    return {"cold": percentiles(ms), "errors": len(errors), "timeouts": sum(q["status"] == "timeout" for q in out),
            "error_examples": [q["status"] for q in errors[:3]]}


def run(index_dir: str, stock_index: str | None, repeat: int, every: int, timeout: float) -> dict:
    result = {"ours": ours(index_dir, repeat, every)}
    if stock_index:
        result["stock"] = stock(stock_index, every, timeout)
        o, s = result["ours"]["cold_stock_sample"], result["stock"]["cold"]
        result["stock_over_ours"] = {k: round(s[k] / o[k], 1) for k in ("p50", "p95", "p99")}
    result["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
    return result


def print_table(result: dict) -> None:
    o = result["ours"]
    print(f"{'latency (ms)':28} {'p50':>8} {'p95':>8} {'p99':>8}   ({o['documents']} documents, "
          f"{o['segments']} segments)")
    rows = [("ours cold", o["cold"]), ("ours warm, result cache", o["warm_result_cache"]),
            ("ours warm, no result cache", o["warm_no_result_cache"]),
            ("related cold", o["related_cold"]), ("related warm", o["related_warm"])]
    if "stock" in result:
        rows += [("ours cold, stock sample", o["cold_stock_sample"]), ("stock cold, same sample", result["stock"]["cold"])]
    for name, r in rows:
        print(f"{name:28} {r['p50']:8.1f} {r['p95']:8.1f} {r['p99']:8.1f}")
    print("cold by kind: " + ", ".join(f"{k} p50 {v['p50']:.1f}/p99 {v['p99']:.1f}"
                                       for k, v in o["cold_by_kind"].items()))
    fc = o["facet_check"]
    print(f"facet counts vs filtered totals: {fc['values_checked']} values over {fc['queries']} queries, "
          f"{fc['mismatches']} mismatches")
    print(f"errors: ours {o['errors']}" + (f", stock {result['stock']['errors']} "
                                           f"({result['stock']['timeouts']} timeouts)" if "stock" in result else ""))
    if "stock_over_ours" in result:
        r = result["stock_over_ours"]
        print(f"stock / ours: p50 {r['p50']}x, p95 {r['p95']}x, p99 {r['p99']}x")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--stock-index", help="the stock setup's index of the same articles")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--stock-every", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "latency.json"))
    args = ap.parse_args(argv)
    result = run(args.index, args.stock_index, args.repeat, args.stock_every, args.timeout)
    print_table(result)
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
