"""What a large user dictionary costs per search and per idle writer step
(issue 16 review: the pending words were re-normalised at every call).

    python -m bench.userdict_cost [--words 5000] [--articles 200]

Builds, in a temporary directory, an index of the first ``--articles``
articles of the 2,000-article sample cut with a synthetic dictionary of
``--words`` words (four CJK characters and a Latin capital), an engine
whose index state lacks 10 of them (so there are pending words), and a
writer over an article store with the same dictionary; prints ms per call
of: ``pending_words()``, a search (cache miss), a search (cache hit),
``highlight_terms``, and the writer's idle ``step()``.  Run it against two
checkouts (PYTHONPATH) in the same session to compare.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import tempfile
import time

from .env import CORPUS

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def _words(n: int) -> list[str]:
    rng = random.Random(16)
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(chr(0x4E00 + rng.randrange(20000)) for _ in range(4)) + "K")
    return sorted(out)


def _per_call(fn, n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t) * 1000 / n


def main(argv=None) -> int:
    from indexer import pipeline
    from indexer.article_store import ArticleStore
    from indexer.writer import IndexWriter
    from search.engine import SearchEngine
    from search.models import SearchRequest
    from search.normalize import normalize_query

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--words", type=int, default=5000)
    ap.add_argument("--articles", type=int, default=200)
    args = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="userdict-cost-")
    with gzip.open(os.path.join(CORPUS, "news-sample-2k.jsonl.gz"), "rt", encoding="utf-8") as f:
        records = [json.loads(line) for _, line in zip(range(args.articles), f)]
    src = os.path.join(tmp, "a.jsonl")
    with open(src, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    words = _words(args.words)
    userdict = os.path.join(tmp, "userdict.txt")
    with open(userdict, "w", encoding="utf-8") as f:
        f.writelines(f"{w} 10 nz\n" for w in words)
    index = os.path.join(tmp, "ix")
    pipeline.build(index, [src], userdict=userdict, workers=1, progress=False)
    engine = SearchEngine.open(index, userdict_path=userdict, refresh_interval=0)
    state = (tuple(normalize_query(w) for w in words[10:]), ())
    engine.index_userdict = lambda: state
    engine.wait_ready(120, suggestions=False)
    queries = [r["title"][:4] for r in records[:100]]
    for q in queries[:5]:
        engine.search(SearchRequest(q=q, facets=(), correct=False))
    print(f"{args.words} dictionary words, {args.articles} articles (ms per call)")
    print(f"pending_words():       {_per_call(lambda i: engine.pending_words(), 200):8.2f}")
    print(f"search, cache miss:    {_per_call(lambda i: engine.search(SearchRequest(q=f'{queries[i]} {i}', facets=(), correct=False)), 100):8.2f}")  # noqa: E501
    print(f"search, cache hit:     {_per_call(lambda i: engine.search(SearchRequest(q=f'{queries[0]} 0', facets=(), correct=False)), 200):8.2f}")  # noqa: E501
    print(f"highlight_terms:       {_per_call(lambda i: engine.highlight_terms(queries[i]), 100):8.2f}")
    store = ArticleStore(os.path.join(tmp, "articles.sqlite"))
    store.put(records[:20])
    writer = IndexWriter(os.path.join(tmp, "wix"), store, userdict=userdict)
    try:
        writer.drain()
        writer.step()
        print(f"writer idle step:      {_per_call(lambda i: writer.step(), 100):8.2f}")
    finally:
        writer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
