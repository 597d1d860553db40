"""The same queries on Whoosh (in-process) and on the OpenSearch backend
(2-node cluster), through the same engine: latency side by side, and how
often both return the same number of matches, and how much of the first
page of results they share (their BM25 variants rank differently).

    python -m bench.opensearch_compare --index DIR --alias NAME [--opensearch-url URL]

Each distinct query of bench/querymix.jsonl runs once per backend, in
alternation (first the Whoosh engine, then the OpenSearch one), after one
warm-up query each.  Both engines run without their result cache; the
OpenSearch figure includes the HTTP round trip to the cluster.  Queries the
OpenSearch backend does not support yet (400) are counted and left out.
Writes bench/results/opensearch_compare.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

from .latency import distinct_queries, load_mix, percentiles, request_for
from .measure import write_result

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", required=True, help="the Whoosh index")
    ap.add_argument("--alias", required=True, help="the same articles in OpenSearch (indexer migrate)")
    ap.add_argument("--opensearch-url", default=os.environ.get("OPENSEARCH_URL"))
    ap.add_argument("--out", default=os.path.join(HERE, "results", "opensearch_compare.json"))
    args = ap.parse_args(argv)
    from search.engine import SearchEngine
    from search.models import SearchRequest
    from search.plan import UnsupportedQuery

    whoosh = SearchEngine.open(args.index, cache_size=0, synonyms_path=None, blocklist_path=None)
    opensearch = SearchEngine.open(args.alias, backend="opensearch", opensearch_url=args.opensearch_url,
                                   cache_size=0, synonyms_path=None, blocklist_path=None)
    queries = distinct_queries(load_mix())
    for engine in (whoosh, opensearch):
        engine.search(request_for({"q": "预热"}))

    def on_both(req, times):
        """(Whoosh result, OpenSearch result), timed into ``times``; None
        when the OpenSearch backend refuses the query."""
        t0 = time.perf_counter()
        a = whoosh.search(req)
        t1 = time.perf_counter()
        try:
            b = opensearch.search(req)
        except UnsupportedQuery:
            return None
        times["whoosh"].append((t1 - t0) * 1000)
        times["opensearch"].append((time.perf_counter() - t1) * 1000)
        return a, b

    times = {"whoosh": [], "opensearch": []}
    same_total = same_full = both_full = unsupported = 0
    overlaps = []
    for item in queries:
        pair = on_both(request_for(item), times)
        if pair is None:
            unsupported += 1
            continue
        a, b = pair
        same_total += a.total == b.total
        if not a.relaxed and not b.relaxed:
            both_full += 1
            same_full += a.total == b.total
        if a.hits:  # how far the two rankings agree: shared articles in the first page
            overlaps.append(len({h.id for h in a.hits} & {h.id for h in b.hits}) / len(a.hits))
    # The same mix grouped, as the web app asks by default (near-duplicates as one hit).
    grouped_ms = {"whoosh": [], "opensearch": []}
    same_groups = close_groups = 0
    for item in queries:
        pair = on_both(dataclasses.replace(request_for(item), group=True), grouped_ms)
        if pair is None:
            continue
        a, b = pair
        same_groups += a.total == b.total
        # Ties in publication time may pick another representative, which
        # can move a member between groups: totals then differ by a few.
        close_groups += abs(a.total - b.total) <= max(1, 0.01 * a.total)
    # Related articles (the article page): 50 articles spread over the index.
    related_ms = {"whoosh": [], "opensearch": []}
    sample = [h.id for h in whoosh.search(SearchRequest(q="中国", size=50, facets=(), highlight=False)).hits]
    for doc_id in sample:
        for name, engine in (("whoosh", whoosh), ("opensearch", opensearch)):
            t0 = time.perf_counter()
            engine.related(doc_id, size=5)
            related_ms[name].append((time.perf_counter() - t0) * 1000)
    result = {
        "grouped_whoosh_ms": percentiles(grouped_ms["whoosh"]),
        "grouped_opensearch_ms": percentiles(grouped_ms["opensearch"]),
        "grouped_same_total": same_groups,
        "grouped_total_within_1_percent": close_groups,
        "related_whoosh_ms": percentiles(related_ms["whoosh"]),
        "related_opensearch_ms": percentiles(related_ms["opensearch"]),
        "queries": len(queries), "compared": len(times["whoosh"]), "unsupported_on_opensearch": unsupported,
        "same_total": same_total,
        "full_matches_only_on_both": both_full, "same_total_among_them": same_full,
        "first_page_overlap_mean": round(sum(overlaps) / max(len(overlaps), 1), 3),
        "whoosh_ms": percentiles(times["whoosh"]), "opensearch_ms": percentiles(times["opensearch"]),
        "documents": {"whoosh": whoosh.backend.doc_count(), "opensearch": opensearch.backend.doc_count()},
    }
    result["opensearch_over_whoosh_p50"] = round(result["opensearch_ms"]["p50"] / result["whoosh_ms"]["p50"], 2)
    result["opensearch_over_whoosh_p95"] = round(result["opensearch_ms"]["p95"] / result["whoosh_ms"]["p95"], 2)
    for name in ("whoosh", "opensearch"):
        p = result[f"{name}_ms"]
        print(f"{name:10s} p50 {p['p50']:7.1f} ms  p95 {p['p95']:7.1f} ms  p99 {p['p99']:7.1f} ms  (n={p['n']})")
    for name in ("whoosh", "opensearch"):
        p = result[f"grouped_{name}_ms"]
        print(f"grouped ({name}) p50 {p['p50']:7.1f} ms  p95 {p['p95']:7.1f} ms  p99 {p['p99']:7.1f} ms")
    print(f"grouped: same number of groups on both: {same_groups} of {len(grouped_ms['whoosh'])}, "
          f"within 1 %: {close_groups}")
    for name in ("whoosh", "opensearch"):
        p = result[f"related_{name}_ms"]
        print(f"related ({name}) p50 {p['p50']:7.1f} ms  p95 {p['p95']:7.1f} ms  (n={p['n']})")
    print(f"same total on both: {same_total} of {len(times['whoosh'])} ({same_full} of the {both_full} "
          f"without partial matches); first page shared: {result['first_page_overlap_mean']:.0%}; "
          f"unsupported on OpenSearch: {unsupported}")
    write_result(args.out, result)


if __name__ == "__main__":
    main()
