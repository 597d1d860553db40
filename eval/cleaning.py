"""Page-furniture cleaning on the real corpora: how many articles the
cleaning changes, what it removes, and whether any story text is lost.

    python -m eval.cleaning [--show 40 --seed 16]

Every record of both full corpora goes through ``records.to_article`` (the
one cleaning step of every input path).  "Story text lost" is checked
independently of the rules: every sentence of prose in the raw body (12
characters or more ending with ``。``; a listed headline ends with none, or
with ``？``/``！``) must still be in the cleaned body, or its text minus the photo credit
must be; an article where one is missing counts as ``lost_sentences``.
``--show N`` prints a seeded sample of N changed articles with what was
removed, for reading (to the terminal only).  Writes
eval/results/cleaning.json: counts only, no article text.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import time
from collections import Counter

from indexer.clean import clean_text
from indexer.records import RecordError, to_article

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.environ.get("NEWS_CORPUS", os.path.join(HERE, "..", "..", "shared", "corpus"))
FILES = ("news-xwlb.jsonl.gz", "news-hkcnews.jsonl.gz")
_SENTENCE = re.compile(r"[^。！？\n]{12,}。")


def lost_sentences(raw_body: str, body: str, credits: list[str]) -> list[str]:
    """Sentences of the raw body (12+ characters, ending 。) missing from
    the cleaned ``body``; a sentence that only lost a credit is not lost."""
    lost = []
    for s in _SENTENCE.findall(clean_text(raw_body)):
        s = s.strip()
        if s in body:
            continue
        rest = s
        for c in credits:
            rest = rest.replace(c, "")
        rest = re.sub(r"[（(【\[]?\s*(?:[图圖]片|照片|[图圖]像)?(?:[来來]源|提供|[来來]自)?[图圖]?源?\s*[:：﹕]\s*[)）】\]]?",
                      "", rest)
        if any(part and part in body for part in (rest.strip(), rest.strip("。"))) or not rest.strip("。！？ "):
            continue
        lost.append(s)
    return lost


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--show", type=int, default=0, help="print this many changed articles (seeded sample)")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "cleaning.json"))
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    result = {"files": {}, "rules": "indexer/furniture.py", "seed": args.seed}
    changed_samples = []
    for name in FILES:
        counts = Counter()
        kinds = Counter()
        lines_removed = chars_removed = 0
        lost_ids = []
        with gzip.open(os.path.join(CORPUS, name), "rt", encoding="utf-8") as f:
            for line in f:
                data = json.loads(line)
                counts["articles"] += 1
                removed = []
                try:
                    article = to_article(data, removed=removed)
                except RecordError:
                    counts["invalid"] += 1
                    continue
                if not removed:
                    continue
                counts["changed"] += 1
                for r in removed:
                    kinds[r.kind] += 1
                    lines_removed += r.lines
                    chars_removed += r.chars
                credits = article.extra.get("photo_credits") or []
                counts["with_photo_credits"] += bool(credits)
                lost = lost_sentences(data.get("body") or "", article.body, credits)
                if lost:
                    lost_ids.append(article.id)
                changed_samples.append((article.id, data.get("body") or "", article.body, credits, lost))
        result["files"][name] = {
            **counts, "changed_share": round(counts["changed"] / max(counts["articles"], 1), 4),
            "removals": dict(kinds), "lines_removed": lines_removed, "chars_removed": chars_removed,
            "lost_sentences": len(lost_ids), "lost_sentence_ids": lost_ids[:50],
        }
    result["seconds"] = round(time.monotonic() - t0, 1)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if args.show:
        for doc_id, raw, body, credits, lost in random.Random(args.seed).sample(
                changed_samples, min(args.show, len(changed_samples))):
            kept = set(body.split("\n"))
            print(f"\n== {doc_id} credits={credits} lost={lost}")
            for para in clean_text(raw).split("\n"):
                if para not in kept:
                    print("  -", para[:160])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
