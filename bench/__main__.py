"""Every benchmark and evaluation in one run, with the targets of issue 4.

    python -m bench --quick     # ~4 minutes: small slices, a sanity check of every part
    python -m bench             # full: the 108k corpora (~45 minutes; +20 the first
                                # time, to build and cache the stock setup's index, and
                                # +5 to 12 to analyse and index the corpora for the anchor's
                                # tantivy index, cached too)

Full mode indexes the corpora with ours (timed) and measures latency, HTTP
and freshness on that index; latency is compared with the stock setup's
index of the same articles, and with tantivy's (the anchor, bench/anchor.py:
the same analysed terms and query mix; quick mode on the same slice).  Each
part prints its table; the figures go to bench/results/summary-{quick,full}.json
(and each part's own file in full mode).  Machines here are shared and noisy: read the ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from . import (anchor, coverage_latency, embed_speed, freshness, highlight, http_load, indexing, latency,
               percolate, suggest_latency)
from . import export as export_bench
from .env import CORPUS, ROOT, stock_full_index
from .measure import git_commit, write_result

sys.path.insert(0, ROOT)
RESULTS = os.path.join(ROOT, "bench", "results")
EVAL_RESULTS = os.path.join(ROOT, "eval", "results")


def targets(r: dict) -> list[tuple[str, str, bool]]:
    """(target, measured, reached)."""
    lat = r["latency"]["ours"]["cold"]
    out = [
        ("search p50 <= 15 ms in-process (cold)", f"{lat['p50']} ms", lat["p50"] <= 15),
        ("search p99 <= 80 ms in-process (cold)", f"{lat['p99']} ms", lat["p99"] <= 80),
    ]
    if "stock_over_ours" in r["latency"]:
        ratio = r["latency"]["stock_over_ours"]["p95"]
        out.append(("stock / ours >= 5x at p95", f"{ratio}x", ratio >= 5))
    fc = r["latency"]["ours"]["facet_check"]
    out.append(("facet counts equal filtered totals", f"{fc['mismatches']}/{fc['values_checked']} off",
                fc["mismatches"] == 0 and fc["values_checked"] > 0))
    cold = r["http"]["cold"]
    rss = max(w["rss"] for mode in ("cold", "warm") for w in r["http"][mode]["worker_memory_mb"])
    out += [
        ("HTTP >= 150 req/s at concurrency 8 (cold)", f"{cold['requests_per_s']} req/s", cold["requests_per_s"] >= 150),
        ("HTTP zero errors", f"{cold['errors'] + r['http']['warm']['errors']}",
         cold["errors"] + r["http"]["warm"]["errors"] == 0),
        ("HTTP p99 <= 200 ms (cold)", f"{cold['p99_ms']} ms", cold["p99_ms"] <= 200),
        ("worker RSS <= 400 MB", f"{rss} MB", rss <= 400),
        ("freshness <= 2 s", f"{r['freshness']['stable_max_s']} s",
         r["freshness"]["stable_max_s"] is not None and r["freshness"]["stable_max_s"] <= 2),
    ]
    if "percolate" in r:
        perc = r["percolate"]["whoosh"]
        out.append(("alert matching < 1 s per batch (100 x 1,000)", f"{perc['later_batches_median_s']} s",
                    perc["later_batches_median_s"] < percolate.TARGET_S and perc["mismatches"] == 0))
    sug = r["suggest"]["latency_ms"]["p95"]
    out.append(("suggest p95 < 20 ms in-process", f"{sug} ms", sug < 20))
    if "reader_helpers" in r:
        for name, target in (("pinyin", 0.8), ("misspelled", 0.6)):
            share = r["reader_helpers"]["summary"][name]["top10"]
            out.append((f"{name} reader queries in top 10 >= {target:.0%}", f"{share:.1%}", share >= target))
    if "qbqtc" in r:
        gain = r["qbqtc"]["ndcg_gain"]
        out.append(("QBQTC nDCG@10 >= bigram BM25 + 0.02", f"{gain:+.4f}", gain >= 0.02))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--index", help="full mode: measure on this existing index instead of building one "
                                    "(freshness adds and deletes probe articles in it)")
    ap.add_argument("--skip-eval", action="store_true")
    args = ap.parse_args(argv)
    mode = "quick" if args.quick else "full"
    report: dict = {"mode": mode, "started": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(),
                    "commit": git_commit()}
    out = (lambda name: os.path.join(tempfile.gettempdir(), f"bench-{name}.json")) if args.quick else \
        (lambda name: os.path.join(RESULTS, f"{name}.json"))
    with tempfile.TemporaryDirectory() as work:
        if args.quick:
            report["indexing"] = indexing.run(1000, full=False, workdir=work)
            index_dir, stock_index = os.path.join(work, "ours"), os.path.join(work, "stock")
        else:
            report["indexing"] = indexing.run(5000, full=not args.index, workdir=work)
            index_dir = args.index or os.path.join(work, "full")
            stock_index = stock_full_index()
        indexing.print_table(report["indexing"])
        write_result(out("indexing"), report["indexing"])

        report["latency"] = latency.run(index_dir, stock_index, repeat=1 if args.quick else 3,
                                        every=8, timeout=10.0)
        latency.print_table(report["latency"])
        write_result(out("latency"), report["latency"])

        # The anchor: tantivy on the same analysed terms, same mix, same work (issue 18).
        rows = report["indexing"]["rows"]
        full_row = next((r for r in rows if r["system"].startswith("ours, full")), None)
        report["anchor"] = anchor.run(index_dir, slice_n=1000 if args.quick else None,
                                      runs=1 if args.quick else 3,
                                      build_seconds=full_row["seconds"] if full_row else None,
                                      build_peak_mb=full_row["peak_rss_mb"] if full_row else None)
        anchor.print_table(report["anchor"])
        write_result(out("anchor"), report["anchor"])

        report["highlight"] = highlight.run(runs=1 if args.quick else 3)  # the 2k sample, its own index
        highlight.print_table(report["highlight"])
        write_result(out("highlight"), report["highlight"])

        report["http"] = http_load.run(index_dir, seconds=10 if args.quick else 30, connections=8)
        http_load.print_table(report["http"])
        write_result(out("http"), report["http"])

        report["suggest"] = suggest_latency.run(index_dir)
        r = report["suggest"]["latency_ms"]
        print(f"suggest: p50 {r['p50']} ms, p95 {r['p95']} ms over {report['suggest']['prefixes']} prefixes")
        write_result(out("suggest"), report["suggest"])

        # Significant terms and compared timelines next to the plain search of the same queries.
        report["coverage"] = coverage_latency.run(index_dir, limit=20 if args.quick else 60)
        coverage_latency.print_table(report["coverage"])
        write_result(out("coverage"), report["coverage"])
        report["export"] = export_bench.run(index_dir, limit=2000 if args.quick else 50000)
        export_bench.print_table(report["export"])
        write_result(out("export"), report["export"])

        if not args.quick:
            from eval import reader_helpers

            report["reader_helpers"] = reader_helpers.run(index_dir)
            for name in ("pinyin", "misspelled"):
                r = report["reader_helpers"]["summary"][name]
                print(f"reader queries, {name}: {r['top10']:.1%} land the article in the top 10")
            write_result(os.path.join(EVAL_RESULTS, "reader_helpers-after.json"), report["reader_helpers"])

        # The embedder seam (issue 20): passages/s, query latency, memory; needs the semantic extra.
        from search.embedding import SemanticUnavailable

        try:
            report["embed"] = embed_speed.run(None, 200 if args.quick else 1000, quick=args.quick)
            embed_speed.print_table(report["embed"])
            write_result(out("embed"), report["embed"])
        except SemanticUnavailable as exc:
            print(f"embedding: skipped ({exc})")

        # Alert matching: 1,000 saved searches, batches of 100 (written and deleted again).
        report["percolate"] = percolate.run(index_dir, batches=2 if args.quick else 3)
        percolate.print_table(report["percolate"])
        write_result(out("percolate"), report["percolate"])

        report["freshness"] = freshness.run(index_dir, trials=3 if args.quick else 5)
        print(f"freshness: visible to every request within {report['freshness']['stable_max_s']} s "
              f"(first seen after {report['freshness']['first_median_s']} s, median)")
        write_result(out("freshness"), report["freshness"])

    if not args.skip_eval:
        from eval import news, qbqtc

        report["qbqtc"] = qbqtc.run(CORPUS, limit=300 if args.quick else 0)
        qbqtc.print_table(report["qbqtc"])
        if not args.quick:
            write_result(os.path.join(EVAL_RESULTS, "qbqtc.json"), report["qbqtc"])
            report["news"] = news.run(500)
            news.print_table(report["news"])
            write_result(os.path.join(EVAL_RESULTS, "news.json"), report["news"])

    report["targets"] = [{"target": t, "measured": m, "reached": ok} for t, m, ok in targets(report)]
    print(f"\n{'target':45} {'measured':>14}  reached")
    for t in report["targets"]:
        print(f"{t['target']:45} {t['measured']:>14}  {'yes' if t['reached'] else 'NO'}")
    if args.quick:
        print("(quick mode: small indexes; the targets are defined on the full corpora)")
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    write_result(os.path.join(RESULTS, f"summary-{mode}.json"), report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
