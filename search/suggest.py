"""Suggest as you type: completions of what the reader has typed so far.

Candidates are the words of our headlines (how many articles use them;
words of the newest headlines count extra: what is in the news now) and
the queries readers ran recently that found something (how often).  A
prefix matches a candidate's text (Traditional or Simplified alike) or its
pinyin, full or initials (``huawei``, ``hw`` -> 华为).  Blocked terms
(``moderation.py``) are never suggested.

Lookups are a binary search over sorted keys; the engine rebuilds the
table in the background (``background.py``), so typing never waits for it.
"""

from __future__ import annotations

import bisect
import math
import re

from .normalize import fold_case, normalize_query
from .pinyin import word_pinyin

CJK_WORD = re.compile(r"^[\u3400-\u9fff]{2,8}$")
LATIN_WORD = re.compile(r"^[a-z][a-z0-9\-]{1,30}$")
SCAN_LIMIT = 4000  # candidates looked at per prefix (the most frequent prefixes have more)
MIN_DF = 2  # on a large index, a word from one headline is mostly noise


def _key(text: str) -> str:
    return fold_case(normalize_query(text)).strip()


class Suggester:
    def __init__(self, vocabulary: dict[str, int], recent_words: set[str] | frozenset = frozenset(),
                 popular_queries: dict[str, int] | None = None, pinyin_of: dict[str, str] | None = None,
                 min_df: int = MIN_DF):
        """``pinyin_of``: pinyin already computed for words (the lexicon's);
        ``min_df``: headline words used by fewer articles are not offered."""
        pinyin_of = pinyin_of or {}
        best: dict[str, tuple[float, str]] = {}  # key -> (score, text shown)

        def add(text: str, score: float) -> None:
            key = _key(text)
            if not key:
                return
            old = best.get(key)
            if old is None:
                best[key] = (score, text)
            else:  # the same word in both scripts: add up, show the more common
                shown = text if score > old[0] else old[1]
                best[key] = (old[0] + score, shown)

        for word, df in vocabulary.items():
            low = word.lower()
            if df >= min_df and (CJK_WORD.match(word) or LATIN_WORD.match(low)):
                add(word, math.log1p(df) + (1.0 if _key(word) in recent_words else 0.0))
        vocabulary_keys = set(best)
        for q, n in (popular_queries or {}).items():
            add(q, 3.0 * math.log1p(n) + 2.0)
        # Headline words (not readers' queries): checked against the live
        # index when offered, so a withdrawn article's words go at once.
        self._headline_only = vocabulary_keys - {_key(q) for q in (popular_queries or {})}
        self._score = {k: s for k, (s, _) in best.items()}
        self._shown = {k: t for k, (_, t) in best.items()}
        self._keys = sorted(best)
        pinyin_keys = []
        for key in self._keys:
            if CJK_WORD.match(key):
                full = pinyin_of.get(self._shown[key]) or pinyin_of.get(key) or word_pinyin(key)
                if full:
                    pinyin_keys.append((full, key))
                    initials = _initials(key)
                    if initials and initials != full:
                        pinyin_keys.append((initials, key))
        pinyin_keys.sort()
        self._pinyin = pinyin_keys
        self._pinyin_index = [p for p, _ in pinyin_keys]

    def __len__(self) -> int:
        return len(self._keys)

    def suggest(self, prefix: str, limit: int = 8, blocked=None, live=None) -> list[str]:
        """``live(key)``: is a headline word still in some live article?"""
        p = _key(prefix)
        if not p:
            return []
        out = self._complete(p, limit, blocked, live)
        head, _, last = prefix.strip().rpartition(" ")
        if len(out) < limit and head.strip() and last:
            # Several words typed: complete the last one ("香港 选" -> "香港 选举").
            for text in self._complete(_key(last), limit, blocked, live):
                full = f"{head.strip()} {text}"
                if full not in out and not (blocked and blocked(full)):
                    out.append(full)
                if len(out) == limit:
                    break
        return out

    def _complete(self, p: str, limit: int, blocked, live=None) -> list[str]:
        found: dict[str, float] = {}
        i = bisect.bisect_left(self._keys, p)
        for key in self._keys[i:i + SCAN_LIMIT]:
            if not key.startswith(p):
                break
            if key != p:
                found[key] = self._score[key]
        latin = p.replace(" ", "")
        if latin.isascii() and latin.isalpha():
            j = bisect.bisect_left(self._pinyin_index, latin)
            for py, key in self._pinyin[j:j + SCAN_LIMIT]:
                if not py.startswith(latin):
                    break
                # an exact pinyin match ranks as if typed in Chinese; a
                # completion of pinyin a little lower
                found[key] = max(found.get(key, 0.0), self._score[key] - (0.0 if py == latin else 0.5))
        ranked = sorted(found, key=lambda k: (-found[k], k))
        out = []
        for key in ranked:
            text = self._shown[key]
            if blocked and blocked(text):
                continue
            if live is not None and key in self._headline_only and not live(key):
                continue
            out.append(text)
            if len(out) == limit:
                break
        return out


def _initials(word: str) -> str:
    from pypinyin import Style, lazy_pinyin

    return "".join(lazy_pinyin(word, style=Style.FIRST_LETTER, errors="ignore"))
