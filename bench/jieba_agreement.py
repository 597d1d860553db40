"""Does rjieba cut exactly like jieba 0.42.1, and how much faster?

    python -m bench.jieba_agreement [--docs 2000]

Cuts the titles and bodies of the 2,000-article sample (Simplified text as
given, Traditional text after our Traditional->Simplified normalisation,
which is what the indexer segments) in accurate mode with HMM, with jieba in
the stock environment and with rjieba here, and compares the token
sequences.  Writes bench/results/jieba_agreement.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

from .env import ROOT, stock_python
from .measure import write_result

sys.path.insert(0, ROOT)

JIEBA_SCRIPT = r"""
import json, sys, time
import jieba
jieba.setLogLevel(60)
jieba.initialize()
texts = json.load(open(sys.argv[1], encoding="utf-8"))
t = time.perf_counter()
out = [jieba.lcut(x, HMM=True) for x in texts]
dt = time.perf_counter() - t
json.dump({"tokens": out, "seconds": dt}, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "jieba_agreement.json"))
    args = ap.parse_args(argv)
    from search.normalize import fold_chars, normalize_query
    from search.segmenter import Segmenter

    corpus = os.environ.get("NEWS_CORPUS", os.path.join(os.path.dirname(ROOT), "shared", "corpus"))
    texts = []
    with gzip.open(os.path.join(corpus, "news-sample-2k.jsonl.gz"), "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= args.docs:
                break
            r = json.loads(line)
            for t in (r["title"], r["body"]):
                texts.append(normalize_query(fold_chars(t)))
    chars = sum(map(len, texts))
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.json"), os.path.join(tmp, "out.json")
        with open(src, "w", encoding="utf-8") as f:
            json.dump(texts, f, ensure_ascii=False)
        script = os.path.join(tmp, "cut.py")
        with open(script, "w") as f:
            f.write(JIEBA_SCRIPT)
        subprocess.run([stock_python(), script, src, dst], check=True)
        with open(dst, encoding="utf-8") as f:
            ref = json.load(f)
    seg = Segmenter()
    t = time.perf_counter()
    ours = [[w for w, _, _ in seg.cut(x)] for x in texts]
    ours_s = time.perf_counter() - t
    same_texts = sum(a == b for a, b in zip(ours, ref["tokens"]))
    # rjieba keeps Latin/number runs such as R1-SH1 or 5-10 whole where jieba
    # splits them (our analyzer splits them too); compare the Chinese words.
    def cjk(tokens):
        return [t for t in tokens if any("\u3400" <= c <= "\u9fff" for c in t)]

    same_cjk = sum(cjk(a) == cjk(b) for a, b in zip(ours, ref["tokens"]))
    tok_total = sum(len(b) for b in ref["tokens"])
    tok_diff = sum(len(set(enumerate(a)) ^ set(enumerate(b))) for a, b in zip(ours, ref["tokens"]) if a != b)
    result = {
        "texts": len(texts), "characters": chars,
        "identical_texts": same_texts, "identical_share": same_texts / len(texts),
        "identical_chinese_word_sequences": same_cjk, "identical_chinese_share": same_cjk / len(texts),
        "jieba_tokens": tok_total, "differing_token_positions": tok_diff,
        "jieba_seconds": ref["seconds"], "rjieba_seconds": ours_s,
        "jieba_chars_per_s": chars / ref["seconds"], "rjieba_chars_per_s": chars / ours_s,
        "speedup": ref["seconds"] / ours_s,
    }
    print(json.dumps(result, indent=2))
    examples = [(a, b) for a, b in zip(ours, ref["tokens"]) if a != b][:3]
    for a, b in examples:
        diff = [(i, x, y) for i, (x, y) in enumerate(zip(a, b)) if x != y][:3]
        print("differs:", diff, file=sys.stderr)
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
