"""What the search box offers around a search: completions as the reader
types (the suggester built from the index and the query log, in the
background; checked against withdrawn articles and blocked text), hot
queries for readers, and the query reports for staff.

``suggest.py`` is the completion table itself; this module feeds it from a
backend and answers with it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Callable

from .backends.base import IndexBackend
from .analysis import Analyzer
from .background import BackgroundValue
from .moderation import Blocklist
from .normalize import normalize
from .pinyin import LexiconCache
from .plan import Plan
from .querylog import QueryLog
from .suggest import BODY, BODY_MIN_DF, TAG, TITLE, Suggester, _key

log = logging.getLogger(__name__)

RECENT_HEADLINES = 2000  # words of the newest headlines rank higher in suggestions
POPULAR_DAYS = 30  # queries of the last 30 days feed suggestions
SUGGESTER_MAX_AGE = 600.0  # seconds: the suggester is rebuilt this often for readers' queries


class SearchBox:
    """The search box's helpers over one backend.  ``newest_titles(n)``:
    the titles of the ``n`` newest articles (the engine's search, newest
    first, without a deadline).  The suggester (``self.suggester``, a
    ``BackgroundValue`` of ``Suggester``) starts building at once, in the
    background."""

    def __init__(self, backend: IndexBackend, analyzer: Analyzer, pinyin: LexiconCache,
                 query_log: QueryLog | None, blocklist: Blocklist, newest_titles: Callable[[int], list[str]]):
        self.backend = backend
        self.analyzer = analyzer
        self.pinyin = pinyin
        self.query_log = query_log
        self.blocklist = blocklist
        self.newest_titles = newest_titles
        self._body_words: tuple = (None, {})  # (index version, body vocabulary for suggestions)
        self._live_words: tuple = (None, {})  # (index version, word -> still in a live article)
        self.suggester = BackgroundValue(self._build_suggester, max_age=SUGGESTER_MAX_AGE, name="suggester")
        self.suggester.start()

    def _build_suggester(self) -> Suggester:
        """Headline words, body words many articles use, tags, the newest
        headlines' words as written there, and readers' recent queries
        (see suggest.py)."""
        lexicon = self.pinyin.get(wait=120)
        recent: Counter = Counter()
        for title in self.newest_titles(RECENT_HEADLINES):
            # Words as the index cuts them, in the headline's own characters.
            for token in self.analyzer.word_tokens(normalize(title)):
                recent[title[token.start:token.end]] += 1
        popular = self.query_log.popular(time.time() - POPULAR_DAYS * 86400) if self.query_log else {}
        min_df = 2 if self.backend.doc_count() >= 10000 else 1
        return Suggester(self.backend.vocabulary("title"), recent, popular,
                         lexicon.pinyin_of if lexicon is not None else None, min_df=min_df,
                         body_vocabulary=self._body_vocabulary(),
                         tags=self.backend.vocabulary("tag", min_df=min_df))

    def _body_vocabulary(self) -> dict[str, int]:
        """Body words of ``BODY_MIN_DF``+ articles, read again only when the
        index has changed (most of a suggester build's time on the full
        corpora; the suggester is rebuilt every ten minutes for readers'
        queries anyway)."""
        version = self.backend.version()
        if self._body_words[0] != version:
            try:
                words = self.backend.vocabulary("body", min_df=BODY_MIN_DF)
            except ValueError as exc:  # an OpenSearch index written before it kept body words
                log.warning("suggestions from headlines and tags only: %s", exc)
                words = {}
            self._body_words = (version, words)
        return self._body_words[1]

    def suggest(self, prefix: str, limit: int = 8) -> list[str]:
        """At most ``limit`` completions of ``prefix`` (empty until the
        suggester's first build is done, a few seconds after opening)."""
        suggester = self.suggester.get()
        if not suggester:
            return []
        blocked = self._suggestion_blocked(suggester)
        if not self.backend.has_deletions():
            return suggester.suggest(prefix, limit, blocked=blocked)
        # Withdrawn articles' words still count in the vocabulary until their
        # segment is merged away: check what is offered (cached per index
        # version; without deletions nothing needs checking).
        version = self.backend.version()
        if self._live_words[0] != version:
            self._live_words = (version, {})
        known = self._live_words[1]

        def live(key: str, sources) -> bool:
            if key not in known:
                known[key] = ((sources & TITLE and self.backend.in_live_title(key))
                              or (sources & BODY and self.backend.doc_frequency(key) > 0)
                              or (sources & TAG and self.backend.execute(
                                  Plan(filters={"tag": [key]}, limit=0)).total > 0))
            return known[key]

        return suggester.suggest(prefix, limit, blocked=blocked, live=live)

    def _suggestion_blocked(self, suggester: Suggester):
        """The blocklist, and readers' queries staff removed from the query
        log since the suggester was built (a removed text that is also a
        headline word, tag or body word stays: it is offered for those)."""
        gone = self.query_log.removed() if self.query_log else frozenset()
        if not gone:
            return self.blocklist.blocks
        keys = {_key(q) for q in gone}
        words = suggester._sources

        def blocked(text: str) -> bool:
            key = _key(text)
            return self.blocklist.blocks(text) or (key in keys and key not in words)
        return blocked

    def top_queries(self, since: float, until: float, limit: int = 20, zero_only: bool = False,
                    moderated: bool = True) -> list[dict]:
        """Most frequent logged queries in [since, until) (epoch seconds),
        every reader's query counted (staff reports; ``moderated``: blocked
        ones left out, else flagged): [{"q", "count", "results", "removed",
        "blocked"}]; [] without a query log."""
        if self.query_log is None:
            return []
        rows = self.query_log.top(since, until, limit, zero_only,
                                  blocked=self.blocklist.blocks if moderated else None)
        for row in rows:
            row["blocked"] = self.blocklist.blocks(row["q"])
        return rows

    def filtered_out(self, since: float, until: float, limit: int = 20, moderated: bool = True) -> list[dict]:
        """Logged searches in [since, until) whose words find articles but
        whose filters left none (``QueryLog.filtered_out``: [{"q",
        "filters", "count", "words_results", "removed", "blocked"}]); []
        without a query log."""
        if self.query_log is None:
            return []
        rows = self.query_log.filtered_out(since, until, limit, blocked=self.blocklist.blocks if moderated else None)
        for row in rows:
            row["blocked"] = self.blocklist.blocks(row["q"])
        return rows

    def hot_queries(self, days: int = 7, limit: int = 10) -> list[dict]:
        """Hot searches for readers (the home page): the query log's rule
        (``QueryLog.hot``: enough distinct clients a day, listable, found
        something, not removed), without blocked ones: [{"q", "count",
        "results"}]; [] without a query log."""
        if self.query_log is None:
            return []
        return self.query_log.hot(days, limit, blocked=self.blocklist.blocks)
