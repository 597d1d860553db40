"""Which homophones should a pinyin word also search?  The measurement
behind ``search.pinyin.HOMOPHONE_SHARE``.

    python -m eval.homophone_share --index DIR [--shares 0,0.05,0.1,0.2,1] [--label full] [--no-readers]

For each share s (a homophone joins the best reading when our articles use
it at least s times as often):

* **common intent**: the pinyin of the most common two-character headline
  words that have other readings, typed alone (``zhengfu``, ``shiyan``):
  the share of the top 10 that contains the most common reading, which is
  what most readers mean.  Rare homophones have a higher idf, so the lower
  s, the more of the top 10 they take.
* **rarer intent**: ``eval.reader_helpers``' pinyin queries (two words
  taken from one article, often a rarer reading, with a context word):
  intended article in the top 10.  Needs the full corpora (the targets);
  ``--no-readers`` skips it (on the sample).

Prints a table and writes eval/results/homophone_share-LABEL.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

COMMON_WORDS = 300  # headline words looked at, most common first


def common_intent(engine, shares: list[float]) -> dict[float, dict]:
    from search import pinyin
    from search.result_cache import ResultCache
    from search.models import SearchRequest
    from search.normalize import fold_case, normalize_query

    lexicon = engine.pinyin.get()
    saved = pinyin.HOMOPHONE_SHARE
    try:
        pinyin.HOMOPHONE_SHARE = 0.0  # every reading our articles have: pick the keys
        vocab = engine.backend.vocabulary("title")
        top = sorted(((df, w) for w, df in vocab.items() if pinyin.CJK_WORD.match(w) and len(w) == 2), reverse=True)
        keys = []
        for _, word in top[:COMMON_WORDS]:
            key = lexicon.pinyin_of.get(word)
            readings = lexicon.readings(key) if key else []
            if key not in keys and len(readings) >= 2 and readings[0][1] == word:
                keys.append(key)
        out = {}
        for share in shares:
            pinyin.HOMOPHONE_SHARE = share
            engine._cache = ResultCache(0)  # results depend on the share
            fractions, joined = [], 0
            for key in keys:
                best = lexicon.readings(key)[0][1]
                joined += len(lexicon.readings(key)) > 1
                res = engine.search(SearchRequest(q=key, size=10, facets=(), highlight=False, correct=False))
                texts = [fold_case(normalize_query(h.title + "\n" + (engine.get(h.id) or {}).get("body", "")))
                         for h in res.hits]
                fractions.append(sum(best in t for t in texts) / max(len(texts), 1))
            out[share] = {"keys": len(keys), "keys_with_homophones": joined,
                          "top10_with_common_reading": round(sum(fractions) / len(fractions), 3),
                          "keys_mostly_other_readings": sum(f < 0.5 for f in fractions)}
        return out
    finally:
        pinyin.HOMOPHONE_SHARE = saved


def rarer_intent(index_dir: str, shares: list[float]) -> dict[float, float]:
    from eval import reader_helpers
    from search import pinyin

    saved, out = pinyin.HOMOPHONE_SHARE, {}
    try:
        for share in shares:
            pinyin.HOMOPHONE_SHARE = share
            out[share] = reader_helpers.run(index_dir)["summary"]["pinyin"]["top10"]
    finally:
        pinyin.HOMOPHONE_SHARE = saved
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--shares", default="0,0.01,0.02,0.05,0.1,0.2,0.5,1")
    ap.add_argument("--label", default="current")
    ap.add_argument("--no-readers", action="store_true", help="skip the reader queries (not the full corpora)")
    args = ap.parse_args(argv)
    shares = [float(s) for s in args.shares.split(",")]
    from search.engine import SearchEngine

    engine = SearchEngine.open(args.index, refresh_interval=3600)
    engine.wait_ready(300)
    common = common_intent(engine, shares)
    rarer = {} if args.no_readers else rarer_intent(args.index, shares)
    print(f"{'share':>6} {'keys joined':>12} {'top-10 with the common reading':>31} {'reader pinyin top-10':>21}")
    for s in shares:
        c = common[s]
        print(f"{s:6.2f} {c['keys_with_homophones']:5d}/{c['keys']:<6d} {c['top10_with_common_reading']:31.1%} "
              f"{(f'{rarer[s]:.1%}' if s in rarer else '-'):>21}")
    from bench.measure import write_result

    write_result(os.path.join(HERE, "results", f"homophone_share-{args.label}.json"),
                 {"documents": engine.backend.doc_count(), "common_intent": {str(k): v for k, v in common.items()},
                  "reader_pinyin_top10": {str(k): v for k, v in rarer.items()},
                  "date": time.strftime("%Y-%m-%d %H:%M:%S")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
