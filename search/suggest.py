"""Suggest as you type: completions of what the reader has typed so far.

Candidates are the words of our headlines (how many articles use them;
words of the newest headlines count extra: what is in the news now), the
editors' tags (林鄭月娥, 武漢肺炎: names and topics jieba cuts into pieces),
the queries readers ran recently that found something (how often), and
after all of these the words many articles use only in their bodies (at
least ``BODY_MIN_DF`` articles, ranked among themselves by how many: a
headline names what a story is about, while bodies also use every general
word, 由于, 此外, which must never push a headline word out).  A prefix
matches a candidate's text (Traditional or Simplified alike) or, for
headline words, tags and queries, its pinyin, full or initials
(``huawei``, ``hw`` -> 华为); a complete word that is itself a candidate is
offered too (武漢: 武漢肺炎, 武漢 ...), never first when there is a completion.  Blocked terms (``moderation.py``) are
never suggested.

Completions are shown in the script the reader types (``search.script``):
Traditional input gets the Traditional form the articles, tags or readers
use when one is known (林鄭月娥), else the OpenCC conversion of the word
(when it folds back to the same word); Simplified input gets the Simplified
form; input written alike in both scripts (香港, pinyin) gets the form most
used.

Lookups are a binary search over sorted keys; the engine rebuilds the
table in the background (``background.py``), so typing never waits for it.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter

from .normalize import fold_case, normalize_query
from .pinyin import word_pinyin
from .script import script_of, to_traditional

CJK_WORD = re.compile(r"^[\u3400-\u9fff]{2,8}$")
LATIN_WORD = re.compile(r"^[a-z][a-z0-9\-]{1,30}$")
SCAN_LIMIT = 4000  # candidates looked at per prefix (the most frequent prefixes have more; chosen, not measured)
MIN_DF = 2  # on a large index, a word from one headline is mostly noise (chosen, not measured)
# Body words: offered when this many articles use them.  On the full
# corpora (108,478 articles) 20 adds 34,754 words to the 37,090 of the
# headlines; measured cost in the README.
BODY_MIN_DF = 20
BODY_TIER = 1000.0  # subtracted from a body-only word's score: it ranks after every other candidate (any value above every other score)
RECENT_BONUS = 1.0  # added to the score of a word of the newest headlines (chosen, not measured)
# Where a candidate comes from (bits), for the engine's "still in a live
# article?" check.
TITLE, BODY, TAG = 1, 2, 4


def _key(text: str) -> str:
    return fold_case(normalize_query(text)).strip()


def _suggestible(word: str) -> bool:
    return bool(CJK_WORD.match(word) or LATIN_WORD.match(word.lower()))


class Suggester:
    """Completions for the search box, from headline words, tags, body words and popular queries,
    matched by prefix in Chinese, pinyin or pinyin initials (see ``suggest``).  Built once from
    the index (seconds on the full corpora: built in the background, ``background.py``)."""
    def __init__(self, vocabulary: dict[str, int], recent_words: Counter | dict[str, int] | set = frozenset(),
                 popular_queries: dict[str, int] | None = None, pinyin_of: dict[str, str] | None = None,
                 min_df: int = MIN_DF, body_vocabulary: dict[str, int] | None = None,
                 tags: dict[str, int] | None = None, body_min_df: int = BODY_MIN_DF):
        """``vocabulary``: headline words (as indexed) -> articles;
        ``recent_words``: the words of the newest headlines as written there
        (-> how often), which rank higher and tell the Traditional form of
        a word; ``popular_queries``: query text as typed -> times run;
        ``pinyin_of``: pinyin already computed for words (the lexicon's);
        ``min_df``: headline words and tags used by fewer articles are not
        offered; ``body_vocabulary``: body words -> articles, offered from
        ``body_min_df`` articles; ``tags``: tags as written -> articles."""
        pinyin_of = pinyin_of or {}
        score: dict[str, float] = {}
        sources: dict[str, int] = {}
        forms: dict[str, Counter] = {}  # key -> original forms seen, weighted by use

        def candidate(text: str, points: float, source: int, weight: int) -> None:
            key = _key(text)
            if not key:
                return
            score[key] = max(score.get(key, points), points)
            sources[key] = sources.get(key, 0) | source
            forms.setdefault(key, Counter())[text] += weight

        for word, df in vocabulary.items():
            if df >= min_df and _suggestible(word):
                candidate(word, math.log1p(df), TITLE, df)
        for word, df in (body_vocabulary or {}).items():
            if df >= body_min_df and _suggestible(word):
                candidate(word, math.log1p(df) - BODY_TIER, BODY, df)
        for tag, n in (tags or {}).items():
            if n >= min_df and _suggestible(tag.strip()):
                candidate(tag.strip(), math.log1p(n), TAG, n)
        recent = Counter(recent_words)
        recent_keys = {_key(w) for w in recent}
        for key in score:
            if key in recent_keys:
                score[key] += RECENT_BONUS
        for word, n in recent.items():
            key = _key(word)
            if key in forms and script_of(word) == "traditional":
                forms[key][word] += n  # how the newest headlines write it
        for q, n in (popular_queries or {}).items():
            key = _key(q)
            if key:
                # Readers' queries add up with what the headlines say (and
                # lift a body-only word into the first tier).
                score[key] = max(score.get(key, 0.0), 0.0) + 3.0 * math.log1p(n) + 2.0
                forms.setdefault(key, Counter())[q] += n
        # Words and tags (not readers' queries): checked against the live
        # index when offered, so a withdrawn article's words go at once.
        self._sources = sources
        self._query_keys = frozenset(_key(q) for q in (popular_queries or {}))
        body_only = {k for k, src in sources.items() if src == BODY} - self._query_keys
        self._score = score
        # Shown forms, kept only where they differ from the key (most do not).
        self._shown: dict[str, str] = {}
        self._traditional: dict[str, str] = {}
        for key, seen in forms.items():
            shown = min(seen.items(), key=lambda fc: (-fc[1], fc[0]))[0]
            if shown != key:
                self._shown[key] = shown
            trad = [(f, n) for f, n in seen.items() if script_of(f) == "traditional"]
            if trad:
                self._traditional[key] = min(trad, key=lambda fc: (-fc[1], fc[0]))[0]
        del forms
        self._keys = sorted(score)
        pinyin_keys = []
        for key in self._keys:
            if CJK_WORD.match(key) and key not in body_only:
                full = pinyin_of.get(self._shown.get(key, key)) or pinyin_of.get(key) or word_pinyin(key)
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

    def sources(self, key: str) -> int:
        """Where an offered key comes from: TITLE | BODY | TAG bits (0 for
        a readers' query only)."""
        return self._sources.get(key, 0)

    def suggest(self, prefix: str, limit: int = 8, blocked=None, live=None) -> list[str]:
        """Up to ``limit`` completions of ``prefix``, best first, in the
        script the prefix is typed in.  ``blocked(text)``: never offer it;
        ``live(key, sources)``: is a word or tag still in some live article?
        (Not asked for readers' queries.)"""
        p = _key(prefix)
        if not p:
            return []
        out = self._complete(p, limit, blocked, live, script_of(prefix))
        head, _, last = prefix.strip().rpartition(" ")
        if len(out) < limit and head.strip() and last:
            # Several words typed: complete the last one ("香港 选" -> "香港 选举").
            script = script_of(last) or script_of(prefix)
            for text in self._complete(_key(last), limit, blocked, live, script):
                full = f"{head.strip()} {text}"
                if full not in out and not (blocked and blocked(full)):
                    out.append(full)
                if len(out) == limit:
                    break
        return out

    def shown(self, key: str, script: str | None) -> str:
        """How ``key`` is shown to a reader typing in ``script``."""
        text = self._shown.get(key, key)
        if script == "simplified":
            return normalize_query(text)
        if script == "traditional":
            known = self._traditional.get(key)
            if known is not None:
                return known
            converted = to_traditional(text)
            return converted if _key(converted) == key else text
        return text

    def _complete(self, p: str, limit: int, blocked, live=None, script: str | None = None) -> list[str]:
        found: dict[str, float] = {}
        i = bisect.bisect_left(self._keys, p)
        for key in self._keys[i:i + SCAN_LIMIT]:
            if not key.startswith(p):
                break
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
        if len(ranked) > 1 and ranked[0] == p:
            # The word as typed is offered, but a completion leads: taking the
            # typed word needs no suggestion.
            ranked[0], ranked[1] = ranked[1], ranked[0]
        out = []
        for key in ranked:
            text = self.shown(key, script)
            if blocked and blocked(text):
                continue
            if live is not None and key not in self._query_keys and not live(key, self.sources(key)):
                continue
            out.append(text)
            if len(out) == limit:
                break
        return out


def _initials(word: str) -> str:
    from pypinyin import Style, lazy_pinyin

    return "".join(lazy_pinyin(word, style=Style.FIRST_LETTER, errors="ignore"))
