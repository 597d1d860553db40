"""Evaluation on the news corpora: related articles and known-item search,
ours against the stock setup (whoosh 2.7.4 + jieba) in the same run.

    python -m eval.news [--sample 500]

Both indexes are built from the records with their editor tags removed, so
neither system can read the tags that the related-articles check measures.

* Related articles: a fixed random sample of articles having at least one
  *specific* tag (used by 2-100 articles of the corpora).  For each, the top
  5 related articles; the figure is the share of those 5 slots filled by an
  article sharing a specific tag with the source (a missing result counts as
  a miss).  Baselines: the stock setup's ``more_like_this`` on the body, and
  5 random articles of the same category (of the same source when the
  article has no category).
* Known item: articles whose headline occurs once in the corpora; the query
  is 2 or 3 (seeded choice) of the headline's least frequent words, in
  headline order; Success@1 and MRR@10 (ir-measures) for finding that
  article.

Writes eval/results/news.json.

``--mode hybrid`` (issue 20) also embeds the fresh tag-stripped index with
the bundled model (``python -m indexer embed``'s job; ~1.2-1.7 h of 2
cores for the full corpora) and measures known item in lexical *and*
hybrid mode (``SearchRequest.mode``) in the same run, and the related
articles of whatever ``search.related`` does on an embedded index; written
to eval/results/news-hybrid.json.  ``--embed-cache FILE`` (hybrid only)
embeds passages and queries through an embedding cache
(``search/embedding/cache.py``): seeded from an embedded index of the same
corpora (``python -m indexer embed --index DIR --fill-cache FILE``), the
run embeds only what the cache lacks; the JSON's ``embedding`` says how
many vectors came from it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from bench.env import NEWS_FILES, run_stock, stock_full_index  # noqa: E402
from bench.measure import write_result  # noqa: E402

SEED = 20261126
CJK_OR_WORD = re.compile(r"[\u3400-\u9fff]|[A-Za-z0-9]")


def load_records():
    records = []
    for path in NEWS_FILES:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            records.extend(json.loads(line) for line in f if line.strip())
    return records


def write_without_tags(records, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(dict(r, tags=[]), ensure_ascii=False) + "\n")


def build_ours(src: str, index_dir: str) -> None:
    import subprocess

    subprocess.run([sys.executable, "-m", "indexer", "build", "--no-progress", "--index", index_dir, src],
                   cwd=ROOT, check=True, env=dict(os.environ, PYTHONPATH=ROOT))


# ---- related articles ----------------------------------------------------
def related_sample(records, n: int, rng: random.Random):
    df = Counter(t for r in records for t in set(r.get("tags") or []))
    specific = {r["id"]: {t for t in (r.get("tags") or []) if 2 <= df[t] <= 100} for r in records}
    candidates = sorted(i for i, tags in specific.items() if tags)
    return rng.sample(candidates, n), specific


def tag_share(results: dict[str, list[str]], specific: dict[str, set], k: int = 5) -> float:
    hits = sum(1 for src, rel in results.items() for d in rel[:k] if specific[src] & specific.get(d, set()))
    return hits / (k * len(results))


def random_same_category(records, sample, rng: random.Random) -> dict[str, list[str]]:
    by_cat, by_source = defaultdict(list), defaultdict(list)
    for r in records:
        if r.get("category"):
            by_cat[r["category"]].append(r["id"])
        by_source[r.get("source")].append(r["id"])
    rec = {r["id"]: r for r in records}
    out = {}
    for doc_id in sample:
        r = rec[doc_id]
        pool = by_cat[r["category"]] if r.get("category") else by_source[r.get("source")]
        picks = rng.sample(pool, min(6, len(pool)))
        out[doc_id] = [p for p in picks if p != doc_id][:5]
    return out


# ---- known item ------------------------------------------------------------
def known_items(records, engine, n: int, rng: random.Random) -> dict[str, tuple[str, str]]:
    """qid -> (query, target id)."""
    from search.compiler import FUNCTION_WORDS
    from search.segmenter import get_segmenter

    titles = Counter(r["title"].strip() for r in records)
    unique = [r for r in records if titles[r["title"].strip()] == 1]
    seg = get_segmenter(None)
    queries = {}
    for r in rng.sample(unique, len(unique)):
        words = []
        for w, _, _ in seg.cut(r["title"]):
            if len(w) >= 2 and CJK_OR_WORD.search(w) and w not in FUNCTION_WORDS and w not in words:
                words.append(w)
        if len(words) < 2:
            continue
        k = min(len(words), rng.choice((2, 3)))
        rarest = set(sorted(words, key=lambda w: (engine.backend.doc_frequency(w), w))[:k])
        queries[f"k{len(queries)}"] = (" ".join(w for w in words if w in rarest), r["id"])
        if len(queries) == n:
            break
    return queries


def known_item_scores(run: dict[str, list[str]], items) -> dict:
    import ir_measures
    from ir_measures import RR, Success

    qrels = [ir_measures.Qrel(q, target, 1) for q, (_, target) in items.items()]
    scored = [ir_measures.ScoredDoc(q, d, 100.0 - i) for q, ids in run.items() for i, d in enumerate(ids)]
    agg = ir_measures.calc_aggregate([Success @ 1, RR @ 10], qrels, scored)
    return {"Success@1": agg[Success @ 1], "MRR@10": agg[RR @ 10]}


MODES = ("lexical", "hybrid")


def embed(index_dir: str, cache_file: str | None):
    """Embed the index at ``index_dir`` with the bundled model (through the
    embedding cache ``cache_file`` when given); returns (the embedder, to
    embed the queries with too; the JSON's ``embedding`` dict)."""
    from search.backends.whoosh.embedjob import embed_index
    from search.embedding import load_embedder

    embedder = load_embedder()
    if cache_file:
        from search.embedding.cache import CachedEmbedder

        embedder = CachedEmbedder(embedder, cache_file)
    summary = embed_index(index_dir, embedder)
    out = {"model": summary.model.model_id, "passages": summary.embedded, "seconds": round(summary.seconds, 1),
           "backlog": summary.backlog, "cache": None}
    if cache_file:
        out["cache"] = {"file": os.path.basename(cache_file), "passages_from_cache": embedder.hits,
                        "passages_embedded": embedder.misses}
    return embedder, out


def run(sample_size: int, mode: str = "lexical", embed_cache: str | None = None) -> dict:
    from search.engine import SearchEngine
    from search.models import SearchRequest

    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if embed_cache and mode != "hybrid":
        raise ValueError("an embedding cache is used by --mode hybrid only")

    records = load_records()
    rng = random.Random(SEED)
    sample, specific = related_sample(records, sample_size, rng)
    stock_index = stock_full_index()
    result = {"articles": len(records), "sample": sample_size}
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "notags.jsonl")
        write_without_tags(records, src)
        index_dir = os.path.join(tmp, "index")
        t = time.perf_counter()
        build_ours(src, index_dir)
        result["ours_build_seconds"] = round(time.perf_counter() - t, 1)
        embedder = None
        if mode == "hybrid":
            embedder, result["embedding"] = embed(index_dir, embed_cache)
        engine = SearchEngine.open(index_dir, refresh_interval=3600)
        if embedder is not None:
            engine.query_embedder.use(embedder)  # the queries through the cache too

        ours, ours_ms = {}, []
        for d in sample:
            t0 = time.perf_counter()
            ours[d] = [h.id for h in engine.related(d, size=5) or []]
            ours_ms.append((time.perf_counter() - t0) * 1000)
        ids_file = os.path.join(tmp, "ids.json")
        with open(ids_file, "w", encoding="utf-8") as f:
            json.dump(sample, f)
        stock_out = run_stock("related", stock_index, ids_file)
        stock = stock_out["related"]
        from bench.latency import percentiles

        result["related_latency_ms"] = {"ours": percentiles(ours_ms), "stock more_like_this": percentiles(stock_out["ms"])}
        rand = random_same_category(records, sample, random.Random(SEED + 1))
        result["related_top5_tag_share"] = {
            "ours": tag_share(ours, specific), "stock more_like_this": tag_share(stock, specific),
            "random same category": tag_share(rand, specific),
        }

        items = known_items(records, engine, sample_size, random.Random(SEED + 2))
        runs, ms = {}, {}
        for name in (("lexical",) if mode == "lexical" else ("lexical", mode)):
            if name != "lexical" and embed_cache:
                before = embedder.stats()
                embedder.embed_queries([text for text, _ in items.values()])  # in batches; the searches hit
                after = embedder.stats()
                result["embedding"]["cache"]["queries_from_cache"] = after["hits"] - before["hits"]
                result["embedding"]["cache"]["queries_embedded"] = after["misses"] - before["misses"]
            t0 = time.perf_counter()
            runs[name] = {q: [h.id for h in engine.search(SearchRequest(q=text, size=10, facets=(), highlight=False,
                                                                         mode=name)).hits]
                          for q, (text, _) in items.items()}
            ms[name] = round((time.perf_counter() - t0) / max(len(items), 1) * 1000, 2)
        ours_run = runs["lexical"]
        qfile = os.path.join(tmp, "queries.json")
        with open(qfile, "w", encoding="utf-8") as f:
            json.dump({q: text for q, (text, _) in items.items()}, f, ensure_ascii=False)
        stock_run = {q: list(hits) for q, hits in run_stock("ranking", stock_index, qfile)["run"].items()}
        result["known_item"] = {"queries": len(items), "ours": known_item_scores(ours_run, items),
                                "stock": known_item_scores(stock_run, items),
                                "examples": [text for text, _ in list(items.values())[:10]]}
        if mode != "lexical":
            result["known_item"][f"ours-{mode}"] = known_item_scores(runs[mode], items)
            result["known_item"]["ms_per_query"] = ms
        engine.backend.close()
    result["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
    return result


def print_table(result: dict) -> None:
    print(f"related articles, share of top-5 slots sharing a specific editor tag ({result['sample']} articles):")
    for name, v in result["related_top5_tag_share"].items():
        print(f"  {name:22} {v:.3f}")
    for name, r in result.get("related_latency_ms", {}).items():
        print(f"  related latency {name}: p50 {r['p50']} ms, p95 {r['p95']} ms, p99 {r['p99']} ms")
    ki = result["known_item"]
    print(f"known item ({ki['queries']} unique headlines, 2-3 rarest words):")
    for name in ("ours", *[k for k in ki if k.startswith("ours-")], "stock"):
        print(f"  {name:22} Success@1 {ki[name]['Success@1']:.3f}  MRR@10 {ki[name]['MRR@10']:.3f}")
    emb = result.get("embedding")
    if emb:
        print(f"embedding: {emb['passages']} passages in {emb['seconds']} s ({emb['model']})")
        if emb["cache"]:
            print("  from the cache: " + ", ".join(f"{k} {v}" for k, v in emb["cache"].items() if k != "file"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", type=int, default=500)
    ap.add_argument("--mode", choices=MODES, default="lexical",
                    help="hybrid: also embed the index (bundled model) and run known item in hybrid mode")
    ap.add_argument("--embed-cache", metavar="FILE", default=None,
                    help="hybrid: embed passages and queries through this embedding cache (SQLite file)")
    ap.add_argument("--out", help="JSON file (default eval/results/news.json, news-hybrid.json in hybrid mode)")
    args = ap.parse_args(argv)
    if args.embed_cache and args.mode != "hybrid":
        ap.error("--embed-cache is used by --mode hybrid only")
    if args.out is None:
        args.out = os.path.join(HERE, "results", "news.json" if args.mode == "lexical" else f"news-{args.mode}.json")
    result = run(args.sample, args.mode, args.embed_cache)
    print_table(result)
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
