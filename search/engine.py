"""The search engine: query text in, ranked and highlighted results out.

    request -> query.parse (tree) -> compile (analysis) -> backend.execute
            -> highlight -> SearchResult

The web app, the CLI and the benchmarks all go through ``SearchEngine``.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import os
import re
import threading
import time
from collections import Counter, OrderedDict
from datetime import datetime, timedelta

from . import pinyin, regional
from . import query as q
from .analysis import Analyzer
from .backends.base import IndexBackend, IndexStats
from .background import BackgroundValue
from .correct import corrected_query, mistyped_runs, noise_articles
from .highlight import highlight_title, snippet
from .models import FACET_FIELDS, Hit, SearchRequest, SearchResult, FacetValue
from .moderation import Blocklist
from .normalize import fold_case, normalize, normalize_query
from .pinyin import LexiconCache
from .plan import (AllClause, AnyClause, LeadClause, MentionsClause, NearClause, Plan, PhraseClause, ValueClause,
                   WordClause)
from .querylog import QueryLog
from .related import related_plan
from .segmenter import get_segmenter
from .suggest import BODY, BODY_MIN_DF, TAG, TITLE, Suggester
from .synonyms import Synonyms, expand
from .timeutil import parse_published

log = logging.getLogger(__name__)
_TAGS = re.compile(r"</?mark>")

from .fields import SEARCHED_FIELDS as TEXT_FIELDS
# Words that carry no topic: in a query with other words they only add to
# the score and are never required ("香港的选举" needs 香港 and 选举).
FUNCTION_WORDS = frozenset(
    "的 了 是 在 和 与 及 或 吗 么 呢 啊 吧 把 被 对 为 从 向 于 等 着 过 也 都 就 还 又 很 "
    "最 更 个 之 其 将 以 而 且 但 并 即 呀 哪 啥 有 没 不 能 会 要 可 该 这 那 此 "
    "什么 怎么 怎样 如何 哪些 哪里 为什么 多少 是否 是不是 可以 能否 一个 一下".split()
)


CACHE_MAX_SIZE = 100  # results of bigger pages are not kept in the result cache
RECENT_HEADLINES = 2000  # words of the newest headlines rank higher in suggestions
POPULAR_DAYS = 30  # queries of the last 30 days feed suggestions
FEW_RESULTS = 5  # fewer full matches than this: look for a correction
STORY_WINDOW_DAYS = 90  # follow-ups of a story: related articles within this many days
STORY_MIN_SHARE = 0.5  # ... scoring at least this share of the best one
DEFAULT_SYNONYMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "synonyms.txt")
DEFAULT_BLOCKLIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "blocklist.txt")


class SearchEngine:
    def __init__(self, backend: IndexBackend, userdict_path: str | None = None, cache_size: int = 2048,
                 synonyms_path: str | None = DEFAULT_SYNONYMS, blocklist_path: str | None = DEFAULT_BLOCKLIST,
                 query_log: QueryLog | None = None, query_timeout: float | None = None):
        self.backend = backend
        self.query_timeout = query_timeout  # seconds; None: no limit
        self.analyzer = Analyzer(get_segmenter(userdict_path))
        self.synonyms = Synonyms(synonyms_path)
        self.blocklist = Blocklist(blocklist_path)
        self.query_log = query_log
        self.pinyin = LexiconCache(backend, is_word=self.analyzer.segmenter.has_word)
        self.pinyin.start()  # in the background: seconds on the full corpora
        self._body_words: tuple = (None, {})  # (index version, body vocabulary for suggestions)
        self.suggester = BackgroundValue(self._build_suggester, max_age=600.0, name="suggester")
        self.suggester.start()
        self._cache = ResultCache(cache_size)
        self._live_words: tuple = (None, {})  # (index version, word -> still in a live article)
        # Build the character tables and load jieba now, not in the first query.
        self.analyzer.query_words(normalize_query("預熱 warm-up 中文"))

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
        blocklist_path, query_log, cache_size, query_timeout."""
        from .backends import open_backend

        return cls(open_backend(backend, index_dir, refresh_interval, opensearch_url), userdict_path, **options)

    # ---- query compilation -----------------------------------------------
    def _substring(self, node) -> PhraseClause | None:
        """A term of an operator (at least N mentions, proximity) as the
        exact text to find, in title and body."""
        grams = self.analyzer.phrase_grams(node.text)
        words = tuple(self.analyzer.query_words(node.text))
        return PhraseClause(node.text, grams, ("title", "body"), words) if grams else None

    def _terms(self, node) -> list[PhraseClause]:
        """One side of a proximity operator: its alternative texts."""
        if isinstance(node, q.AnyOf):
            return [t for o in node.options for t in self._terms(o)]
        term = self._substring(node)
        return [term] if term else []

    def _word_clause(self, w: str, fields) -> object:
        clause = WordClause(w, self.analyzer.phrase_grams(w), fields, parts=self.analyzer.word_parts(w))
        alternatives = regional.alternatives(w)
        if not alternatives:
            return clause
        # Regional vocabulary (软件 / 软体, 特朗普 / 川普): the other forms as
        # whole words only, so 软件 never finds 软体动物.
        return AnyClause([clause] + [WordClause(a, self.analyzer.phrase_grams(a), fields, whole=True)
                                     for a in alternatives])

    def _compile_node(self, node, default_fields):
        if isinstance(node, (q.Words, q.Phrase)) and node.field == "lead":
            inner = self._compile_node(dataclasses.replace(node, field="lead_body"), ("body",))
            return [LeadClause(c, c.needles()) for c in inner]
        if isinstance(node, q.AtLeast):
            term = self._substring(node.term)
            return [MentionsClause(term, node.count)] if term else []
        if isinstance(node, q.Near):
            left, right = self._terms(node.left), self._terms(node.right)
            return [NearClause(left, right, node.unit, node.distance, node.ordered)] if left and right else []
        if isinstance(node, q.Words):
            fields = TEXT_FIELDS.get(node.field, default_fields)
            words = self.analyzer.query_words(node.text)
            content = [w for w in words if w not in FUNCTION_WORDS]
            # Next to content words a function word only nudges scores (its
            # idf is near zero) yet has the longest posting list.
            return [self._word_clause(w, fields) for w in words if not (content and w in FUNCTION_WORDS)]
        if isinstance(node, q.Phrase):
            fields = TEXT_FIELDS.get(node.field, default_fields)
            grams = self.analyzer.phrase_grams(node.text)
            return [PhraseClause(node.text, grams, fields)] if grams else []
        if isinstance(node, q.FieldValue):
            return [ValueClause(node.field, node.value)]
        if isinstance(node, q.AnyOf):
            options = []
            for opt in node.options:
                cl = self._compile_node(opt, default_fields)
                if len(cl) == 1:
                    options.append(cl[0])
                elif cl:
                    options.append(AllClause(cl))
            return [AnyClause(options)] if options else []
        if isinstance(node, q.AllOf):
            children = [c for n in node.must for c in self._compile_node(n, default_fields)]
            exclude = [self._one(n, default_fields) for n in node.must_not]
            exclude = [c for c in exclude if c is not None]
            if not children:
                return []  # a group of exclusions only: nothing to match
            return [AllClause(children, exclude)] if exclude or len(children) > 1 else children
        return []

    def _one(self, node, default_fields):
        """``node`` as one clause (several words become an AllClause)."""
        cl = self._compile_node(node, default_fields)
        if not cl:
            return None
        return cl[0] if len(cl) == 1 else AllClause(cl)

    def compile(self, parsed: q.Query, fields: str = "all") -> tuple[list, list]:
        default_fields = ("title",) if fields == "title" else ("title", "body")
        must, must_not = [], []
        for node in parsed.must:
            must.extend(self._compile_node(node, default_fields))
        for node in parsed.must_not:
            clause = self._one(node, default_fields)
            if clause is not None:
                must_not.append(clause)
        return must, must_not

    def _proximity_grams(self, parsed: q.Query) -> tuple[str, ...]:
        grams: dict[str, None] = {}
        for node in parsed.must:
            if isinstance(node, q.Words) and node.field is None:
                for g, _ in self.analyzer.phrase_grams(node.text):
                    if len(g) == 2:
                        grams[g] = None
        return tuple(grams)

    @staticmethod
    def _needles(clauses) -> list[str]:
        return [n for c in clauses for n in c.needles()]

    @staticmethod
    def understood(clauses) -> list[str]:
        """A readable account of how the query was segmented."""
        return [c.label() for c in clauses]

    @staticmethod
    def understood_tree(must, must_not) -> dict:
        """How the query was understood, as a tree of the clauses searched
        (``op``: and, or, word, phrase, field, lead, atleast, near)."""
        tree = {"op": "and", "clauses": [c.describe() for c in must]}
        if must_not:
            tree["not"] = [c.describe() for c in must_not]
        return tree

    # ---- search -------------------------------------------------------------
    def search(self, req: SearchRequest) -> SearchResult:
        """Search, answering repeated requests from a cache that is keyed by
        the index version (a new commit never serves stale results)."""
        t0 = time.perf_counter()
        key = (self.backend.version(), self.synonyms.version, self.pinyin.builds, _request_key(req))
        hit = self._cache.get(key)
        if hit is not None:
            return dataclasses.replace(hit, request=req, took_ms=(time.perf_counter() - t0) * 1000)
        result = self._search(req, t0)
        if req.correct:
            result = self._with_correction(req, result, t0)
        if req.size <= CACHE_MAX_SIZE:  # not exports of thousands of rows
            self._cache.put(key, result)
        return result

    def _with_correction(self, req: SearchRequest, result: SearchResult, t0: float) -> SearchResult:
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

        def written(text: str) -> int:
            """Articles with ``text`` as written (no partial matches)."""
            clause = PhraseClause(text, self.analyzer.phrase_grams(text), ("title", "body"))
            return self.backend.execute(Plan(must=[clause], limit=0, relax_below=0)).total

        if not few:
            # Reading a run back through the lexicon costs article counts of
            # its homophones: first the cheap questions, is a suspect run in
            # the results shown (their titles and snippets, in hand), and if
            # not, is it found nowhere as written (one phrase count each)?
            runs = mistyped_runs(req.q, segmenter.cut, segmenter.has_word)
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
        alt = self._search(dataclasses.replace(req, q=fixed, correct=False), t0)
        # Judged by full matches: on a small index the corrected query may
        # have few enough (韩国国会: 5 of 2,000) to be followed by partial ones.
        if alt.total_full <= result.total_full:
            return result
        if result.relaxed or not result.total_full:
            return dataclasses.replace(alt, request=req, corrected_from=req.q, corrected_to=fixed,
                                       took_ms=(time.perf_counter() - t0) * 1000)
        return dataclasses.replace(result, suggestion=fixed)

    def _plan(self, req: SearchRequest, timed: bool = True):
        """The request as a backend plan (query parsed, pinyin read,
        synonyms applied, compiled): one path for searches and timelines.
        Returns (plan, searchable, pinyin conversions, synonym groups, parsed query)."""
        parsed = q.parse(req.q)
        converted, pinyin_words = pinyin.expand(parsed, self.pinyin.get(), self.backend.doc_frequency)
        expanded, synonyms = expand(converted, self.synonyms, self.analyzer.segments)
        must, must_not = self.compile(expanded, req.fields)
        plan = Plan(
            must=must,
            proximity_grams=self._proximity_grams(parsed),
            must_not=must_not,
            filters={f: getattr(req, f) for f in FACET_FIELDS if getattr(req, f)},
            date_from=req.date_from,
            date_to=req.date_to,
            sort=req.sort,
            offset=(req.page - 1) * req.size,
            limit=req.size,
            facets=tuple(req.facets),
            facet_size=req.facet_size,
            now=time.time(),
            group=req.group,
            deadline=time.monotonic() + self.query_timeout if self.query_timeout and timed else None,
        )
        if parsed.exact:
            plan.relax_below = 0  # staff asked for exactly these articles
        # The query had text, but nothing searchable in it (only punctuation,
        # or operators with no term: "NOT", "()")?  Nothing found, never everything.
        nothing = (parsed.must and not must) or (parsed.is_empty and bool(req.q.strip()))
        return plan, not nothing, pinyin_words, synonyms, parsed

    def timeline(self, req: SearchRequest, interval: str = "auto") -> dict:
        """Matches of ``req`` per day, month or year ("auto": chosen from the
        span of the matches), for the coverage chart."""
        plan, searchable, _, _, _ = self._plan(req)
        plan = dataclasses.replace(plan, limit=0, offset=0, facets=(), histogram=interval, group=False)
        if not searchable:
            return {"interval": "month" if interval == "auto" else interval, "total": 0, "undated": 0, "buckets": []}
        res = self.backend.execute(plan)
        return {"interval": res.histogram_interval, "total": res.total, "undated": res.undated,
                "buckets": [{"start": label, "count": n} for label, n in res.histogram]}

    def _search(self, req: SearchRequest, t0: float, timed: bool = True) -> SearchResult:
        """``timed``: readers' searches stop at the query timeout; the
        engine's own background work (suggestions) does not."""
        plan, searchable, pinyin_words, synonyms, parsed = self._plan(req, timed)
        must, must_not = plan.must, plan.must_not
        timeline = None
        total_articles = 0 if req.group else None
        total_full = 0
        if not searchable:
            # The query had text, but nothing searchable in it (e.g. only punctuation).
            result_total, hits, facets, relaxed = 0, [], {f: [] for f in req.facets}, False
        else:
            if req.timeline:
                plan = dataclasses.replace(plan, histogram="auto")
            res = self.backend.execute(plan)
            needles = self._needles(must)
            hits = [self._hit(h.stored, h.score, needles, req.highlight) for h in res.hits]
            for hit, h in zip(hits, res.hits):
                hit.similar_count = h.similar_count
                hit.similar = [_brief(stored) for _, stored in h.similar]
                hit.match = {"full": not h.missing, "missing": [must[i].label() for i in h.missing]}
            result_total, facets, relaxed = res.total, res.facets, res.relaxed
            total_full = res.total if res.total_full is None else res.total_full
            total_articles = res.total_articles
            if req.timeline:
                timeline = {"interval": res.histogram_interval, "undated": res.undated,
                            "buckets": [{"start": label, "count": n} for label, n in res.histogram]}
        return SearchResult(
            request=req,
            total=result_total,
            hits=hits,
            facets={k: [FacetValue(v, c) for v, c in vals] for k, vals in facets.items()},
            took_ms=(time.perf_counter() - t0) * 1000,
            understood=self.understood(must) + [f"-{u}" for u in self.understood(must_not)],
            understood_tree=self.understood_tree(must, must_not),
            notices=[n.to_dict() for n in parsed.notices],
            exact=parsed.exact,
            total_full=total_full,
            relaxed=relaxed,
            synonyms=[list(g) for g in synonyms],
            pinyin=pinyin_words,
            timeline=timeline,
            total_articles=total_articles,
        )

    @staticmethod
    def _hit(stored: dict, score: float, needles: list[str], highlight: bool = True) -> Hit:
        title = stored.get("title", "")
        body = stored.get("body", "") or ""
        return Hit(
            id=stored["id"],
            title=title,
            title_highlight=highlight_title(title, needles) if highlight else "",
            snippet=snippet(body, needles) if highlight else "",
            published=stored.get("published_text"),
            category=stored.get("category"),
            source=stored.get("source"),
            author=stored.get("author"),
            url=stored.get("url"),
            score=score,
            tags=stored.get("tags") or [],
            lang=stored.get("lang"),
        )

    # ---- search-box helpers ---------------------------------------------------
    def _build_suggester(self) -> Suggester:
        """Headline words, body words many articles use, tags, the newest
        headlines' words as written there, and readers' recent queries
        (see suggest.py)."""
        lexicon = self.pinyin.get(wait=120)
        newest = self._search(SearchRequest(q="", size=RECENT_HEADLINES, sort="newest", facets=(),
                                            highlight=False, correct=False), time.perf_counter(), timed=False)
        recent: Counter = Counter()
        for h in newest.hits:
            # Words as the index cuts them, in the headline's own characters.
            for token in self.analyzer.word_tokens(normalize(h.title)):
                recent[h.title[token.start:token.end]] += 1
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
        """Completions of ``prefix`` (empty until the suggester's first build
        is done, a few seconds after opening)."""
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

    def _suggestion_blocked(self, suggester):
        """The blocklist, and readers' queries staff removed from the query
        log since the suggester was built (a removed text that is also a
        headline word, tag or body word stays: it is offered for those)."""
        from .suggest import _key

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
        """Most frequent logged queries in [since, until), every reader's
        query counted (staff reports; ``moderated``: blocked ones left out,
        else flagged): [{"q", "count", "results", "removed", "blocked"}]."""
        if self.query_log is None:
            return []
        rows = self.query_log.top(since, until, limit, zero_only,
                                  blocked=self.blocklist.blocks if moderated else None)
        for row in rows:
            row["blocked"] = self.blocklist.blocks(row["q"])
        return rows

    def hot_queries(self, days: int = 7, limit: int = 10) -> list[dict]:
        """Hot searches for readers (the home page): the query log's rule
        (``QueryLog.hot``: enough distinct clients a day, listable, found
        something, not removed), without blocked ones: [{"q", "count", "results"}]."""
        if self.query_log is None:
            return []
        return self.query_log.hot(days, limit, blocked=self.blocklist.blocks)

    def get(self, doc_id: str) -> dict | None:
        return self.backend.get(doc_id)

    def near_duplicates(self, doc_id: str) -> list[dict] | None:
        """The article's near-duplicates (republished or lightly edited
        copies), earliest first; None if the article does not exist."""
        if self.backend.get(doc_id) is None:
            return None
        return [_brief(stored) for stored in self.backend.near_duplicates(doc_id)]

    def _story(self, doc_id: str):
        """What related lists and story coverage both start from: the
        article, its near-duplicates and the key-term plan (its terms'
        document frequencies are looked up once).  None if no such article."""
        stored = self.backend.get(doc_id)
        if stored is None:
            return None
        copies = self.backend.near_duplicates(doc_id)
        plan = related_plan(stored, doc_id, self.backend, exclude=tuple(c["id"] for c in copies))
        return stored, copies, plan

    def related(self, doc_id: str, size: int = 5, _story=None) -> list[Hit] | None:
        """Articles most related to ``doc_id`` (None if it does not exist);
        its near-duplicates are not "related", they are the same story."""
        story = _story or self._story(doc_id)
        if story is None:
            return None
        stored, _, plan = story
        if plan is None:
            return []
        res = self.backend.execute(dataclasses.replace(plan, limit=size + 10))
        own_hash = stored.get("content_hash")
        own_title = fold_case(normalize_query(stored.get("title", "")))
        hits = []
        for h in res.hits:
            if h.stored.get("content_hash") == own_hash:
                continue  # a duplicate of the article itself
            if own_title and fold_case(normalize_query(h.stored.get("title", ""))) == own_title \
                    and _overlap(stored, h.stored) >= 0.8:
                continue  # same headline and nearly the same key terms: a republication
            hits.append(self._hit(h.stored, h.score, [], highlight=False))
            if len(hits) >= size:
                break
        return hits

    def coverage(self, doc_id: str, size: int = 10, _story=None) -> dict | None:
        """How a story developed: the articles most related to ``doc_id``
        within ``STORY_WINDOW_DAYS`` of it, split into earlier and later
        coverage in date order (the first of "earlier" is the first report
        found), plus its near-duplicates.  None if the article does not exist."""
        story = _story or self._story(doc_id)
        if story is None:
            return None
        stored, copies, plan = story
        own = _published(stored)
        dated = []
        if plan is not None and own is not None:
            window = timedelta(days=STORY_WINDOW_DAYS)
            res = self.backend.execute(dataclasses.replace(plan, date_from=own - window, date_to=own + window,
                                                           limit=size))
            best = res.hits[0].score if res.hits else 0.0
            # The same story, not merely the same subject: close to the best match.
            dated = sorted(((t, h.stored) for h in res.hits if h.score >= STORY_MIN_SHARE * best
                            for t in [_published(h.stored)] if t is not None), key=lambda pair: pair[0])
        return {
            "id": doc_id,
            "earlier": [_brief(h) for t, h in dated if t < own],
            "later": [_brief(h) for t, h in dated if t >= own],
            "near_duplicates": [_brief(s) for s in copies],
        }

    def article_context(self, doc_id: str, related_size: int = 5, coverage_size: int = 10) -> dict | None:
        """An article with its related list and story coverage (the article
        page), sharing one lookup of the article and its key terms."""
        story = self._story(doc_id)
        if story is None:
            return None
        return {"article": story[0], "related": self.related(doc_id, related_size, _story=story),
                "coverage": self.coverage(doc_id, coverage_size, _story=story)}

    def stats(self) -> IndexStats:
        return self.backend.stats()

    def check(self) -> None:
        """Raise ``IndexCorrupt`` (search/backends/base.py) when the index
        on disk is damaged; cheap enough for every ``/healthz`` (a stat per
        segment file).  Backends without such checks pass."""
        check = getattr(self.backend, "check", None)
        if check is not None:
            check()


def _request_key(req: SearchRequest) -> tuple:
    """Every field of the request (lists as tuples), so a new parameter can
    never be forgotten here."""
    return tuple(tuple(v) if isinstance(v, list) else v
                 for v in (getattr(req, f.name) for f in dataclasses.fields(req)))


def _published(stored: dict) -> datetime | None:
    """The article's publication time as the index orders it (a date alone
    is noon that day: ``timeutil.parse_published``), or None."""
    text = stored.get("published_text")
    if not text:
        return None
    try:
        return parse_published(text)
    except ValueError:
        return None


def _brief(stored: dict) -> dict:
    """What a result list shows of a near-duplicate."""
    return {"id": stored["id"], "title": stored.get("title", ""), "published": stored.get("published_text"),
            "source": stored.get("source"), "url": stored.get("url")}


class ResultCache:
    """A small thread-safe LRU of search results; entries expire after
    ``ttl`` seconds so that the recency preference stays current."""

    def __init__(self, size: int, ttl: float = 300.0):
        self.size, self.ttl = size, ttl
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        if not self.size:
            return None
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            stored_at, value = item
            if time.monotonic() - stored_at > self.ttl:
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        if not self.size:
            return
        with self._lock:
            self._data[key] = (time.monotonic(), value)
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


def _overlap(a: dict, b: dict) -> float:
    ta = {t for t, _ in a.get("keyterms") or []}
    tb = {t for t, _ in b.get("keyterms") or []}
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)
