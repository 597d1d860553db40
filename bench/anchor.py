"""The anchor: ours against tantivy (an embedded engine in Rust) doing the
same work on the same analysed terms, measured in the same run (issue 18).

    python -m bench.anchor --index OUR_INDEX [--tantivy-index DIR] [--runs 3] [--slice N]

* tantivy's index of the same articles is built from our analysis
  (``bench/anchor_index.py``: analysis and tantivy's indexing timed apart,
  cached between runs) unless ``--tantivy-index`` names one; ``--slice N``
  (quick mode) indexes the first N/2 articles of each news file, the slice
  ``bench.indexing`` gives ours;
* each engine runs ``bench/anchor_pass.py`` in ``--runs`` fresh processes,
  interleaved (ours, tantivy, ours, ...); every figure is the median over
  the runs: cold p50/p95/p99 overall and per query kind, warm (ours without
  its result cache), related articles (the same 200 articles), CPU seconds
  of the cold pass, PSS after the passes;
* index sizes on disk; indexing (tantivy's from its build; ours' given with
  ``--ours-build-seconds`` / ``--ours-build-peak-mb``, else taken from
  bench/results/indexing.json's full-corpora row when there is one);
* stock (whoosh 2.7.4 + jieba) for the record, from the cached figures of
  bench/results/summary-full.json (a sample of the distinct queries).

Prints the table and writes bench/results/anchor.json (date, commit).
``python -m bench.anchor_report --readme`` puts the table into README.md.
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

from .env import NEWS_FILES, ROOT
from .latency import percentiles
from .measure import dir_size, git_commit, write_result

RESULTS = os.path.join(ROOT, "bench", "results")

# What each query kind's tantivy query expresses of ours (see bench/anchor_tantivy.py).
_WORDS = ("all words (title or body; a word or inside a longer word, as ours); partial matches as an OR of "
          "the words (ours' tier 1)")
KIND_NOTES = {
    "frequent": "one word (a word or inside a longer word, as ours)",
    "words": _WORDS,
    "phrase": "a phrase of our character grams, as ours",
    "traditional": "one word, folded to Simplified by our analyzer",
    "filtered": "one word and an exact category/source term or a published range",
    "newest": "one word, sorted by the published fast field",
    "querylog": _WORDS + "; no pinyin, synonyms or did-you-mean",
    "qbqtc": _WORDS + "; no pinyin, synonyms or did-you-mean",
}
# Issue 18's targets on the full corpora.
TARGETS = {"cold_p50": 5, "cold_p95": 15, "cold_p99": 30, "kind_p99": 50, "related_p50": 15, "related_p99": 40,
           "index_seconds": 180, "index_peak_mb": 4096, "pss_mb": 400, "index_size_factor": 1.5}
TODAY_INDEX_GB = 2.2  # the "today's index size"


def _pass(engine: str, index_dir: str, work: str, n: int, ids: str | None) -> dict:
    out = os.path.join(work, f"{engine}-{n}.json")
    cmd = [sys.executable, "-m", "bench.anchor_pass", engine, index_dir, out, *(["--ids", ids] if ids else [])]
    subprocess.run(cmd, check=True, env=dict(os.environ, PYTHONPATH=ROOT), cwd=ROOT)
    with open(out, encoding="utf-8") as f:
        return json.load(f)


def _median(dicts: list[dict]) -> dict:
    """The median of each numeric figure of ``percentiles`` dicts (one per run)."""
    return {k: round(statistics.median(d[k] for d in dicts), 2) for k in dicts[0]}


def summarise(passes: list[dict]) -> dict:
    """An engine's figures over its runs: medians of each run's percentiles."""
    kinds = sorted({q["kind"] for q in passes[0]["queries"]})
    return {
        "documents": passes[0]["documents"], "segments": passes[0]["segments"], "runs": len(passes),
        "cold": _median([percentiles([q["ms"] for q in p["queries"]]) for p in passes]),
        "cold_by_kind": {k: _median([percentiles([q["ms"] for q in p["queries"] if q["kind"] == k])
                                     for p in passes]) for k in kinds},
        "cold_cpu": _median([percentiles([q.get("cpu_ms", q["ms"]) for q in p["queries"]]) for p in passes]),
        "cold_cpu_by_kind": {k: _median([percentiles([q.get("cpu_ms", q["ms"]) for q in p["queries"]
                                                      if q["kind"] == k]) for p in passes]) for k in kinds},
        "cold_cpu_seconds": round(statistics.median(p["cold_cpu_seconds"] for p in passes), 2),
        "warm": _median([percentiles(p["warm_ms"]) for p in passes]),
        "related_cold": _median([percentiles(p["related_cold_ms"]) for p in passes]),
        "related_warm": _median([percentiles(p["related_warm_ms"]) for p in passes]),
        "pss_mb": round(statistics.median(p["memory"]["pss_mb"] for p in passes), 1),
        "rss_mb": round(statistics.median(p["memory"]["rss_mb"] for p in passes), 1),
        "open_seconds": round(statistics.median(p["open_seconds"] for p in passes), 2),
        "errors": passes[0]["errors"][:5], "error_count": max(len(p["errors"]) for p in passes),
    }


def agreement(ours: dict, tantivy: dict) -> dict:
    """Per query kind, the share of queries where both engines report the same total, and the same
    number of full matches (the engines' semantics differ where KIND_NOTES says)."""
    out: dict = {}
    for a, b in zip(ours["queries"], tantivy["queries"]):
        k = out.setdefault(a["kind"], {"queries": 0, "same_total": 0, "same_full": 0})
        k["queries"] += 1
        k["same_total"] += a["total"] == b["total"]
        k["same_full"] += a["full"] == b["full"]
    return out


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 1) if b else None


def ours_build(seconds: float | None, peak_mb: float | None, source: str | None = None) -> dict | None:
    """Ours' full-corpora indexing figures: given (``source``: where they were measured), else
    indexing.json's full row, else None."""
    if seconds is not None:
        return {"seconds": seconds, "peak_rss_mb": peak_mb, "from": source or "given on the command line"}
    try:
        with open(os.path.join(RESULTS, "indexing.json"), encoding="utf-8") as f:
            data = json.load(f)
    except OSError:
        return None
    for row in data.get("rows", []):
        if row["system"].startswith("ours, full"):
            return {"seconds": row["seconds"], "peak_rss_mb": row["peak_rss_mb"],
                    "from": f"bench/results/indexing.json of {data['date']}"}
    return None


def stock_record() -> dict | None:
    """Stock's cached cold figures (a sample of the distinct queries) and ours' on the same sample,
    from bench/results/summary-full.json."""
    try:
        with open(os.path.join(RESULTS, "summary-full.json"), encoding="utf-8") as f:
            lat = json.load(f)["latency"]
    except (OSError, KeyError):
        return None
    if "stock" not in lat:
        return None
    return {"cold": lat["stock"]["cold"], "ours_same_sample": lat["ours"]["cold_stock_sample"],
            "timeouts": lat["stock"]["timeouts"], "date": lat["date"]}


def targets(r: dict) -> list[dict]:
    """Issue 18's targets against ours' measured figures (full corpora)."""
    o = r["ours"]
    worst_kind = max(o["cold_by_kind"].items(), key=lambda kv: kv[1]["p99"])
    rows = [
        ("cold p50 <= 5 ms", f"{o['cold']['p50']} ms", o["cold"]["p50"] <= TARGETS["cold_p50"]),
        ("cold p95 <= 15 ms", f"{o['cold']['p95']} ms", o["cold"]["p95"] <= TARGETS["cold_p95"]),
        ("cold p99 <= 30 ms", f"{o['cold']['p99']} ms", o["cold"]["p99"] <= TARGETS["cold_p99"]),
        ("no query kind above 50 ms at p99", f"{worst_kind[0]} {worst_kind[1]['p99']} ms",
         worst_kind[1]["p99"] <= TARGETS["kind_p99"]),
        ("related p50 <= 15 ms", f"{o['related_cold']['p50']} ms", o["related_cold"]["p50"] <= TARGETS["related_p50"]),
        ("related p99 <= 40 ms", f"{o['related_cold']['p99']} ms", o["related_cold"]["p99"] <= TARGETS["related_p99"]),
        ("worker PSS <= 400 MB (a process of one engine, after the passes)", f"{o['pss_mb']} MB",
         o["pss_mb"] <= TARGETS["pss_mb"]),
        ("index size <= 1.5 x 2.2 GB", f"{r['index_mb']['ours'] / 1024:.2f} GB",
         r["index_mb"]["ours"] / 1024 <= TARGETS["index_size_factor"] * TODAY_INDEX_GB),
    ]
    build = r.get("indexing", {}).get("ours")
    if build:
        rows.append(("indexing <= 180 s", f"{build['seconds']} s", build["seconds"] <= TARGETS["index_seconds"]))
        if build.get("peak_rss_mb") is not None:
            rows.append(("indexing peak memory <= 4 GB", f"{build['peak_rss_mb'] / 1024:.2f} GB",
                         build["peak_rss_mb"] <= TARGETS["index_peak_mb"]))
    return [{"target": t, "measured": m, "reached": bool(ok)} for t, m, ok in rows]


def run(index_dir: str, tantivy_dir: str | None = None, slice_n: int | None = None, runs: int = 3,
        build_seconds: float | None = None, build_peak_mb: float | None = None, build_from: str | None = None,
        log=print) -> dict:
    """Measure both engines (see the module docstring); the result as a JSON-ready dict."""
    from .anchor_index import ensure
    from .anchor_tantivy import UNSUPPORTED

    if tantivy_dir is None:
        meta = ensure(NEWS_FILES, slice_n, log=log)
        tantivy_dir = meta["path"]
    else:
        try:
            with open(os.path.join(tantivy_dir, "meta-anchor.json"), encoding="utf-8") as f:
                meta = json.load(f)
        except OSError:
            meta = {"path": tantivy_dir}
    ours_runs, tantivy_runs = [], []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as work:
        ids = None
        for n in range(runs):
            log(f"anchor: run {n + 1} of {runs}: ours")
            ours_runs.append(_pass("ours", index_dir, work, n, ids))
            if ids is None:
                ids = os.path.join(work, "ids.json")
                with open(ids, "w", encoding="utf-8") as f:
                    json.dump(ours_runs[0]["related_ids"], f)
            log(f"anchor: run {n + 1} of {runs}: tantivy")
            tantivy_runs.append(_pass("tantivy", tantivy_dir, work, n, ids))
    ours, tv = summarise(ours_runs), summarise(tantivy_runs)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "commit": git_commit(), "cpus": os.cpu_count(),
        "tantivy_version": meta.get("tantivy_version"), "slice": slice_n, "runs": runs,
        # The machine is shared: its 1-minute load average before and after the passes.
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "ours": ours, "tantivy": tv,
        "ratio_ours_over_tantivy": {
            "cold": {k: _ratio(ours["cold"][k], tv["cold"][k]) for k in ("p50", "p95", "p99")},
            "cold_by_kind": {kind: {k: _ratio(v[k], tv["cold_by_kind"][kind][k]) for k in ("p50", "p95", "p99")}
                             for kind, v in ours["cold_by_kind"].items()},
            "cold_cpu": {k: _ratio(ours["cold_cpu"][k], tv["cold_cpu"][k]) for k in ("p50", "p95", "p99")},
            "cold_cpu_by_kind": {kind: {k: _ratio(v[k], tv["cold_cpu_by_kind"][kind][k]) for k in ("p50", "p95", "p99")}
                                 for kind, v in ours["cold_cpu_by_kind"].items()},
            "cold_cpu_seconds": _ratio(ours["cold_cpu_seconds"], tv["cold_cpu_seconds"]),
            "warm": {k: _ratio(ours["warm"][k], tv["warm"][k]) for k in ("p50", "p95", "p99")},
            "related_cold": {k: _ratio(ours["related_cold"][k], tv["related_cold"][k]) for k in ("p50", "p95", "p99")},
            "pss_mb": _ratio(ours["pss_mb"], tv["pss_mb"]),
        },
        "agreement": agreement(ours_runs[0], tantivy_runs[0]),
        "kind_notes": KIND_NOTES,
        "index_mb": {"ours": round(dir_size(index_dir) / 2**20, 1),
                     "tantivy": round(dir_size(tantivy_dir) / 2**20, 1)},
        "indexing": {"tantivy": {k: meta.get(k) for k in ("analysis", "tantivy", "built", "articles")},
                     "ours": ours_build(build_seconds, build_peak_mb, build_from)},
        "stock": stock_record(),
    }
    result["tantivy_cannot"] = list(UNSUPPORTED)
    result["targets"] = targets(result)
    return result


def print_table(r: dict) -> None:
    o, t, ratio = r["ours"], r["tantivy"], r["ratio_ours_over_tantivy"]
    print(f"anchor: ours against tantivy {r['tantivy_version']} ({o['documents']} documents; ours {o['segments']} "
          f"segment{'' if o['segments'] == 1 else 's'}, tantivy {t['segments']}; median of {r['runs']} fresh processes each; load average "
          f"{r['load_average'][0]} before, {r['load_average'][1]} after)")
    print(f"{'cold (ms)':24} {'ours p50/p95/p99':>22} {'tantivy p50/p95/p99':>22} {'ours/tantivy':>18}  total agrees")

    def trio(d):
        return f"{d['p50']:.1f}/{d['p95']:.1f}/{d['p99']:.1f}"

    def rtrio(d):
        return "/".join(f"{d[k]}x" if d.get(k) is not None else "-" for k in ("p50", "p95", "p99"))

    agree = r["agreement"]
    print(f"{'all kinds':24} {trio(o['cold']):>22} {trio(t['cold']):>22} {rtrio(ratio['cold']):>18}")
    for kind, v in o["cold_by_kind"].items():
        a = agree.get(kind, {})
        print(f"{kind:24} {trio(v):>22} {trio(t['cold_by_kind'][kind]):>22} {rtrio(ratio['cold_by_kind'][kind]):>18}"
              f"  {a.get('same_total', 0)}/{a.get('queries', 0)}")
    print(f"{'cold, CPU per query':24} {trio(o['cold_cpu']):>22} {trio(t['cold_cpu']):>22} "
          f"{rtrio(ratio['cold_cpu']):>18}")
    print(f"{'warm, no result cache':24} {trio(o['warm']):>22} {trio(t['warm']):>22} {rtrio(ratio['warm']):>18}")
    print(f"{'related cold':24} {trio(o['related_cold']):>22} {trio(t['related_cold']):>22} "
          f"{rtrio(ratio['related_cold']):>18}")
    print(f"cold pass CPU: ours {o['cold_cpu_seconds']} s, tantivy {t['cold_cpu_seconds']} s "
          f"({ratio['cold_cpu_seconds']}x); PSS: ours {o['pss_mb']} MB, tantivy {t['pss_mb']} MB "
          f"(RSS {o['rss_mb']} / {t['rss_mb']} MB); errors: ours {o['error_count']}, tantivy {t['error_count']}")
    im = r["index_mb"]
    print(f"index size: ours {im['ours']} MB, tantivy {im['tantivy']} MB ({_ratio(im['ours'], im['tantivy'])}x)")
    ti = r["indexing"]["tantivy"]
    if ti.get("tantivy"):
        n = ti["articles"]
        print(f"indexing {n} articles: analysis (ours, jieba) {ti['analysis']['seconds']} s "
              f"({ti['analysis']['cpu_seconds']} s CPU), tantivy {ti['tantivy']['seconds']} s "
              f"({ti['tantivy']['cpu_seconds']} s CPU, {round(n / ti['tantivy']['seconds'])} articles/s, peak "
              f"{ti['tantivy']['peak_rss_mb']} MB); built {ti['built']}")
    if r["indexing"]["ours"]:
        b = r["indexing"]["ours"]
        print(f"ours indexing: {b['seconds']} s, peak {b['peak_rss_mb']} MB ({b['from']})")
    if r.get("stock"):
        s = r["stock"]
        print(f"stock, for the record ({s['date']}, {s['cold']['n']} queries): cold {trio(s['cold'])} ms "
              f"({s['timeouts']} timeouts at 10 s); ours on that sample then {trio(s['ours_same_sample'])} ms")
    print("tantivy cannot express: " + "; ".join(r["tantivy_cannot"]))
    print(f"\n{'target (issue 18)':36} {'measured':>16}  reached"
          + ("   (a slice: the targets are defined on the full corpora)" if r["slice"] else ""))
    for row in r["targets"]:
        print(f"{row['target']:36} {row['measured']:>16}  {'yes' if row['reached'] else 'NO'}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True, help="our index (opened read-only)")
    ap.add_argument("--tantivy-index", help="an existing anchor tantivy index (default: built and cached)")
    ap.add_argument("--slice", type=int, help="tantivy indexes the first N/2 articles of each news file")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ours-build-seconds", type=float, help="ours' full-corpora indexing time, measured elsewhere")
    ap.add_argument("--ours-build-peak-mb", type=float)
    ap.add_argument("--ours-build-from", help="where ours' indexing figures were measured (shown with them)")
    ap.add_argument("--out", default=os.path.join(RESULTS, "anchor.json"))
    args = ap.parse_args(argv)
    result = run(args.index, args.tantivy_index, args.slice, args.runs, args.ours_build_seconds,
                 args.ours_build_peak_mb, args.ours_build_from, log=lambda m: print(m, file=sys.stderr))
    print_table(result)
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
