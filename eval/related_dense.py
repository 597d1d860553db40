"""Related articles with vectors (issue 20): key terms alone against key
terms fused with the article's dense neighbours, on one embedded
tag-stripped index, same run.

    python -m eval.related_dense --index DIR [--records news-sample-2k.jsonl.gz]

``DIR``: an index of the records with their editor tags removed
(``eval.news.write_without_tags`` then ``python -m indexer build``), embedded
(``python -m indexer embed --index DIR``).  The figure is ``eval.news``'s:
the share of the top-5 slots filled by an article sharing a *specific* tag
(used by 2-100 articles of the FULL corpora: ``eval.news.related_sample``
over ``eval.news.load_records``) with the source, over every indexed
article having a specific tag (``eval.news.tag_share``).

The fusion's parameters (``search.related.RelatedFusion``: method, list
depth, dense weight) are chosen on the articles whose SHA-1(id) first
byte is odd ("train", ``eval.crosslingual.half_of``) and reported on the
even ones ("heldout").  The grid is fused offline from each article's
lists read once at the deepest depth (``search.related.fuse`` and the
same exclusions as ``related``); the chosen setting and key terms alone
are then measured again through ``search.related.related`` itself (the
offline and the real lists must agree: "mismatches").  Story coverage:
items per article and their share sharing a specific tag, key terms
alone against min-max fusion at ``RELATED_FUSION``'s depth, its dense weight chosen
on the same half (the most tag-sharing items per article at a share no
lower than key terms').

Writes eval/results/related_dense.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from eval.crosslingual import half_of  # noqa: E402
from eval.news import related_sample, tag_share  # noqa: E402
from bench.env import CORPUS, NEWS_FILES  # noqa: E402
from bench.measure import write_result  # noqa: E402

METHODS = ("rrf", "minmax")
DEPTHS = (20, 50, 100)
WEIGHTS = (0.5, 1.0, 2.0)
COVERAGE_WEIGHTS = (0.25, 0.5, 1.0)


def tag_records() -> list[dict]:
    """{"id", "tags"} of every record of the full corpora (``NEWS_FILES``):
    what ``related_sample`` reads, without holding every body."""
    out = []
    for path in NEWS_FILES:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    out.append({"id": r["id"], "tags": r.get("tags") or []})
    return out


def lists_of(backend, doc_id: str, depth: int, stories):
    """(the Story, key-term hits [(id, score)], dense [(id, cosine)], stored
    fields by id) of ``doc_id``, each list ``depth`` deep under
    ``related``'s exclusions."""
    from search.hybrid import DenseQuery
    from search.plan import Plan

    found = stories.story(backend, doc_id)
    base = found.plan or Plan(exclude_docs=found.exclusions(), relax_below=0)
    lexical = backend.execute(dataclasses.replace(base, limit=depth)).hits if found.plan else []
    vector, model = found.vector
    dense = backend.dense_candidates(DenseQuery(vector, model, "hybrid", extra=False), depth, base)
    stored = {h.stored["id"]: h.stored for h in lexical}
    stored.update(backend.get_many([d for d, _ in dense if d not in stored]))
    return found, [(h.stored["id"], h.score) for h in lexical], dense, stored


def offline(found, lexical, dense, stored, fusion, stories, size: int = 5) -> list[str]:
    """``related``'s list from lists read beforehand (``fusion`` None: key terms alone)."""
    from search.plan import BackendHit

    if fusion is None:
        fused = lexical
    else:
        fused = stories.fuse(lexical[:fusion.depth], dense[:fusion.depth], fusion)
    fused = fused[:size + stories.RELATED_MAX_SPARE]
    hits = [BackendHit(None, s, stored[d]) for d, s in fused]
    return [h.id for h in stories._other_stories(found.stored, hits, size)]


def run(index: str, records_path: str) -> dict:
    from search import related as stories
    from search.engine import SearchEngine

    t0 = time.perf_counter()
    _, specific = related_sample(tag_records(), 0, random.Random(0))
    with gzip.open(records_path, "rt", encoding="utf-8") as f:
        ids = [json.loads(line)["id"] for line in f if line.strip()]
    engine = SearchEngine.open(index, refresh_interval=3600)
    backend = engine.backend
    chosen_ids = [d for d in ids if specific.get(d) and backend.get(d) is not None]
    halves = {h: [d for d in chosen_ids if half_of(d) == h] for h in ("train", "heldout")}
    no_vector = [d for d in chosen_ids if backend.article_vector(d) is None]
    if no_vector:
        raise SystemExit(f"{len(no_vector)} articles have no vector: run python -m indexer embed --index {index}")
    read = {d: lists_of(backend, d, max(DEPTHS), stories) for d in chosen_ids}

    def share(fusion, half):
        return tag_share({d: offline(*read[d], fusion, stories) for d in halves[half]}, specific)

    grid = []
    for method in METHODS:
        for depth in DEPTHS:
            for weight in WEIGHTS:
                fusion = stories.RelatedFusion(method, depth, weight)
                grid.append({"method": method, "depth": depth, "dense_weight": weight,
                             "train": round(share(fusion, "train"), 4)})
    best = max(grid, key=lambda r: (r["train"], r["method"] == "rrf", -r["depth"], r["dense_weight"] == 1.0))
    best_fusion = stories.RelatedFusion(best["method"], best["depth"], best["dense_weight"])
    dense_only = stories.RelatedFusion("rrf", max(DEPTHS), 1e6)  # the dense ranking decides alone

    # The real code path: related() itself, key terms alone and fused.
    real, mismatches = {"key terms": {}, "fused (chosen)": {}, "fused (shipped)": {}}, 0
    for d in chosen_ids:
        real["key terms"][d] = [h.id for h in stories.related(backend, d, 5, fusion=None)]
        real["fused (chosen)"][d] = [h.id for h in stories.related(backend, d, 5, fusion=best_fusion)]
        real["fused (shipped)"][d] = [h.id for h in stories.related(backend, d, 5)]
        mismatches += real["key terms"][d] != offline(*read[d], None, stories)
        mismatches += real["fused (chosen)"][d] != offline(*read[d], best_fusion, stories)
        for h in real["fused (shipped)"][d]:
            if h == d or h in {c["id"] for c in read[d][0].copies}:
                raise AssertionError(f"{d}: related list holds itself or a near-duplicate ({h})")
    figures = {}
    for name, lists in real.items():
        figures[name] = {half: round(tag_share({d: lists[d] for d in halves[half]}, specific), 4)
                         for half in ("train", "heldout")}
        figures[name]["all"] = round(tag_share(lists, specific), 4)
    figures["dense only"] = {half: round(share(dense_only, half), 4) for half in ("train", "heldout")}

    def covered(fusion, half):
        items = shared = 0
        for d in halves[half]:
            c = stories.coverage(backend, d, 10, fusion=fusion)
            got = [b["id"] for b in c["earlier"] + c["later"]]
            items += len(got)
            shared += sum(bool(specific[d] & specific.get(o, set())) for o in got)
        n = len(halves[half])
        return {"items_per_article": round(items / n, 2), "tagged_items_per_article": round(shared / n, 3),
                "share_sharing_a_specific_tag": round(shared / items, 4) if items else 0.0}

    # Coverage: minmax at the shipped related list's depth; the dense weight with the
    # most tag-sharing items per article whose share is no lower than key
    # terms' alone (train half); none such: the highest share.
    base_cover = covered(None, "train")
    cover_grid = []
    for weight in COVERAGE_WEIGHTS:
        row = covered(stories.RelatedFusion("minmax", stories.RELATED_FUSION.depth, weight), "train")
        cover_grid.append({"dense_weight": weight, **row})
    fair = [r for r in cover_grid if r["share_sharing_a_specific_tag"] >= base_cover["share_sharing_a_specific_tag"]]
    pick = (max(fair, key=lambda r: r["tagged_items_per_article"]) if fair
            else max(cover_grid, key=lambda r: r["share_sharing_a_specific_tag"]))
    cover_fusion = stories.RelatedFusion("minmax", stories.RELATED_FUSION.depth, pick["dense_weight"])
    cover = {"chosen_on_train": pick, "grid": cover_grid, "shipped": dataclasses.asdict(stories.COVERAGE_FUSION)}
    for name, fusion in (("key terms", None), ("fused (chosen)", cover_fusion)):
        cover[name] = {half: covered(fusion, half) for half in ("train", "heldout")}
    engine.backend.close()
    return {"index": os.path.basename(os.path.normpath(index)), "documents": backend.doc_count(),
            "articles": len(chosen_ids), "train": len(halves["train"]), "heldout": len(halves["heldout"]),
            "chosen_on_train": best, "shipped": dataclasses.asdict(stories.RELATED_FUSION),
            "top5_tag_share": figures, "offline_vs_related_mismatches": mismatches,
            "grid": grid, "coverage": cover, "seconds": round(time.perf_counter() - t0, 1),
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def print_table(result: dict) -> None:
    print(f"related top-5 specific-tag share, {result['articles']} articles "
          f"({result['train']} train / {result['heldout']} held out), {result['documents']} indexed")
    for name, v in result["top5_tag_share"].items():
        print(f"  {name:16} train {v['train']:.3f}  held-out {v['heldout']:.3f}")
    print(f"chosen on train: {result['chosen_on_train']}")
    print(f"offline vs related() mismatches: {result['offline_vs_related_mismatches']}")
    cover = result["coverage"]
    print(f"coverage: chosen on train {cover['chosen_on_train']}")
    for name in ("key terms", "fused (chosen)"):
        for half, c in cover[name].items():
            print(f"  {name:15} {half:8} items/article {c['items_per_article']}  sharing a tag "
                  f"{c['share_sharing_a_specific_tag']}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--records", default=os.path.join(CORPUS, "news-sample-2k.jsonl.gz"))
    ap.add_argument("--out", default=os.path.join(HERE, "results", "related_dense.json"))
    args = ap.parse_args(argv)
    result = run(args.index, args.records)
    print_table(result)
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
