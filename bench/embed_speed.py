"""What dense retrieval costs on this machine: the embedder seam
(search/embedding/) with its bundled model, or a site's ONNX model.

    python -m bench.embed_speed [--quick] [--model bundled|DIR] [--passages N]

* passages per second, title + lead (first paragraph of >= 20 characters,
  at most 512 characters, as the vectors are meant to be made), batches of
  32, with 1 and 2 threads (4 rounds alternating the two on the same
  slice), and the process's CPU milliseconds per passage; full mode draws the passages from both full
  corpora (fixed seed, in their proportions), quick mode from the 2k sample;
* the anchor, measured in the same run on the same passages: our index
  analysis of the same text (``normalize`` + ``Analyzer.words``, jieba
  words), so that the embedding cost reads as a multiple of the analysis
  the indexer does anyway;
* projected time to embed the full corpora (108,478 articles) and the
  vectors' size (articles x dim x 4 bytes, float32);
* query latency, one query per call (the distinct queries of
  bench/querymix.jsonl of 2-10 jieba words): p50 / p95 ms, 1 and 2 threads;
* process memory with the model loaded and used: PSS and RSS from
  ``/proc/self/smaps_rollup``, and before loading it.

Prints a table; writes bench/results/embed.json (quick mode: the temp
directory, as ``python -m bench --quick`` does).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import statistics
import sys
import tempfile
import time

from .env import CORPUS, NEWS_FILES, ROOT
from .measure import write_result

HERE = os.path.dirname(os.path.abspath(__file__))
FULL_ARTICLES = 74_545 + 33_933  # docs of both news files (shared/corpus/README.md)
PASSAGE_CHARS = 512
BATCH = 32
ROUNDS = 4


def lead(body: str) -> str:
    """The first paragraph of at least 20 characters (xwlb bodies often
    open with a dateline-only line)."""
    return next((p.strip() for p in body.split("\n") if len(p.strip()) >= 20), "")


def passage(record: dict) -> str:
    """Title + newline + lead, at most 512 characters."""
    return (record["title"].strip() + "\n" + lead(record["body"]))[:PASSAGE_CHARS]


def load_passages(n: int, quick: bool, seed: int = 20) -> list[str]:
    """``n`` passages: from the 2k sample (quick) or both full corpora, each
    file's share in proportion to its size, by reservoir sampling."""
    files = [os.path.join(CORPUS, "news-sample-2k.jsonl.gz")] if quick else list(NEWS_FILES)
    counts = [1] if quick else [74_545, 33_933]
    out = []
    for path, count in zip(files, counts):
        want = round(n * count / sum(counts))
        rng, kept = random.Random(seed), []
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for i, line in enumerate(f):
                if len(kept) < want:
                    kept.append(line)
                else:
                    j = rng.randrange(i + 1)
                    if j < want:
                        kept[j] = line
        out += [passage(json.loads(line)) for line in kept]
    return out[:n]


def mix_queries(limit: int = 200) -> list[str]:
    """Distinct queries of bench/querymix.jsonl of 2-10 jieba words (query syntax and all)."""
    import rjieba

    with open(os.path.join(HERE, "querymix.jsonl"), encoding="utf-8") as f:
        queries = list(dict.fromkeys(json.loads(line)["q"] for line in f))
    return [q for q in queries if 2 <= len([w for w in rjieba.cut(q) if w.strip()]) <= 10][:limit]


def memory_mb() -> dict:
    """PSS and RSS of this process in MB (``/proc/self/smaps_rollup``)."""
    fields = {}
    with open("/proc/self/smaps_rollup", encoding="ascii") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1])
    return {"pss_mb": round(fields["Pss"] / 1024, 1), "rss_mb": round(fields["Rss"] / 1024, 1)}


def _percentiles(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"p50": round(statistics.median(ms), 2), "p95": round(ms[int(0.95 * (len(ms) - 1))], 2)}


def analysis_rate(passages: list[str]) -> float:
    """Passages per second through the index's analysis (the anchor)."""
    from search.analysis import Analyzer
    from search.normalize import normalize
    from search.segmenter import get_segmenter

    analyzer = Analyzer(get_segmenter())
    analyzer.words(normalize(passages[0]))  # dictionary loaded
    t = time.perf_counter()
    for text in passages:
        analyzer.words(normalize(text))
    return len(passages) / (time.perf_counter() - t)


def run(spec: str | None = None, passages_n: int = 1000, quick: bool = False) -> dict:
    """Measure (see the module docstring); the result as a JSON-ready dict."""
    sys.path.insert(0, ROOT)
    from search.embedding import load_embedder

    passages = load_passages(passages_n, quick)
    queries = mix_queries(50 if quick else 200)
    before = memory_mb()
    load_average = [round(os.getloadavg()[0], 1)]
    t = time.perf_counter()
    embedders = {threads: load_embedder(spec, batch_size=BATCH, threads=threads) for threads in (1, 2)}
    load_s = time.perf_counter() - t
    info = embedders[2].info
    embedders[2].embed_passages(passages[:BATCH])  # warm
    # Rounds alternate the two settings on the same slice, so that the shared
    # machine's load falls on both alike.
    seconds, cpu_seconds, times = {1: 0.0, 2: 0.0}, {1: 0.0, 2: 0.0}, {1: [], 2: []}
    for r in range(ROUNDS):
        chunk, qchunk = passages[r::ROUNDS], queries[r::ROUNDS]
        for threads, embedder in embedders.items():
            t, c = time.perf_counter(), time.process_time()
            embedder.embed_passages(chunk)
            seconds[threads] += time.perf_counter() - t
            cpu_seconds[threads] += time.process_time() - c
            for q in qchunk:
                t = time.perf_counter()
                embedder.embed_queries([q])
                times[threads].append((time.perf_counter() - t) * 1000)
    rates = {k: len(passages) / v for k, v in seconds.items()}
    query_ms = {k: _percentiles(v) for k, v in times.items()}
    loaded = memory_mb()
    anchor = analysis_rate(passages)
    load_average.append(round(os.getloadavg()[0], 1))
    chars = [len(p) for p in passages]
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(), "mode": "quick" if quick else "full",
        "model_id": info.model_id, "dim": info.dim, "batch_size": BATCH, "load_seconds": round(load_s, 2),
        # The machine is shared: its 1-minute load average before and after.
        "load_average": load_average,
        "passages": {"n": len(passages), "source": "2k sample" if quick else "full corpora (both)",
                     "chars_mean": round(statistics.mean(chars), 1), "chars_max": max(chars)},
        "passages_per_s": {f"threads{k}": round(v, 1) for k, v in rates.items()},
        # CPU time of the process per passage: OpenMP threads that wait spin, so 2 threads cost more.
        "cpu_ms_per_passage": {f"threads{k}": round(v / len(passages) * 1000, 1) for k, v in cpu_seconds.items()},
        "anchor_analysis_passages_per_s": round(anchor, 1),
        "embedding_over_analysis_cost": round(anchor / rates[2], 1),
        "full_corpora": {"articles": FULL_ARTICLES,
                         "projected_hours": {f"threads{k}": round(FULL_ARTICLES / v / 3600, 2) for k, v in rates.items()},
                         "vector_bytes": FULL_ARTICLES * info.dim * 4,
                         "vector_mb": round(FULL_ARTICLES * info.dim * 4 / 2**20, 1)},
        "query_ms": {f"threads{k}": v for k, v in query_ms.items()}, "queries": len(queries),
        "memory": {"before_model": before, "loaded_and_used": loaded},
    }


def print_table(r: dict) -> None:
    """The figures of ``run`` as a few lines of text."""
    p = r["passages"]
    print(f"embedding: {r['model_id']} (dim {r['dim']}), {p['n']} passages from the {p['source']} "
          f"(mean {p['chars_mean']} characters), batches of {r['batch_size']}; load average "
          f"{r['load_average'][0]} before, {r['load_average'][1]} after")
    print(f"{'threads':>8} {'passages/s':>11} {'CPU ms each':>12} {'full corpora':>13} {'query p50':>10} {'p95 ms':>8}")
    for k in ("threads1", "threads2"):
        print(f"{k[-1]:>8} {r['passages_per_s'][k]:11.1f} {r['cpu_ms_per_passage'][k]:12.1f} "
              f"{r['full_corpora']['projected_hours'][k]:11.2f} h {r['query_ms'][k]['p50']:10.2f} "
              f"{r['query_ms'][k]['p95']:8.2f}")
    print(f"anchor: index analysis of the same passages {r['anchor_analysis_passages_per_s']} passages/s "
          f"(embedding costs {r['embedding_over_analysis_cost']}x as much, 2 threads)")
    m = r["memory"]
    print(f"vectors of the full corpora: {r['full_corpora']['vector_mb']} MB; process PSS "
          f"{m['before_model']['pss_mb']} -> {m['loaded_and_used']['pss_mb']} MB, RSS "
          f"{m['before_model']['rss_mb']} -> {m['loaded_and_used']['rss_mb']} MB with the model loaded and used")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="200 passages from the 2k sample")
    ap.add_argument("--model", default=None, help="'bundled' (default) or an ONNX model directory")
    ap.add_argument("--passages", type=int, default=None, help="default: 1000 (full), 200 (quick)")
    args = ap.parse_args(argv)
    n = args.passages or (200 if args.quick else 1000)
    result = run(args.model, n, args.quick)
    print_table(result)
    out = os.path.join(tempfile.gettempdir() if args.quick else os.path.join(HERE, "results"), "embed.json")
    write_result(out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
