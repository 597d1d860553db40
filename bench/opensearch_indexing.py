"""Indexing throughput: the same articles built into a Whoosh index and,
through the same analysis, into an OpenSearch index on the 2-node cluster
(2 shards, 1 replica), one after the other in this run.

    python -m bench.opensearch_indexing [--limit N] [files...]

Defaults to both full corpora.  Both paths validate, enrich bylines and
analyse with 2 worker processes; OpenSearch then receives bulk requests of
500 documents, and the build ends when the index is refreshed.  The
cluster runs on the same machine, so it competes with the analysis for the
same cores.  Writes bench/results/opensearch_indexing.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import sys
import tempfile
import uuid

from .measure import dir_size, run_measured, write_result

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.environ.get("NEWS_CORPUS", os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "corpus"))


def _slice(paths: list[str], limit: int, out: str) -> str:
    """The first ``limit`` records of ``paths``, interleaved by file, as one JSONL file."""
    per = -(-limit // len(paths))
    with open(out, "w", encoding="utf-8") as f:
        for p in paths:
            with (gzip.open if p.endswith(".gz") else open)(p, "rt", encoding="utf-8") as src:
                for i, line in enumerate(src):
                    if i >= per:
                        break
                    f.write(line if line.endswith("\n") else line + "\n")
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", default=[os.path.join(CORPUS, "news-xwlb.jsonl.gz"),
                                                 os.path.join(CORPUS, "news-hkcnews.jsonl.gz")])
    ap.add_argument("--limit", type=int, default=0, help="only the first N articles (0: all)")
    ap.add_argument("--opensearch-url", default=os.environ.get("OPENSEARCH_URL"))
    ap.add_argument("--keep-alias", help="build into this alias and keep it (for bench.opensearch_compare)")
    ap.add_argument("--keep-whoosh", help="build the Whoosh index in this directory and keep it")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "opensearch_indexing.json"))
    args = ap.parse_args(argv)
    from search.backends.opensearch.target import connect

    tmp = tempfile.mkdtemp(prefix="bench-os-")
    alias = args.keep_alias or "bench-" + uuid.uuid4().hex[:8]
    client = connect(args.opensearch_url)
    try:
        files = [_slice(args.files, args.limit, os.path.join(tmp, "slice.jsonl"))] if args.limit else args.files
        ix = args.keep_whoosh or os.path.join(tmp, "index")
        cli = [sys.executable, "-m", "indexer", "build", "--no-progress"]
        runs = {"whoosh": run_measured([*cli, "--index", ix, *files]),
                "opensearch": run_measured([*cli, "--backend", "opensearch", "--opensearch-url", args.opensearch_url,
                                            "--index", alias, "--shards", "2", "--replicas", "1", *files])}
        client.cluster.health(index=alias, wait_for_status="green")
        stats = client.indices.stats(index=alias, metric="store")["_all"]
        result = {}
        for name, run in runs.items():
            added, updated = map(int, re.search(r"added (\d+), updated (\d+)", run["stderr"]).groups())
            chars = int(re.search(r"([\d,]+) characters/s", run["stderr"]).group(1).replace(",", ""))
            result[name] = {"articles": added + updated, "seconds": round(run["wall"], 1),
                            "docs_per_s": round((added + updated) / run["wall"], 1), "chars_per_s": chars,
                            "peak_rss_mb": round(run["peak_rss_mb"])}
        result["whoosh"]["index_bytes"] = dir_size(ix)
        result["opensearch"]["index_bytes_primaries"] = stats["primaries"]["store"]["size_in_bytes"]
        result["opensearch"]["index_bytes_with_replicas"] = stats["total"]["store"]["size_in_bytes"]
        result["opensearch_over_whoosh_time"] = round(result["opensearch"]["seconds"] / result["whoosh"]["seconds"], 2)
        for name in ("whoosh", "opensearch"):
            r = result[name]
            print(f"{name:10s} {r['articles']:7d} articles in {r['seconds']:7.1f} s "
                  f"({r['docs_per_s']:7.1f} docs/s, {r['chars_per_s']:9,d} characters/s)")
        print(f"OpenSearch takes {result['opensearch_over_whoosh_time']}x the Whoosh time")
        print(json.dumps({k: result[k] for k in ("whoosh", "opensearch")}, indent=1))
        write_result(args.out, result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not args.keep_alias and client.indices.exists_alias(name=alias):
            for name in client.indices.get_alias(name=alias):
                client.indices.delete(index=name)


if __name__ == "__main__":
    main()
