"""The embedding cache (search/embedding/cache.py, issue 20), measured.

    python -m bench.embed_cache [--articles N] [--out FILE]

On fresh indexes of the first N articles of the 2k sample (default 300),
the embedding job (``embedjob.embed_index``) run four ways in one process,
the bundled model loaded once:

* anchor: the job with the model alone (no cache), measured in the same
  run on the same articles;
* cold: the job through a ``CachedEmbedder`` on an empty cache file (the
  model's work plus the lookups and the stores): its time over the
  anchor's is the cache's overhead;
* fill: ``embedjob.fill_cache`` of the anchor's index into a new cache
  file (what ``indexer embed --fill-cache`` does), vectors/s;
* warm: the job on a third fresh build through the filled cache (no model
  call: checked), passages/s and its speed-up over the anchor.

Also the cache file's bytes per vector, and one-query lookups (a query
embedded through the warm cache, as an engine's ``QueryEmbedder`` does):
p50 ms against the model's own one-query call.  Every build's vectors are
checked byte-identical to the anchor's.

Prints a table; writes bench/results/embed_cache.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

from .env import CORPUS, ROOT
from .measure import git_commit, write_result

RESULT = os.path.join(ROOT, "bench", "results", "embed_cache.json")


def _records(n: int) -> list[dict]:
    import gzip

    with gzip.open(os.path.join(CORPUS, "news-sample-2k.jsonl.gz"), "rt", encoding="utf-8") as f:
        return [json.loads(line) for _, line in zip(range(n), f)]


def _timed(fn):
    c, t = time.process_time(), time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t, time.process_time() - c


def _vectors(folder: str) -> bytes:
    from search.backends.whoosh import embedjob, store, vectors

    _, _, _, pairs = embedjob.latest_commit(folder)
    found = vectors.VectorIndex(folder, pairs)
    rows = found.vectors()
    with store.open_index(folder).searcher() as searcher:
        ids = [searcher.stored_fields(d)["id"] for d in found.docnums.tolist()]
    return b"".join(rows[i].tobytes() for i in sorted(range(len(ids)), key=ids.__getitem__))


def run(n: int, work: str) -> dict:
    from indexer import pipeline
    from search.backends.whoosh import embedjob
    from search.embedding import load_embedder
    from search.embedding.cache import CachedEmbedder, EmbeddingCache

    records = _records(n)
    src = os.path.join(work, "in.jsonl")
    with open(src, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    builds = {}
    for name in ("anchor", "cold", "warm"):
        builds[name] = os.path.join(work, name)
        pipeline.build(builds[name], [src], workers=1, batch_size=max(1, n // 4), progress=False)
    model = load_embedder("bundled", batch_size=32, threads=2)
    model.embed_passages(["warm-up"])

    summary, anchor_s, anchor_cpu = _timed(lambda: embedjob.embed_index(builds["anchor"], model))
    assert summary.embedded == n
    cold = CachedEmbedder(model, os.path.join(work, "cold.sqlite"))
    summary, cold_s, cold_cpu = _timed(lambda: embedjob.embed_index(builds["cold"], cold))
    assert summary.embedded == n and cold.misses == len(set(_passages(records, model)))
    cache_file = os.path.join(work, "fill.sqlite")
    with EmbeddingCache(cache_file) as cache:
        (seen, added), fill_s, fill_cpu = _timed(lambda: embedjob.fill_cache(builds["anchor"], cache))
    assert seen == n
    warm = CachedEmbedder(model, cache_file)
    summary, warm_s, warm_cpu = _timed(lambda: embedjob.embed_index(builds["warm"], warm))
    assert summary.embedded == n and warm.model_calls == 0 and warm.hits == n
    want = _vectors(builds["anchor"])
    assert _vectors(builds["cold"]) == want and _vectors(builds["warm"]) == want

    queries = [r["title"].strip()[:12] for r in records[:60]]
    warm.embed_queries(queries)  # stored: the one-query calls below find them
    lookups, direct = [], []
    for q in queries:
        _, wall, _ = _timed(lambda: warm.embed_queries([q]))
        lookups.append(wall * 1000)
        _, wall, _ = _timed(lambda: model.embed_queries([q]))
        direct.append(wall * 1000)
    warm.cache.close()
    cold.cache.close()
    return {
        "articles": n, "model": model.info.model_id,
        "anchor_job": {"passages_per_s": round(n / anchor_s, 1), "wall_s": round(anchor_s, 2),
                       "cpu_s": round(anchor_cpu, 2)},
        "cold_job": {"passages_per_s": round(n / cold_s, 1), "wall_s": round(cold_s, 2), "cpu_s": round(cold_cpu, 2),
                     "over_anchor_time": round(cold_s / anchor_s, 3)},
        "fill": {"vectors": seen, "added": added, "vectors_per_s": round(seen / fill_s, 1),
                 "wall_s": round(fill_s, 3), "cpu_s": round(fill_cpu, 3)},
        "warm_job": {"passages_per_s": round(n / warm_s, 1), "wall_s": round(warm_s, 3),
                     "cpu_s": round(warm_cpu, 3), "speedup_over_anchor": round(anchor_s / warm_s, 1)},
        "bytes_per_vector": round(os.path.getsize(cache_file) / seen, 1),
        "one_query_ms_p50": {"cache_hit": round(statistics.median(lookups), 3),
                             "model": round(statistics.median(direct), 2)},
    }


def _passages(records, model) -> list[str]:
    from indexer.records import to_article
    from search.passages import passage

    out = []
    for r in records:
        a = to_article(r)
        out.append(passage(a.title, a.body, model.info.max_tokens))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=300)
    ap.add_argument("--out", default=RESULT)
    args = ap.parse_args(argv)
    if args.articles < 1:
        ap.error("--articles must be at least 1")
    with tempfile.TemporaryDirectory() as work:
        result = {"commit": git_commit(), "loadavg": os.getloadavg()[0], **run(args.articles, work),
                  "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    a, c, w, f = result["anchor_job"], result["cold_job"], result["warm_job"], result["fill"]
    print(f"embedding cache, {result['articles']} articles ({result['model']}), load {result['loadavg']:.1f}:")
    print(f"  anchor job (model only)   {a['passages_per_s']:8.1f} passages/s  {a['wall_s']} s")
    print(f"  cold job (through cache)  {c['passages_per_s']:8.1f} passages/s  {c['wall_s']} s "
          f"(x{c['over_anchor_time']} the anchor's time)")
    print(f"  fill from the index       {f['vectors_per_s']:8.1f} vectors/s   {f['wall_s']} s")
    print(f"  warm job (all hits)       {w['passages_per_s']:8.1f} passages/s  {w['wall_s']} s "
          f"({w['speedup_over_anchor']}x faster than the anchor)")
    print(f"  cache file: {result['bytes_per_vector']} bytes per vector; one query: "
          f"{result['one_query_ms_p50']['cache_hit']} ms from the cache, {result['one_query_ms_p50']['model']} ms "
          "by the model (p50)")
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
