"""Export throughput (issue 19): articles per second of a complete export
(a cursor walk on one snapshot, ``search.cursor.walk_all``, formatted by
``search.exports``) of up to 50,000 articles, next to two baselines
measured in the same run on the same index:

* ``old_export``: the export of earlier releases, one search of 10,000
  rows (its cap) read in one piece, then formatted;
* ``stored_fields``: the same articles' stored fields read straight from
  the index in the walk's order, formatted alike, without the cursor (the
  floor: what reading and writing the rows costs).

    python -m bench.export --index DIR [--limit 50000] [--backend whoosh|opensearch]

The query is the one of ``QUERIES`` matching the most articles: the
empty query (every article, newest first: the issue's 50,000-article
export on the full corpora's 108,478) unless ``--query`` names one (a
word query: on the full corpora the largest, 中国, matches 45,689; the
figure says how many were exported).  Each figure is the best of ``rounds`` interleaved runs
(all are kept).  Also reports the largest memory growth of the export (peak
RSS after minus before: the walk holds one chunk of documents).  Writes
bench/results/export.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import sys
import time

from .measure import write_result

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
RESULT = os.path.join(ROOT, "bench", "results", "export.json")

QUERIES = ("", "中国", "发展", "香港", "记者", "国家")  # "": every article (a broad export)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _drain(chunks) -> int:
    return sum(len(c) for c in chunks)


def run(index_dir: str, limit: int = 50000, backend: str = "whoosh", opensearch_url: str | None = None,
        rounds: int = 3, queries: tuple[str, ...] = QUERIES) -> dict:
    from search import exports
    from search.cursor import walk_all
    from search.engine import SearchEngine
    from search.models import SearchRequest

    engine = SearchEngine.open(index_dir, backend=backend, opensearch_url=opensearch_url, refresh_interval=3600)
    engine.wait_ready(120, suggestions=False)
    base = SearchRequest(facets=(), group=False, correct=False, highlight=False, sort="newest")
    totals = {q: engine.search(dataclasses.replace(base, q=q, size=1)).total for q in queries}
    q = max(totals, key=totals.get)
    req = dataclasses.replace(base, q=q)
    out = {"documents": engine.backend.doc_count(), "backend": backend, "query": q, "matches": totals[q],
           "candidates": totals, "limit": limit}

    # Baseline: the same articles' stored fields read straight from the
    # index in the walk's order (Whoosh: the served view), formatted alike,
    # without the cursor.  The untimed walk listing them warms the page cache.
    total, pages = walk_all(engine, req, 600, limit)
    ids = [h.id for page in pages for h in page[1]]

    def stored_fields() -> dict:
        view = engine.backend.view
        docs = [view.id_to_doc(doc_id) for doc_id in ids]  # looked up before the clock starts
        t = time.perf_counter()
        size = 0
        for doc in docs:
            stored = view.stored(doc)
            size += len(json.dumps({k: stored.get(k) for k in ("id", "title", "body", "published_text", "category",
                                                              "source", "author", "tags", "url")},
                                   ensure_ascii=False).encode("utf-8")) + 1
        wall = time.perf_counter() - t
        return {"articles": len(ids), "seconds": round(wall, 2), "articles_per_s": round(len(ids) / wall),
                "mb_written": round(size / 2**20, 1)}

    def export(fmt: str) -> dict:
        rss0 = _rss_mb()
        t = time.perf_counter()
        total, pages = walk_all(engine, req, 600, limit)
        rows = 0

        def counted(pages=pages):
            nonlocal rows
            for page in pages:
                rows += len(page[1])
                yield page

        size = _drain(exports.chunks(counted(), fmt))
        wall = time.perf_counter() - t
        return {"articles": rows, "seconds": round(wall, 2), "articles_per_s": round(rows / wall),
                "mb_written": round(size / 2**20, 1), "peak_rss_growth_mb": round(_rss_mb() - rss0, 1)}

    # Interleaved rounds, the best of each kept: the machines are shared and noisy.
    runs = {"stored_fields": [], "export_jsonl": [], "export_csv": []}
    for _ in range(rounds):
        if backend == "whoosh":
            runs["stored_fields"].append(stored_fields())
        runs["export_jsonl"].append(export("jsonl"))
        runs["export_csv"].append(export("csv"))
    for name, measured in runs.items():
        if measured:
            out[name] = dict(min(measured, key=lambda m: m["seconds"]), rounds=len(measured),
                             all_articles_per_s=[m["articles_per_s"] for m in measured])

    # Baseline: the old export (one search of its 10,000-row cap, then the rows).
    t = time.perf_counter()
    res = engine.search(dataclasses.replace(req, size=10000))
    hits = res.hits
    old = "".join(json.dumps({"id": h.id, "title": h.title, "published": h.published, "source": h.source,
                              "author": h.author, "url": h.url}, ensure_ascii=False) + "\n" for h in hits)
    wall = time.perf_counter() - t
    out["old_export_10000"] = {"articles": len(hits), "seconds": round(wall, 2),
                               "articles_per_s": round(len(hits) / wall), "mb_written": round(len(old.encode("utf-8")) / 2**20, 1),
                               "note": "no body, category or tags; capped at 10,000 rows"}

    out["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
    return out


def print_table(r: dict) -> None:
    print(f"export: query {r['query']!r} matches {r['matches']} of {r['documents']} articles ({r['backend']})")
    print(f"{'':22} {'articles':>9} {'seconds':>8} {'articles/s':>11} {'MB':>7}")
    for name in ("export_jsonl", "export_csv", "old_export_10000", "stored_fields"):
        if name in r:
            m = r[name]
            print(f"{name:22} {m['articles']:>9} {m['seconds']:>8} {m['articles_per_s']:>11} {m['mb_written']:>7}")
    for name in ("export_jsonl", "export_csv"):
        print(f"{name}: peak RSS grew {r[name]['peak_rss_growth_mb']} MB")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--limit", type=int, default=50000)
    ap.add_argument("--backend", choices=["whoosh", "opensearch"], default="whoosh")
    ap.add_argument("--opensearch-url", default=os.environ.get("OPENSEARCH_URL"))
    ap.add_argument("--query", action="append",
                    help="export this query (repeatable: the one matching most is taken; default: the empty "
                         "query, every article, and the word queries of QUERIES)")
    args = ap.parse_args(argv)
    result = run(args.index, args.limit, args.backend, args.opensearch_url,
                 queries=tuple(args.query) if args.query else QUERIES)
    print_table(result)
    write_result(RESULT, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
