"""Regenerate search/data/regional_variants.txt: the regional vocabulary that
queries search as alternatives (search/regional.py), never a rewrite of
indexed text.

Sources
-------
1. OpenCC's own regional phrase tables, as shipped with the ``opencc``
   package: ``TWPhrases``/``TWPhrasesRev`` (mainland <-> Taiwan words:
   软件/軟體, 互联网/網際網路) and ``HKPhrases``/``HKPhrasesRev`` (mainland
   <-> Hong Kong: mostly transliterated names, 北卡罗来纳/北卡羅萊納).  The
   variant tables (``TWVariants``, ``HKVariants``, ``*VariantsPhrases``)
   are not used: they map characters of one word written differently
   (裏/裡, 着/著), plain script differences that the Traditional ->
   Simplified character conversion already folds.
2. ``HAND`` below: transliterated names and terms that differ by region,
   taken from the two corpora and checked against them (each form's counts
   are printed and written next to the entry).

Every form is written as the index holds it after Traditional -> Simplified
*character* conversion: compatibility fold, OpenCC ``t2s``, lower case
(``search.normalize.fold_chars``/``fold_case`` around OpenCC's ``t2s``; not
``normalize_query``, which also rewrites some regional phrases into
mainland words).

Which OpenCC entries are kept
-----------------------------
* The two forms differ after that conversion (otherwise only the script
  differs, and conversion already makes them one word).
* The regional form is not mainland vocabulary.  OpenCC's Taiwan table maps
  words that mainland text uses in another sense (its ``tw2sp`` rewrote
  CCTV text: 建立 -> 创建, 核心 -> 内核, 文件 -> 文档), so each regional
  form is counted as a whole word (starting and ending at jieba's word
  boundaries, as alternatives are matched) in the mainland corpus, CCTV's
  新闻联播 (news-xwlb, 74,545 items): an entry is dropped when its
  regional form is in more than ``MAX_MAINLAND_ARTICLES`` of them or in
  more than ``MAX_MAINLAND_SHARE`` of the number its mainland form is in
  (软体 alone is in 5 articles against 软件's 350, and stays: mainland
  text writes "soft-bodied" 软体动物, one word; 文件 is in thousands).
* Not in ``EXCLUDE``: entries reviewed by hand among those whose mainland
  form is in the most articles (where an alternative would add the most
  wrong matches): the mainland word has a general sense the regional word
  lacks (程序 is also a procedure, 消息 the news, 地址 a street address).
  The counts cannot tell these apart, so they are listed with the reason.

Output: one group of forms per line, TAB-separated, regional form(s) first
and the mainland form last; every form of a line is an alternative of the
others (lines are not chained).  ``#`` starts a comment.

Run: python tools/build_regional_variants.py [--corpus DIR] (about two
minutes on two cores: it segments both corpora once).
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

OUT = os.path.join(ROOT, "search", "data", "regional_variants.txt")
DEFAULT_CORPUS = os.path.join(os.path.dirname(ROOT), "shared", "corpus")
MAINLAND, REGIONAL = "news-xwlb.jsonl.gz", "news-hkcnews.jsonl.gz"
OPENCC_TABLES = ("TWPhrases", "TWPhrasesRev", "HKPhrases", "HKPhrasesRev")  # *Rev: regional -> mainland
# A regional form used as a word in more CCTV articles than both of these
# is mainland vocabulary (in its own sense), not a regional word.  Set from
# the counts the tool prints (--report): quotes and names put a regional
# word into a few CCTV items (软体 5 of 350 for 软件, 网路 2), mainland words
# are in many more (截图 10 against 截屏's 2, 使用者 16 against 用户's 717).
MAX_MAINLAND_ARTICLES = 2
MAX_MAINLAND_SHARE = 0.02

# OpenCC entries left out after review: (mainland, regional) -> why.  The
# mainland word has a general sense that the regional (mostly computing)
# term lacks, so searching it for the regional word would add unrelated
# articles by the thousand.
EXCLUDE: dict[tuple[str, str], str] = {
    ("消息", "讯息"): "消息 is also 'news' (央视网消息 opens every CCTV item)",
    ("发布", "释出"): "发布 is any announcement",
    ("项目", "专案"): "项目 is any item, event or programme",
    ("访问", "存取"): "访问 is a visit",
    ("数字", "数位"): "数字 is a number",
    ("社区", "社群"): "社区 is a neighbourhood (Hong Kong text uses both)",
    ("程序", "程式"): "程序 is a procedure (法律程序)",
    ("高级", "进阶"): "高级 is senior, high-ranking",
    ("高级", "高阶"): "高级 is senior, high-ranking",
    ("高端", "进阶"): "高端 is high-end",
    ("高端", "高阶"): "高端 is high-end",
    ("全局", "全域性"): "全局 is the overall situation",
    ("循环", "回圈"): "循环 is any cycle (循环经济)",
    ("类型", "型别"): "类型 is any kind",
    ("集群", "丛集"): "集群 is an industrial cluster (产业集群)",
    ("调度", "排程"): "调度 is dispatching",
    ("窗口", "视窗"): "窗口 is a window, a service counter",
    ("扩展", "扩充套件"): "扩展 is any expansion",
    ("地址", "位址"): "地址 is a street address",
    ("审核", "稽核"): "审核 is any review",
    ("模拟", "类比"): "类比 is an analogy",
    ("分区", "分割槽"): "分区 is a district, zoning",
    ("权限", "许可权"): "权限 is authority",
    ("刷新", "重新整理"): "刷新 is also breaking a record (刷新纪录)",
    ("参数", "引数"): "参数 is any parameter",
    ("抛出", "丢掷"): "抛出 is throwing out, putting forward",
    ("低级", "低阶"): "低级 is low-grade",
    ("布尔", "布林"): "布林 is also a name (谢尔盖·布林)",
    ("菜单", "选单"): "菜单 is a restaurant menu",
    ("宏", "巨集"): "宏 alone is a name character",
    ("回调", "回拨"): "回调 is also a price pullback",
    ("奔驰", "宾士"): "奔驰 is also to gallop",
    ("汇编", "组译"): "汇编 is a compilation of documents",
}

# Hand-maintained: (mainland form, regional form(s)), in Simplified characters.
# Transliterated names and terms whose forms differ by region, each form
# found in the corpora (the tool refuses one that is in neither; its counts
# are written next to the entry).  Mainland text may use a regional form in
# the same sense (的士, 澳洲): reviewed here, so no count threshold applies.
HAND: list[tuple[str, tuple[str, ...]]] = [
    ("特朗普", ("川普",)),
    ("奥巴马", ("欧巴马",)),
    ("普京", ("普丁",)),
    ("悉尼", ("雪梨",)),
    ("新西兰", ("纽西兰",)),
    ("布什", ("布殊", "布希")),
    ("希拉里", ("希拉莉", "希拉蕊")),
    ("默克尔", ("梅克尔",)),
    ("约翰逊", ("强森",)),
    ("特蕾莎·梅", ("文翠珊",)),
    ("佩洛西", ("裴洛西",)),
    ("昂山素季", ("翁山苏姬",)),
    ("特鲁多", ("杜鲁多",)),
    ("戈尔巴乔夫", ("戈巴契夫",)),
    ("卡梅伦", ("卡麦隆",)),
    ("查尔斯", ("查理斯",)),
    ("伊丽莎白", ("伊利沙伯",)),
    ("穆加贝", ("穆加比",)),
    ("乔布斯", ("贾伯斯",)),
    ("朝鲜", ("北韩",)),
    ("澳大利亚", ("澳洲",)),
    ("新加坡", ("星加坡",)),
    ("旧金山", ("三藩市",)),
    ("布里斯班", ("布里斯本",)),
    ("迪拜", ("杜拜",)),
    ("硅谷", ("矽谷",)),
    ("脸书", ("面书",)),
    ("出租车", ("的士", "计程车")),
    ("质量", ("质素",)),
]


def index_form(text: str, _conv={}) -> str:
    """Text as the index holds it after character conversion (see above)."""
    import opencc

    from search.normalize import fold_case, fold_chars

    conv = _conv.get("t2s")
    if conv is None:
        conv = _conv["t2s"] = opencc.OpenCC("t2s")
    return fold_case(conv.convert(fold_chars(text)))


def opencc_pairs() -> list[tuple[str, str, str]]:
    """(mainland, regional, table) from OpenCC's regional phrase tables, in
    index form; entries whose forms are equal after conversion dropped."""
    import opencc

    clib = os.path.join(os.path.dirname(opencc.__file__), "clib")
    pairs: dict[tuple[str, str], str] = {}
    for name in OPENCC_TABLES:
        with tempfile.TemporaryDirectory() as tmp:
            txt = os.path.join(tmp, name + ".txt")
            subprocess.run([os.path.join(clib, "bin", "opencc_dict"), "-i",
                            os.path.join(clib, "share", "opencc", name + ".ocd2"), "-o", txt, "-f", "ocd2",
                            "-t", "text"], check=True)
            with open(txt, encoding="utf-8") as f:
                for line in f:
                    key, values = line.rstrip("\n").split("\t")
                    for value in values.split(" "):
                        mainland, regional = (value, key) if name.endswith("Rev") else (key, value)
                        m, r = index_form(mainland), index_form(regional)
                        if m != r:
                            pairs.setdefault((m, r), name)
    return [(m, r, name) for (m, r), name in sorted(pairs.items())]


# ---- counting in the corpora ----------------------------------------------------
_FORMS: frozenset = frozenset()
_PREFIXES: frozenset = frozenset()
_ANYWHERE: tuple = ()


def _init(forms, anywhere) -> None:
    global _FORMS, _PREFIXES, _ANYWHERE
    _FORMS = frozenset(forms)
    _PREFIXES = frozenset(f[:i] for f in forms for i in range(1, len(f) + 1))
    _ANYWHERE = tuple(anywhere)


def _count_batch(lines: list[str]) -> tuple[Counter, Counter]:
    """(articles using each form as whole words, i.e. starting and ending
    at jieba word boundaries; articles containing each ``_ANYWHERE`` form
    anywhere)."""
    import rjieba

    whole, anywhere = Counter(), Counter()
    for line in lines:
        rec = json.loads(line)
        text = index_form((rec.get("title") or "") + "\n" + (rec.get("body") or ""))
        tokens = rjieba.cut(text)
        found = set()
        for i in range(len(tokens)):
            s, j = tokens[i], i
            while s in _PREFIXES:
                if s in _FORMS:
                    found.add(s)
                j += 1
                if j == len(tokens):
                    break
                s += tokens[j]
        whole.update(found)
        anywhere.update(f for f in _ANYWHERE if f in text)
    return whole, anywhere


def count_articles(path: str, forms: set[str], anywhere_forms: set[str], workers: int = 2):
    """Articles of ``path`` (JSON Lines, gzip) using each of ``forms`` as
    whole words, and containing each of ``anywhere_forms`` at all:
    (Counter, Counter)."""
    whole, anywhere = Counter(), Counter()
    with gzip.open(path, "rt", encoding="utf-8") as f, \
            multiprocessing.Pool(workers, initializer=_init, initargs=(sorted(forms), sorted(anywhere_forms))) as pool:
        for w, a in pool.imap_unordered(_count_batch, _batches(f, 400)):
            whole.update(w)
            anywhere.update(a)
    return whole, anywhere


def _batches(f, n: int):
    batch = []
    for line in f:
        if line.strip():
            batch.append(line)
            if len(batch) == n:
                yield batch
                batch = []
    if batch:
        yield batch


# ---- the table -------------------------------------------------------------------
def _evidence(forms, counts) -> str:
    """'xwlb: 特朗普 3,105/3,107, 川普 0/0; hkcnews: ...' (whole words/anywhere)."""
    parts = []
    for label, (whole, anywhere) in counts.items():
        parts.append(f"{label}: " + ", ".join(f"{f} {whole[f]:,}/{anywhere[f]:,}" for f in forms))
    return "; ".join(parts)


def build(corpus: str, workers: int, report: bool) -> list[str]:
    pairs = opencc_pairs()
    hand = [(index_form(m), tuple(index_form(r) for r in rs)) for m, rs in HAND]
    hand_forms = {f for m, rs in hand for f in (m, *rs)}
    forms = {f for m, r, _ in pairs for f in (m, r)} | hand_forms
    counts = {}
    for label, name in (("xwlb", MAINLAND), ("hkcnews", REGIONAL)):
        counts[label] = count_articles(os.path.join(corpus, name), forms, hand_forms, workers)
    mainland_whole = counts["xwlb"][0]
    kept, dropped = [], []
    for m, r, table in pairs:
        limit = max(MAX_MAINLAND_ARTICLES, MAX_MAINLAND_SHARE * mainland_whole[m])
        if mainland_whole[r] > limit:
            dropped.append((m, r, table, f"{r} a word in {mainland_whole[r]:,} CCTV articles ({m}: "
                                         f"{mainland_whole[m]:,})"))
        elif (m, r) in EXCLUDE:
            dropped.append((m, r, table, "excluded: " + EXCLUDE[(m, r)]))
        else:
            kept.append((m, r, table))
    unused = set(EXCLUDE) - {(m, r) for m, r, _, why in dropped if why.startswith("excluded")}
    if report:
        for m, r, table, why in dropped:
            print(f"dropped ({table}) {r} -> {m}: {why}")
    problems = [f"EXCLUDE {m}/{r}: no such entry left to exclude" for m, r in sorted(unused)]
    for m, rs in hand:
        for f in (m, *rs):
            if not any(counts[c][1][f] for c in counts):
                problems.append(f"{' / '.join((*rs, m))}: {f} is in neither corpus")
    if problems:
        raise SystemExit("hand-maintained entries to fix:\n  " + "\n  ".join(problems))
    hand_pairs = {(m, r) for m, rs in hand for r in rs}
    version = _opencc_version()
    lines = [
        "# Regional vocabulary: query-side alternatives (search/regional.py), never a rewrite of indexed text.",
        "# Generated by tools/build_regional_variants.py: do not edit; edit HAND there and re-run it.",
        "# One group per line, TAB-separated: regional form(s) first, the mainland form last, in Simplified",
        "# characters and lower case as the index holds them.  Every form of a line is an alternative of the",
        "# others; lines are not chained.",
        f"# From OpenCC {version} ({', '.join(OPENCC_TABLES)}): {len(kept)} of the {len(pairs)} entries that",
        "# differ after character conversion; left out: regional forms that mainland (CCTV) text uses as words",
        "# (文件, 建立, 核心 ...), and the entries EXCLUDE in the tool lists with its reasons.",
    ]
    lines += [f"{r}\t{m}" for m, r, _ in kept if (m, r) not in hand_pairs]
    lines += ["# Hand-maintained (HAND in the tool): articles with each form as whole words / anywhere,",
              "# in CCTV 新闻联播 (xwlb, mainland) and 眾新聞 (hkcnews, Hong Kong)."]
    for m, rs in hand:
        lines.append("\t".join((*rs, m)) + "\t# " + _evidence((m, *rs), counts))
    if report:
        print(f"{len(pairs)} OpenCC entries differ after conversion; kept {len(kept)}, dropped {len(dropped)}")
        for m, rs in hand:
            print("hand:", " / ".join((*rs, m)), "--", _evidence((m, *rs), counts))
    return lines


def _opencc_version() -> str:
    from importlib.metadata import version

    return version("opencc")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=os.environ.get("NEWS_CORPUS", DEFAULT_CORPUS),
                    help="directory holding news-xwlb.jsonl.gz and news-hkcnews.jsonl.gz")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--report", action="store_true", help="print every dropped entry and the hand entries' counts")
    args = ap.parse_args(argv)
    lines = build(args.corpus, args.workers, args.report)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{sum(not line.startswith('#') for line in lines)} groups -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
