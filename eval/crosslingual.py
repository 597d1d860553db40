"""Cross-lingual known-item evaluation (issue 20): English queries over the
Chinese news corpora, Success@10 and MRR@10.

    python -m eval.crosslingual --index DIR [--mode lexical|hybrid|semantic]
                                [--half all|heldout|train] [--out FILE]

The set, ``eval/data/crosslingual.jsonl``, was written by hand before any
hybrid run: 100 lines ``{"id": "xl-001", "query", "article", "also",
"lang"}``, each an English query (4-12 words, the reader's own wording, not
a translation of the headline) describing one article of the corpora
(``article``: 50 CCTV items, ``zh-Hans``; 50 Hong Kong Citizen News
articles, ``zh-Hant``); ``also`` lists other corpus ids with the identical
title and body (re-broadcast copies), which count as finding the article.
tests/test_crosslingual_set.py checks the set against the corpus files.

Each query goes through ``SearchEngine.search`` as the reader types it
(top 10, no facets: ``eval.reader_helpers.top10``).  Success@10 (the
article or one of its copies in the top 10) and MRR@10 (1/rank of the
first of them, 0 when none is there) by ir-measures; a query with no hits
scores 0.  The JSON also keeps each query's rank (None: not in the top 10).

Split (issue 20: "where weights are learned, split the queries by a hash of
their id and report only the held-out half"): ``half_of(id)`` is
"heldout" when the first byte of SHA-1(id) is even, else "train"; it
depends on the id alone, so a later fusion-tuning step imports it and
tunes on "train" only.  Every run reports both halves.

``--mode``: passed through as ``SearchRequest.mode`` (``search.hybrid``);
hybrid and semantic need the index embedded (``python -m indexer embed``)
and the ``semantic`` extra, else the engine's 400 error ends the run.
(Before ``SearchRequest`` had a ``mode`` field, any mode but ``lexical``
exited with status 2: ``request_fields`` keeps that check.)

Writes eval/results/crosslingual-<mode>.json (crosslingual-<mode>-<half>.json
for one half), with the date, the commit and the index's article count.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from eval.reader_helpers import load_queries, top10  # noqa: E402
from search.errors import SearchServiceError, run_command  # noqa: E402

QUERIES = os.path.join(HERE, "data", "crosslingual.jsonl")
MODES = ("lexical", "hybrid", "semantic")
HALVES = ("all", "heldout", "train")
LANGS = ("zh-Hans", "zh-Hant")
K = 10


class ModeUnavailable(ValueError, SearchServiceError, status=400):
    """A retrieval mode the engine cannot run yet (the command exits with status 2)."""


def half_of(query_id: str) -> str:
    """"heldout" when the first byte of SHA-1(``query_id``, UTF-8) is even,
    else "train": the fixed split of issue 20 (weights are learned on
    "train", figures reported on "heldout")."""
    return "heldout" if hashlib.sha1(query_id.encode("utf-8")).digest()[0] % 2 == 0 else "train"


def load_set(path: str = QUERIES, half: str = "all") -> list[dict]:
    """The set's rows (dicts as in the file), only those of ``half``
    ("all", "heldout" or "train"; ValueError for anything else)."""
    if half not in HALVES:
        raise ValueError(f"half must be one of {', '.join(HALVES)}, not {half!r}")
    rows = load_queries(path)
    return [r for r in rows if half == "all" or half_of(r["id"]) == half]


def request_fields(mode: str) -> dict:
    """The ``SearchRequest`` fields that select ``mode``: ``{"mode": mode}``
    once the request has such a field, ``{}`` for "lexical" before (the
    engine is lexical only).  Raises ModeUnavailable for another mode
    without the field, ValueError for a name not in MODES."""
    from search.models import SearchRequest

    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if "mode" in {f.name for f in dataclasses.fields(SearchRequest)}:
        return {"mode": mode}
    if mode != "lexical":
        raise ModeUnavailable(f"semantic modes are not available yet: SearchRequest has no 'mode' field, "
                              f"so --mode {mode} cannot run (only --mode lexical does)")
    return {}


def first_rank(row: dict, ranked: list[str], k: int = K) -> int | None:
    """1-based rank of the first of ``ranked`` (ids, best first) that is the
    row's article or one of its ``also`` copies, within the top ``k``; None
    when there is none."""
    wanted = {row["article"], *row.get("also", ())}
    for i, doc_id in enumerate(ranked[:k], 1):
        if doc_id in wanted:
            return i
    return None


def summarise(rows: list[dict], runs: dict[str, list[str]]) -> dict:
    """``{"queries", "Success@10", "MRR@10"}`` over ``rows`` (ir-measures:
    relevant are each row's article and its ``also`` copies; ``runs``: query
    id -> hit ids, best first; a query without hits scores 0); the
    measures are None for no rows."""
    import ir_measures
    from ir_measures import RR, Success

    if not rows:
        return {"queries": 0, "Success@10": None, "MRR@10": None}
    qrels = [ir_measures.Qrel(r["id"], d, 1) for r in rows for d in (r["article"], *r.get("also", ()))]
    # Strictly decreasing scores: the engine's order, no ties for the evaluator to break.
    scored = [ir_measures.ScoredDoc(r["id"], d, float(K - i)) for r in rows
              for i, d in enumerate(runs.get(r["id"], [])[:K])]
    agg = ir_measures.calc_aggregate([Success @ K, RR @ K], qrels, scored)
    return {"queries": len(rows), "Success@10": agg[Success @ K], "MRR@10": agg[RR @ K]}


def score(rows: list[dict], runs: dict[str, list[str]]) -> dict:
    """Figures for ``rows`` given ``runs`` (query id -> hit ids, best
    first; a missing id counts as no hits): ``{"results": {half:
    {"all"|lang: summarise(...)}}, "ranks": {query id: first_rank or
    None}}``, halves "all", "heldout" and "train", languages as in LANGS."""
    results = {}
    for half in HALVES:
        part = [r for r in rows if half == "all" or half_of(r["id"]) == half]
        results[half] = {"all": summarise(part, runs)}
        for lang in LANGS:
            results[half][lang] = summarise([r for r in part if r["lang"] == lang], runs)
    return {"results": results, "ranks": {r["id"]: first_rank(r, runs.get(r["id"], [])) for r in rows}}


def run(engine, rows: list[dict], mode: str = "lexical") -> dict:
    """Run every row's query on ``engine`` (a ``SearchEngine``) in ``mode``
    and score it (see ``score``); adds "mode", "index_articles" and
    "answered" (queries with at least one hit: a miss with hits is a
    wrong answer, not none)."""
    fields = request_fields(mode)
    runs = {r["id"]: top10(engine, r["query"], **fields)[0] for r in rows}
    return {"mode": mode, "index_articles": engine.backend.doc_count(),
            "answered": sum(bool(ids) for ids in runs.values()), **score(rows, runs)}


def print_table(result: dict) -> None:
    print(f"cross-lingual known items, mode {result['mode']}, index of {result['index_articles']:,} articles; "
          f"{result['answered']} of {result['queries']} queries had hits")
    print(f"{'half':8} {'language':9} {'queries':>7} {'Success@10':>10} {'MRR@10':>7}")
    for half, by_lang in result["results"].items():
        for lang, s in by_lang.items():
            if s["queries"]:
                print(f"{half:8} {lang:9} {s['queries']:7d} {s['Success@10']:10.3f} {s['MRR@10']:7.3f}")


def _main(argv) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True, help="index directory (opened for reading only)")
    ap.add_argument("--mode", choices=MODES, default="lexical")
    ap.add_argument("--half", choices=HALVES, default="all", help="run only one half of the split")
    ap.add_argument("--queries", default=QUERIES, help="the set (default eval/data/crosslingual.jsonl)")
    ap.add_argument("--out", help="JSON file (default eval/results/crosslingual-<mode>[-<half>].json)")
    args = ap.parse_args(argv)
    request_fields(args.mode)  # ModeUnavailable before the index is opened
    if not os.path.isdir(args.index):
        raise FileNotFoundError(f"no index directory at {args.index}")
    from bench.measure import git_commit, write_result
    from search.engine import SearchEngine

    rows = load_set(args.queries, args.half)
    engine = SearchEngine.open(args.index, refresh_interval=3600)
    try:
        result = run(engine, rows, args.mode)
    finally:
        engine.backend.close()
    result = {"half": args.half, "queries": len(rows), **result,
              "date": time.strftime("%Y-%m-%d %H:%M:%S"), "commit": git_commit()}
    print_table(result)
    suffix = args.mode if args.half == "all" else f"{args.mode}-{args.half}"
    write_result(args.out or os.path.join(HERE, "results", f"crosslingual-{suffix}.json"), result)
    return 0


def main(argv=None) -> int:
    """The command line; exit status 0, or 2 with one ``error:`` line on
    stderr for a mode not available yet or a missing index directory."""
    return run_command(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
