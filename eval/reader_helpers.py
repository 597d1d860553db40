"""How often imperfect reader queries (eval/reader_queries.jsonl: pinyin and
misspelled, built by eval/make_reader_queries.py) land their intended
article in the top 10, on an index of the full corpora.

    python -m eval.reader_helpers --index DIR [--label before]

"Top 10" is what the reader sees (pinyin understood, or results shown for
a correction); "after click" also follows a did-you-mean link the page
offers.  Also runs each query's clean form (the Chinese words it was made
from) as the ceiling.  Prints success rates by kind and variant and writes
eval/results/reader_helpers-LABEL.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

QUERIES = os.path.join(HERE, "reader_queries.jsonl")


def load_queries(path: str = QUERIES) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def top10(engine, text: str, **request) -> tuple[list[str], str | None]:
    """The top 10 a reader sees for ``text`` (article ids, best first), and
    the engine's did-you-mean suggestion (a link the reader may click), if
    any.  ``request``: further ``SearchRequest`` fields (a ``TypeError`` for
    a field it does not have)."""
    from search.models import SearchRequest

    res = engine.search(SearchRequest(q=text, size=10, facets=(), highlight=False, **request))
    return [h.id for h in res.hits], getattr(res, "suggestion", None)


def run(index_dir: str) -> dict:
    from search.engine import SearchEngine

    engine = SearchEngine.open(index_dir, refresh_interval=3600)
    if hasattr(engine, "pinyin"):
        engine.pinyin.get(wait=300)  # a warmed-up service has its pinyin lexicon
    rows = []
    for item in load_queries():
        shown, suggestion = top10(engine, item["query"])
        after_click = top10(engine, suggestion)[0] if suggestion else shown
        rows.append({**item, "found": item["target"] in shown,
                     "found_after_click": item["target"] in after_click,
                     "clean_found": item["target"] in top10(engine, item["clean"])[0]})
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r["kind"]].append(r)
        groups[f"{r['kind']}/{r['variant']}"].append(r)
    summary = {name: {"queries": len(rs), "top10": round(sum(r["found"] for r in rs) / len(rs), 3),
                      "top10_after_click": round(sum(r["found_after_click"] for r in rs) / len(rs), 3),
                      "clean_top10": round(sum(r["clean_found"] for r in rs) / len(rs), 3)}
               for name, rs in sorted(groups.items())}
    return {"summary": summary, "misses": [r for r in rows if not r["found"]][:40],
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--label", default="current")
    args = ap.parse_args(argv)
    result = run(args.index)
    print(f"{'queries':22} {'n':>4} {'top-10':>7} {'after did-you-mean click':>24} {'clean form':>10}")
    for name, s in result["summary"].items():
        print(f"{name:22} {s['queries']:4d} {s['top10']:7.1%} {s['top10_after_click']:24.1%} "
              f"{s['clean_top10']:10.1%}")
    from bench.measure import write_result

    write_result(os.path.join(HERE, "results", f"reader_helpers-{args.label}.json"), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
