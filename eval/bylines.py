"""How much the byline extractor (``indexer/bylines.py``) adds, and a sample
to check its precision by reading.

    python -m eval.bylines [--sample 150] [--seed 20261126]

Runs ``extract`` / ``enrich`` over both full news corpora, each record first
validated by the indexer (``indexer.records.to_article``), and writes
``eval/results/bylines.json``: records seen per corpus, records that gained
an author or a source (the record had none), distinct names, counts per
pattern kind and role, and how often the names agree with an author the
record already carries (hkcnews).

The sample is a seeded random draw of extracted names (one entry per record
and name, uniform over all of them), listing record id, name, pattern kind
and role -- never article text.  Each (record, name) gets a seeded hash and
the smallest hashes are drawn, so a code change that adds or drops a few
names leaves the rest of the sample (and its verdicts) in place.  The verdicts of the manual check (a person
reads each name in its context and judges it) are stored under
``manual_check`` (and earlier rounds under ``manual_check_round*``); a
re-run keeps them and reports which judged names the extractor no longer
produces (``stale``), so a code change cannot silently invalidate them.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from bench.env import NEWS_FILES  # noqa: E402
from bench.measure import write_result  # noqa: E402
from indexer.bylines import enrich, extract  # noqa: E402
from indexer.records import RecordError, to_article  # noqa: E402

RESULT = os.path.join(HERE, "results", "bylines.json")
SEED = 20261127  # round 1 of the manual check used 20261126
SAMPLE = 150


def corpus_name(path: str) -> str:
    return os.path.basename(path).removeprefix("news-").split(".")[0]


def iter_records(path: str):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def run_corpus(path: str):
    """Figures for one corpus, and every extracted (id, name, kind, role)."""
    seen = invalid = with_credit = gained_author = gained_source = kept_author = 0
    agree = with_author_and_names = 0
    datelines = 0
    kinds: Counter = Counter()
    roles: Counter = Counter()
    names: Counter = Counter()
    found = []
    for data in iter_records(path):
        seen += 1
        try:
            article = to_article(data)
        except RecordError:
            invalid += 1
            continue
        credits = extract(article.title, article.body)
        enriched = enrich(article, credits)
        datelines += credits.dateline is not None
        if credits.found:
            with_credit += 1
        if enriched.author != article.author:
            gained_author += 1
        if enriched.source != article.source:
            gained_source += 1
        if article.author and credits.authors:
            kept_author += enriched.author == article.author
            with_author_and_names += 1
            agree += any(n in article.author for n in credits.authors)
        for c in credits.found:
            kinds[c.kind] += 1
            roles[c.role] += 1
            names[c.name] += 1
            found.append({"id": article.id, "name": c.name, "kind": c.kind, "role": c.role,
                          "names": list(credits.authors)})
    figures = {
        "records": seen,
        "invalid_records": invalid,
        "records_with_credits": with_credit,
        "gained_author": gained_author,
        "gained_source": gained_source,
        "records_with_dateline": datelines,
        "had_author_and_names": with_author_and_names,
        "had_author_kept": kept_author,
        "names_agree_with_record_author": agree,
        "names_extracted": sum(names.values()),
        "distinct_names": len(names),
        "per_kind": dict(kinds.most_common()),
        "per_role": dict(roles.most_common()),
        "top_names": dict(names.most_common(15)),
    }
    return figures, found


def draw_key(seed: int, found: dict) -> str:
    """Seeded, order-free rank of one extracted name (see module docstring)."""
    return hashlib.sha256(f"{seed}\t{found['id']}\t{found['name']}".encode()).hexdigest()


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", type=int, default=SAMPLE, help="names to draw for the manual check")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", default=RESULT)
    args = ap.parse_args(argv)

    t0 = time.time()
    result: dict = {"command": f"python -m eval.bylines --sample {args.sample} --seed {args.seed}",
                    "corpora": {}}
    everything = []
    all_names: set[str] = set()
    for path in NEWS_FILES:
        name = corpus_name(path)
        figures, found = run_corpus(path)
        result["corpora"][name] = figures
        for f in found:
            f["corpus"] = name
        everything.extend(found)
        all_names.update(f["name"] for f in found)
        print(f"{name}: {figures['records']} records, {figures['gained_author']} gained an author, "
              f"{figures['gained_source']} a source, {figures['distinct_names']} distinct names, "
              f"kinds {figures['per_kind']}")
    result["distinct_names_total"] = len(all_names)
    drawn = sorted(everything, key=lambda f: draw_key(args.seed, f))[: args.sample]
    result["sample"] = {
        "seed": args.seed,
        "size": len(drawn),
        "drawn_from": len(everything),
        "items": [{k: f[k] for k in ("corpus", "id", "name", "kind", "role", "names")} for f in drawn],
    }
    result["seconds"] = round(time.time() - t0, 1)

    # Keep the verdicts of earlier manual checks; flag the ones that went stale.
    if os.path.exists(args.out):
        with open(args.out, encoding="utf-8") as f:
            previous = json.load(f)
        current = {(f["id"], f["name"]) for f in everything}
        for key, check in previous.items():
            if key.startswith("manual_check") and isinstance(check, dict):
                if "judged" in check:
                    check["stale"] = [j for j in check["judged"] if (j["id"], j["name"]) not in current]
                result[key] = check
    write_result(args.out, result)
    print(f"distinct names over both corpora: {len(all_names)}; sample of {len(drawn)} "
          f"(seed {args.seed}) written to {os.path.relpath(args.out, ROOT)}")
    for key in sorted(k for k in result if k.startswith("manual_check") and "judged" in result[k]):
        c = result[key]
        print(f"{key}: {c.get('correct')}/{c.get('checked')} correct, precision {c.get('precision')}, "
              f"stale {len(c.get('stale', []))}")
    return result


if __name__ == "__main__":
    main()
