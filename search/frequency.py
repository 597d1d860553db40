"""How common words are in our articles: the number of live articles using
each word (in the title or the body), as the backends count it
(``doc_frequencies``: one multi-search on OpenSearch, postings on Whoosh),
cached until the index changes.

Pinyin input and did-you-mean rank the words a reader may have meant by
these counts, so that a word our articles use often wins over a rare
homophone that happens to be in more headlines; related articles weigh an
article's key terms by them (``search/related.py``: articles share most of
their key terms, so the cache saves most of the lookups).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

MAX_CACHED = 200_000  # words kept per index version (a few MB; chosen, not measured)


class ArticleFrequencies:
    """``freq(words)`` -> {word: articles using it}.  Words not seen since
    the index version last changed are asked for in one backend call;
    the cache is emptied when ``backend.version()`` changes (a new commit
    or, on OpenSearch, new or deleted documents)."""

    def __init__(self, backend, max_cached: int = MAX_CACHED):
        self.backend = backend
        self.max_cached = max_cached
        self._version = None
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self.lookups = 0  # backend calls made (for tests and benchmarks)

    def __call__(self, words: Iterable[str]) -> dict[str, int]:
        words = list(dict.fromkeys(words))
        version = self.backend.version()
        with self._lock:
            if version != self._version:
                self._version, self._counts = version, {}
            known = {w: self._counts[w] for w in words if w in self._counts}
        missing = [w for w in words if w not in known]
        if missing:
            counts = self.backend.doc_frequencies(missing)
            self.lookups += 1
            known.update(zip(missing, counts))
            with self._lock:
                if self._version == version:
                    if len(self._counts) + len(missing) > self.max_cached:
                        self._counts = {}
                    self._counts.update(zip(missing, counts))
        return known
