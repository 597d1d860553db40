"""Build the frozen set of imperfect reader queries (issue 5): 100 pinyin
and 100 misspelled queries, each aimed at one real article.

    python -m eval.make_reader_queries      # writes eval/reader_queries.jsonl (committed; do not regenerate)

How (seeded, from the two news corpora):

1. Articles whose headline occurs once in the corpora, in random order.
2. The headline, converted to Simplified, is segmented with jieba;
   candidate words are 2-4 Chinese characters, not function words, and
   dictionary words (also produced by jieba without its HMM for unknown
   words, which invents fragments such as 薛祥 from 丁薛祥).  The two
   rarest (fewest headlines containing them) are the *clean query*, in
   headline order and in the headline's own script.  Headlines with fewer
   than two candidates (or whose conversion changes their length) are
   skipped.
3. Pinyin queries (pypinyin, toneless, syllables of a word joined, words
   separated by a space; Traditional headlines too):
   * 60 both words in pinyin (``xianggang xuanju``);
   * 25 mixed: one word in Chinese, the other in pinyin (``香港 xuanju``);
   * 15 both in pinyin with one typing slip in one word (two neighbouring
     letters swapped, or one letter dropped: ``xianggagn``).
4. Misspelled queries:
   * 85 homophone slips, as a pinyin input method makes them: one character
     of one word replaced by another character with the same toneless
     pinyin, drawn from characters that occur in at least 50 headlines
     (so a reader's input method would offer it), never a mere
     Traditional/Simplified variant of the same character;
   * 15 dropped characters: one inner character of a 3-4 character word
     left out (``残疾人`` -> ``残人``).
   A slip that happens to produce another real word of the headline's
   candidates is redrawn.

Each line: ``{"kind", "variant", "query", "clean", "target"}``.  The set is
built before the helpers it measures, and must not change afterwards.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import sys
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from bench.env import NEWS_FILES  # noqa: E402

OUT = os.path.join(HERE, "reader_queries.jsonl")
SEED = 5120261126
CJK_WORD = re.compile(r"^[\u4e00-\u9fff]{2,4}$")
PINYIN_PLAN = [("full", 60), ("mixed", 25), ("slip", 15)]
MISSPELL_PLAN = [("homophone", 85), ("dropped", 15)]


def load_titles():
    out = []
    for path in NEWS_FILES:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                out.append((r["id"], r["title"].strip()))
    return out


def syllables(word: str) -> list[str]:
    from pypinyin import Style, lazy_pinyin

    return lazy_pinyin(word, style=Style.NORMAL, errors="ignore")


def pinyin_slip(py: str, rng: random.Random) -> str:
    if len(py) >= 4 and rng.random() < 0.5:
        i = rng.randrange(1, len(py) - 1)
        return py[:i] + py[i + 1] + py[i] + py[i + 2:]
    i = rng.randrange(1, len(py))
    return py[:i] + py[i + 1:]


def main() -> int:
    from search.compiler import FUNCTION_WORDS
    from search.normalize import to_simplified
    from search.segmenter import get_segmenter

    rng = random.Random(SEED)
    titles = load_titles()
    counts = Counter(t for _, t in titles)
    unique = [(i, t) for i, t in titles if counts[t] == 1]
    rng.shuffle(unique)
    seg = get_segmenter(None)

    # Homophones come from the same outlet's headlines, so a Hong Kong
    # (Traditional) query gets a Traditional slip and a CCTV one a Simplified.
    by_pinyin: dict[str, dict[str, list[str]]] = {}
    for outlet in ("xwlb", "hkcnews"):
        counts = Counter(ch for i, t in titles if i.startswith(outlet) for ch in set(t) if "\u4e00" <= ch <= "\u9fff")
        table: dict[str, list[str]] = defaultdict(list)
        for ch in sorted(c for c, n in counts.items() if n >= 50):
            py = syllables(ch)
            if py:
                table[py[0]].append(ch)
        by_pinyin[outlet] = table
    all_titles = "\n".join(t for _, t in titles)
    rarity_cache: dict[str, int] = {}

    def rarity(w):
        if w not in rarity_cache:
            rarity_cache[w] = all_titles.count(w)
        return rarity_cache[w]

    def clean_queries():
        for doc_id, title in unique:
            simplified = to_simplified(title)
            if len(simplified) != len(title):
                continue
            dictionary = set(seg.cut_dictionary_only(simplified))
            words = []
            for w, a, b in seg.cut(simplified):
                original = title[a:b]
                if (CJK_WORD.match(w) and w in dictionary and w not in FUNCTION_WORDS
                        and original not in words):
                    words.append(original)
            if len(words) < 2:
                continue
            rare = set(sorted(words, key=lambda w: (rarity(w), w))[:2])
            yield doc_id, [w for w in words if w in rare], words

    source = clean_queries()
    out = []
    for variant, n in PINYIN_PLAN:
        made = 0
        while made < n:
            doc_id, pair, _ = next(source)
            pys = ["".join(syllables(w)) for w in pair]
            if variant == "full":
                query = " ".join(pys)
            elif variant == "mixed":
                k = rng.randrange(2)
                query = " ".join(pys[i] if i == k else pair[i] for i in range(2))
            else:
                k = rng.randrange(2)
                pys[k] = pinyin_slip(pys[k], rng)
                query = " ".join(pys)
            out.append({"kind": "pinyin", "variant": variant, "query": query, "clean": " ".join(pair),
                        "target": doc_id})
            made += 1
    for variant, n in MISSPELL_PLAN:
        made = 0
        while made < n:
            doc_id, pair, words = next(source)
            k = rng.randrange(2)
            word = pair[k]
            if variant == "homophone":
                positions = list(range(len(word)))
                rng.shuffle(positions)
                slip = None
                for i in positions:
                    py = syllables(word[i])
                    table = by_pinyin["hkcnews" if doc_id.startswith("hkcnews") else "xwlb"]
                    options = [c for c in table.get(py[0] if py else "", [])
                               if to_simplified(c) != to_simplified(word[i])]  # 組 is no slip for 组
                    if options:
                        cand = word[:i] + rng.choice(options) + word[i + 1:]
                        if cand not in words:
                            slip = cand
                            break
                if slip is None:
                    continue
            else:
                if len(word) < 3:
                    continue
                i = rng.randrange(1, len(word) - 1)
                slip = word[:i] + word[i + 1:]
                if slip in words:
                    continue
            query = " ".join(slip if i == k else pair[i] for i in range(2))
            out.append({"kind": "misspelled", "variant": variant, "query": query, "clean": " ".join(pair),
                        "target": doc_id})
            made += 1
    with open(OUT, "w", encoding="utf-8") as f:
        for item in out:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"wrote {len(out)} queries to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
