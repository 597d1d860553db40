"""Near-duplicate grouping on the real corpora: how many groups, recall on
copies made from the Hong Kong records' ``duplicate_ids``, and a sample of
grouped pairs for checking precision by reading.

    python -m eval.near_duplicates --index /tmp/fullix [--pairs 120]

The index must have been built from both full corpora (its groups file is
read as the indexer wrote it).  Recall: the corpus keeps each set of
byte-identical Hong Kong copies once, listing the other article numbers in
``duplicate_ids``; for every such record we make the copies the site really
published (same text, same date), plus three harder variants of the same
copy (converted to Simplified like a mainland edition, last paragraph cut,
headline rewritten), and group them together with all the other articles.
Writes eval/results/near_duplicates.json (ids and figures only, no text).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import time
from collections import Counter

import numpy as np

from search import dedupe
from search.backends.whoosh import WhooshBackend
from search.normalize import fold_case, normalize
from search.ranking import NO_DATE
from search.timeutil import parse_published

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.environ.get("NEWS_CORPUS", os.path.join(HERE, "..", "..", "shared", "corpus"))
FILES = ("news-xwlb.jsonl.gz", "news-hkcnews.jsonl.gz")


def read(name):
    with gzip.open(os.path.join(CORPUS, name), "rt", encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def text_of(title: str, body: str) -> str:
    """As ``search.documents.prepare`` builds it."""
    return fold_case(normalize(title).text) + "\n" + fold_case(normalize(body or "").text)


def stamp(rec) -> int:
    return int(parse_published(rec["published"]).timestamp()) if rec.get("published") else NO_DATE


def group_stats(index: str, pairs: int, seed: int) -> dict:
    backend = WhooshBackend(index)  # the groups as stored, no engine threads needed
    view = backend.view
    rep = view.group_rep
    members = np.flatnonzero((rep != np.arange(view.n_all)) & view.live)
    sizes = Counter(Counter(rep[members].tolist()).values())
    by_source = Counter(view.stored(int(m))["id"].split("-")[0] for m in members.tolist())
    rng = random.Random(seed)
    sample = rng.sample(members.tolist(), min(pairs, len(members)))
    out = []
    for m in sample:
        a, b = view.stored(int(rep[m])), view.stored(int(m))
        out.append({"representative": a["id"], "member": b["id"],
                    "hours_apart": round((int(view.published[m]) - int(view.published[rep[m]])) / 3600, 1),
                    "same_title": a["title"] == b["title"]})
    backend.close()
    return {
        "articles": int(view.n_live),
        "groups": int(len(np.unique(rep[members]))),
        "grouped_articles_besides_representatives": int(len(members)),
        "group_sizes": {str(k + 1): v for k, v in sorted(sizes.items())},
        "members_by_corpus": dict(by_source),
        "sample": out,
    }


def recall() -> dict:
    from opencc import OpenCC

    to_simplified = OpenCC("t2s")
    ts, sigs, kinds, pair_of = [], [], [], []
    originals = 0
    for name in FILES:
        for rec in read(name):
            i = len(ts)
            ts.append(stamp(rec))
            sigs.append(dedupe.signature(text_of(rec["title"], rec.get("body"))))
            kinds.append("original")
            pair_of.append(-1)
            dup_ids = rec.get("duplicate_ids") or []
            if not dup_ids:
                continue
            originals += 1
            paragraphs = (rec.get("body") or "").split("\n")
            variants = {
                "identical copy": (rec["title"], rec.get("body")),
                "Simplified edition": (to_simplified.convert(rec["title"]), to_simplified.convert(rec.get("body") or "")),
                "last paragraph cut": (rec["title"], "\n".join(paragraphs[:-1]) if len(paragraphs) > 2 else rec.get("body")),
                "new headline": ("【更新】" + rec["title"][: len(rec["title"]) // 2], rec.get("body")),
            }
            for kind, (title, body) in variants.items():
                ts.append(ts[i])
                sigs.append(dedupe.signature(text_of(title, body)))
                kinds.append(kind)
                pair_of.append(i)
    t0 = time.perf_counter()
    rep = dedupe.group(np.asarray(ts, np.int64), np.stack(sigs))
    seconds = time.perf_counter() - t0
    found, total = Counter(), Counter()
    reasons = Counter()
    for j, (kind, i) in enumerate(zip(kinds, pair_of)):
        if i < 0:
            continue
        total[kind] += 1
        if rep[j] == rep[i]:
            found[kind] += 1
        elif not dedupe.has_signature(np.stack([sigs[i]]))[0]:
            reasons["text too short to judge"] += 1
        elif ts[i] < 0:
            reasons["no date"] += 1
        else:
            reasons["below threshold or not a candidate"] += 1
    return {
        "records_with_duplicate_ids": originals,
        "recall": {k: {"found": found[k], "copies": total[k], "recall": round(found[k] / total[k], 4)}
                   for k in total},
        "misses_by_reason": dict(reasons),
        "grouping_seconds": round(seconds, 1),
        "articles_grouped": len(ts),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", required=True, help="index built from both full corpora")
    ap.add_argument("--pairs", type=int, default=120)
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "near_duplicates.json"))
    args = ap.parse_args(argv)
    stats = group_stats(args.index, args.pairs, args.seed)
    print(f"{stats['groups']} groups; {stats['grouped_articles_besides_representatives']} articles grouped "
          f"under a representative; sizes {stats['group_sizes']}; by corpus {stats['members_by_corpus']}")
    rec = recall()
    for kind, r in rec["recall"].items():
        print(f"recall, {kind}: {r['found']}/{r['copies']} = {r['recall']:.3f}")
    print(f"misses: {rec['misses_by_reason']}; grouping {rec['articles_grouped']} articles took "
          f"{rec['grouping_seconds']} s")
    result = {"constants": {"num_perm": dedupe.NUM_PERM, "shingle": dedupe.SHINGLE,
                            "threshold": dedupe.THRESHOLD, "threshold_later": dedupe.THRESHOLD_LATER,
                            "same_day_hours": dedupe.SAME_DAY_SECONDS / 3600,
                            "window_hours": dedupe.WINDOW_SECONDS / 3600},
              "groups": stats, "recall": rec}
    old = {}
    if os.path.exists(args.out):
        with open(args.out, encoding="utf-8") as f:
            old = json.load(f)
    if "manual_check" in old:  # verdicts from reading the sample are kept
        result["manual_check"] = old["manual_check"]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
