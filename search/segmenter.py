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
time, status-change time, size and inode, checked at most every
``watched.CHECK_INTERVAL`` seconds, as for the synonyms file; the web
engine checks before each query), in every process that cuts text: each
web worker and the index writer.  ``Segmenter.version`` names the dictionary's content (a hash):
the writer records the version its articles were cut with and re-indexes
the articles holding a word that was added or removed
(``indexer.userdict_reindex``).  While the file cannot be read or parsed,
the last good dictionary stays (``Segmenter.error`` says why).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import threading
import time

import rjieba

from .normalize import normalize_query
from .regional import forms as regional_forms
from .errors import SearchServiceError
from .watched import CHECK_INTERVAL, signature as _signature

log = logging.getLogger(__name__)
CASED_WORDS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "cased_words.txt")


class UserDictError(ValueError, SearchServiceError):
    """A jieba user dictionary (SEARCH_USERDICT) that cannot be read: the message names the file and
    line.  A configuration error: the web answers it as an internal error (500)."""
    pass


def parse_userdict(text: str, path: str = "<user dictionary>") -> list[tuple[str, int | None, str | None]]:
    """Parse the text of a jieba user dictionary: one ``word [freq] [tag]``
    per line (blank lines and ``#`` comments skipped); [(word as written,
    freq or None, tag or None)].  Raises ``UserDictError`` naming ``path``
    and the line."""
    entries = []
    for lineno, raw in enumerate(text.splitlines(), 1):
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


def read_userdict(path: str) -> list[tuple[str, int | None, str | None]]:
    """Parse the jieba user dictionary file at ``path`` (``parse_userdict``).
    Raises OSError, UnicodeDecodeError or ``UserDictError``."""
    with open(path, "rb") as f:
        return parse_userdict(f.read().decode("utf-8-sig"), path)


def _version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def userdict_version(path: str | None) -> str:
    """The version of the user dictionary at ``path``: the first 16 hex
    digits of the SHA-256 of its bytes; "" without a file."""
    if not path:
        return ""
    with open(path, "rb") as f:
        return _version(f.read())


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


@dataclasses.dataclass(frozen=True)
class Loaded:
    """One loaded dictionary, swapped in whole: ``jieba`` (the tokenizer),
    ``user_words`` (the user dictionary's words as written),
    ``words`` (the same, normalised as text is: ``normalize_query``),
    ``version`` (``userdict_version`` of the bytes read; "" without a file)."""
    jieba: object
    user_words: list[str]
    words: frozenset[str]
    version: str


def _build(data: bytes | None, path: str | None) -> Loaded:
    """The tokenizer with the user dictionary whose bytes are ``data``
    (None: none); ~0.2 s.  Raises UnicodeDecodeError or ``UserDictError``."""
    entries = parse_userdict(data.decode("utf-8-sig"), path or "") if data is not None else []
    jieba = _base_jieba()
    written, words = [], set()
    for word, freq, tag in entries:
        norm = normalize_query(word)
        jieba.add_word(norm, freq, tag)
        written.append(word)
        words.add(norm)
    return Loaded(jieba, written, frozenset(words), _version(data) if data is not None else "")


class Segmenter:
    """A jieba tokenizer with an optional user dictionary, safe to share
    between threads (rjieba keeps no state between calls; a reload builds
    a whole new tokenizer outside any lock, queries meanwhile cut with the
    last one, and swaps it in at once).  ``loaded``: the current ``Loaded``;
    ``user_words``, ``words`` (normalised, a frozenset), ``version``: its
    parts; ``error``: why the last re-read failed, or None.
    Raises ``UserDictError`` (or OSError, UnicodeDecodeError) when the file
    cannot be read at start; later failures keep the last good dictionary."""

    def __init__(self, userdict_path: str | None = None):
        self.userdict_path = userdict_path
        self.error: str | None = None
        self.loads = 0  # dictionaries built (the first one included)
        self._reloading = threading.Lock()  # one rebuild at a time; held by no query
        self._checked = time.monotonic()
        self._signature = None  # that of the file last read well
        self._failed = None  # that of the file last read in vain: not read again until it changes
        data = None
        if userdict_path:
            signature = _signature(userdict_path)
            with open(userdict_path, "rb") as f:
                data = f.read()
            self._signature = signature
        self.loaded = _build(data, userdict_path)
        self.loads += 1

    @property
    def user_words(self) -> list[str]:
        """The user dictionary's words as written in its file, in file order."""
        return self.loaded.user_words

    @property
    def words(self) -> frozenset[str]:
        """The user dictionary's words normalised once, when it loaded (as analysis cuts them)."""
        return self.loaded.words

    @property
    def version(self) -> str:
        """The loaded dictionary's version: a SHA-256 prefix of its bytes ("" without one)."""
        return self.loaded.version

    def check(self, force: bool = False, interval: float = CHECK_INTERVAL) -> bool:
        """Re-read the user dictionary if its file changed: its signature
        (mtime_ns, ctime_ns, size, inode) looked at when ``interval``
        seconds have passed since the last look (the engine looks before
        each query); ``force``: read it anyway (waiting for a rebuild under
        way in another thread).  The bytes are read once, for the version
        and the words; the same bytes as loaded cost no rebuild.  While
        another thread rebuilds (~0.2 s), returns False at once: that query
        cuts with the last dictionary, and still finds the articles cut
        with either (``search.pending_words``: the words that differ from
        the index's are searched both ways).  True when a new dictionary
        was swapped in."""
        if not self.userdict_path:
            return False
        now = time.monotonic()
        if not force and now - self._checked < interval:
            return False
        self._checked = now
        try:
            signature = _signature(self.userdict_path)
        except OSError as exc:
            self._failure(exc, None)
            return False
        if not force and signature in (self._signature, self._failed):
            return False
        if not self._reloading.acquire(blocking=force):
            return False
        try:
            try:
                with open(self.userdict_path, "rb") as f:
                    data = f.read()
                if _version(data) == self.version:
                    self._signature, self._failed, self.error = signature, None, None
                    return False
                loaded = _build(data, self.userdict_path)
            except (OSError, UnicodeDecodeError, UserDictError) as exc:
                self._failure(exc, signature)
                return False
            self.loads += 1
            self.loaded = loaded  # the swap: one assignment, atomic for the threads cutting
            self._signature, self._failed, self.error = signature, None, None
            log.info("user dictionary %s reloaded (version %s, %d words)", self.userdict_path, loaded.version,
                     len(loaded.user_words))
            return True
        finally:
            self._reloading.release()

    def _failure(self, exc: Exception, signature) -> None:
        """The file could not be read: keep the last good dictionary, remember
        this file's signature as failed (never as good: a corrected file
        differs from it), say why once."""
        self._failed = signature
        error = f"cannot read the user dictionary {self.userdict_path}: {exc}"
        if error != self.error:  # said once, not at every query
            log.warning("%s (the last good one stays)", error)
        self.error = error

    def cut(self, text: str) -> list[tuple[str, int, int]]:
        """Default (accurate) mode on normalised text: (word, start, end)
        covering all of text."""
        self.check()
        return self.loaded.jieba.tokenize(text, "default", True)

    def has_word(self, word: str) -> bool:
        """Is ``word`` in the dictionary (jieba's, or the user dictionary)?"""
        return self.loaded.jieba.has_word(word)

    def cut_dictionary_only(self, text: str) -> list[str]:
        """Accurate mode without the HMM for unknown words: dictionary pieces."""
        return self.loaded.jieba.cut(text, False)

    def cut_for_search(self, text: str) -> list[tuple[str, int, int]]:
        """Search mode: the default words plus their dictionary sub-words."""
        self.check()
        return self.loaded.jieba.tokenize(text, "search", True)


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
