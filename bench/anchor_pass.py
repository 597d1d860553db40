"""One measured pass of the anchor for one engine, in a fresh process.

    python -m bench.anchor_pass ours|tantivy INDEX OUT.json [--ids IDS.json] [--repeat 1]

As ``bench/latency.py`` measures ours: the engine opened (ours: after its
background builders, pinyin lexicon and suggester, finished), then

* **cold**: each distinct query of ``bench/querymix.jsonl`` once, in mix
  order (every engine cache empty at the start; the page cache is not
  dropped), wall and CPU milliseconds per query (CPU: the process's, all
  threads; on a shared machine it does not count time spent waiting for a
  core) and the pass's CPU seconds;
* **warm**: the whole mix shuffled (seed 7), ``--repeat`` times, ours
  without its result cache;
* **related**: the articles of ``--ids`` (else 200 random live articles of
  ours' index, seed 11, as bench/latency.py draws them; written to OUT as
  ``related_ids``) cold, then again warm;
* **memory**: the process's PSS and RSS (``/proc/self/smaps_rollup``) after
  the passes: PSS counts pages shared with other processes (the index's
  mapped files) by share.

OUT holds per query its kind, milliseconds, total and full-match count,
and the figures above.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from bench.latency import distinct_queries, load_mix, request_for  # noqa: E402
from bench.measure import write_result  # noqa: E402


def memory_mb() -> dict:
    """This process's proportional and resident set size in MB (``/proc/self/smaps_rollup``)."""
    out = {}
    with open("/proc/self/smaps_rollup", encoding="ascii") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in ("Pss", "Rss"):
                out[name.lower() + "_mb"] = round(int(rest.split()[0]) / 1024, 1)
    return out


class Ours:
    """Our SearchEngine as the benchmarks run it (result cache off)."""

    def __init__(self, index_dir: str):
        from search.engine import SearchEngine

        self.engine = SearchEngine.open(index_dir, refresh_interval=3600)
        self.engine.pinyin.get(wait=300)
        self.engine.suggester.get(wait=300)
        self.engine._cache.size = 0

    def search(self, item: dict) -> tuple[int, int]:
        res = self.engine.search(request_for(item))
        return res.total, res.total_full

    def related(self, doc_id: str) -> None:
        self.engine.related(doc_id, size=5)

    def sample_ids(self) -> list[str]:
        view = self.engine.backend.view
        return [view.stored(int(g))["id"] for g in random.Random(11).sample(range(view.n_all), 200)
                if view.live[g]]

    def shape(self) -> dict:
        view = self.engine.backend.view
        return {"documents": view.n_live, "segments": len(view.segments)}


class Tantivy:
    """The anchor's tantivy searches (``bench.anchor_tantivy``)."""

    def __init__(self, index_dir: str):
        from bench.anchor_tantivy import TantivyAnchor

        self.anchor = TantivyAnchor(index_dir)
        self.anchor.analyzer.query_words("預熱 warm-up 中文")  # jieba loaded, as ours does at open

    def search(self, item: dict) -> tuple[int, int]:
        res = self.anchor.search(item)
        return res["total"], res["full"]

    def related(self, doc_id: str) -> None:
        self.anchor.related(doc_id)

    def shape(self) -> dict:
        s = self.anchor.searcher
        return {"documents": s.num_docs, "segments": s.num_segments}


def run(engine_name: str, index_dir: str, ids: list[str] | None, repeat: int) -> dict:
    """The pass (see the module docstring) as a JSON-ready dict."""
    t0 = time.perf_counter()
    engine = Ours(index_dir) if engine_name == "ours" else Tantivy(index_dir)
    open_s = time.perf_counter() - t0
    mix = load_mix()
    distinct = distinct_queries(mix)
    errors = []

    def timed(item):
        t, c = time.perf_counter(), time.process_time()
        try:
            out = engine.search(item)
        except Exception as exc:  # noqa: BLE001 - counted and named, not hidden
            errors.append(f"{item['q']}: {exc!r}")
            out = (None, None)
        return (time.perf_counter() - t) * 1000, out, (time.process_time() - c) * 1000

    cpu = time.process_time()
    cold = [timed(i) for i in distinct]
    cold_cpu = time.process_time() - cpu
    rng = random.Random(7)
    warm = []
    for _ in range(repeat):
        order = mix[:]
        rng.shuffle(order)
        warm.extend(timed(i)[0] for i in order)
    if ids is None:
        ids = engine.sample_ids()
    rel_cold, rel_warm = [], []
    for out in (rel_cold, rel_warm):
        for doc_id in ids:
            t = time.perf_counter()
            engine.related(doc_id)
            out.append((time.perf_counter() - t) * 1000)
    return {"engine": engine_name, "index": index_dir, **engine.shape(), "open_seconds": round(open_s, 2),
            "queries": [{"kind": i["kind"], "ms": round(ms, 3), "cpu_ms": round(cpu_ms, 3), "total": tot, "full": full}
                        for i, (ms, (tot, full), cpu_ms) in zip(distinct, cold)],
            "cold_cpu_seconds": round(cold_cpu, 3), "warm_ms": [round(ms, 3) for ms in warm],
            "related_ids": ids, "related_cold_ms": [round(x, 3) for x in rel_cold],
            "related_warm_ms": [round(x, 3) for x in rel_warm], "errors": errors, "memory": memory_mb()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("engine", choices=("ours", "tantivy"))
    ap.add_argument("index")
    ap.add_argument("out")
    ap.add_argument("--ids", help="JSON list of article ids for related articles")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    ids = None
    if args.ids:
        with open(args.ids, encoding="utf-8") as f:
            ids = json.load(f)
    write_result(args.out, run(args.engine, args.index, ids, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
