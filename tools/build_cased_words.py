"""Regenerate search/data/cased_words.txt: jieba's mixed-case dictionary words.

The analysis lower-cases text *before* segmenting it (index and query alike),
but jieba's dictionary is case-sensitive: it knows ``A股``, ``B超``, ``C#``,
``T恤``, not ``a股``.  rjieba embeds exactly jieba 0.42.1's ``dict.txt`` (all
349,046 words; checked with ``has_word``) and cannot list it, so the 66
entries with an upper-case letter are copied here from that file, with
their frequency and tag, plus a few mixed-case news words jieba lacks
(``EXTRA``); ``search.segmenter`` adds their lower-cased forms.

Run (jieba's MIT-licensed source distribution from PyPI):

    pip download jieba==0.42.1 --no-deps -d /tmp/jieba && tar xzf /tmp/jieba/jieba-0.42.1.tar.gz -C /tmp/jieba
    python tools/build_cased_words.py /tmp/jieba/jieba-0.42.1/jieba/dict.txt
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "search", "data", "cased_words.txt")
# Mixed-case words of Chinese news that jieba's dictionary lacks (each cut
# apart by jieba today: 卡拉 + OK, K + 歌 ...).
EXTRA = ["卡拉OK 3 n", "K歌 3 v", "B站 3 n", "C位 3 n"]


def main(dict_path: str) -> None:
    rows = []
    with open(dict_path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if parts and any("A" <= ch <= "Z" for ch in parts[0]):
                rows.append(" ".join(parts))
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("# jieba 0.42.1 dict.txt entries with upper-case letters (tools/build_cased_words.py)\n")
        f.write("\n".join(rows) + "\n")
        f.write("# added for this project (tools/build_cased_words.py EXTRA)\n")
        f.write("\n".join(EXTRA) + "\n")
    print(f"{len(rows)} + {len(EXTRA)} words -> {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main(sys.argv[1])
