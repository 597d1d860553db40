"""Did you mean: a corrected query for Chinese typed with a slip.

Most Chinese typos come from the input method: a character with the same
pinyin (侧试 for 测试, 韩国国惠 for 韩国国会).  Each Chinese run of the
query is read back as toneless pinyin and re-split into the most common
headline words with that pinyin (the same lexicon as pinyin input); where
that differs from what was typed, the run is replaced.

The engine only asks for a correction when the query as typed matches no
article with all its words, and only offers it when the corrected query
does (see ``SearchEngine.search``).
"""

from __future__ import annotations

import re

from .normalize import fold_case, normalize_query
from .pinyin import PinyinLexicon, word_pinyin

CJK_RUN = re.compile(r"[\u3400-\u9fff]{2,12}")
MIN_GAIN = 20  # the corrected words must be this many times as common
RARE_DF = 2  # a typed run in more articles than this is taken as meant


def corrected_query(text: str, lexicon: PinyinLexicon | None, doc_frequency) -> str | None:
    """``text`` with each Chinese run that reads as more common headline
    words replaced by them, or None if nothing changes.  ``doc_frequency``
    gives a word's document frequency in the index."""
    if lexicon is None or not len(lexicon):
        return None
    norm = fold_case(normalize_query(text))
    out, last, changed = [], 0, False
    for m in CJK_RUN.finditer(norm):
        run = m.group()
        conv = lexicon.convert(word_pinyin(run))
        if conv is None:
            continue
        words, min_df = conv
        candidate = "".join(words)
        if candidate == run:
            continue
        # Only a correction if what was typed is (nearly) unknown to our
        # articles and what it sounds like is common: 景点 is a word of its
        # own, never a slip for 经典.
        typed_df = doc_frequency(run)
        if typed_df > RARE_DF or max(typed_df, 1) * MIN_GAIN > min_df:
            continue
        out.append(norm[last:m.start()])
        out.append(candidate)
        last, changed = m.end(), True
    if not changed:
        return None
    out.append(norm[last:])
    return "".join(out)
