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
import threading
import time
from collections import defaultdict

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
        for word, df in words.items():
            if CJK_WORD.match(word):
                key = word_pinyin(word)
                if key:
                    by_key[key].append((df, word))
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


class LexiconCache:
    """Builds the lexicon from the index in a background thread (~5 s on the
    full corpora) and rebuilds it when the index has changed
    and ``max_age`` has passed; until the first build is done, ``get``
    returns None and queries go unconverted."""

    def __init__(self, backend, max_age: float = 600.0):
        self.backend = backend
        self.max_age = max_age
        self._lexicon: PinyinLexicon | None = None
        self._version = None
        self._built_at = 0.0
        self._building = False
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.builds = 0  # part of the result cache's key: a new lexicon can change results

    def _build(self) -> None:
        try:
            version = self.backend.version()
            # Headline words: the names and topics readers look for.  (Adding
            # the body's 470k words took 12 s more per process.)
            lexicon = PinyinLexicon(self.backend.vocabulary("title"))
            with self._lock:
                self._lexicon, self._version, self._built_at = lexicon, version, time.monotonic()
                self.builds += 1
        finally:
            with self._lock:
                self._building = False
            self._ready.set()

    def start(self) -> None:
        with self._lock:
            if self._building:
                return
            self._building = True
        threading.Thread(target=self._build, name="pinyin-lexicon", daemon=True).start()

    def get(self, wait: float = 0.0) -> PinyinLexicon | None:
        if self._lexicon is None and not self._building:
            self.start()
        elif (self._lexicon is not None and time.monotonic() - self._built_at > self.max_age
              and self.backend.version() != self._version):
            self.start()
        if wait and self._lexicon is None:
            self._ready.wait(wait)
        return self._lexicon


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
