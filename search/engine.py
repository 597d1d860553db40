"""The search engine: query text in, ranked and highlighted results out.

    request -> query.parse (tree: search/query/) -> pinyin, synonyms (tree -> tree)
            -> QueryCompiler.compile (plan clauses: search/compiler.py)
            -> backend.execute -> highlight (search/results.py) -> SearchResult

The engine owns that orchestration, the result cache and did you mean.
The web app, the CLI and the benchmarks all go through ``SearchEngine``;
its search-box methods delegate to ``search/searchbox.py`` and its article
methods (related, coverage, article context) to ``search/related.py``.

Size: the one orchestration of every search path (search and its cache,
did you mean, timelines, significant terms, the modes of ``search.hybrid``);
what is not orchestration is delegated already.
"""

from __future__ import annotations

import dataclasses
import html
import re
import time

from . import comparison, hybrid, pending_words, pinyin, wordbreak
from . import query as q
from . import related as stories
from .analysis import Analyzer
from .backends.base import IndexBackend, IndexStats
from .compiler import QueryCompiler
from .correct import corrected_query, mistyped_runs, noise_articles
from .fields import checked_filters, facet_names
from .models import FACET_FIELDS, Hit, SearchRequest, SearchResult, FacetValue
from .moderation import Blocklist
from .normalize import normalize_query
from .pinyin import LexiconCache
from .plan import Plan, PhraseClause, understood, understood_tree
from .querylog import QueryLog
from .result_cache import ResultCache, request_key
from .results import brief, hit, partial_needles
from .searchbox import SearchBox
from .segmenter import get_segmenter
from .settings import DEFAULT_BLOCKLIST, DEFAULT_SYNONYMS
from .significant import DEFAULT_SIZE, SAMPLE_SIZE, SignificantTerms
from .synonyms import Synonyms, expand

_TAGS = re.compile(r"</?mark>")

CACHE_MAX_SIZE = 100  # results of bigger pages are not kept in the result cache
FEW_RESULTS = 5  # fewer full matches than this: look for a correction


class SearchEngine:
    """Searches one index (an ``IndexBackend``): parse, read pinyin, apply
    synonyms, compile (``search/compiler.py``), execute, highlight; results
    cached per index version; did you mean.  The search box's helpers are
    ``self.search_box`` (``search/searchbox.py``), related articles and
    story coverage ``search/related.py``; the methods of both stay here as
    delegations, for the web app, the CLI and the benchmarks."""

    def __init__(self, backend: IndexBackend, userdict_path: str | None = None, cache_size: int = 2048,
                 synonyms_path: str | None = DEFAULT_SYNONYMS, blocklist_path: str | None = DEFAULT_BLOCKLIST,
                 query_log: QueryLog | None = None, query_timeout: float | None = None,
                 embed_model: str | None = None):
        self.backend = backend
        # Hybrid and semantic modes embed the query with this model ("bundled" or an ONNX
        # model directory; None: bundled), loaded on the first such search (search.hybrid).
        self.query_embedder = hybrid.QueryEmbedder(embed_model)
        # The hybrid mode's parameters (the evaluations set others; the
        # result cache's key holds them).
        self.fusion = hybrid.Fusion()
        self._semantic = hybrid.Availability(backend, self.query_embedder)
        # Set first: the background builders started below search at once.
        # What the user dictionary the index was cut with is, when known
        # (a callable -> (its words, words being re-indexed) or None; the
        # web sets it from the article store): see pending_words.
        self.index_userdict = None
        self._pending_memo = None  # ((index state, dictionary version), pending words): see pending_words
        self._forced_for = None  # the index state a dictionary re-read was forced for: see pending_words
        self.query_timeout = query_timeout  # seconds; None: no limit
        self.analyzer = Analyzer(get_segmenter(userdict_path))
        self.synonyms = Synonyms(synonyms_path)
        self.blocklist = Blocklist(blocklist_path)
        self.query_log = query_log
        self.pinyin = LexiconCache(backend, is_word=self.analyzer.segmenter.has_word)
        self.pinyin.start()  # in the background: seconds on the full corpora
        self.compiler = QueryCompiler(self.analyzer)
        # Run-together Latin words the index does not know, read as words
        # (roughguidemorocco -> rough guide morocco; search.wordbreak).
        self.word_breaker = wordbreak.WordBreaker(backend.doc_frequency)
        self.search_box = SearchBox(backend, self.analyzer, self.pinyin, query_log, self.blocklist,
                                    self._newest_titles)
        self.suggester = self.search_box.suggester
        self._cache = ResultCache(cache_size)
        self._derived = ResultCache(256)  # the share denominators of timelines, per index version
        self.significant_terms = SignificantTerms(self.analyzer, backend)
        # Build the character tables and load jieba now, not in the first query.
        self.analyzer.query_words(normalize_query("預熱 warm-up 中文"))

    def pending_words(self) -> frozenset[str]:
        """User dictionary words (normalised) the index may hold cut either
        way (added or removed since its articles were cut, or being
        re-indexed): searched as the word and as the phrase of its
        characters (``pending_words``).  Computed once per (index state,
        dictionary version) and remembered: a call costs a comparison
        (identity first: the web hands back the same state object until
        the store's changes), not a pass over the dictionary's words."""
        known = self.index_userdict() if self.index_userdict is not None else None
        if known is None:
            return frozenset()
        segmenter = self.analyzer.segmenter
        if known[2] and known[2] != segmenter.version and self._forced_for is not known:
            # The index was (re)cut with another dictionary than this process
            # holds: read the file now rather than at the next interval (once
            # per state), or a word both still hold could be searched only one way.
            self._forced_for = known
            segmenter.check(force=True)
        loaded = segmenter.loaded  # one dictionary: words and version agree
        memo = self._pending_memo
        if memo is not None and memo[0][1] == loaded.version and (memo[0][0] is known or memo[0][0] == known):
            return memo[1]
        index_words, reindexing, _ = known
        words = pending_words.pending(index_words, loaded.words, reindexing)
        self._pending_memo = ((known, loaded.version), words)
        return words

    def wait_ready(self, timeout: float = 120.0, suggestions: bool = True) -> bool:
        """Wait until the background builders have their first value: the
        pinyin lexicon (pinyin input and did you mean) and, with
        ``suggestions``, the suggester; at most ``timeout`` seconds in all.
        A one-shot caller (the CLI) then reads queries exactly as the
        warmed-up service does.  True when all are ready; on False, queries
        run without what is missing."""
        deadline = time.monotonic() + timeout
        builders = (self.pinyin, self.suggester) if suggestions else (self.pinyin,)
        return all([builder.wait(deadline - time.monotonic()) for builder in builders])

    @classmethod
    def open(cls, index_dir: str, userdict_path: str | None = None, refresh_interval: float = 1.0,
             backend: str = "whoosh", opensearch_url: str | None = None, **options):
        """``index_dir``: the Whoosh index directory, or the OpenSearch index
        or alias with ``backend="opensearch"``.  ``options``: synonyms_path,
        blocklist_path, query_log, cache_size, query_timeout, embed_model."""
        from .backends import open_backend

        return cls(open_backend(backend, index_dir, refresh_interval, opensearch_url), userdict_path, **options)

    # ---- search -------------------------------------------------------------
    def search(self, req: SearchRequest) -> SearchResult:
        """Search, answering repeated requests from a cache that is keyed by
        the index version (a new commit never serves stale results).
        Raises ``search.hybrid.InvalidMode`` (400) for a mode not in
        ``search.hybrid.MODES``, ``SemanticModeUnavailable`` (400) for
        hybrid or semantic search without the ``semantic`` extra or
        without vectors in the index, and what ``IndexBackend.execute``
        raises."""
        hybrid.check_mode(req.mode)
        req = self._runnable_mode(req)
        t0 = time.perf_counter()
        self.analyzer.segmenter.check(interval=0.0)  # a changed user dictionary cuts this query anew
        pending = self.pending_words()  # once per request: the cache key, the search and its correction
        key = (self.backend.version(), self.synonyms.version, self.analyzer.segmenter.version, pending,
               self.pinyin.builds, request_key(req),
               None if req.mode == "lexical" else (self.backend.vectors_version(), self.fusion))
        hit = self._cache.get(key)
        if hit is not None:
            return dataclasses.replace(hit, request=req, took_ms=(time.perf_counter() - t0) * 1000)
        result = self._search(req, t0, pending=pending)
        if req.correct:
            result = self._with_correction(req, result, t0, pending)
        if req.size <= CACHE_MAX_SIZE:  # not exports of thousands of rows
            self._cache.put(key, result)
        return result

    def _with_correction(self, req: SearchRequest, result: SearchResult, t0: float,
                         pending: frozenset[str] | None = None) -> SearchResult:
        """Did you mean (``correct.py`` decides what is a slip and what it
        should read).  The query as typed matches no article with all its
        words: show the corrected query's results instead (with a note and
        a link back).  It matches only a few (< ``FEW_RESULTS``), or more
        but a Chinese run of it occurs in no article as written although
        its pieces match separately (习近凭: 习近 + 凭): offer the
        correction when it finds more articles."""
        lexicon = self.pinyin.get()
        segmenter = self.analyzer.segmenter
        few = result.relaxed or result.total < FEW_RESULTS
        if lexicon is None:
            return result

        counted: dict[str, int] = {}  # run -> written(run): asked once a request

        def written(text: str) -> int:
            """Articles with ``text`` as written (no partial matches)."""
            if text not in counted:
                clause = PhraseClause(text, self.analyzer.phrase_grams(text), ("title", "body"))
                counted[text] = self.backend.execute(Plan(must=[clause], limit=0, relax_below=0)).total
            return counted[text]

        if not few:
            # Reading a run back through the lexicon costs article counts of
            # its homophones: first the cheap questions, is a suspect run in
            # the results shown (their titles and snippets, in hand), and if
            # not, is it found nowhere as written (one phrase count each)?
            runs = mistyped_runs(req.q, segmenter.cut, segmenter.has_word)
            if runs:  # most queries have none: the results' text is not normalised then
                shown = normalize_query("\n".join(h.title + "\n" + html.unescape(_TAGS.sub("", h.snippet))
                                                   for h in result.hits))
                runs = [run for run in runs if run not in shown]
            noise = noise_articles(self.backend.doc_count()) if runs else 0
            if not any(written(run) <= noise for run in runs):
                return result

        fixed = corrected_query(req.q, lexicon, self.backend.doc_count(), segmenter.cut,
                                written=None if few else written)
        if not fixed:
            return result
        alt = self._search(dataclasses.replace(req, q=fixed, correct=False), t0, pending=pending)
        # Judged by full matches: on a small index the corrected query may
        # have few enough (韩国国会: 5 of 2,000) to be followed by partial ones.
        if alt.total_full <= result.total_full:
            return result
        if result.relaxed or not result.total_full:
            return dataclasses.replace(alt, request=req, corrected_from=req.q, corrected_to=fixed,
                                       took_ms=(time.perf_counter() - t0) * 1000)
        return dataclasses.replace(result, suggestion=fixed)

    def _plan(self, req: SearchRequest, timed: bool = True, pending: frozenset[str] | None = None):
        """The request as a backend plan (query parsed, pinyin read,
        synonyms applied, compiled): one path for searches and timelines.
        ``pending``: ``pending_words()`` when the caller has it already.
        Returns (plan, searchable, pinyin conversions, synonym groups, parsed query)."""
        parsed = q.parse(req.q)
        if pending is None:
            pending = self.pending_words()
        converted, pinyin_words = pinyin.expand(pending_words.expand(parsed, pending), self.pinyin.get(),
                                                self.backend.doc_frequency)
        expanded, synonyms = expand(converted, self.synonyms, self.analyzer.segments)
        # Staff's exact queries are never read otherwise than typed.
        compiler = self.compiler if parsed.exact else self.compiler.splitting(self.word_breaker.split)
        must, must_not = compiler.compile(expanded, req.fields)
        plan = Plan(
            must=must,
            proximity_grams=self.compiler.proximity_grams(parsed),
            must_not=must_not,
            filters=checked_filters({f: getattr(req, f) for f in FACET_FIELDS if getattr(req, f)}),
            date_from=req.date_from,
            date_to=req.date_to,
            sort=req.sort,
            offset=(req.page - 1) * req.size,
            limit=req.size,
            facets=facet_names(req.facets),
            facet_size=req.facet_size,
            now=time.time(),
            group=req.group,
            explain=req.explain,
            deadline=time.monotonic() + self.query_timeout if self.query_timeout and timed else None,
        )
        if parsed.exact:
            plan.relax_below = 0  # staff asked for exactly these articles
        # The query had text, but nothing searchable in it (only punctuation,
        # or operators with no term: "NOT", "()")?  Nothing found, never everything.
        nothing = (parsed.must and not must) or (parsed.is_empty and bool(req.q.strip()))
        return plan, not nothing, pinyin_words, synonyms, parsed

    def compiled(self, req: SearchRequest) -> Plan | None:
        """``req`` as the plan its search runs (parsed, pinyin read,
        synonyms applied, compiled against this index; no deadline), or
        None when its query holds nothing searchable (it finds nothing).
        What the percolator (``search.percolator``) runs against batches."""
        plan, searchable, _, _, _ = self._plan(req, timed=False)
        return plan if searchable else None

    def highlight_terms(self, q: str) -> list[str]:
        """The texts a search for ``q`` marks in its results' titles and
        snippets (parsed, pinyin read, synonyms applied, compiled: the
        results page's analysis; excluded words are not marked), for
        ``highlight.highlight_text`` on an article reached from results.
        Nothing is executed; an empty ``q``: []."""
        if not q.strip():
            return []
        plan, searchable, _, _, _ = self._plan(SearchRequest(q=q, facets=(), highlight=True), timed=False)
        return [n for c in plan.must for n in c.needles()] if searchable else []

    def timeline(self, req: SearchRequest, interval: str = "auto") -> dict:
        """Matches of ``req`` per day, week, month or year ("auto": from their
        span): ``{"interval", "total", "undated", "buckets": [{"start", "count"}]}``
        for the coverage chart (``search.timeline``: labels, coarsening)."""
        plan, searchable, _, _, _ = self._plan(req)
        plan = dataclasses.replace(plan, limit=0, offset=0, facets=(), histogram=interval, group=False)
        if not searchable:
            return {"interval": "month" if interval == "auto" else interval, "total": 0, "undated": 0, "buckets": []}
        res = self.backend.execute(plan)
        return {"interval": res.histogram_interval, "total": res.total, "undated": res.undated,
                "buckets": [{"start": label, "count": n} for label, n in res.histogram]}

    def compare(self, reqs: list[SearchRequest], interval: str = "auto", share: bool = False) -> dict:
        """Several queries' timelines on the same buckets, optionally as shares
        (``search.comparison.compare``); denominators cached per index version."""
        totals = comparison.cached(self.timeline, self._derived, self.backend.version)
        return comparison.compare(self.timeline, reqs, interval, share, totals)

    def significant(self, req: SearchRequest, size: int = DEFAULT_SIZE) -> dict:
        """The significant terms of the ``SAMPLE_SIZE`` top-ranked matches of
        ``req`` against the whole index, cached per index version and request
        (``search.significant``: shape and scoring)."""
        sample = dataclasses.replace(req, page=1, size=SAMPLE_SIZE, facets=(), highlight=False, timeline=False,
                                     correct=False)
        plan, searchable, *_ = self._plan(sample)
        key = (self.backend.version(), self.synonyms.version, request_key(sample), size)
        return self.significant_terms.cached(
            key, lambda: [h.stored for h in self.backend.execute(plan).hits] if searchable else [], req.q, size)

    def _search(self, req: SearchRequest, t0: float, timed: bool = True,
                pending: frozenset[str] | None = None) -> SearchResult:
        """``timed``: readers' searches stop at the query timeout; the
        engine's own background work (suggestions) does not.  ``pending``:
        see ``_plan``."""
        plan, searchable, pinyin_words, synonyms, parsed = self._plan(req, timed, pending)
        must, must_not = plan.must, plan.must_not
        dense_total = None
        if req.mode != "lexical":
            rest = q.restrictions(parsed, req.fields) if req.mode == "semantic" else None
            restrict = None if rest is None else self.compiler.compile(rest, "all")
            plan, searchable = hybrid.dense_plan(self.query_embedder, req, plan, searchable, parsed, self.fusion,
                                                 restrict)
            dense_total = 0
        timeline = None
        total_articles = 0 if req.group else None
        total_full, estimated = 0, False
        if not searchable:
            # The query had text, but nothing searchable in it (e.g. only punctuation).
            result_total, hits, facets, relaxed = 0, [], {f: [] for f in plan.facets}, False
        else:
            if req.timeline:
                plan = dataclasses.replace(plan, histogram="auto")
            res = self.backend.execute(plan)
            needles = [n for c in must for n in c.needles()]
            hits = [hit(h.stored, h.score, needles + partial_needles(must, h.missing), req.highlight)
                    for h in res.hits]
            for found, h in zip(hits, res.hits):
                found.similar_count = h.similar_count
                found.similar = [brief(stored) for _, stored in h.similar]
                found.match = {"full": not h.missing, "missing": [must[i].label() for i in h.missing]}
                if plan.dense is not None:
                    found.match = {"full": False, "missing": [], "by": "dense"} if h.dense_only else \
                        {**found.match, "by": "words"}
                    found.match["similarity"] = None if h.similarity is None else round(h.similarity, 4)
                found.explain = h.explain
            result_total, facets, relaxed = res.total, res.facets, res.relaxed
            total_full = res.total if res.total_full is None else res.total_full
            total_articles = res.total_articles
            estimated = res.total_estimated
            if req.timeline:
                timeline = {"interval": res.histogram_interval, "undated": res.undated,
                            "buckets": [{"start": label, "count": n} for label, n in res.histogram]}
            if plan.dense is not None:
                dense_total = res.dense_total
        notices = [n.to_dict() for n in parsed.notices] + wordbreak.notices(must)
        if plan.dense is not None:
            notices += hybrid.notices(req.mode, dense_total, res.dense_backlog, res.dense_reranked)
        return SearchResult(
            request=req,
            total=result_total,
            hits=hits,
            facets={k: [FacetValue(v, c) for v, c in vals] for k, vals in facets.items()},
            took_ms=(time.perf_counter() - t0) * 1000,
            understood=understood(must) + [f"-{u}" for u in understood(must_not)],
            understood_tree=understood_tree(must, must_not),
            notices=notices,
            exact=parsed.exact,
            total_full=total_full,
            total_estimated=estimated,
            relaxed=relaxed,
            synonyms=[list(g) for g in synonyms],
            pinyin=pinyin_words,
            timeline=timeline,
            total_articles=total_articles,
            dense_total=dense_total,
        )

    # ---- the search box (search/searchbox.py) ----------------------------------
    def _newest_titles(self, n: int) -> list[str]:
        """The titles of the ``n`` newest articles (the suggester's recent
        headlines; no deadline: background work)."""
        newest = self._search(SearchRequest(q="", size=n, sort="newest", facets=(), highlight=False,
                                            correct=False), time.perf_counter(), timed=False)
        return [h.title for h in newest.hits]

    def suggest(self, prefix: str, limit: int = 8) -> list[str]:
        """Completions of ``prefix`` (``SearchBox.suggest``)."""
        return self.search_box.suggest(prefix, limit)

    def top_queries(self, since: float, until: float, limit: int = 20, zero_only: bool = False,
                    moderated: bool = True) -> list[dict]:
        """Staff's query report (``SearchBox.top_queries``)."""
        return self.search_box.top_queries(since, until, limit, zero_only, moderated)

    def filtered_out_queries(self, since: float, until: float, limit: int = 20,
                             moderated: bool = True) -> list[dict]:
        """Staff's report of searches the filters left empty (``SearchBox.filtered_out``)."""
        return self.search_box.filtered_out(since, until, limit, moderated)

    def hot_queries(self, days: int = 7, limit: int = 10) -> list[dict]:
        """Readers' hot searches (``SearchBox.hot_queries``)."""
        return self.search_box.hot_queries(days, limit)

    # ---- articles, related articles and story coverage (search/related.py) --------
    def get(self, doc_id: str) -> dict | None:
        """The stored article ``doc_id`` (a dict of its stored fields), or None."""
        return self.backend.get(doc_id)

    def near_duplicates(self, doc_id: str) -> list[dict] | None:
        """The article's near-duplicates (republished or lightly edited
        copies), earliest first; None if the article does not exist."""
        if self.backend.get(doc_id) is None:
            return None
        return [brief(stored) for stored in self.backend.near_duplicates(doc_id)]

    def related(self, doc_id: str, size: int = 5) -> list[Hit] | None:
        """Articles most related to ``doc_id`` (``related.related``)."""
        return stories.related(self.backend, doc_id, size, frequencies=self.pinyin.frequencies)

    def coverage(self, doc_id: str, size: int = 10) -> dict | None:
        """How a story developed (``related.coverage``)."""
        return stories.coverage(self.backend, doc_id, size, frequencies=self.pinyin.frequencies)

    def article_context(self, doc_id: str, related_size: int = 5, coverage_size: int = 10) -> dict | None:
        """An article with its related list and story coverage
        (``related.article_context``)."""
        return stories.article_context(self.backend, doc_id, related_size, coverage_size,
                                       frequencies=self.pinyin.frequencies)

    def semantic_available(self) -> bool:
        """Can hybrid and semantic search run here (``hybrid.Availability``)?"""
        return self._semantic.get()

    def semantic_unavailable(self) -> str | None:
        """None when hybrid and semantic search can run here, else why not
        (``hybrid.Availability.reason``)."""
        return self._semantic.reason()

    def _runnable_mode(self, req: SearchRequest) -> SearchRequest:
        """``req`` in a mode that can run here.  A mode the request asked
        for that cannot run is a ``SemanticModeUnavailable`` (400) saying
        why; the service's default mode (``req.mode_default``) that cannot
        run (no vectors or extra; semantic without query text, or with
        ``explain``) is lexical instead: a reader who chose nothing is
        never refused for the operator's setting (/healthz reports it)."""
        if req.mode == "lexical":
            return req
        why = self._semantic.reason()
        if req.mode_default and (why is not None or req.explain or (req.mode == "semantic" and not req.q.strip())):
            return dataclasses.replace(req, mode="lexical")
        if why is not None:
            raise hybrid.SemanticModeUnavailable(f"semantic mode is unavailable: {why}")
        return req

    def stats(self) -> IndexStats:
        """The backend's ``stats()``."""
        return self.backend.stats()

    def check(self) -> None:
        """Raise ``IndexCorrupt`` (search/backends/base.py) when the index
        on disk is damaged; cheap enough for every ``/healthz`` (a stat per
        segment file).  Backends without such checks pass."""
        check = getattr(self.backend, "check", None)
        if check is not None:
            check()
