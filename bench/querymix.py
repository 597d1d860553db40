"""Build the frozen, seeded query mix used by the latency benchmarks.

    python -m bench.querymix            # writes bench/querymix.jsonl (committed; do not regenerate casually)

Kinds (counts): words and word pairs drawn from real titles (200), quoted
phrases cut from titles (80), Traditional-script words from Hong Kong titles
(60), queries with a filter (60) and sorted by newest (40), real queries from
the Sogou log (100) and from QBQTC (60), and the 20 words with the highest
document frequency in the corpus (20).
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import random
import re
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.environ.get("NEWS_CORPUS", os.path.join(os.path.dirname(ROOT), "shared", "corpus"))
OUT = os.path.join(HERE, "querymix.jsonl")
SEED = 20261126


def _records(name, limit=None):
    with gzip.open(os.path.join(CORPUS, name), "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if limit and i >= limit:
                break
            yield json.loads(line)


def main() -> int:
    sys.path.insert(0, ROOT)
    from search.segmenter import Segmenter

    rng = random.Random(SEED)
    seg = Segmenter()
    xwlb = list(_records("news-xwlb.jsonl.gz"))
    hk = list(_records("news-hkcnews.jsonl.gz"))
    content = re.compile(r"^[\u4e00-\u9fff]{2,6}$")

    def title_words(rec):
        return [w for w, _, _ in seg.cut(rec["title"]) if content.match(w)]

    out = []
    # 20 most frequent words (document frequency over titles and bodies of a sample).
    df: Counter = Counter()
    for rec in rng.sample(xwlb, 3000) + rng.sample(hk, 1500):
        df.update({w for w, _, _ in seg.cut(rec["title"] + rec["body"][:2000]) if content.match(w)})
    for w, _ in df.most_common(20):
        out.append({"kind": "frequent", "q": w})
    while sum(o["kind"] == "words" for o in out) < 200:
        rec = rng.choice(xwlb if rng.random() < 0.6 else hk)
        words = title_words(rec)
        if words:
            out.append({"kind": "words", "q": " ".join(rng.sample(words, min(len(words), rng.choice([1, 2]))))})
    while sum(o["kind"] == "phrase" for o in out) < 80:
        t = rng.choice(xwlb + hk)["title"]
        chunks = [c for c in re.findall(r"[\u4e00-\u9fff]{2,}", t) if len(c) >= 2]
        if chunks:
            c = rng.choice(chunks)
            n = rng.randint(2, min(6, len(c)))
            start = rng.randint(0, len(c) - n)
            out.append({"kind": "phrase", "q": f'"{c[start:start + n]}"'})
    while sum(o["kind"] == "traditional" for o in out) < 60:
        words = title_words(rng.choice(hk))
        if words:
            out.append({"kind": "traditional", "q": rng.choice(words)})
    cats = [r["category"] for r in xwlb + hk if r.get("category")]
    while sum(o["kind"] == "filtered" for o in out) < 60:
        words = title_words(rng.choice(xwlb + hk))
        if not words:
            continue
        item = {"kind": "filtered", "q": rng.choice(words)}
        choice = rng.random()
        if choice < 0.4:
            item["category"] = rng.choice(cats)
        elif choice < 0.7:
            item["source"] = rng.choice(["央视网 / CCTV《新闻联播》", "眾新聞 Citizen News (hkcnews.com)"])
        else:
            year = rng.randint(2013, 2025)
            item["from"], item["to"] = f"{year}-01-01", f"{year}-12-31"
        out.append(item)
    while sum(o["kind"] == "newest" for o in out) < 40:
        words = title_words(rng.choice(xwlb + hk))
        if words:
            out.append({"kind": "newest", "q": rng.choice(words), "sort": "newest"})
    with gzip.open(os.path.join(CORPUS, "querylog-sogouq-sample.tsv.gz"), "rt", encoding="utf-8") as f:
        log = [row["query"].replace("+", " ").strip() for row in csv.DictReader(f, delimiter="\t")]
    log = sorted({q for q in log if q and len(q) <= 30 and "http" not in q and "www" not in q})
    for q in rng.sample(log, 100):
        out.append({"kind": "querylog", "q": q})
    with open(os.path.join(CORPUS, "eval-qbqtc", "queries.jsonl"), encoding="utf-8") as f:
        qb = [json.loads(line)["query"] for line in f]
    for q in rng.sample(qb, 60):
        out.append({"kind": "qbqtc", "q": q})
    with open(OUT, "w", encoding="utf-8") as f:
        for item in out:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"{len(out)} queries -> {OUT}: {dict(Counter(o['kind'] for o in out))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
