"""Pinyin input: find the Chinese words a reader meant by typing pinyin.

Readers type ``xianggang`` for 香港 or ``huawei shouji`` for 华为手机 when
their input method is off.  The lexicon maps the toneless pinyin of every
Chinese word the index knows (pypinyin, which reads heteronyms in context:
银行 yinhang, 重庆 chongqing) to those words, ranked by how many articles
use them; a run of pinyin is split into syllable groups that are words.

Only Latin input is ever converted: Chinese query words are never reduced
to pinyin, so 景点 cannot match 经典.
"""

from __future__ import annotations

import re
from collections import defaultdict

from .background import BackgroundValue

CJK_WORD = re.compile(r"^[\u3400-\u9fff]{2,8}$")
LATIN_RUN = re.compile(r"^[a-z]{2,40}$")
MAX_PIECES = 4
ALTERNATIVES = 3  # homophones offered for a one-word pinyin run
PREFER_LATIN_RATIO = 10  # keep a Latin run unconverted if it is at least 1/10 as common


def word_pinyin(word: str) -> str:
    from pypinyin import Style, lazy_pinyin

    return "".join(lazy_pinyin(word, style=Style.NORMAL, errors="ignore"))


class PinyinLexicon:
    """toneless pinyin -> [(document frequency, word)], best first."""

    def __init__(self, words: dict[str, int]):
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

    def __len__(self) -> int:
        return len(self.by_key)

    def lookup(self, key: str) -> list[tuple[int, str]]:
        return self.by_key.get(key, [])

    def convert(self, latin: str) -> tuple[list[str], int] | None:
        """The words a pinyin run most likely means (``xianggangxuanju`` ->
        [香港, 选举]) and the smallest document frequency among them, or
        None.  Fewest pieces first, then the most common words; at most
        ``MAX_PIECES`` pieces."""
        latin = latin.lower()
        if not LATIN_RUN.match(latin):
            return None
        n = len(latin)
        # best[i] = (pieces, -sum of sqrt(df), words, min df) for latin[:i]
        best: list[tuple | None] = [None] * (n + 1)
        best[0] = (0, 0.0, [], 1 << 62)
        for i in range(n):
            if best[i] is None or best[i][0] >= MAX_PIECES:
                continue
            for j in range(i + 2, min(n, i + self.max_key) + 1):
                found = self.by_key.get(latin[i:j])
                if not found:
                    continue
                df, word = found[0]
                prev = best[i]
                cand = (prev[0] + 1, prev[1] - df ** 0.5, prev[2] + [word], min(prev[3], df))
                if best[j] is None or cand[:2] < best[j][:2]:
                    best[j] = cand
        return (best[n][2], best[n][3]) if best[n] is not None else None

    def homophones(self, word: str, limit: int = ALTERNATIVES) -> list[str]:
        """``word`` first, then the other most common words sharing its pinyin
        (``jiqi``: 机器, 集气 ...): which one the reader meant shows in the
        other words of the query."""
        others = [w for _, w in self.by_key.get(word_pinyin(word), []) if w != word]
        return [word] + others[: limit - 1]

    def correct(self, latin: str) -> tuple[list[str], int] | None:
        """A conversion of ``latin`` after one typing slip (a letter dropped,
        added, replaced, or two neighbours swapped): ``xianggagn`` -> 香港.
        The variant whose words are most common wins."""
        latin = latin.lower()
        if len(latin) < 4 or not LATIN_RUN.match(latin):
            return None
        best = None
        for variant in _edits1(latin):
            conv = self.convert(variant)
            if conv and (best is None or (len(conv[0]), -conv[1]) < (len(best[0]), -best[1])):
                best = conv
        return best


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
    changed; until the first build is done, queries go unconverted."""

    def __init__(self, backend, max_age: float = 600.0):
        state = {"version": None}

        def build():
            state["version"] = backend.version()
            # Headline words: the names and topics readers look for.  (Adding
            # the body's 470k words took 12 s more per process.)
            return PinyinLexicon(backend.vocabulary("title"))

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
