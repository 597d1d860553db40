"""Two versions of the code, measured in the same run: is a change slower?

    python -m bench.versions --before /path/to/old/checkout [--after .] [--articles 20000] [--rounds 2]

For a structural change (``bench/snapshot.py`` checks that results are
the same; this checks the cost).  Each version, from its own source tree
(``PYTHONPATH``), in its own processes, alternating before/after so that
the machine's load falls on both alike:

* builds the same slice of the corpora (the first ``--articles``, 60 % CCTV
  and 40 % Hong Kong) into its own index with 2 workers: wall seconds;
* runs every distinct query of ``bench/querymix.jsonl`` on its index, the
  result cache off, three times: CPU milliseconds per query (the best of
  three: CPU time, not wall time, since these machines are shared);
* asks for the related articles of 300 articles, five times: CPU
  milliseconds per call (the best of five).

Prints the figures and the after/before ratios, and writes
``bench/results/versions.json``.  A check out of an older commit is made
with ``git worktree add /tmp/old <commit>``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

from .measure import write_result

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.environ.get("NEWS_CORPUS", os.path.join(os.path.dirname(ROOT), "shared", "corpus"))

# Run inside each version's process, from its own tree (cwd and PYTHONPATH):
# its bench.latency reads the committed query mix (the same file in both).
_SEARCH = r"""
import json, random, sys, time
from bench.latency import distinct_queries, load_mix, request_for
from search.engine import SearchEngine
e = SearchEngine.open(sys.argv[1], refresh_interval=3600)
e.wait_ready(600)
e._cache.size = 0
reqs = [request_for(i) for i in distinct_queries(load_mix())]
for r in reqs:
    e.search(r)
search = []
for _ in range(3):
    t = time.process_time()
    for r in reqs:
        e.search(r)
    search.append((time.process_time() - t) / len(reqs) * 1000)
view = e.backend.view
ids = [view.stored(int(g))["id"] for g in random.Random(11).sample(range(view.n_all), 300) if view.live[g]]
for d in ids:
    e.related(d, size=5)
related = []
for _ in range(5):
    t = time.process_time()
    for d in ids:
        e.related(d, size=5)
    related.append((time.process_time() - t) / len(ids) * 1000)
print(json.dumps({"queries": len(reqs), "search_cpu_ms": min(search), "related_cpu_ms": min(related)}))
"""


def write_slice(n: int, path: str) -> int:
    """The first 60 % of ``n`` from the CCTV file and 40 % from the Hong Kong file."""
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        for name, share in (("news-xwlb.jsonl.gz", 0.6), ("news-hkcnews.jsonl.gz", 0.4)):
            with gzip.open(os.path.join(CORPUS, name), "rt", encoding="utf-8") as f:
                for i, line in enumerate(f):
                    if i >= int(n * share):
                        break
                    out.write(line)
                    written += 1
    return written


def _shown(tree: str, root: str) -> str:
    """``tree`` as recorded in the results: relative to the project root
    (``.`` for this checkout), never a machine's absolute path."""
    return os.path.relpath(os.path.abspath(tree), root)


def _env(tree: str) -> dict:
    return dict(os.environ, PYTHONPATH=os.path.abspath(tree))


def build(tree: str, src: str, index: str) -> float:
    """Wall seconds of ``python -m indexer build`` of ``src`` with ``tree``'s code."""
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "indexer", "build", "--index", index, "--workers", "2", "--no-progress",
                    "--store", "off", src], env=_env(tree), cwd=tree, check=True, capture_output=True)
    return time.perf_counter() - t


def measure(tree: str, index: str) -> dict:
    """The query mix and related articles on ``index`` with ``tree``'s code."""
    done = subprocess.run([sys.executable, "-c", _SEARCH, index], env=_env(tree), cwd=tree, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.versions", description=__doc__.split("\n\n")[0])
    p.add_argument("--before", required=True, help="the source tree of the old version")
    p.add_argument("--after", default=ROOT, help="the source tree of the new version (default: this one)")
    p.add_argument("--articles", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    trees = {"before": args.before, "after": args.after}
    rows: dict[str, list[dict]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="versions_") as tmp:
        src = os.path.join(tmp, "slice.jsonl")
        n = write_slice(args.articles, src)
        for r in range(args.rounds):
            for name, tree in trees.items():
                index = os.path.join(tmp, f"ix-{name}-{r}")
                row = {"build_s": build(tree, src, index), **measure(tree, index)}
                rows[name].append(row)
                print(f"round {r + 1} {name:6}  build {row['build_s']:6.1f} s  search {row['search_cpu_ms']:.3f} "
                      f"ms/query  related {row['related_cpu_ms']:.3f} ms/call", flush=True)
    best = {name: {k: min(row[k] for row in rs) for k in ("build_s", "search_cpu_ms", "related_cpu_ms")}
            for name, rs in rows.items()}
    ratios = {k: round(best["after"][k] / best["before"][k], 3) for k in best["after"]}
    print("after/before (best of the rounds): " + ", ".join(f"{k} {v}" for k, v in ratios.items()))
    write_result(os.path.join(HERE, "results", "versions.json"), {
        "articles": n, "rounds": args.rounds, "before": _shown(args.before, ROOT),
        "after": _shown(args.after, ROOT), "runs": rows, "best": best, "after_over_before": ratios})
    return 0


if __name__ == "__main__":
    sys.exit(main())
