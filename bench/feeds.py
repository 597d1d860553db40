"""What the Atom feeds cost over real HTTP (one gunicorn worker on loopback),
each next to its baseline measured in the same run, interleaved:

* ``/search.atom?q=…`` (the 20 newest matches as Atom) against
  ``/api/search?q=…&sort=newest&size=20&facets=`` (the same search as
  JSON).  Both are the same engine request, answered from the result cache
  after one warm-up pass: the difference is what building the feed costs
  over building the JSON (the search itself is measured by bench/latency.py);
* a saved search's feed with 20 alerts: the full answer (200, the 20
  articles read from the index) against the ``If-None-Match`` answer (304).

    python -m bench.feeds [--index DIR] [--queries N]

Without ``--index`` the 2,000-article sample is indexed into a temporary
directory first.  Figures: milliseconds per request (p50, p95) and the
ratio to the baseline; written to bench/results/feeds.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from .env import CORPUS, ROOT
from .measure import write_result

sys.path.insert(0, ROOT)
SAMPLE = os.path.join(CORPUS, "news-sample-2k.jsonl.gz")
TOKEN = "bench-feeds-token"


def _get(url: str, headers=None) -> tuple[int, float]:
    req = urllib.request.Request(url, headers=headers or {})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        e.read()
        status = e.code
    return status, (time.perf_counter() - start) * 1000


def _summary(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 2),
            "p95_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.95))], 2)}


def _queries(n: int) -> list[str]:
    with open(os.path.join(ROOT, "bench", "querymix.jsonl"), encoding="utf-8") as f:
        return [json.loads(line)["q"] for line in f if line.strip()][:n]


def run(index: str, n_queries: int = 60) -> dict:
    """Measure both comparisons on ``index`` (see the module docstring)."""
    from search.saved_searches import NewMatch, SavedSearchStore
    from web.auth import digest
    from web.loopback import Server

    tmp = tempfile.mkdtemp()
    saved_path = os.path.join(tmp, "saved.sqlite")
    srv = Server(index, workers=1, extra_env={"SEARCH_WRITE_TOKENS": digest(TOKEN),
                                              "SEARCH_SAVED_SEARCHES": saved_path})
    try:
        queries = _queries(n_queries)
        atom, api = [], []
        for q in queries:  # warm both paths once (the result cache keys differ: facets)
            _get(srv.url + "/search.atom?" + urllib.parse.urlencode({"q": q}))
        for q in queries:
            base = urllib.parse.urlencode({"q": q})
            status, ms = _get(f"{srv.url}/api/search?{base}&sort=newest&size=20&facets=")
            assert status == 200, (q, status)
            api.append(ms)
            status, ms = _get(f"{srv.url}/search.atom?{base}")
            assert status == 200, (q, status)
            atom.append(ms)

        body = json.dumps({"name": "bench", "params": {"q": "香港"}}).encode()
        req = urllib.request.Request(srv.url + "/api/saved-searches", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            saved = json.load(r)
        with urllib.request.urlopen(srv.url + "/api/search?q=%E9%A6%99%E6%B8%AF&size=20&group=0&facets=") as r:
            hits = json.load(r)["hits"]
        store = SavedSearchStore(saved_path)
        store.record(saved["id"], [NewMatch(h["id"], h["id"], h["title"], h["published"], h["url"]) for h in hits],
                     [], [], commit_seq=1)
        feed = srv.url + saved["feed_url"]
        with urllib.request.urlopen(feed) as r:
            etag = r.headers["ETag"]
        full, not_modified = [], []
        for _ in range(100):
            status, ms = _get(feed)
            assert status == 200
            full.append(ms)
            status, ms = _get(feed, {"If-None-Match": etag})
            assert status == 304
            not_modified.append(ms)
    finally:
        srv.stop()
    result = {
        "index": index, "alerts_in_saved_feed": len(hits),
        "search_feed": {"atom": _summary(atom), "baseline_api_json": _summary(api)},
        "saved_feed": {"full_200": _summary(full), "baseline_304": _summary(not_modified)},
    }
    result["search_feed"]["atom_over_api_p50"] = round(result["search_feed"]["atom"]["p50_ms"]
                                                       / result["search_feed"]["baseline_api_json"]["p50_ms"], 2)
    result["saved_feed"]["full_over_304_p50"] = round(result["saved_feed"]["full_200"]["p50_ms"]
                                                      / result["saved_feed"]["baseline_304"]["p50_ms"], 2)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", help="an index to serve (default: the 2k sample, indexed now)")
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args(argv)
    index = args.index
    if index is None:
        from indexer import pipeline

        index = os.path.join(tempfile.mkdtemp(), "index")
        pipeline.build(index, [SAMPLE], workers=2, progress=False)
    result = run(index, args.queries)
    result["index"] = args.index or "news-sample-2k.jsonl.gz, indexed for this run"
    sf, sv = result["search_feed"], result["saved_feed"]
    print(f"{'':34}{'p50 ms':>9}{'p95 ms':>9}")
    for label, row in (("/search.atom (20 newest)", sf["atom"]), ("  baseline /api/search JSON", sf["baseline_api_json"]),
                       ("saved feed, 200 (20 alerts)", sv["full_200"]), ("  baseline saved feed, 304", sv["baseline_304"])):
        print(f"{label:34}{row['p50_ms']:>9}{row['p95_ms']:>9}")
    print(f"atom / api (p50): {sf['atom_over_api_p50']}x; full / 304 (p50): {sv['full_over_304_p50']}x")
    write_result(os.path.join(ROOT, "bench", "results", "feeds.json"), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
