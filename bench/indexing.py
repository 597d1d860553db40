"""Indexing benchmark: ours vs the stock setup on the same slice, same run.

    python -m bench.indexing [--slice 5000] [--full]

The slice takes the first half of the articles from each news file
(CCTV and Hong Kong), written to a temporary file.  ``--full`` also indexes
both complete corpora (108k articles) with ours.  Prints a table and writes
bench/results/indexing.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time

from .env import NEWS_FILES, ROOT, STOCK_SCRIPT, stock_python
from .measure import dir_size, run_measured, write_result


def write_slice(n: int, path: str) -> tuple[int, int]:
    per_file = n // len(NEWS_FILES)
    docs = chars = 0
    with open(path, "w", encoding="utf-8") as out:
        for name in NEWS_FILES:
            with gzip.open(name, "rt", encoding="utf-8") as f:
                for i, line in enumerate(f):
                    if i >= per_file:
                        break
                    r = json.loads(line)
                    out.write(line if line.endswith("\n") else line + "\n")
                    docs += 1
                    chars += len(r["title"]) + len(r.get("body") or "")
    return docs, chars


def ours(files: list[str], index_dir: str, batch: int) -> dict:
    cmd = [sys.executable, "-m", "indexer", "build", "--no-progress", "--batch-size", str(batch),
           "--index", index_dir, *files]
    env = dict(os.environ, PYTHONPATH=ROOT)
    return run_measured(cmd, env=env)


def row(name, docs, chars, res, index_dir):
    wall = res["wall"]
    return {"system": name, "documents": docs, "characters": chars, "seconds": round(wall, 1),
            "chars_per_s": round(chars / wall), "docs_per_s": round(docs / wall, 1),
            "peak_rss_mb": round(res["peak_rss_mb"]), "index_mb": round(dir_size(index_dir) / 2**20, 1)}


def run(slice_n: int, full: bool, workdir: str) -> dict:
    """Index into ``workdir`` (``stock``, ``ours`` and, with ``full``,
    ``full``: the caller may keep using them)."""
    rows = []
    src = os.path.join(workdir, "slice.jsonl")
    docs, chars = write_slice(slice_n, src)
    stock_dir = os.path.join(workdir, "stock")
    res = run_measured([stock_python(), STOCK_SCRIPT, "index", stock_dir, src])
    rows.append(row("stock whoosh 2.7.4 + jieba ChineseAnalyzer", docs, chars, res, stock_dir))
    ours_dir = os.path.join(workdir, "ours")
    res = ours([src], ours_dir, batch=docs)  # one commit, split between the workers
    rows.append(row("ours (2 workers)", docs, chars, res, ours_dir))
    if full:
        full_dir = os.path.join(workdir, "full")
        res = ours(list(NEWS_FILES), full_dir, batch=16000)
        total_docs = total_chars = 0
        for f in NEWS_FILES:
            with gzip.open(f, "rt", encoding="utf-8") as fh:
                for line in fh:
                    r = json.loads(line)
                    total_docs += 1
                    total_chars += len(r["title"]) + len(r.get("body") or "")
        rows.append(row("ours, full corpora", total_docs, total_chars, res, full_dir))
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "rows": rows,
            "speedup": rows[1]["chars_per_s"] / rows[0]["chars_per_s"], "cpus": os.cpu_count()}


def print_table(result: dict) -> None:
    print(f"{'indexing':45} {'docs':>7} {'seconds':>8} {'chars/s':>10} {'docs/s':>8} {'peak MB':>8} {'index MB':>9}")
    for r in result["rows"]:
        print(f"{r['system']:45} {r['documents']:7d} {r['seconds']:8.1f} {r['chars_per_s']:10,d} "
              f"{r['docs_per_s']:8.1f} {r['peak_rss_mb']:8d} {r['index_mb']:9.1f}")
    print(f"ours / stock characters per second: {result['speedup']:.1f}x")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--slice", type=int, default=5000)
    ap.add_argument("--full", action="store_true", help="also index the full corpora with ours")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "indexing.json"))
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.slice, args.full, tmp)
    print_table(result)
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
