"""The embedding job and the vectors' storage (issue 20), measured.

    python -m bench.embed_job [--articles N] [--rows N]

* the job: ``embedjob.embed_index`` on a fresh index of the first N
  articles of the 2k sample (several segments, checkpoints every 100
  articles), passages/s and CPU ms per passage; the anchor, in the same
  run on the same texts: the embedder's own ``embed_passages`` of those
  passages (``search.passages``), so that the job's overhead (reading
  stored fields, writing the files, the per-segment batches) reads as a
  ratio; the two alternate (job, anchor, job, anchor) on the shared machine;
* storage: bytes of the vectors files per article, and what a rebuild's
  carry-over (``embedjob.carry_over``) takes on the same index;
* reading at the full corpora's size: a vectors file of ``--rows``
  (default 108,478) random unit rows of dimension 384 written with
  ``vectors.write_file``; ``VectorIndex`` opened (what each ``/healthz``
  does) and ``scores`` for one query (brute force over the memory map),
  against the anchor ``matrix @ query`` on the same rows in memory.

Prints a table; writes bench/results/embed_job.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

from .env import CORPUS, ROOT
from .measure import git_commit, write_result

RESULT = os.path.join(ROOT, "bench", "results", "embed_job.json")
FULL_ARTICLES = 108_478  # both full corpora (74,545 CCTV + 33,933 Hong Kong)


def _records(n: int) -> list[dict]:
    import gzip
    import json

    with gzip.open(os.path.join(CORPUS, "news-sample-2k.jsonl.gz"), "rt", encoding="utf-8") as f:
        return [json.loads(line) for _, line in zip(range(n), f)]


def _timed(fn):
    c, t = time.process_time(), time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t, time.process_time() - c


def job_and_anchor(n: int, work: str, rounds: int = 2) -> dict:
    """The job against the embedder's own calls on the same passages."""
    from indexer import pipeline
    from indexer.records import to_article
    from search.backends.whoosh import embedjob, vectors
    from search.embedding import load_embedder
    from search.passages import passage

    records = _records(n)
    src = os.path.join(work, "in.jsonl")
    with open(src, "w", encoding="utf-8") as f:
        import json

        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    base = os.path.join(work, "base")
    pipeline.build(base, [src], workers=1, batch_size=max(1, n // 6), progress=False)
    embedder = load_embedder("bundled", batch_size=32, threads=2)
    texts = []
    for r in records:
        a = to_article(r)
        texts.append(passage(a.title, a.body, embedder.info.max_tokens))
    embedder.embed_passages(texts[:8])  # warm
    job, anchor = [], []
    for i in range(rounds):
        ix = os.path.join(work, f"ix{i}")
        shutil.copytree(base, ix)
        summary, wall, cpu = _timed(lambda: embedjob.embed_index(ix, embedder, checkpoint=100))
        assert summary.embedded == n and summary.backlog == 0
        job.append((wall, cpu, summary.files_written))
        _, wall, cpu = _timed(lambda: embedder.embed_passages(texts))
        anchor.append((wall, cpu))
    size = sum(os.path.getsize(os.path.join(ix, f)) for f in os.listdir(ix) if f.endswith(vectors.SUFFIX))
    segments = len([f for f in os.listdir(ix) if f.endswith(vectors.SUFFIX)])
    # a rebuild's carry-over: the embedded index's vectors into a fresh copy of the base
    fresh = os.path.join(work, "fresh")
    shutil.copytree(base, fresh)
    copied, carry_wall, carry_cpu = _timed(lambda: embedjob.carry_over(fresh, ix))
    assert copied == n
    job_s = statistics.median(w for w, _, _ in job)
    anchor_s = statistics.median(w for w, _ in anchor)
    return {
        "articles": n, "segments": segments, "rounds": rounds, "model": embedder.info.model_id,
        "job": {"passages_per_s": round(n / job_s, 1),
                "cpu_ms_per_passage": round(1000 * statistics.median(c for _, c, _ in job) / n, 1),
                "files_written": job[0][2], "wall_s": [round(w, 2) for w, _, _ in job]},
        "anchor_embed_passages": {"passages_per_s": round(n / anchor_s, 1),
                                  "cpu_ms_per_passage": round(1000 * statistics.median(c for _, c in anchor) / n, 1),
                                  "wall_s": [round(w, 2) for w, _ in anchor]},
        "job_over_anchor_time": round(job_s / anchor_s, 3),
        "bytes_per_article": round(size / n, 1),
        "carry_over": {"articles": copied, "wall_s": round(carry_wall, 3), "cpu_s": round(carry_cpu, 3)},
    }


def reading(rows: int, work: str, dim: int = 384, repeats: int = 20) -> dict:
    """Opening and scoring a vectors file of ``rows`` rows."""
    from search.backends.whoosh import vectors

    rng = np.random.default_rng(20)
    matrix = rng.standard_normal((rows, dim), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    query = matrix[7].copy()

    class Segment:  # the two methods VectorIndex asks of a Whoosh segment
        def segment_id(self):
            return "MAIN_benchvectors0000"

        def doc_count_all(self):
            return rows

    folder = os.path.join(work, "read")
    os.makedirs(folder)
    _, write_s, _ = _timed(lambda: vectors.write_file(folder, Segment().segment_id(), matrix, np.ones(rows, bool),
                                                      vectors.ModelRecord("bench", dim, "query: ", "passage: ", 512)))
    opens, scores, anchors = [], [], []
    for _ in range(repeats):
        found, wall, _ = _timed(lambda: vectors.VectorIndex(folder, [(Segment(), frozenset())]))
        opens.append(wall)
        (docnums, cos), wall, _ = _timed(lambda: found.scores(query))
        scores.append(wall)
        _, wall, _ = _timed(lambda: matrix @ query)
        anchors.append(wall)
    assert int(docnums[np.argmax(cos)]) == 7 and np.allclose(cos, matrix @ query, atol=1e-5)
    return {"rows": rows, "dim": dim, "file_mb": round(os.path.getsize(os.path.join(folder, os.listdir(folder)[0]))
                                                      / 2**20, 1),
            "write_s": round(write_s, 2),
            "open_ms_p50": round(1000 * statistics.median(opens), 2),
            "scores_ms_p50": round(1000 * statistics.median(scores), 1),
            "anchor_in_memory_matmul_ms_p50": round(1000 * statistics.median(anchors), 1),
            "scores_over_anchor": round(statistics.median(scores) / statistics.median(anchors), 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=300, help="articles of the sample embedded (default 300)")
    ap.add_argument("--rows", type=int, default=FULL_ARTICLES, help="rows of the reading test's file")
    ap.add_argument("--out", default=RESULT)
    args = ap.parse_args(argv)
    sys.path.insert(0, ROOT)
    work = tempfile.mkdtemp(prefix="bench-embed-job-")
    try:
        result = {"commit": git_commit(), "loadavg": os.getloadavg()[0],
                  "job": job_and_anchor(args.articles, work), "reading": reading(args.rows, work)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    j, r = result["job"], result["reading"]
    print(f"job: {j['job']['passages_per_s']} passages/s ({j['job']['cpu_ms_per_passage']} CPU ms each, "
          f"{j['job']['files_written']} files); anchor embed_passages {j['anchor_embed_passages']['passages_per_s']}"
          f" passages/s: job / anchor time {j['job_over_anchor_time']}x")
    print(f"storage {j['bytes_per_article']} bytes/article; carry-over of {j['articles']} articles "
          f"{j['carry_over']['wall_s']} s")
    print(f"{r['rows']} rows x {r['dim']} ({r['file_mb']} MB): write {r['write_s']} s, open {r['open_ms_p50']} ms, "
          f"scores {r['scores_ms_p50']} ms vs in-memory matmul {r['anchor_in_memory_matmul_ms_p50']} ms "
          f"({r['scores_over_anchor']}x)")
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
