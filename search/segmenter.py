"""Chinese word segmentation: jieba's dictionary and algorithm, via rjieba.

rjieba is the Python binding of jieba-rs, a port of jieba that gives the same
tokens (agreement measured by ``python -m bench.jieba_agreement``) and cuts about 30x
faster.  It has no ``load_userdict``, so the newsroom's user dictionary (the
plain-text jieba format ``word [freq] [tag]``) is read here.

Text reaches the segmenter already normalised (``search.normalize``:
Simplified, lower-cased), so every dictionary word is added in that form
too: the user dictionary's words (孫立成 -> 孙立成, 爱看4K -> 爱看4k) and
jieba's own mixed-case words (``A股`` -> ``a股``, from
``search/data/cased_words.txt``).  Case and script never change how a text
is cut, at index time or at query time.  The forms of the regional
vocabulary (``search.regional``: 欧巴马, 网际网路) are dictionary words too.
"""

from __future__ import annotations

import logging
import os
import threading

import rjieba

from .normalize import normalize_query
from .regional import forms as regional_forms
from .errors import SearchServiceError

log = logging.getLogger(__name__)
CASED_WORDS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "cased_words.txt")


class UserDictError(ValueError, SearchServiceError):
    """A jieba user dictionary (SEARCH_USERDICT) that cannot be read: the message names the file and
    line.  A configuration error: the web answers it as an internal error (500)."""
    pass


def read_userdict(path: str) -> list[tuple[str, int | None, str | None]]:
    """Parse a jieba user dictionary: one ``word [freq] [tag]`` per line."""
    entries = []
    with open(path, encoding="utf-8-sig") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            word, freq, tag = parts[0], None, None
            rest = parts[1:]
            if rest and rest[0].isdigit():
                freq = int(rest.pop(0))
            if rest:
                tag = rest.pop(0)
            if rest:
                raise UserDictError(f"{path}:{lineno}: expected 'word [freq] [tag]', got {line!r}")
            entries.append((word, freq, tag))
    return entries


class Segmenter:
    """A jieba tokenizer with an optional user dictionary, safe to share
    between threads (rjieba releases no state between calls)."""

    def __init__(self, userdict_path: str | None = None):
        self._jieba = rjieba.Jieba()
        self.userdict_path = userdict_path
        self.user_words: list[str] = []
        for word, freq, tag in read_userdict(CASED_WORDS_PATH):
            self._jieba.add_word(normalize_query(word), freq, tag)
        # Every form of the regional vocabulary is one word (欧巴马, 网际网路),
        # so a query word finds its alternatives (search.regional).
        for form in regional_forms():
            if not self._jieba.has_word(form):
                self._jieba.add_word(form, None, None)
        if userdict_path:
            for word, freq, tag in read_userdict(userdict_path):
                self._jieba.add_word(normalize_query(word), freq, tag)
                self.user_words.append(word)

    def cut(self, text: str) -> list[tuple[str, int, int]]:
        """Default (accurate) mode on normalised text: (word, start, end)
        covering all of text."""
        return self._jieba.tokenize(text, "default", True)

    def has_word(self, word: str) -> bool:
        """Is ``word`` in the dictionary (jieba's, or the user dictionary)?"""
        return self._jieba.has_word(word)

    def cut_dictionary_only(self, text: str) -> list[str]:
        """Accurate mode without the HMM for unknown words: dictionary pieces."""
        return self._jieba.cut(text, False)

    def cut_for_search(self, text: str) -> list[tuple[str, int, int]]:
        """Search mode: the default words plus their dictionary sub-words."""
        return self._jieba.tokenize(text, "search", True)


_lock = threading.Lock()
_segmenters: dict[str | None, Segmenter] = {}


def get_segmenter(userdict_path: str | None = None) -> Segmenter:
    """One segmenter per user dictionary path per process (loading takes ~0.2 s)."""
    key = os.path.abspath(userdict_path) if userdict_path else None
    with _lock:
        seg = _segmenters.get(key)
        if seg is None:
            seg = _segmenters[key] = Segmenter(key)
        return seg
