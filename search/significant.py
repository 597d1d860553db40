"""Significant terms: the words much more frequent in a result set than in
the whole archive ("what is distinctive in these results"), as
Elasticsearch's ``significant_text`` aggregation finds them.

As there, the foreground is a sample of the top-ranked matches (its
``sampler``: ``SAMPLE_SIZE`` articles), each article's words counted once
(document frequency), the background is the whole index (``doc_count`` and
the index's own document frequency of each word, exact: ``IndexBackend.
doc_frequency``), and each candidate is scored with JLH:

    fg = in_results / sample,  bg = in_archive / archive
    JLH = (fg - bg) * (fg / bg)  when fg > bg, else 0

(absolute change times relative change: high for words both clearly more
frequent and much more frequent than usual).  Words are the index's own
terms (``Analyzer.words`` of title and body: jieba's search-mode words), so
``in_archive`` counts the same thing as ``in_results``; candidates are
the words jieba cut whole (accurate mode) in some sampled article, not
only as a piece of a longer one (法会 of 立法会).  Left out: words of one
character, words without a letter or ideograph (digits,
punctuation), the stopwords key terms leave out, words seen in fewer than
``MIN_IN_RESULTS`` sampled articles (Elasticsearch's ``min_doc_count``),
and the query's own words (and pieces of them)."""

from __future__ import annotations

import re
import threading
from collections import Counter, OrderedDict
from typing import Callable, Iterable

from .analysis import Analyzer
from .documents import _STOP as STOPWORDS  # the key terms' stopwords: function words saying nothing
from .normalize import normalize, normalize_query
from .result_cache import ResultCache

SAMPLE_SIZE = 200  # top-ranked matches looked at (Elasticsearch's sampler example uses 200)
MIN_IN_RESULTS = 3  # sampled articles a word must be in (Elasticsearch's min_doc_count default)
LOOKUP_BATCH = 100  # words whose archive frequency is asked for at once (chosen, not measured)
DEFAULT_SIZE = 10
MAX_SIZE = 50
_LETTER = re.compile(r"[^\W\d_]")  # a letter or an ideograph (not a digit, not punctuation)


def jlh(in_results: int, sample: int, in_archive: int, archive: int) -> float:
    """Elasticsearch's JLH score of a word in ``in_results`` of ``sample``
    foreground articles and ``in_archive`` of ``archive`` articles in all:
    0.0 unless the word is relatively more frequent in the foreground."""
    if not sample or not archive or not in_archive:
        return 0.0
    fg, bg = in_results / sample, in_archive / archive
    return (fg - bg) * (fg / bg) if fg > bg else 0.0


def is_candidate(word: str) -> bool:
    """May ``word`` be a significant term: two characters or more, a
    letter or ideograph in it, not a stopword?"""
    return len(word) >= 2 and _LETTER.search(word) is not None and word not in STOPWORDS


class SignificantTerms:
    """Significant terms of result samples, with the words of each article
    analysed once and remembered (``WORDS_CACHE`` articles, by id and
    text), and answers remembered per key (``cached``).  The background is
    ``backend`` (an ``IndexBackend``): ``doc_count()``, ``doc_frequencies``
    (one round trip; Whoosh's is a lower bound of the exact count only
    while no segment holds deleted articles: ``has_deletions()``, so only
    then does it decide which words need the exact ``doc_frequency``)."""

    WORDS_CACHE = 8192

    def __init__(self, analyzer: Analyzer, backend, answers: int = 256):
        self.analyzer = analyzer
        self.estimate: Callable[[list[str]], list[int]] = backend.doc_frequencies
        self.exact: Callable[[str], int] = backend.doc_frequency
        self.doc_count: Callable[[], int] = backend.doc_count
        self.has_deletions: Callable[[], bool] = backend.has_deletions
        self._answers = ResultCache(answers)
        self._words: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def words(self, stored: dict) -> tuple[frozenset[str], frozenset[str]]:
        """The distinct index words (title and body) of a stored article,
        and those of them jieba cut as whole words (accurate mode: not
        only as a piece of a longer word)."""
        title, body = stored.get("title") or "", stored.get("body") or ""
        key = (stored.get("id"), hash(title), hash(body))
        with self._lock:
            found = self._words.get(key)
            if found is not None:
                self._words.move_to_end(key)
                return found
        cut = [self.analyzer.words(normalize(text)) for text in (title, body)]
        found = (frozenset(cut[0].terms) | frozenset(cut[1].terms),
                 frozenset(cut[0].words) | frozenset(cut[1].words))
        with self._lock:
            self._words[key] = found
            while len(self._words) > self.WORDS_CACHE:
                self._words.popitem(last=False)
        return found

    def cached(self, key, sample: Callable[[], list[dict]], q: str, size: int = DEFAULT_SIZE) -> dict:
        """``terms(sample(), q, size)`` with ``query`` (``q``), remembered
        under ``key`` (hashable: the index version and the request)."""
        found = self._answers.get(key)
        if found is None:
            found = {"query": q, **self.terms(sample(), q, size)}
            self._answers.put(key, found)
        return found

    def query_words(self, q: str) -> tuple[str, set[str]]:
        """(the query's normalised text, its words): what a term may not be."""
        text = normalize_query(q)
        return text, set(self.analyzer.query_words(text))

    def terms(self, sample: Iterable[dict], q: str, size: int = DEFAULT_SIZE,
              min_in_results: int = MIN_IN_RESULTS) -> dict:
        """The ``size`` most significant terms of ``sample`` (stored
        articles, the top-ranked matches of query ``q``), best first.

        Returns ``{"sample": articles looked at, "archive": live articles,
        "significant_terms": [{"term", "score" (JLH), "in_results" (sampled
        articles with it), "in_archive" (articles of the index with it)}]}``.
        Ties in score: the more frequent in the results, then the term."""
        docs = list(sample)
        counts: Counter = Counter()
        whole: set[str] = set()
        for stored in docs:
            terms, accurate = self.words(stored)
            counts.update(terms)
            whole |= accurate
        text, own = self.query_words(q)
        # Candidates: words jieba cut whole somewhere in the sample (not
        # only pieces such as 法会 of 立法会), counted as the index counts them.
        candidates = [w for w, n in counts.items() if n >= min_in_results and w in whole
                      and is_candidate(w) and w not in own and w not in text]
        archive = self.doc_count()
        # Most frequent first, in batches: a word in n sampled articles
        # scores at most jlh(n, sample, n, archive) (in_archive >= n), so
        # once that bound cannot beat the size-th best score found, no later
        # word can either (ties rank the more frequent first).  Within a
        # batch, the cheap archive frequency (``estimate``: a lower bound of
        # the exact one, so its score an upper bound) decides which words
        # need the exact count at all.  The answer is the one scoring every
        # candidate exactly would give, with far fewer lookups.  While
        # deleted articles are still counted (Whoosh until their segment
        # merges: every update leaves one), the estimate may exceed the
        # exact count, so it is not used: each batch word is counted exactly.
        estimate = (lambda words: [0] * len(words)) if self.has_deletions() else self.estimate
        candidates.sort(key=lambda w: (-counts[w], w))
        sample = len(docs)
        rows: list[dict] = []

        def kth() -> float:
            return sorted(r["score"] for r in rows)[-size] if len(rows) >= size else 0.0

        for start in range(0, len(candidates), LOOKUP_BATCH):
            n = counts[candidates[start]]
            if len(rows) >= size and jlh(n, sample, n, archive) < kth():  # a tie may still rank above (its term)
                break
            batch = candidates[start:start + LOOKUP_BATCH]
            for word, lower in zip(batch, estimate(batch)):
                n = counts[word]
                if jlh(n, sample, max(lower, n), archive) < kth():
                    continue
                df = max(self.exact(word), n)  # never below the sample's own count
                score = jlh(n, sample, df, archive)
                if score > 0:
                    rows.append({"term": word, "score": round(score, 6), "in_results": n, "in_archive": df})
        rows.sort(key=lambda r: (-r["score"], -r["in_results"], r["term"]))
        return {"sample": len(docs), "archive": archive, "significant_terms": rows[:size]}
