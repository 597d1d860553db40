"""Hybrid search on OpenSearch (the lexical top candidates re-ranked by
their stored vectors: search/backends/opensearch/rerank.py) against
lexical search on the same index, in the same run (issue 20).

    python -m bench.hybrid_opensearch --opensearch-url URL --alias ALIAS [--limit 100] [--rounds 2]
    python -m bench.hybrid_opensearch --opensearch-url URL --build SAMPLE.jsonl.gz

``--alias``: an embedded index (``python -m indexer embed --backend
opensearch``).  ``--build FILE``: build a throwaway index of FILE
(1 shard, no replica), embed it (the embedding run's rate is reported),
measure, and delete it.  The queries: the distinct queries of
``bench/querymix.jsonl`` (the first ``--limit``).  One process, the
modes alternating query by query (the shared machine's load falls on
both alike), the result cache off, the query model loaded before (its
load time reported apart); per search the wall milliseconds, 10 hits
with snippets, category and source counts, near-duplicates grouped (the
API's defaults).  The query's embedding alone is timed as well.

The anchor is lexical search in the same run: prints p50/p95 per mode
and hybrid/lexical; writes ``bench/results/hybrid_opensearch.json``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid

from .hybrid_latency import load_queries, percentiles
from .measure import git_commit, write_result

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def build(url: str, path: str) -> tuple[str, dict]:
    """A throwaway alias of ``path``, embedded: (alias, the embedding run's figures)."""
    from indexer.cli import main

    alias = "bench-hybrid-" + uuid.uuid4().hex[:8]
    assert main(["build", "--backend", "opensearch", "--opensearch-url", url, "--index", alias, "--shards", "1",
                 "--replicas", "0", "--no-progress", path]) == 0
    t = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-m", "indexer", "embed", "--backend", "opensearch", "--opensearch-url",
                           url, "--index", alias], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    seconds = time.perf_counter() - t
    return alias, {"seconds": round(seconds, 1), "summary": done.stderr.strip().splitlines()[-1]}


def measure(url: str, alias: str, queries: list[str], rounds: int) -> dict:
    """Wall milliseconds per mode (alternating), the query embedding's, the model's load."""
    from search.engine import SearchEngine
    from search.models import SearchRequest

    e = SearchEngine.open(alias, backend="opensearch", opensearch_url=url, cache_size=0, synonyms_path=None)
    e.pinyin.get(wait=600)
    e.suggester.get(wait=600)
    t = time.perf_counter()
    e.query_embedder.embedder()
    out = {"model_load_ms": round((time.perf_counter() - t) * 1000, 1), "documents": e.backend.doc_count(),
           "lexical": [], "hybrid": [], "embed": [], "reranked": []}
    for _ in range(rounds):
        for q in queries:
            for mode in ("lexical", "hybrid"):
                t = time.perf_counter()
                res = e.search(SearchRequest(q=q, mode=mode, group=True))
                out[mode].append((time.perf_counter() - t) * 1000)
                if mode == "hybrid":
                    out["reranked"].append(next((int(n["text"]) for n in res.notices
                                                 if n["code"] == "dense_rerank_only"), 0))
            t = time.perf_counter()
            e.query_embedder.vector(q)
            out["embed"].append((time.perf_counter() - t) * 1000)
    e.backend.close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--opensearch-url", default=os.environ.get("OPENSEARCH_URL"), required=False)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--alias", help="an embedded OpenSearch index")
    where.add_argument("--build", help="build and embed a throwaway index of this file")
    ap.add_argument("--queries", default=os.path.join(HERE, "querymix.jsonl"))
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "hybrid_opensearch.json"))
    args = ap.parse_args(argv)
    if not args.opensearch_url:
        ap.error("--opensearch-url (or OPENSEARCH_URL) is required")
    queries = load_queries(args.queries, args.limit)
    alias, embedding = args.alias, None
    if args.build:
        alias, embedding = build(args.opensearch_url, args.build)
    try:
        runs = measure(args.opensearch_url, alias, queries, args.rounds)
    finally:
        if args.build:
            from search.backends.opensearch.target import connect

            client = connect(args.opensearch_url)
            for name in client.indices.get_alias(name=alias):
                client.indices.delete(index=name)
    result = {"queries": len(queries), "rounds": args.rounds, "documents": runs["documents"],
              "model_load_ms": runs["model_load_ms"], "embedding_run": embedding}
    for mode in ("lexical", "hybrid", "embed"):
        result[mode] = {k: round(v, 2) for k, v in percentiles(runs[mode]).items()}
    result["hybrid_over_lexical_p50"] = round(result["hybrid"]["p50"] / result["lexical"]["p50"], 2)
    result["reranked_mean"] = round(sum(runs["reranked"]) / len(runs["reranked"]), 1)
    result.update(date=time.strftime("%Y-%m-%d %H:%M:%S"), commit=git_commit())
    print(f"{result['queries']} queries x {args.rounds}, {result['documents']} documents (ms, wall)")
    for mode in ("lexical", "hybrid", "embed"):
        print(f"{mode:8} p50 {result[mode]['p50']:8.1f}  p95 {result[mode]['p95']:8.1f}")
    print(f"hybrid / lexical p50: {result['hybrid_over_lexical_p50']}; candidates re-ranked per query: "
          f"{result['reranked_mean']}; embedding run: {embedding}")
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
