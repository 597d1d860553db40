"""What the benchmark's query mix returns, to compare two versions of the code.

    python -m bench.snapshot --out A.json [--index DIR] [--opensearch URL]
    python -m bench.snapshot --compare A.json B.json

A structural change must not change results.  ``--out`` builds the
2,000-article sample into a fresh index with the code checked out (so the
write side is covered too; ``--index`` reuses a built index instead) and
writes, for every distinct query of ``bench/querymix.jsonl`` plus its
variants (grouped, ``w/s``, ``title:``, ``-`` exclusion, a second page, every
facet): the ids in order, ``total``, ``total_full``, ``total_articles``,
``relaxed``, the understood conditions and every facet count; and for 50
articles their related articles and near-duplicates.  ``--opensearch``
does the same on an OpenSearch index built from the sample.
``--compare`` prints every difference and exits 1 if there is one.

Scores are not compared (they are floats summed in a different order by a
refactored executor); the order of ids is.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.environ.get("NEWS_CORPUS", os.path.join(os.path.dirname(ROOT), "shared", "corpus"))
SAMPLE = os.path.join(CORPUS, "news-sample-2k.jsonl.gz")


def _variants(item: dict) -> list[dict]:
    """The query as the mix has it, then the operators and options a
    structural change must keep: grouping, a second page, exclusion,
    sentence proximity, a field, every facet."""
    out = [dict(item)]
    words = item["q"].replace('"', "").split()
    if item["kind"] in ("words", "frequent") and words:
        out.append({**item, "q": f"title:{words[0]}"})
        out.append({**item, "grouped": True, "page": 2})
        out.append({**item, "facets": ["category", "source", "author", "tag"]})
        if len(words) > 1:
            out.append({**item, "q": f"{words[0]} w/s {words[1]}"})
            out.append({**item, "q": f"{words[0]} -{words[1]}"})
            out.append({**item, "q": f"{words[0]} w/3 {words[1]}"})
    return out


def _request(item: dict):
    from search.models import SearchRequest
    from search.timeutil import parse_range

    date_from, date_to = parse_range(item.get("from"), item.get("to"))
    return SearchRequest(
        q=item["q"], size=10, page=item.get("page", 1), sort=item.get("sort", "relevance"),
        category=[item["category"]] if "category" in item else [],
        source=[item["source"]] if "source" in item else [],
        date_from=date_from, date_to=date_to, group=item.get("grouped", False),
        facets=tuple(item.get("facets", ("category", "source"))),
    )


def snapshot(engine, mix: list[dict]) -> dict:
    """{"queries": {key: answer}, "articles": {id: {...}}} for ``engine``,
    once its background builds (pinyin lexicon, suggester: did you mean
    depends on them) are ready, as the service waits for them."""
    if not engine.wait_ready(timeout=600):
        raise SystemExit("the engine's background builds were not ready within 600 s")
    queries = {}
    for item in mix:
        for v in _variants(item):
            key = json.dumps(v, sort_keys=True, ensure_ascii=False)
            if key in queries:
                continue
            try:
                r = engine.search(_request(v))
            except Exception as exc:  # noqa: BLE001 - an error is an answer to compare too
                queries[key] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            queries[key] = {
                "ids": [h.id for h in r.hits], "total": r.total, "total_full": r.total_full,
                "total_articles": r.total_articles, "relaxed": r.relaxed, "exact": r.exact,
                "understood": r.understood, "notices": [n.get("code") for n in r.notices],
                "facets": {name: [[fv.value, fv.count] for fv in values] for name, values in sorted(r.facets.items())},
            }
    ids = sorted({i for a in queries.values() for i in a.get("ids", [])})
    articles = {}
    for doc_id in random.Random(5).sample(ids, min(50, len(ids))):
        related = engine.related(doc_id, size=5) or []
        articles[doc_id] = {"related": [h.id for h in related],
                            "near_duplicates": [d.get("id") for d in engine.near_duplicates(doc_id) or []]}
    return {"queries": queries, "articles": articles}


def _whoosh_engine(index: str | None, tmp: str):
    from indexer import pipeline
    from search.engine import SearchEngine

    if index is None:
        index = os.path.join(tmp, "index")
        pipeline.build(index, [SAMPLE], workers=1)
    return SearchEngine.open(index, refresh_interval=3600)


def _opensearch_engine(url: str, tmp: str):
    from indexer import cli
    from search.backends.opensearch.backend import OpenSearchBackend
    from search.engine import SearchEngine

    alias = "snapshot-" + os.path.basename(tmp).lower().replace("_", "-")
    code = cli.main(["build", "--backend", "opensearch", "--opensearch-url", url, "--index", alias, SAMPLE])
    if code:
        raise SystemExit(f"building the OpenSearch index failed ({code})")
    return SearchEngine(OpenSearchBackend(url, alias)), alias


def _drop(engine, alias: str) -> None:
    """Delete the indices the snapshot built (``<alias>-<time>``)."""
    engine.backend.client.indices.delete(index=f"{alias}-*")


def compare(a: dict, b: dict) -> list[str]:
    """Every difference between two snapshots, as lines."""
    out = []
    for part in ("queries", "articles"):
        for key in sorted(set(a[part]) | set(b[part])):
            x, y = a[part].get(key), b[part].get(key)
            if x != y:
                fields = sorted(k for k in set(x or {}) | set(y or {}) if (x or {}).get(k) != (y or {}).get(k))
                out.append(f"{part} {key}: " + "; ".join(
                    f"{f}: {(x or {}).get(f)!r} -> {(y or {}).get(f)!r}" for f in fields))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.snapshot", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", help="write the snapshot here")
    p.add_argument("--index", help="a built Whoosh index to use (default: build the sample)")
    p.add_argument("--opensearch", metavar="URL", help="snapshot an OpenSearch index built from the sample")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), help="print the differences of two snapshots")
    args = p.parse_args(argv)
    if args.compare:
        with open(args.compare[0], encoding="utf-8") as f:
            a = json.load(f)
        with open(args.compare[1], encoding="utf-8") as f:
            b = json.load(f)
        diffs = compare(a, b)
        for line in diffs:
            print(line)
        print(f"{len(a['queries'])} searches and {len(a['articles'])} articles compared: "
              f"{len(diffs)} difference(s)")
        return 1 if diffs else 0
    if not args.out:
        p.error("--out or --compare is required")
    sys.path.insert(0, ROOT)
    from bench.latency import distinct_queries, load_mix

    mix = distinct_queries(load_mix())
    with tempfile.TemporaryDirectory(prefix="snapshot_") as tmp:
        if args.opensearch:
            engine, alias = _opensearch_engine(args.opensearch, tmp)
        else:
            engine, alias = _whoosh_engine(args.index, tmp), None
        try:
            result = snapshot(engine, mix)
        finally:
            if alias:
                _drop(engine, alias)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, sort_keys=True, indent=0)
    print(f"{len(result['queries'])} searches, {len(result['articles'])} articles -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
