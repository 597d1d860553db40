"""Related articles, cold and warm, two versions of the code in the same run.

    python -m bench.related_latency --index DIR --before OLD_CHECKOUT [--after .] [--rounds 2] [--articles 200]

As ``bench/latency.py`` measures related articles (the same 200 random
articles of the index, ``random.Random(11)``), each version from its own
source tree (``PYTHONPATH``) in a fresh process per pass, alternating
before/after so that the machine's load falls on both alike:

* cold: the first call for each article in a fresh process (every engine
  cache empty, the operating system's file cache warm, after the
  background builders finished), then warm: the same articles again;
* per call the wall milliseconds and the CPU milliseconds of the calling
  thread (``time.thread_time``: the machines here are shared, and the
  engine's background threads are not the call's cost);
* the answers (ids in order) of both versions compared: a speed-up that
  changes a related list is a bug.

Prints p50/p95/p99 per version (the median over rounds of each figure)
and after/before ratios; writes ``bench/results/related_latency.json``.
A checkout of an older commit: ``git worktree add /tmp/old <commit>``.

    python -m bench.related_latency --index EMBEDDED_DIR --hybrid [--rounds 2] [--articles 200]

The same passes on one tree and one embedded index (``indexer embed``):
"key terms" (``search.related.related`` with ``fusion=None``, what an
index without vectors answers) against "fused" (``RELATED_FUSION``: the
key-term list fused with the article's dense neighbours), alternating;
writes ``bench/results/related_hybrid_latency.json``.  The answers differ
by design: the figure is how many do.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from .measure import write_result

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Run inside each version's process, from its own tree (cwd and PYTHONPATH).
_PASS = r"""
import json, random, sys, time
from search.engine import SearchEngine
e = SearchEngine.open(sys.argv[1], refresh_interval=3600)
e.pinyin.get(wait=600)
e.suggester.get(wait=600)
view = e.backend.view
ids = [view.stored(int(g))["id"] for g in random.Random(11).sample(range(view.n_all), int(sys.argv[2]))
       if view.live[g]]
out = {"segments": len(view.segments), "documents": view.n_live, "answers": {}}
from search import related as stories
fusion = {"fused": stories.RELATED_FUSION, "key terms": None}[sys.argv[3]] if len(sys.argv) > 3 else ...
for name in ("cold", "warm"):
    wall, cpu = [], []
    for d in ids:
        t, c = time.perf_counter(), time.thread_time()
        if fusion is ...:
            hits = e.related(d, size=5) or []
        else:
            hits = stories.related(e.backend, d, 5, frequencies=e.pinyin.frequencies, fusion=fusion) or []
        cpu.append((time.thread_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
        out["answers"][d] = [h.id for h in hits]
    out[name] = {"wall": wall, "cpu": cpu}
print(json.dumps(out))
"""


def percentiles(ms: list[float]) -> dict:
    """p50/p95/p99 and mean of ``ms`` (``bench.latency.percentiles``)."""
    from .latency import percentiles as p

    return p(ms)


def one_pass(tree: str, index: str, articles: int, variant: str | None = None) -> dict:
    """A fresh process of ``tree``'s code: cold then warm related lists
    (``variant``: "fused" or "key terms", ``--hybrid``; None: the engine's
    ``related``)."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    extra = [variant] if variant else []
    out = subprocess.run([sys.executable, "-c", _PASS, os.path.abspath(index), str(articles), *extra],
                         cwd=tree, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{tree}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarise(passes: list[dict]) -> dict:
    """The median over passes of each percentile, per phase and clock."""
    out = {}
    for phase in ("cold", "warm"):
        for clock in ("cpu", "wall"):
            per = [percentiles(p[phase][clock]) for p in passes]
            out[f"{phase}_{clock}"] = {k: round(statistics.median(q[k] for q in per), 2)
                                       for k in ("p50", "p95", "p99", "mean")}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--before", help="checkout of the older version (without --hybrid)")
    ap.add_argument("--after", default=ROOT, help="checkout of the newer version (default: this one)")
    ap.add_argument("--hybrid", action="store_true",
                    help="key terms alone against fused, this tree, an embedded index")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--articles", type=int, default=200)
    ap.add_argument("--out", help="default: bench/results/related_latency.json (--hybrid: "
                                  "related_hybrid_latency.json)")
    args = ap.parse_args(argv)
    if args.hybrid:
        return hybrid(args)
    if not args.before:
        ap.error("--before is required without --hybrid")
    args.out = args.out or os.path.join(HERE, "results", "related_latency.json")
    runs = {"before": [], "after": []}
    for r in range(args.rounds):
        for name in ("before", "after"):
            runs[name].append(one_pass(getattr(args, name), args.index, args.articles))
            print(f"round {r + 1} {name}: cold CPU p50 "
                  f"{percentiles(runs[name][-1]['cold']['cpu'])['p50']} ms", flush=True)
    result = {name: summarise(p) for name, p in runs.items()}
    first = runs["before"][0]
    different = [d for d, ids in first["answers"].items() if runs["after"][0]["answers"].get(d) != ids]
    result.update(articles=len(first["answers"]), documents=first["documents"], segments=first["segments"],
                  rounds=args.rounds, answers_different=len(different), examples=different[:5],
                  after_over_before={k: round(result["after"][k]["p50"] / result["before"][k]["p50"], 2)
                                     for k in result["after"]},
                  date=time.strftime("%Y-%m-%d %H:%M:%S"))
    print(f"related articles, {result['articles']} articles, {result['documents']} documents, "
          f"{result['segments']} segments, median of {args.rounds} rounds (ms)")
    print(f"{'':18} {'before p50':>10} {'p95':>7} {'p99':>7}   {'after p50':>10} {'p95':>7} {'p99':>7}   after/before p50")
    for k in result["after"]:
        b, a = result["before"][k], result["after"][k]
        print(f"{k:18} {b['p50']:10.1f} {b['p95']:7.1f} {b['p99']:7.1f}   {a['p50']:10.1f} {a['p95']:7.1f} "
              f"{a['p99']:7.1f}   {result['after_over_before'][k]}")
    print(f"related lists that differ: {len(different)} of {result['articles']}")
    write_result(args.out, result)
    return 1 if different else 0


def hybrid(args) -> int:
    """``--hybrid``: "key terms" and "fused" passes alternating on this
    tree (``args.after``) and the embedded index ``args.index``."""
    variants = ("key terms", "fused")
    runs = {v: [] for v in variants}
    for r in range(args.rounds):
        for v in variants:
            runs[v].append(one_pass(args.after, args.index, args.articles, v))
            print(f"round {r + 1} {v}: cold wall p50 {percentiles(runs[v][-1]['cold']['wall'])['p50']} ms",
                  flush=True)
    result = {v: summarise(p) for v, p in runs.items()}
    first = runs["key terms"][0]
    different = [d for d, ids in first["answers"].items() if runs["fused"][0]["answers"].get(d) != ids]
    result.update(articles=len(first["answers"]), documents=first["documents"], segments=first["segments"],
                  rounds=args.rounds, answers_different=len(different),
                  fused_over_key_terms={k: round(result["fused"][k]["p50"] / result["key terms"][k]["p50"], 2)
                                        for k in result["fused"]},
                  date=time.strftime("%Y-%m-%d %H:%M:%S"))
    print(f"related articles, {result['articles']} articles, {result['documents']} documents, "
          f"median of {args.rounds} rounds (ms)")
    print(f"{'':18} {'key terms p50':>13} {'p95':>7} {'p99':>7}   {'fused p50':>10} {'p95':>7} {'p99':>7}")
    for k in result["fused"]:
        b, a = result["key terms"][k], result["fused"][k]
        print(f"{k:18} {b['p50']:13.1f} {b['p95']:7.1f} {b['p99']:7.1f}   {a['p50']:10.1f} {a['p95']:7.1f} "
              f"{a['p99']:7.1f}")
    print(f"related lists the vectors changed: {len(different)} of {result['articles']}")
    write_result(args.out or os.path.join(HERE, "results", "related_hybrid_latency.json"), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
