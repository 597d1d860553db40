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

The user dictionary is re-read when the file changes (its modification
time, checked at most every ``watched.CHECK_INTERVAL`` seconds, as for the
synonyms file), in every process that cuts text: each web worker and the
index writer.  ``Segmenter.version`` names the dictionary's content (a hash):
the writer records the version its articles were cut with and re-indexes
the articles holding a word that was added or removed
(``indexer.userdict_reindex``).  While the file cannot be read or parsed,
the last good dictionary stays (``Segmenter.error`` says why).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time

import rjieba

from .normalize import normalize_query
from .regional import forms as regional_forms
from .errors import SearchServiceError
from .watched import CHECK_INTERVAL

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


def userdict_version(path: str | None) -> str:
    """The version of the user dictionary at ``path``: the first 16 hex
    digits of the SHA-256 of its bytes; "" without a file."""
    if not path:
        return ""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def _base_jieba():
    jieba = rjieba.Jieba()
    for word, freq, tag in read_userdict(CASED_WORDS_PATH):
        jieba.add_word(normalize_query(word), freq, tag)
    # Every form of the regional vocabulary is one word (欧巴马, 网际网路),
    # so a query word finds its alternatives (search.regional).
    for form in regional_forms():
        if not jieba.has_word(form):
            jieba.add_word(form, None, None)
    return jieba


class Segmenter:
    """A jieba tokenizer with an optional user dictionary, safe to share
    between threads (rjieba releases no state between calls; a reload
    swaps in a whole new tokenizer).  ``user_words``: the user
    dictionary's words as written; ``version``: ``userdict_version`` of
    what is loaded; ``error``: why the last re-read failed, or None.
    Raises ``UserDictError`` (or OSError) when the file cannot be read at
    start; later failures keep the last good dictionary."""

    def __init__(self, userdict_path: str | None = None):
        self.userdict_path = userdict_path
        self.error: str | None = None
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self._mtime = os.path.getmtime(userdict_path) if userdict_path else None
        self._jieba, self.user_words, self.version = self._load()

    def _load(self):
        jieba = _base_jieba()
        words: list[str] = []
        version = ""
        if self.userdict_path:
            version = userdict_version(self.userdict_path)
            for word, freq, tag in read_userdict(self.userdict_path):
                jieba.add_word(normalize_query(word), freq, tag)
                words.append(word)
        return jieba, words, version

    def check(self, force: bool = False, interval: float = CHECK_INTERVAL) -> bool:
        """Re-read the user dictionary if its file changed (its modification
        time looked at when ``interval`` seconds have passed since the last
        look: the engine looks before each query, so a worker never cuts a
        query with an older dictionary than the writer's; ``force``: read
        it anyway); True when a new dictionary was loaded."""
        if not self.userdict_path:
            return False
        now = time.monotonic()
        if not force and now - self._checked < interval:
            return False
        with self._lock:
            self._checked = now
            mtime = None
            try:
                mtime = os.path.getmtime(self.userdict_path)
                if mtime == self._mtime and not force:
                    return False
                jieba, words, version = self._load()
            except (OSError, UnicodeDecodeError, UserDictError) as exc:
                error = f"cannot read the user dictionary {self.userdict_path}: {exc}"
                if mtime is not None:
                    self._mtime = mtime  # this version of the file is not read again; the next save is
                if error != self.error:  # said once, not at every query
                    log.warning("%s (the last good one stays)", error)
                self.error = error
                return False
            self._mtime, self.error = mtime, None
            if version == self.version:
                return False
            self._jieba, self.user_words, self.version = jieba, words, version
            log.info("user dictionary %s reloaded (version %s, %d words)", self.userdict_path, version, len(words))
            return True

    def cut(self, text: str) -> list[tuple[str, int, int]]:
        """Default (accurate) mode on normalised text: (word, start, end)
        covering all of text."""
        self.check()
        return self._jieba.tokenize(text, "default", True)

    def has_word(self, word: str) -> bool:
        """Is ``word`` in the dictionary (jieba's, or the user dictionary)?"""
        return self._jieba.has_word(word)

    def cut_dictionary_only(self, text: str) -> list[str]:
        """Accurate mode without the HMM for unknown words: dictionary pieces."""
        return self._jieba.cut(text, False)

    def cut_for_search(self, text: str) -> list[tuple[str, int, int]]:
        """Search mode: the default words plus their dictionary sub-words."""
        self.check()
        return self._jieba.tokenize(text, "search", True)


_lock = threading.Lock()
_segmenters: dict[str | None, Segmenter] = {}


def get_segmenter(userdict_path: str | None = None) -> Segmenter:
    """One segmenter per user dictionary path per process (loading takes
    ~0.2 s); it follows the file's changes (``Segmenter.check``)."""
    key = os.path.abspath(userdict_path) if userdict_path else None
    with _lock:
        seg = _segmenters.get(key)
        if seg is None:
            seg = _segmenters[key] = Segmenter(key)
        return seg
