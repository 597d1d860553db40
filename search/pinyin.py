"""Pinyin input: find the Chinese words a reader meant by typing pinyin.

Readers type ``xianggang`` for 香港 or ``huawei shouji`` for 华为手机 when
their input method is off.  A run of pinyin is split into syllable groups
that are words, and each group is read as the words of our articles with
that toneless pinyin (pypinyin, which reads heteronyms in context:
银行 yinhang, 重庆 chongqing):

* **candidates** of a pinyin key: the index's headline words with that
  pinyin and, for a two-syllable key (one word typed), the words of the
  segmenter's dictionary with it: a small index has few headlines
  (经典 is in none of the 2,000-article sample's, yet in 32 of its articles);
* **readings**: the candidates that our articles use, ranked by how many
  articles use them (title or body: ``frequency.ArticleFrequencies``,
  cached per index version), keeping a homophone only if it is at least
  ``HOMOPHONE_SHARE`` as common as the best reading.  A rare homophone
  never replaces or joins a common word (``zhengfu`` is 政府, not also 郑负).

Only Latin input is ever converted: Chinese query words are never reduced
to pinyin, so 景点 cannot match 经典.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import defaultdict
from functools import lru_cache

from .background import BackgroundValue
from .frequency import ArticleFrequencies

CJK_WORD = re.compile(r"^[\u3400-\u9fff]{2,8}$")
LATIN_RUN = re.compile(r"^[a-z]{2,40}$")
MAX_PIECES = 4  # words a pinyin run is cut into at most (chosen, not measured)
ALTERNATIVES = 3  # readings offered for a one-word pinyin run (chosen, not measured)
PREFER_LATIN_RATIO = 10  # keep a Latin run unconverted if it is at least 1/10 as common (chosen, not measured)
# A homophone is offered next to the best reading only if our articles use
# it at least this share as often.  Measured with ``python -m
# eval.homophone_share`` (eval/results/homophone_share-{sample,full}.json):
# typed alone, the pinyin of the most common headline words that have other
# readings (a reader meaning the common word) keeps the common reading in
# 93.4 % (sample) / 92.2 % (full corpora) of the top 10 at 0.1, against
# 89.5 / 87.1 % at 0.05, 78.4 / 45.0 % with every homophone and 89.3 /
# 53.1 % before (headline counts, three readings): a rarer homophone has
# the higher idf and takes the top.  Readers who meant a rarer reading
# (eval.reader_helpers' pinyin queries, full corpora) find their article
# in the top 10 in 95 % of queries at 0.1, 97 % at 0.05 and below, 93 % at
# 0.2 and 88 % with no homophones.  0.1 keeps most of that recall and the
# common reading on top; 郑负 beside 政府 (1 : 2,800 on the full corpora,
# 2 : 730 on the sample) is far below it, 景点 beside 经典 (11 : 32) well above.
HOMOPHONE_SHARE = 0.1


def word_pinyin(word: str) -> str:
    """The toneless pinyin of ``word`` (lower-case Latin letters, syllables joined without spaces:
    香港 -> ``xianggang``); characters with no reading are dropped."""
    from pypinyin import Style, lazy_pinyin

    return "".join(lazy_pinyin(word, style=Style.NORMAL, errors="ignore"))


@lru_cache(maxsize=1)
def _syllable_chars() -> dict[str, str]:
    """toneless syllable -> the common characters (GB 2312 level 1: the
    3,755 characters of everyday text) that can be read so."""
    from pypinyin.constants import PINYIN_DICT

    out: dict[str, set] = defaultdict(set)
    for cp, readings in PINYIN_DICT.items():
        ch = chr(cp)
        try:
            code = ch.encode("gb2312")
        except UnicodeEncodeError:
            continue
        if len(code) == 2 and 0xB0 <= code[0] <= 0xD7:
            for reading in readings.split(","):
                out[unicodedata.normalize("NFD", reading).encode("ascii", "ignore").decode()].add(ch)
    return {k: "".join(sorted(v)) for k, v in out.items()}


def reads_as_pinyin(latin: str) -> bool:
    """Can ``latin`` (lower-case letters) be read as toneless pinyin
    syllables throughout (``jingan``: jing an, ``jiangrou``: jiang rou;
    never ``gnomeopen``)?  The syllables of ``_syllable_chars``.  Such a
    run is pinyin input, whatever English words it also spells: the other
    readers of Latin runs (``search.wordbreak``) leave it to this module."""
    syllables = _syllable_chars()
    longest = max(map(len, syllables))
    ok = [True] + [False] * len(latin)  # ok[i]: latin[:i] is syllables
    for end in range(1, len(latin) + 1):
        ok[end] = any(ok[start] and latin[start:end] in syllables for start in range(max(0, end - longest), end))
    return ok[-1]


def two_syllable_words(key: str, is_word) -> list[str]:
    """Dictionary words (``is_word``) of two common characters whose
    pinyin, read in context, is ``key`` (``jingdian``: 经典, 景点, 静电 ...)."""
    chars = _syllable_chars()
    out = []
    for i in range(1, len(key)):
        left, right = chars.get(key[:i]), chars.get(key[i:])
        if left and right:
            out.extend(a + b for a in left for b in right if is_word(a + b))
    return [w for w in dict.fromkeys(out) if word_pinyin(w) == key]


class PinyinLexicon:
    """toneless pinyin -> the words our articles use with that pinyin.

    ``words``: headline words with their headline document frequency (the
    index's title vocabulary; it decides how an unknown run is split and
    which slip was meant, without asking the index).  ``article_df(words)``
    -> {word: articles using it}: ranks readings (default: ``words``'
    counts).  ``is_word(text)``: is it a word of the segmenter's
    dictionary (None: headline words only)."""

    def __init__(self, words: dict[str, int], article_df=None, is_word=None):
        by_key: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self.pinyin_of: dict[str, str] = {}  # word -> its pinyin (reused by the suggester)
        for word, df in words.items():
            if CJK_WORD.match(word):
                key = word_pinyin(word)
                if key:
                    by_key[key].append((df, word))
                    self.pinyin_of[word] = key
        self.by_key = {k: sorted(v, reverse=True) for k, v in by_key.items()}
        self.max_key = max((len(k) for k in self.by_key), default=0)
        self.article_df = article_df or (lambda ws: {w: words.get(w, 0) for w in ws})
        self.is_word = is_word
        self._dictionary: dict[str, list[str]] = {}  # key -> dictionary words (cached: the same for every index)
        # Ask article counts only for the spans a split into at most
        # MAX_PIECES pieces can use (``useful_spans``: the same conversions);
        # False asks for every span (the reference the tests compare with).
        self.prune = True
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.by_key)

    def lookup(self, key: str) -> list[tuple[int, str]]:
        """Headline words with pinyin ``key``: [(headline df, word)], best first."""
        return self.by_key.get(key, [])

    # ---- readings ------------------------------------------------------------------
    def candidates(self, key: str, dictionary: bool = True) -> list[str]:
        """Headline words with pinyin ``key`` (most common first), then
        (``dictionary``) dictionary words of two syllables with it."""
        out = [w for _, w in self.by_key.get(key, [])]
        if dictionary and self.is_word is not None and len(key) <= 12:
            with self._lock:
                extra = self._dictionary.get(key)
            if extra is None:
                extra = two_syllable_words(key, self.is_word)
                with self._lock:
                    if len(self._dictionary) > 50_000:
                        self._dictionary.clear()
                    self._dictionary[key] = extra
            out += [w for w in extra if w not in out]
        return out

    def readings_of(self, keys, dictionary=None) -> dict[str, list[tuple[int, str]]]:
        """key -> [(articles using it, word)] best first, for every key
        asked, in one frequency lookup: the candidates our articles use,
        each at least ``HOMOPHONE_SHARE`` as common as the best.
        ``dictionary``: the keys whose dictionary words are candidates too
        (None: all)."""
        cands = {k: self.candidates(k, dictionary is None or k in dictionary) for k in dict.fromkeys(keys)}
        df = self.article_df([w for ws in cands.values() for w in ws])
        out = {}
        for key, ws in cands.items():
            ranked = sorted(((df.get(w, 0), w) for w in ws if df.get(w, 0) > 0), key=lambda p: (-p[0], p[1]))
            out[key] = [p for p in ranked if p[0] >= HOMOPHONE_SHARE * ranked[0][0]] if ranked else []
        return out

    def readings(self, key: str) -> list[tuple[int, str]]:
        """The words our articles use for the pinyin ``key`` (one key of ``readings_of``):
        [(articles using the word, word)], most used first."""
        return self.readings_of([key])[key]

    # ---- conversion ------------------------------------------------------------------
    def _spans(self, latin: str, keys) -> list[tuple[int, int, str]]:
        n = len(latin)
        spans = [(i, j, latin[i:j]) for i in range(n) for j in range(i + 2, min(n, i + self.max_key) + 1)
                 if latin[i:j] in keys]
        if (0, n, latin) not in spans and self.is_word is not None and n <= 12:
            spans.append((0, n, latin))  # one word typed: its dictionary readings too
        return spans

    @staticmethod
    def _best_split(n: int, spans, df_of) -> tuple[list[str], list[str], int] | None:
        """Fewest pieces first, then the most common words (sum of sqrt of
        ``df_of(key)``, None: no word): (keys, words, smallest df)."""
        best: list[tuple | None] = [None] * (n + 1)
        best[0] = (0, 0.0, [], [], 1 << 62)
        starting: dict[int, list] = defaultdict(list)
        for i, j, key in spans:
            starting[i].append((j, key))
        for i in range(n):
            if best[i] is None or best[i][0] >= MAX_PIECES:
                continue
            for j, key in starting[i]:
                found = df_of(key)
                if found is None:
                    continue
                df, word = found
                prev = best[i]
                cand = (prev[0] + 1, prev[1] - df ** 0.5, prev[2] + [key], prev[3] + [word], min(prev[4], df))
                if best[j] is None or cand[:2] < best[j][:2]:
                    best[j] = cand
        return (best[n][2], best[n][3], best[n][4]) if best[n] is not None else None

    def convert(self, latin: str) -> tuple[list[str], int] | None:
        """The words a pinyin run most likely means (``xianggangxuanju`` ->
        [香港, 选举]) and the fewest articles using one of them, or None.
        Fewest pieces first, then the words our articles use most; at most
        ``MAX_PIECES`` pieces."""
        latin = latin.lower()
        if not LATIN_RUN.match(latin):
            return None
        spans = self._spans(latin, self.by_key)
        if self.prune:
            spans = useful_spans(len(latin), spans)
        # Dictionary words only for the whole run read as one word (jingdian:
        # 经典, in no headline): for every piece of a long run they cost
        # hundreds of article counts a query, and pieces are headline words.
        readings = self.readings_of((key for _, _, key in spans), dictionary={latin})
        found = self._best_split(len(latin), spans, lambda k: readings[k][0] if readings[k] else None)
        return (found[1], found[2]) if found else None

    def homophones(self, word: str, limit: int = ALTERNATIVES) -> list[str]:
        """``word`` first, then the other readings of its pinyin that our
        articles use about as much (``jiqi``: 机器, 及其; never a word at
        most a tenth as common): which one the reader meant shows in the
        other words of the query."""
        others = [w for _, w in self.readings(word_pinyin(word)) if w != word]
        return [word] + others[: limit - 1]

    def correct(self, latin: str) -> tuple[list[str], int] | None:
        """A conversion of ``latin`` after one typing slip (a letter dropped,
        added, replaced, or two neighbours swapped): ``xianggagn`` -> 香港.
        The variant is chosen on headline words (no index lookups for its
        hundreds of variants), then read as ``convert`` reads it."""
        latin = latin.lower()
        if len(latin) < 4 or not LATIN_RUN.match(latin):
            return None
        best = None
        for variant in _edits1(latin):
            found = self._best_split(len(variant), self._spans_prior(variant),
                                     lambda k: self.by_key[k][0])
            if found and (best is None or (len(found[0]), -found[2]) < (len(best[1][0]), -best[1][2])):
                best = (variant, found)
        return self.convert(best[0]) if best else None

    def _spans_prior(self, latin: str) -> list[tuple[int, int, str]]:
        n = len(latin)
        return [(i, j, latin[i:j]) for i in range(n) for j in range(i + 2, min(n, i + self.max_key) + 1)
                if latin[i:j] in self.by_key]


def useful_spans(n: int, spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """The spans (start, end, key) of a run of ``n`` letters that can be a
    piece of a split of the whole run into at most ``MAX_PIECES`` pieces:
    the fewest spans reaching its start from 0, plus one, plus the fewest
    from its end to ``n``, is at most ``MAX_PIECES``.  Article counts can
    only take spans away (a key no article uses), never add one, so the
    split ``PinyinLexicon._best_split`` picks never uses another span: its
    answer is the same, for the article counts of the candidates of these
    spans alone (a long run's pinyin holds dozens of keys across syllable
    boundaries that no whole split uses)."""
    far = MAX_PIECES + 1
    ending: dict[int, list[int]] = defaultdict(list)
    starting: dict[int, list[int]] = defaultdict(list)
    for i, j, _ in spans:
        starting[i].append(j)
        ending[j].append(i)
    ahead = [far] * (n + 1)  # fewest pieces from 0 to a position
    ahead[0] = 0
    for i in range(n + 1):
        if ahead[i] < far:
            for j in starting[i]:
                ahead[j] = min(ahead[j], ahead[i] + 1)
    behind = [far] * (n + 1)  # fewest pieces from a position to n
    behind[n] = 0
    for j in range(n, -1, -1):
        if behind[j] < far:
            for i in ending[j]:
                behind[i] = min(behind[i], behind[j] + 1)
    return [(i, j, key) for i, j, key in spans if ahead[i] + 1 + behind[j] <= MAX_PIECES]


def _edits1(word: str) -> set[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    swaps = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in letters]
    inserts = [a + c + b for a, b in splits for c in letters]
    return set(deletes + swaps + replaces + inserts) - {word}


class LexiconCache(BackgroundValue):
    """The lexicon of the index's headline words, built in the background
    (~5 s on the full corpora) and rebuilt every ten minutes if the index
    changed; until the first build is done, queries go unconverted
    (``SearchEngine.wait_ready`` waits for it).  Its readings count
    articles through one ``ArticleFrequencies`` (``self.frequencies``),
    shared with did-you-mean.  ``is_word``: the segmenter's dictionary."""

    def __init__(self, backend, max_age: float = 600.0, is_word=None):
        state = {"version": None}
        self.frequencies = ArticleFrequencies(backend)

        def build():
            state["version"] = backend.version()
            # Headline words: the names and topics readers look for.  (Adding
            # the body's 470k words took 12 s more per process; body words
            # come in through the dictionary and article counts instead.)
            if is_word is not None:
                _syllable_chars()  # the syllable table (~50 ms), here rather than in a reader's query
            return PinyinLexicon(backend.vocabulary("title"), self.frequencies, is_word)

        super().__init__(build, max_age, changed=lambda: backend.version() != state["version"],
                         name="pinyin-lexicon")


LATIN_TOKEN = re.compile(r"[A-Za-z]+")


def expand(parsed, lexicon: PinyinLexicon | None, latin_df) -> tuple[object, list[list[str]]]:
    """Rewrite each Latin run of the plain query words that reads as pinyin
    of words the index knows (and is much rarer as a Latin word itself) into
    "the run or its Chinese words".  Returns the query and [run, words]
    pairs for the explanation.  ``latin_df(word)``: the run's own document
    frequency."""
    import dataclasses

    from . import query as q

    if lexicon is None or not len(lexicon):
        return parsed, []
    done: list[list[str]] = []

    def rewrite(node):
        if isinstance(node, q.AnyOf):
            options = []
            for opt in node.options:
                new = rewrite(opt)
                options.append(new[0] if isinstance(new, list) and len(new) == 1
                               else opt if isinstance(new, list) else new)
            return q.AnyOf(tuple(options))
        if not isinstance(node, q.Words):
            return node
        pieces, last, changed = [], 0, False
        for m in LATIN_TOKEN.finditer(node.text):
            run = m.group()
            conv = lexicon.convert(run)
            run_df = None
            if conv is None:
                run_df = latin_df(run.lower())
                conv = lexicon.correct(run) if run_df == 0 else None  # a slip in the pinyin?
                if conv is None:
                    continue
            words, min_df = conv
            if run_df is None:
                run_df = latin_df(run.lower())
            if run_df * PREFER_LATIN_RATIO >= min_df:
                continue  # a real Latin word in our articles (or as common)
            if node.text[last:m.start()].strip():
                pieces.append(q.Words(node.text[last:m.start()], node.field))
            if len(words) == 1:
                options = [q.Words(w, node.field) for w in lexicon.homophones(words[0])]
            else:
                options = [q.Words(" ".join(words), node.field)]
            pieces.append(q.AnyOf((q.Words(run, node.field), *options)))
            done.append([run, " ".join(words)])
            last, changed = m.end(), True
        if not changed:
            return node
        if node.text[last:].strip():
            pieces.append(q.Words(node.text[last:], node.field))
        return pieces

    def flat(nodes):
        out = []
        for node in nodes:
            new = rewrite(node)
            out.extend(new if isinstance(new, list) else [new])
        return out

    return dataclasses.replace(parsed, must=flat(parsed.must)), done
