"""QBQTC relevance evaluation: our engine vs a character-bigram BM25, same run.

    python -m eval.qbqtc [--limit N] [--corpus DIR] [--mode lexical|hybrid|semantic]

Indexes the 22,984 QBQTC titles with our indexer, runs every query that has
a relevant title (judgement >= 1), and scores nDCG@10, MRR@10 and Recall@10
with ir-measures.  Baselines, computed in the same run over the same titles:
a plain character-bigram BM25 (k1 1.2, b 0.75, bm25s), and the stock setup
(whoosh 2.7.4 + jieba ``ChineseAnalyzer``, default query parser, which
requires every word).  Figures are printed and written to
eval/results/qbqtc.json.

``--mode hybrid`` / ``semantic`` (issue 20) also embeds the titles with
the bundled model (the ``semantic`` extra; ~20 minutes of 2 cores for the
22,984 titles, not measured yet) and runs ours in that mode as well, as
"ours-<mode>" beside "ours" (lexical) in the same run; written to
eval/results/qbqtc-<mode>.json.

``--embed-cache FILE`` (hybrid / semantic only) embeds the titles and the
queries through an embedding cache (``search/embedding/cache.py``): the
first run fills it, later runs embed nothing they embedded before; the
JSON's ``embedding`` says how many vectors came from the cache.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import re
import sys
import tempfile
import time
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_CORPUS = os.path.join(os.path.dirname(ROOT), "shared", "corpus")
MEASURES = ("nDCG@10", "RR@10", "R@10")


def load(corpus: str):
    base = os.path.join(corpus, "eval-qbqtc")
    with gzip.open(os.path.join(base, "docs.jsonl.gz"), "rt", encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    with open(os.path.join(base, "queries.jsonl"), encoding="utf-8") as f:
        queries = {q["qid"]: q["query"] for q in map(json.loads, f)}
    qrels: dict[str, dict[str, int]] = {}
    with open(os.path.join(base, "qrels.tsv"), encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    return docs, queries, qrels


def bigrams(text: str) -> list[str]:
    t = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).lower())
    return [t[i:i + 2] for i in range(len(t) - 1)] or ([t] if t else [])


def bigram_bm25_run(docs, queries: dict[str, str]) -> dict[str, dict[str, float]]:
    import bm25s

    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    corpus_tokens = [bigrams(d["title"]) for d in docs]
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in toks] for toks in corpus_tokens]
    retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    run: dict[str, dict[str, float]] = {}
    for qid, q in queries.items():
        qtoks = [t for t in bigrams(q) if t in vocab]
        if not qtoks:
            run[qid] = {}
            continue
        scores = retriever.get_scores(qtoks)
        top = scores.argsort()[::-1][:10]
        run[qid] = {docs[i]["id"]: float(scores[i]) for i in top if scores[i] > 0}
    return run


def engine_run(docs, queries: dict[str, str], workdir: str, modes=("lexical",), embed_cache: str | None = None,
               embedding: dict | None = None) -> dict[str, tuple[dict, float]]:
    """Ours over the titles, per mode: {mode: (run, ms per query)}; the
    index is embedded (bundled model) first when a mode is not lexical,
    through the embedding cache ``embed_cache`` (a file) when given, the
    queries too.  ``embedding`` (a dict) is given what the embedding did:
    "seconds", "passages", and with a cache "passages_from_cache",
    "passages_embedded", "queries_from_cache", "queries_embedded"."""
    sys.path.insert(0, ROOT)
    from indexer import pipeline
    from search.engine import SearchEngine
    from search.models import SearchRequest

    src = os.path.join(workdir, "titles.jsonl")
    with open(src, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"id": d["id"], "title": d["title"], "source": d.get("source")},
                               ensure_ascii=False) + "\n")
    index_dir = os.path.join(workdir, "index")
    pipeline.build(index_dir, [src], workers=2, batch_size=12000, progress=False)
    embedder = None
    embedding = {} if embedding is None else embedding
    if any(mode != "lexical" for mode in modes):
        from search.backends.whoosh.embedjob import embed_index
        from search.embedding import load_embedder

        embedder = load_embedder()
        if embed_cache:
            from search.embedding.cache import CachedEmbedder

            embedder = CachedEmbedder(embedder, embed_cache)
        summary = embed_index(index_dir, embedder)
        embedding.update(seconds=round(summary.seconds, 1), passages=summary.embedded)
        if embed_cache:
            embedding.update(passages_from_cache=embedder.hits, passages_embedded=embedder.misses)
            embedder.embed_queries(list(queries.values()))  # in batches: the searches below find them
            embedding.update(queries_from_cache=embedder.hits - embedding["passages_from_cache"],
                             queries_embedded=embedder.misses - embedding["passages_embedded"])
    engine = SearchEngine.open(index_dir)
    if embed_cache and embedder is not None:
        engine.query_embedder.use(embedder)
    out = {}
    for mode in modes:
        run: dict[str, dict[str, float]] = {}
        t0 = time.perf_counter()
        for qid, q in queries.items():
            res = engine.search(SearchRequest(q=q, size=10, facets=(), highlight=False, mode=mode))
            run[qid] = {h.id: h.score for h in res.hits}
        out[mode] = (run, (time.perf_counter() - t0) / max(len(queries), 1) * 1000)
    return out


def stock_run(docs, queries: dict[str, str], workdir: str) -> dict:
    sys.path.insert(0, ROOT)
    from bench.env import run_stock

    src = os.path.join(workdir, "stock-titles.jsonl")
    with open(src, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"id": d["id"], "title": d["title"]}, ensure_ascii=False) + "\n")
    qfile = os.path.join(workdir, "queries.json")
    with open(qfile, "w", encoding="utf-8") as f:
        json.dump(queries, f, ensure_ascii=False)
    index_dir = os.path.join(workdir, "stock-index")
    run_stock("index", index_dir, src)
    return run_stock("ranking", index_dir, qfile)["run"]


def score(run, qrels, qids):
    import ir_measures
    from ir_measures import R, RR, nDCG

    qrel_list = [ir_measures.Qrel(q, d, s) for q in qids for d, s in qrels[q].items()]
    # Ties broken by rank order: give strictly decreasing scores.
    scored = [ir_measures.ScoredDoc(q, d, 100.0 - i) for q in qids
              for i, d in enumerate(run.get(q, {}))]
    agg = ir_measures.calc_aggregate([nDCG @ 10, RR @ 10, R @ 10], qrel_list, scored)
    return {"nDCG@10": agg[nDCG @ 10], "RR@10": agg[RR @ 10], "R@10": agg[R @ 10]}


def run(corpus: str, limit: int = 0, mode: str = "lexical", embed_cache: str | None = None) -> dict:
    docs, queries, qrels = load(corpus)
    qids = sorted(q for q, rels in qrels.items() if max(rels.values()) >= 1 and q in queries)
    if limit:
        qids = qids[:limit]
    subset = {q: queries[q] for q in qids}
    print(f"{len(docs)} titles, {len(qids)} queries with a relevant title", file=sys.stderr)
    results = {}
    t = time.perf_counter()
    results["bigram-bm25"] = score(bigram_bm25_run(docs, subset), qrels, qids)
    results["bigram-bm25"]["seconds"] = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        modes = ("lexical",) if mode == "lexical" else ("lexical", mode)
        embedding: dict = {}
        for name, (run_, ms) in engine_run(docs, subset, tmp, modes, embed_cache, embedding).items():
            key = "ours" if name == "lexical" else f"ours-{name}"
            results[key] = score(run_, qrels, qids)
            results[key]["ms_per_query"] = ms
        results["ours"]["seconds"] = time.perf_counter() - t
        t = time.perf_counter()
        results["stock"] = score(stock_run(docs, subset, tmp), qrels, qids)
        results["stock"]["seconds"] = time.perf_counter() - t
    diff = results["ours"]["nDCG@10"] - results["bigram-bm25"]["nDCG@10"]
    out = {"queries": len(qids), "results": results, "ndcg_gain": diff, "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    if embedding:
        out["embedding"] = embedding
    return out


def print_table(result: dict) -> None:
    print(f"{'QBQTC (' + str(result['queries']) + ' queries)':24} {'nDCG@10':>8} {'MRR@10':>8} {'R@10':>8}")
    for name, r in result["results"].items():
        print(f"{name:24} {r['nDCG@10']:8.4f} {r['RR@10']:8.4f} {r['R@10']:8.4f}")
    print(f"ours - bigram nDCG@10: {result['ndcg_gain']:+.4f}")
    if "embedding" in result:
        print("embedding: " + ", ".join(f"{k} {v}" for k, v in result["embedding"].items()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=os.environ.get("NEWS_CORPUS", DEFAULT_CORPUS))
    ap.add_argument("--limit", type=int, default=0, help="only the first N evaluated queries")
    ap.add_argument("--mode", choices=("lexical", "hybrid", "semantic"), default="lexical",
                    help="also run ours in this mode (embeds the titles first)")
    ap.add_argument("--embed-cache", metavar="FILE", default=None,
                    help="hybrid / semantic: embed titles and queries through this embedding cache (SQLite file)")
    ap.add_argument("--out", help="JSON file (default eval/results/qbqtc.json, qbqtc-<mode>.json)")
    args = ap.parse_args(argv)
    if args.embed_cache and args.mode == "lexical":
        ap.error("--embed-cache is used by --mode hybrid or semantic only")
    if args.out is None:
        name = "qbqtc.json" if args.mode == "lexical" else f"qbqtc-{args.mode}.json"
        args.out = os.path.join(HERE, "results", name)
    result = run(args.corpus, args.limit, args.mode, args.embed_cache)
    print_table(result)
    sys.path.insert(0, ROOT)
    from bench.measure import write_result

    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
