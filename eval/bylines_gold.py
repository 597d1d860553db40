"""Precision and recall of the byline extractor against hand labels.

    python -m eval.bylines_gold draw                 # the sample (done once; committed)
    python -m eval.bylines_gold score --out FILE     # the extractor against the labels
    python -m eval.bylines_gold score --out FILE --rules OLD.py   # another version of indexer/bylines.py
                                                     # (git show efdd8c4:indexer/bylines.py > OLD.py: the before-run)

**The sample** (``eval/data/bylines_sample.json``, ids only, never text):
both full corpora, each split into three strata on the validated record:

* ``plain``: no byline cue anywhere (``CUES``: 记者 記者 通讯员 通訊員 文／
  文/ 电（ 電（ 撰文 撰稿 编辑： 編輯： 摄影 攝影 报道）); a rule can only err here;
* ``cue_shaped``: a cue, and a head/tail paragraph (3 each) shaped like a
  credit (``SHAPE``: a label opening the paragraph such as 【撰文： 記者： 主筆 |,
  an editor line, a 电（记者 dateline, or a broadcaster's stand-up line
  anywhere) -- where bylines live, so recall is measured where there is
  something to find;
* ``cue_other``: a cue but no credit shape (记者从…获悉, 記者會 ...).

A record's rank is ``sha256(seed, id)``.  The first draw took the 100
smallest ranks of the cue records and the 50 smallest of the plain ones per
corpus (300 in all); the cue stratum was then split as above and
``cue_shaped`` topped up to its 60 smallest ranks per corpus (92 more, 392 in
all).  Each stratum's part is its smallest ranks, so a uniform draw of it;
the stratum sizes are stored, and ``score`` reports the raw figures and the
figures weighted back to the corpora (a record weighs stratum size / records
drawn from it).  The shape test is broader than the extractor's rules, but
it selects by shape: the ``cue_shaped`` figures alone overstate recall.

**The labels** (``eval/data/bylines_labels.jsonl``, one line per drawn
record: ``id``, ``corpus``, ``credits`` = [{name, role, pen_name?}],
``note``) were made by reading each record's title, first and last
paragraphs and the paragraphs holding a cue -- not by running the extractor
-- and were committed before any rule changed.  Roles: ``reporter`` (记者,
stand-up reporters, 本报记者 … 报道), ``correspondent`` (通讯员), ``writer``
(文／, 撰文, 作者, 主筆 of the article itself), ``editor`` (责任编辑,
视频/文字编辑, 編輯), ``photographer`` (攝影 in a credit line), ``translator``.
A credit is a person the outlet names as having made the article.  Not
credits: people quoted or interviewed, other outlets' reporters quoted or
asking at a press conference, per-photo captions (某某攝 under one picture),
the author of a book under review, organisations, descriptions without a
name (公立醫院前線醫生).  Names are written as in the text (Traditional stays
Traditional).  Two kinds of credit are labelled but not scored, since the
extractor skips them by design (precision first): names in Latin script
(``Lewis Wong``) and pen names (``pen_name``: no surname, 粉末 小王子, or a
surname with an honorific only, 朱老師 吳君); both are listed under
``not_scored`` and count neither way (extracting such a name is no error;
``not_scored_extracted`` lists those extracted: two pen names with a
surname before, 吳君 and 華英人, one after, 華英人 (a surname with 君 now
reads as an honorific) -- counted as errors they would make the precision
137/139 = 0.986 before and 148/149 = 0.993 after).
One label was corrected after the first run (hkcnews-41987: a 實習記者：
line missed in the first reading, found by a second pass over every short
credit-like line of the sample); the correction is its own commit.

**The figures** (``score``), each for ``all`` credited roles (what fills
the author facet: ``Credits.authors``) and for ``authors`` only
(reporter, correspondent, writer; ``Credits.found`` filtered by role):

* per name, micro-averaged: TP = a (record, name) pair both extracted and
  labelled; precision = TP / extracted, recall = TP / labelled;
* per record: precision = records whose extracted names are all labelled /
  records with an extracted name; recall = records whose labelled names are
  all extracted / records with a labelled name; ``exact`` = records where
  both sets are equal (over all records);
* role agreement: of the true positives, how many carry the labelled role;
* per stratum, and the false positives and false negatives by id and name
  (no text).

**Results** (``eval/results/bylines-gold-before.json`` with the rules of
commit efdd8c4, ``-after.json`` with the report-line, 本报…电, slash/bar
label, title/descriptor and place-character rules of issue 16):

==========================================  ================  ================
per name, on the 392                        before P / R      after P / R
==========================================  ================  ================
all roles                                   1.000 / 0.926     1.000 / 1.000
authors only                                1.000 / 0.744     1.000 / 1.000
all roles, weighted to the corpora          1.000 / 0.770     1.000 / 1.000
per record                                  1.000 / 0.891     1.000 / 1.000
==========================================  ================  ================

The eleven misses before were all Citizen News credit lines: a job before
the name (註冊藥劑師劉某, 區議員何某, 專科吳某醫生), a title after it (師傅,
姑娘, 博士), an English name in parentheses, a place character inside a name
(黃鎮忠) and ``主筆 | 某某``.  The sample holds none of the issue's 本报…电,
本报记者 … 报道： or 通讯员 … 记者 … 报道 forms (neither corpus uses them);
those are covered by tests/test_bylines.py.  The after-figures are measured on
the sample that showed the misses: ``eval/results/bylines-rules-diff.json``
checks the new rules on unseen text (all names they add over both corpora,
a read sample of 60).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from bench.env import NEWS_FILES  # noqa: E402
from bench.measure import write_result  # noqa: E402
from eval.bylines import corpus_name  # noqa: E402
from indexer.bylines import AUTHOR_ROLES as _AUTHOR_ROLES, extract  # noqa: E402
from indexer.records import RecordError, to_article  # noqa: E402

DATA = os.path.join(HERE, "data")
SAMPLE_FILE = os.path.join(DATA, "bylines_sample.json")
LABELS_FILE = os.path.join(DATA, "bylines_labels.jsonl")
SEED = 20261130
PER_STRATUM = {"cue": 100, "plain": 50}  # records drawn per corpus and stratum (the first draw)
SHAPED = 60  # records per corpus in the credit-shaped part of the cue stratum (see draw)

CUES = re.compile(r"[记記]者|通[讯訊]员|通訊員|文\s*[／/]|[电電]\s*[（(]|撰文|撰稿|[编編][辑輯]\s*[：:]|[摄攝]影|[报報]道\s*[）)]")
# A credit-shaped paragraph: a label opening a head/tail paragraph (【撰文：…】,
# 記者 某某, 主筆 | 某某), an editor line, a dated wire/newspaper dateline, or a
# broadcaster's stand-up line anywhere.  Deliberately broader than the
# extractor's rules (any label, any name-like run), but it still selects by
# shape: figures on this part alone overstate recall, so they are reported per
# stratum and weighted.
_LABELS = r"撰文|撰稿|文|[圖图]|[攝摄]影|[編编][輯辑]|[视視][频頻][编編][辑輯]|文字[编編][辑輯]|[责責]任[编編][辑輯]|作者|[记記]者|通[讯訊]员|通訊員|主[笔筆]"
SHAPE = re.compile(
    rf"^[【\[（(]?\s*(?:{_LABELS})\s*[：:／/|｜]"
    rf"|[（(【]\s*(?:[视視][频頻]|文字|[责責]任)?[编編][辑輯]\s*[：:]"
    r"|^(?:本[报報台]|央[视視]|[总總]台)?[记記]者\s*[\u4e00-\u9fff]{2,4}\s*(?:[：:]|[报報]道|$)"
    r"|[电電讯訊]\s*[（(]\s*[记記]者")
STANDUP_SHAPE = re.compile(r"^(?:本台|央[视視]|[总總]台)[记記]者")


def shaped(body: str) -> bool:
    """Does a head/tail paragraph (3 each) look like a credit (``SHAPE``)?"""
    ps = [p.strip() for p in body.split("\n") if p.strip()]
    edge = ps[:3] + ps[-3:]
    return any(SHAPE.search(p) for p in edge) or any(STANDUP_SHAPE.match(p) for p in ps)


AUTHOR_ROLES = frozenset(_AUTHOR_ROLES)  # the roles that fill an article's author
ROLES = AUTHOR_ROLES | {"editor", "photographer", "translator", "contributor"}


def iter_articles(path: str):
    """Validated articles of one corpus file (invalid records skipped)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                try:
                    yield to_article(json.loads(line))
                except RecordError:
                    continue


def rank(seed: int, article_id: str) -> str:
    return hashlib.sha256(f"{seed}\t{article_id}".encode()).hexdigest()


def draw(seed: int = SEED) -> dict:
    """The stratified sample: {seed, per_stratum, corpora: {name: {strata: {s: {size, ids}}}}}.

    Per corpus: the ``PER_STRATUM`` smallest ranks of the cue and plain
    strata; then the cue stratum is split in two, ``cue_shaped`` (``shaped``)
    and ``cue_other``: the first draw's records fall in one or the other, and
    ``cue_shaped`` is topped up with the next smallest ranks to ``SHAPED``
    records.  Each part is then a uniform draw of its own stratum (the smallest
    ranks in it), so the figures can be weighted by stratum size."""
    out: dict = {"seed": seed, "per_stratum": PER_STRATUM, "shaped": SHAPED, "cues": CUES.pattern,
                 "shape": SHAPE.pattern, "corpora": {}}
    for path in NEWS_FILES:
        strata: dict[str, list[tuple[str, str]]] = {"cue_shaped": [], "cue_other": [], "plain": []}
        for a in iter_articles(path):
            if not CUES.search(f"{a.title}\n{a.body}"):
                strata["plain"].append((rank(seed, a.id), a.id))
            else:
                strata["cue_shaped" if shaped(a.body) else "cue_other"].append((rank(seed, a.id), a.id))
        cue_draw = set(i for _, i in sorted(strata["cue_shaped"] + strata["cue_other"])[: PER_STRATUM["cue"]])
        take = {"cue_other": [i for _, i in sorted(strata["cue_other"]) if i in cue_draw],
                "plain": [i for _, i in sorted(strata["plain"])[: PER_STRATUM["plain"]]]}
        first = [i for _, i in sorted(strata["cue_shaped"]) if i in cue_draw]
        take["cue_shaped"] = [i for _, i in sorted(strata["cue_shaped"])[: max(SHAPED, len(first))]]
        assert set(first) <= set(take["cue_shaped"])  # the first draw is a prefix of the ranks
        out["corpora"][corpus_name(path)] = {
            "strata": {s: {"size": len(items), "ids": take[s]} for s, items in strata.items()}}
    return out


def load_sample(path: str = SAMPLE_FILE) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_labels(path: str = LABELS_FILE) -> dict[str, dict]:
    labels = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                for c in row["credits"]:
                    if c["role"] not in ROLES:
                        raise ValueError(f"{row['id']}: unknown role {c['role']!r}")
                labels[row["id"]] = row
    return labels


def not_scored(credit: dict) -> str | None:
    """Why a labelled credit is left out of the figures (see module docstring)."""
    if re.search(r"[A-Za-z]", credit["name"]):
        return "latin_script"
    if credit.get("pen_name"):
        return "pen_name"
    return None


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def score(sample: dict, labels: dict[str, dict], articles: dict, extract=extract) -> dict:
    """Figures of ``extract`` over the sampled ``articles`` ({id: Article})."""
    weights = {}
    stratum_of = {}
    for corpus, c in sample["corpora"].items():
        for s, st in c["strata"].items():
            for i in st["ids"]:
                weights[i] = st["size"] / len(st["ids"])
                stratum_of[i] = f"{corpus}/{s}"
    missing = sorted(set(weights) - set(labels))
    if missing:
        raise ValueError(f"{len(missing)} drawn records have no label, e.g. {missing[:3]}")

    result: dict = {}
    latin = []
    latin_extracted = []
    for scope in ("all", "authors"):
        keep = (lambda r: True) if scope == "all" else (lambda r: r in AUTHOR_ROLES)
        t = {k: 0.0 for k in ("tp", "pred", "gold", "w_tp", "w_pred", "w_gold", "rec_pred", "rec_pred_ok",
                              "rec_gold", "rec_gold_ok", "exact", "role_ok")}
        by_group: dict[str, dict] = {}
        fps, fns = [], []
        for i, w in weights.items():
            credits = extract(articles[i].title, articles[i].body)
            skipped = {c["name"] for c in labels[i]["credits"] if not_scored(c)}
            if scope == "all":
                latin_extracted += [{"id": i, "name": n} for n in sorted(skipped & set(credits.authors))]
            pred_roles = {c.name: c.role for c in credits.found if keep(c.role) and c.name not in skipped}
            pred = set(pred_roles)
            gold_roles = {}
            for c in labels[i]["credits"]:
                why = not_scored(c)
                if why:
                    if scope == "all":
                        latin.append({"id": i, "name": c["name"], "role": c["role"], "why": why})
                    continue
                if keep(c["role"]):
                    gold_roles.setdefault(c["name"], c["role"])
            gold = set(gold_roles)
            tp = pred & gold
            g = by_group.setdefault(stratum_of[i], {"tp": 0, "pred": 0, "gold": 0, "records": 0})
            for key, v in (("tp", len(tp)), ("pred", len(pred)), ("gold", len(gold))):
                t[key] += v
                t["w_" + key] += v * w
                g[key] += v
            g["records"] += 1
            t["role_ok"] += sum(pred_roles[n] == gold_roles[n] for n in tp)
            if pred:
                t["rec_pred"] += 1
                t["rec_pred_ok"] += pred <= gold
            if gold:
                t["rec_gold"] += 1
                t["rec_gold_ok"] += gold <= pred
            t["exact"] += pred == gold
            fps += [{"id": i, "name": n, "role": pred_roles[n]} for n in sorted(pred - gold)]
            fns += [{"id": i, "name": n, "role": gold_roles[n]} for n in sorted(gold - pred)]
        result[scope] = {
            "per_name": {"true_positives": int(t["tp"]), "extracted": int(t["pred"]), "labelled": int(t["gold"]),
                         "precision": _ratio(t["tp"], t["pred"]), "recall": _ratio(t["tp"], t["gold"])},
            "per_name_weighted_to_corpora": {"precision": _ratio(t["w_tp"], t["w_pred"]),
                                             "recall": _ratio(t["w_tp"], t["w_gold"])},
            "per_record": {"precision": _ratio(t["rec_pred_ok"], t["rec_pred"]),
                           "records_with_extracted": int(t["rec_pred"]),
                           "recall": _ratio(t["rec_gold_ok"], t["rec_gold"]),
                           "records_with_labelled": int(t["rec_gold"]),
                           "exact": _ratio(t["exact"], len(weights))},
            "role_agreement": _ratio(t["role_ok"], t["tp"]),
            "per_stratum": {k: {**v, "precision": _ratio(v["tp"], v["pred"]), "recall": _ratio(v["tp"], v["gold"])}
                            for k, v in sorted(by_group.items())},
            "false_positives": fps,
            "false_negatives": fns,
        }
    result["not_scored"] = latin
    result["not_scored_extracted"] = latin_extracted
    return result


def sampled_articles(sample: dict) -> dict:
    wanted = {i for c in sample["corpora"].values() for st in c["strata"].values() for i in st["ids"]}
    found = {}
    for path in NEWS_FILES:
        for a in iter_articles(path):
            if a.id in wanted:
                found[a.id] = a
    return found


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("draw", help="draw the stratified sample (ids only)")
    d.add_argument("--seed", type=int, default=SEED)
    d.add_argument("--out", default=SAMPLE_FILE)
    s = sub.add_parser("score", help="precision and recall against the labels")
    s.add_argument("--out", required=True)
    s.add_argument("--rules", help="a bylines.py to score instead of indexer/bylines.py")
    args = ap.parse_args(argv)
    t0 = time.time()
    if args.command == "draw":
        result = draw(args.seed)
        write_result(args.out, result)
        for name, c in result["corpora"].items():
            print(name, {s: st["size"] for s, st in c["strata"].items()})
        return result
    sample = load_sample()
    rules = extract
    if args.rules:
        spec = importlib.util.spec_from_file_location("bylines_under_test", args.rules)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        rules = module.extract
    result = {"command": f"python -m eval.bylines_gold score --out {os.path.relpath(args.out, ROOT)}"
                         + (" --rules " + os.path.basename(args.rules) if args.rules else ""),
              "sample": {"seed": sample["seed"], "per_stratum": sample["per_stratum"],
                         "strata_sizes": {n: {s: st["size"] for s, st in c["strata"].items()}
                                          for n, c in sample["corpora"].items()}}}
    result.update(score(sample, load_labels(), sampled_articles(sample), rules))
    result["seconds"] = round(time.time() - t0, 1)
    write_result(args.out, result)
    for scope in ("all", "authors"):
        r = result[scope]
        print(f"{scope}: per name P {r['per_name']['precision']} R {r['per_name']['recall']} "
              f"({r['per_name']['true_positives']}/{r['per_name']['extracted']}/{r['per_name']['labelled']}); "
              f"weighted P {r['per_name_weighted_to_corpora']['precision']} "
              f"R {r['per_name_weighted_to_corpora']['recall']}; per record P {r['per_record']['precision']} "
              f"R {r['per_record']['recall']}")
    return result


if __name__ == "__main__":
    main()
