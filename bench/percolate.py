"""Alert matching (percolation) per batch: 1,000 saved searches against a
batch of 100 new articles, next to a baseline measured in the same run.

    python -m bench.percolate [--index DIR] [--opensearch-url URL] [--searches 1000] [--batches 3]
    python -m bench.percolate --write-path-only      # the write path with the alerting beside it

The saved searches: the 620 queries of bench/querymix.jsonl (60 of them
filtered by source, 40 newest-first) and real queries of the Sogou log
sample up to ``--searches``, every tenth of those with ``range=month``.
Each batch is 100 articles of the 2,000-article sample written under new
ids (``bench-percolate-…``) by the real writer (``ChangeLoop``: one commit,
one segment), then percolated (``search.percolator.Percolator``, through
``IndexBackend.percolate``); the first batch includes compiling the plans,
the later ones reuse them.

Baseline (same run, same plans): each saved search run as a normal search
over the whole index, its full matches then filtered to the batch (Whoosh:
the executor's full-match set on the whole view, intersected with the
batch; OpenSearch: a multi-search of the plans with the batch's ids as a
``post_filter``, counting every match).  Both must find the same articles:
``mismatches`` counts the searches where they differ.

Without ``--index`` the 2,000-article sample is indexed into a temporary
directory (and, with ``--opensearch-url``, into a temporary alias).  With
``--index`` the batches are written into that index and deleted again
afterwards.  Writes bench/results/percolate.json.

The write path (``write_latency``): the writer's step timed while the
alerting percolates beside it in its own process (as ``python -m indexer
writer`` runs it), with 0 saved searches (baseline) and with
``--searches``; and with the alerting as a thread of the writer's process,
for comparison.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
import uuid

from .env import CORPUS, ROOT
from .measure import write_result

sys.path.insert(0, ROOT)
SAMPLE = os.path.join(CORPUS, "news-sample-2k.jsonl.gz")
BATCH = 100
TARGET_S = 1.0  # issue 19: a batch of 100 against 1,000 saved searches in under a second


def saved_params(n: int) -> list[dict]:
    """``n`` saved searches' parameters: the query mix, then Sogou log queries."""
    out = []
    with open(os.path.join(ROOT, "bench", "querymix.jsonl"), encoding="utf-8") as f:
        for line in f:
            item = json.loads(line)
            params = {"q": [item["q"]]}
            if item.get("source"):
                params["source"] = [item["source"]]
            if item["kind"] == "newest":
                params["sort"] = ["newest"]
            out.append(params)
    seen = {p["q"][0] for p in out}
    with gzip.open(os.path.join(CORPUS, "querylog-sogouq-sample.tsv.gz"), "rt", encoding="utf-8") as f:
        next(f)
        for i, line in enumerate(f):
            q = line.split("\t")[2].strip()
            if len(out) >= n:
                break
            if not q or q in seen or len(q) > 50:
                continue
            seen.add(q)
            params = {"q": [q]}
            if len(out) % 10 == 0:
                params["range"] = ["month"]
            out.append(params)
    return out[:n]


def _records(n_batches: int) -> list[list[dict]]:
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    tag = uuid.uuid4().hex[:6]
    return [[{**r, "id": f"bench-percolate-{tag}-{r['id']}"} for r in records[i * BATCH:(i + 1) * BATCH]]
            for i in range(n_batches)]


def _baseline(backend_name: str, engine, plans: list, ids: list[str]) -> list[set[str]]:
    """Each plan over the whole index, its full matches filtered to ``ids``."""
    backend = engine.backend
    if backend_name == "whoosh":
        from search.backends.whoosh.executor import Executor
        from search.backends.whoosh.percolate import full_matches

        view = backend.view
        wanted = {}
        for doc_id in ids:
            g = view.id_to_doc(doc_id)
            if g is not None:
                wanted[g] = doc_id
        executor = Executor(view)
        return [{wanted[g] for g in full_matches(executor, p).tolist() if g in wanted} for p in plans]
    out = []
    for start in range(0, len(plans), 200):
        lines = []
        for p in plans[start:start + 200]:
            lines += [{}, {"query": backend.query(p), "post_filter": {"ids": {"values": ids}}, "size": len(ids),
                           "_source": False, "track_total_hits": True}]
        res = backend.client.msearch(index=backend.index, body=lines)
        out += [{h["_id"] for h in r["hits"]["hits"]} for r in res["responses"]]
    return out


def run_on(index: str, backend_name: str = "whoosh", opensearch_url: str | None = None, searches: int = 1000,
           batches: int = 3) -> dict:
    """Percolation and baseline timings on ``index`` (batches written and deleted again)."""
    from indexer.alerting import request_reader, search_config
    from indexer.article_store import ArticleStore
    from indexer.writer import IndexWriter
    from search.engine import SearchEngine
    from search.percolator import Percolator
    from search.saved_searches import SavedSearchStore

    with tempfile.TemporaryDirectory() as work:
        articles = ArticleStore(os.path.join(work, "articles.sqlite"))
        writer = IndexWriter(index, articles, backend=backend_name, opensearch_url=opensearch_url,
                             regroup_interval=3600)
        engine = SearchEngine.open(index, backend=backend_name, opensearch_url=opensearch_url, refresh_interval=0)
        engine.wait_ready(300, suggestions=False)
        saved = SavedSearchStore(os.path.join(work, "saved.sqlite"))
        for i, params in enumerate(saved_params(searches)):
            saved.create("token:bench", f"bench-{i}", params)
        percolator = Percolator(engine, saved, request_reader(search_config()))
        rows, written = [], []
        try:
            for batch in _records(batches):
                ids = [r["id"] for r in batch]
                seq = articles.put(batch)
                writer.drain()
                written += ids
                t, cpu = time.perf_counter(), time.process_time()
                report = percolator.percolate(ids, [], seq)
                took, cpu = time.perf_counter() - t, time.process_time() - cpu
                # The same plans, as the baseline runs them; the percolator's
                # matches (prefilter included) must equal the baseline's.
                at = time.time()
                compiled, matches, _ = percolator.match(saved.all(), ids, at, type(report)())
                runnable = [(s, dataclasses.replace(p, limit=BATCH)) for s, p in compiled if p is not None]
                t, base_cpu = time.perf_counter(), time.process_time()
                base = _baseline(backend_name, engine, [p for _, p in runnable], ids)
                base_took, base_cpu = time.perf_counter() - t, time.process_time() - base_cpu
                mine = [matches[s.id] for s, _ in runnable]
                rows.append({"seconds": round(took, 3), "baseline_seconds": round(base_took, 3),
                             "cpu_seconds": round(cpu, 3), "baseline_cpu_seconds": round(base_cpu, 3),
                             "searches": report.searches, "skipped": report.skipped, "alerts": report.alerts,
                             "copies": report.copies,
                             "matches": sum(len(m) for m in mine),
                             "mismatches": sum(a != b for a, b in zip(mine, base)),
                             "unreadable": len(report.errors)})
        finally:
            if written:
                articles.delete(written)
                writer.drain()
            writer.close()
            docs = engine.backend.doc_count()
            engine.pinyin.get(wait=60)
    later = rows[1:] or rows
    return {"backend": backend_name, "documents": docs, "searches": rows[0]["searches"], "batch": BATCH,
            "batches": rows,
            "first_batch_s": rows[0]["seconds"],
            "later_batches_median_s": round(statistics.median(r["seconds"] for r in later), 3),
            "baseline_median_s": round(statistics.median(r["baseline_seconds"] for r in rows), 3),
            # CPU of this process (Whoosh: all of it; OpenSearch: the client's
            # share, the cluster's own not counted): steadier than wall time
            # on a shared machine.
            "later_batches_cpu_median_s": round(statistics.median(r["cpu_seconds"] for r in later), 3),
            "baseline_cpu_median_s": round(statistics.median(r["baseline_cpu_seconds"] for r in rows), 3),
            "mismatches": sum(r["mismatches"] for r in rows), "target_s": TARGET_S}


LATENCY_STEPS = 30  # writer steps timed per setting
LATENCY_BATCH = 20  # articles written per step


def write_latency(index: str, backend_name: str = "whoosh", opensearch_url: str | None = None,
                  searches: int = 1000) -> dict:
    """The write path while percolation runs beside the writer (issue 19,
    item 15): ``ChangeLoop.step`` (analysis, apply, commit) timed over
    ``LATENCY_STEPS`` back-to-back steps of ``LATENCY_BATCH`` articles, with
    the alerting in its own process as ``python -m indexer writer`` runs it
    (``indexer.alerting_process``) against 0 saved searches (the baseline)
    and against ``searches``, and, for comparison, with the alerting as a
    thread of the writer's process (the arrangement before it).  Seconds
    per step (median, p90), this process's CPU, and the slowdowns (median
    with / median of the baseline)."""
    out = {"backend": backend_name, "steps": LATENCY_STEPS, "batch": LATENCY_BATCH}
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    for label, n, mode in (("without", 0, "process"), ("with", searches, "process"),
                           ("with_thread", searches, "thread")):
        out[label] = _steps_timed(index, backend_name, opensearch_url, records, n, mode)
    base = max(out["without"]["step_median_s"], 1e-9)
    out["slowdown"] = round(out["with"]["step_median_s"] / base, 2)
    out["slowdown_thread"] = round(out["with_thread"]["step_median_s"] / base, 2)
    return out


def _steps_timed(index, backend_name, opensearch_url, records, n: int, mode: str) -> dict:
    """``LATENCY_STEPS`` writer steps timed with ``n`` saved searches
    percolated beside them (``mode``: "process" or "thread")."""
    from indexer.alerting import Alerting, search_config
    from indexer.alerting_process import AlertingProcess
    from indexer.article_store import ArticleStore
    from indexer.writer import IndexWriter
    from search.engine import SearchEngine
    from search.saved_searches import PercolationState, SavedSearchStore

    with tempfile.TemporaryDirectory() as work:
        articles = ArticleStore(os.path.join(work, "articles.sqlite"))
        writer = IndexWriter(index, articles, backend=backend_name, opensearch_url=opensearch_url,
                             regroup_interval=3600)
        saved = SavedSearchStore(os.path.join(work, "saved.sqlite"))
        for i, params in enumerate(saved_params(n) if n else []):
            saved.create("token:bench", f"bench-{i}", params)
        state = PercolationState(saved)
        state.set_percolated(articles.applied())
        engine = None
        if mode == "thread":
            engine = SearchEngine.open(index, backend=backend_name, opensearch_url=opensearch_url,
                                       refresh_interval=0)
            engine.wait_ready(300, suggestions=False)
            alerting = Alerting(articles, saved, lambda: engine, search_config()).start()
        else:
            args = ["--index", index, "--store", articles.path, "--saved", saved.path, "--backend", backend_name]
            if opensearch_url:
                args += ["--opensearch-url", opensearch_url]
            alerting = AlertingProcess(args).start()
        writer.after_commit.append(alerting.notify)
        tag = uuid.uuid4().hex[:6]
        written, times, cpu0 = [], [], time.process_time()
        try:
            for k in range(LATENCY_STEPS):
                batch = [{**r, "id": f"bench-latency-{tag}-{r['id']}"}
                         for r in records[(k * LATENCY_BATCH) % len(records):][:LATENCY_BATCH]]
                articles.put(batch)
                written += [r["id"] for r in batch]
                t = time.perf_counter()
                writer.step()
                times.append(time.perf_counter() - t)
            cpu = time.process_time() - cpu0
            deadline = time.monotonic() + 600
            while (state.percolated() or 0) < articles.applied() and time.monotonic() < deadline:
                time.sleep(0.05)
            caught_up = (state.percolated() or 0) >= articles.applied()
        finally:
            alerting.stop()
            if written:
                articles.delete(written)
                writer.drain()
            writer.close()
            if engine is not None:
                engine.pinyin.get(wait=60)
    times.sort()
    return {"searches": n, "alerting": mode, "step_median_s": round(statistics.median(times), 4),
            "step_p90_s": round(times[int(0.9 * (len(times) - 1))], 4), "writer_cpu_s": round(cpu, 3),
            "percolation_caught_up": caught_up}


def run(index: str | None = None, opensearch_url: str | None = None, searches: int = 1000, batches: int = 3) -> dict:
    """Whoosh on ``index`` (default: the sample, indexed here) and, with
    ``opensearch_url``, OpenSearch on the sample in a temporary alias."""
    from indexer import pipeline

    out = {}
    with tempfile.TemporaryDirectory() as work:
        if index is None:
            index = os.path.join(work, "sample")
            pipeline.build(index, [SAMPLE], workers=2, progress=False)
        out["whoosh"] = run_on(index, "whoosh", searches=searches, batches=batches)
        out["write_latency"] = {"whoosh": write_latency(index, "whoosh", searches=searches)}
        if opensearch_url:
            from opensearchpy import OpenSearch

            alias = "bench-percolate-" + uuid.uuid4().hex[:8]
            pipeline.build(alias, [SAMPLE], workers=2, progress=False, backend="opensearch",
                           opensearch_url=opensearch_url)
            try:
                out["opensearch"] = run_on(alias, "opensearch", opensearch_url, searches, batches)
                out["write_latency"]["opensearch"] = write_latency(alias, "opensearch", opensearch_url, searches)
            finally:
                client = OpenSearch(opensearch_url, timeout=60)
                for name in client.indices.get_alias(name=alias):
                    client.indices.delete(index=name)
    return out


def print_table(result: dict) -> None:
    """One line per backend: per-batch seconds, baseline, agreement."""
    print(f"{'percolation':12} {'docs':>8} {'searches':>8} {'1st batch':>10} {'later':>8} {'baseline':>9}"
          f" {'later CPU':>9} {'base CPU':>9} {'mismatch':>8}")
    for name, r in result.items():
        if name == "write_latency":
            continue
        print(f"{name:12} {r['documents']:>8} {r['searches']:>8} {r['first_batch_s']:>9.3f}s"
              f" {r['later_batches_median_s']:>7.3f}s {r['baseline_median_s']:>8.3f}s"
              f" {r['later_batches_cpu_median_s']:>8.3f}s {r['baseline_cpu_median_s']:>8.3f}s {r['mismatches']:>8}")


    print(f"\n{'write path':12} {'searches':>8} {'alerting':>8} {'step median':>11} {'step p90':>9} {'CPU':>7}"
          f"  (ChangeLoop.step, {LATENCY_BATCH} articles, percolation running beside it)")
    for name, r in result.get("write_latency", {}).items():
        for label in ("without", "with", "with_thread"):
            x = r[label]
            print(f"{name:12} {x['searches']:>8} {x['alerting']:>8} {x['step_median_s']:>10.4f}s"
                  f" {x['step_p90_s']:>8.4f}s {x['writer_cpu_s']:>6.2f}s")
        print(f"{name:12} slowdown x{r['slowdown']} (process), x{r['slowdown_thread']} (thread)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", help="a Whoosh index to measure on (default: the 2,000-article sample, indexed here)")
    ap.add_argument("--opensearch-url", help="also measure on OpenSearch (the sample, in a temporary alias)")
    ap.add_argument("--searches", type=int, default=1000)
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--write-path-only", action="store_true",
                    help="only the write path's timing (Whoosh, the sample): bench/results/percolate-write-latency.json")
    args = ap.parse_args(argv)
    if args.write_path_only:
        from indexer import pipeline

        with tempfile.TemporaryDirectory() as work:
            index = args.index or os.path.join(work, "sample")
            if not args.index:
                pipeline.build(index, [SAMPLE], workers=2, progress=False)
            result = {"write_latency": {"whoosh": write_latency(index, "whoosh", searches=args.searches)}}
        print_table(result)
        write_result(os.path.join(ROOT, "bench", "results", "percolate-write-latency.json"), result)
        return 0
    result = run(args.index, args.opensearch_url, args.searches, args.batches)
    print_table(result)
    write_result(os.path.join(ROOT, "bench", "results", "percolate.json"), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
