"""Regenerate search/data/regional_phrases.txt from OpenCC's own dictionaries.

OpenCC's ``tw2sp``/``hk2sp`` configurations rewrite Taiwan/Hong Kong
vocabulary to mainland vocabulary (軟體 -> 软件).  Applied to a mixed corpus
they are harmful: their keys include words that mainland text uses too
(建立 -> 创建, 核心 -> 内核, 文件 -> 文档, 尼日利亚 -> 尼日尔利亚 were all seen
on the CCTV sample).  We keep only entries whose key contains a
Traditional-only character and whose character-level Simplified form is not
a jieba dictionary word nor a compound of ordinary words (资料来源 is written
on both sides of the border, 資料來源 -> 数据源 would lose matches), plus a
short reviewed allow-list.

Run: python tools/build_regional_phrases.py
"""

import os
import subprocess
import tempfile

import opencc
import rjieba

ALLOW = {"網際網路": "互联网", "軟體": "软件"}
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "search", "data", "regional_phrases.txt")


def main() -> None:
    clib = os.path.join(os.path.dirname(opencc.__file__), "clib")
    t2s = opencc.OpenCC("t2s")
    entries: dict[str, str] = dict(ALLOW)
    for name in ("TWPhrasesRev", "HKPhrasesRev"):
        with tempfile.TemporaryDirectory() as tmp:
            txt = os.path.join(tmp, name + ".txt")
            subprocess.run(
                [os.path.join(clib, "bin", "opencc_dict"), "-i",
                 os.path.join(clib, "share", "opencc", name + ".ocd2"),
                 "-o", txt, "-f", "ocd2", "-t", "text"],
                check=True,
            )
            with open(txt, encoding="utf-8") as f:
                for line in f:
                    key, values = line.rstrip("\n").split("\t")
                    simple_key = t2s.convert(key)
                    target = t2s.convert(values.split(" ")[0])
                    if simple_key == key or simple_key == target:
                        continue
                    if rjieba.has_word(simple_key):
                        continue
                    # Made of two or more ordinary words (资料+来源): mainland
                    # text writes it too, so rewriting it would lose matches.
                    if sum(len(w) >= 2 for w in rjieba.cut(simple_key)) >= 2:
                        continue
                    entries.setdefault(key, target)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("".join(f"{k}\t{v}\n" for k, v in sorted(entries.items())))
    print(f"{len(entries)} entries -> {OUT}")


if __name__ == "__main__":
    main()
