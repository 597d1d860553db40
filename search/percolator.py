"""Percolation: every saved search run against the articles of one
committed batch, its new matches recorded as alerts (Elasticsearch's
percolator, Manticore's percolate tables, turned around: the batch is
small, the searches are many).

    Percolator(engine, store, to_request).percolate(puts, deletes, seq)

* **Full matches only**: each saved search's parameters become a
  ``SearchRequest`` through ``to_request`` (the service's one reading of
  parameters: ``web.params.search_request``, wired in by the writer
  process), compiled by the engine (``SearchEngine.compiled``: the same
  parsing, pinyin, synonyms and compilation as a search) and run with
  relaxation off, so a two-word search never alerts on an article with
  one of the words; no did-you-mean correction either.
* **Restricted to the batch** behind the backend seam
  (``IndexBackend.percolate``: a view of the batch's segment on Whoosh, an
  ``ids`` filter in a multi-search on OpenSearch): the cost grows with the
  batch and the number of saved searches, not with the archive.  A
  prefilter (``search.percolate_prefilter``) first skips the searches no
  article of the batch holds every character of (most searches with a
  rare word: 59 % of 1,000 against a batch of 100).  Plans are
  compiled once per saved search and reused while the query, the synonyms,
  the user dictionary, the pinyin lexicon and the pending words stay the
  same; relative periods (``range=week``) are read again at every batch
  (``to_request(params, now)``), so they are evaluated at matching time.
* **One alert per near-duplicate group**: a new match is compared with the
  search's live alerts published within ``dedupe.WINDOW_SECONDS`` by the
  rules of ``search.dedupe.group`` (MinHash similarity to the alerted
  article, stricter after ``SAME_DAY_SECONDS``, installments apart),
  computed here from the stored text: the index regroups in the
  background after writes, later than the batch is matched.  A copy is
  recorded (``copy``, the alert's ``group_key``), never alerted.
* **Updates**: an article that matched before its update and still
  matches: nothing; that did not match (or whose match had ended) and
  now does: a new alert (or copy); that matched and no longer does:
  ``ended``.  Deleted articles are withdrawn from every feed
  (``SavedSearchStore.withdraw``) at the batch that deletes them.

Re-running a batch (a crash between recording and saving the progress)
changes nothing: what was recorded is known and not recorded again.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

import numpy as np

from . import dedupe
from .documents import article_from_stored
from .errors import SearchServiceError
from .models import SearchRequest
from .normalize import normalize
from .percolate_prefilter import plan_chars, text_chars
from .result_cache import request_key
from .saved_searches import NewMatch, PercolationState, SavedSearch, SavedSearchStore
from .timeutil import NEWSROOM_TZ, local_iso

log = logging.getLogger("search.percolator")

MATCHING = ("alert", "copy")  # alert states of an article that (still) matches


@dataclass
class Report:
    """What one ``Percolator.percolate`` did: ``searches`` run, ``alerts``,
    ``copies`` and ``ended`` recorded (rows, over all searches),
    ``withdrawn`` alert rows, ``skipped`` searches (the prefilter),
    ``errors`` (search id -> message: saved parameters that no longer
    read, e.g. an unknown sort, or a query the backend refused: those
    searches decide nothing in this batch, the others go on), ``seconds``."""
    searches: int = 0
    alerts: int = 0
    copies: int = 0
    ended: int = 0
    withdrawn: int = 0
    skipped: int = 0  # searches not run: no article of the batch holds all their characters
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class _Article:
    """A matched article as alerts and near-duplicate judgement need it."""
    id: str
    title: str | None
    published: str | None
    url: str | None
    stamp: int | None  # epoch seconds, None when undated
    installment: int
    signature: np.ndarray


class Percolator:
    """Matches batches against every saved search of ``store`` (a
    ``SavedSearchStore``) on ``engine``'s index (a ``SearchEngine``).
    ``to_request(params, now)``: a saved search's parameters (dict of lists
    of strings) and the matching time (aware datetime) -> ``SearchRequest``;
    raises a ``SearchServiceError`` (e.g. ``web.params.ParamError``) for
    parameters that do not read.  Not thread-safe: one thread percolates."""

    def __init__(self, engine, store: SavedSearchStore,
                 to_request: Callable[[dict, datetime], SearchRequest]):
        self.engine = engine
        self.store = store
        self.state = PercolationState(store)
        self.to_request = to_request
        self._plans: dict[tuple, object] = {}  # compiled plans, see _plan
        self.compiled = 0  # plans compiled so far (reuse shows as few)

    def _plan(self, req: SearchRequest, state: tuple):
        """``req`` compiled (cached without its dates: the periods move,
        the query does not; ``state``: the engine's versions the compiled
        plan depends on), as a full-match plan; None: finds nothing."""
        key = (request_key(dataclasses.replace(req, date_from=None, date_to=None)), state)
        if key not in self._plans:
            self._plans[key] = self.engine.compiled(req)
            self.compiled += 1
        plan = self._plans[key]
        self._used.add(key)
        if plan is None:
            return None
        return dataclasses.replace(plan, date_from=req.date_from, date_to=req.date_to, relax_below=0, group=False,
                                   facets=(), histogram=None, offset=0, deadline=None)

    def plans(self, searches: list[SavedSearch], now: datetime, report: Report) -> list[tuple[SavedSearch, object]]:
        """(saved search, full-match plan or None) for each search whose
        parameters read; the others go into ``report.errors``."""
        eng = self.engine
        # What a compiled plan depends on besides the request, read once per batch.
        state = (eng.synonyms.version, eng.analyzer.segmenter.version, eng.pending_words(), eng.pinyin.builds)
        out = []
        self._used: set = set()
        for s in searches:
            try:
                req = self.to_request(s.params, now)
                plan = self._plan(dataclasses.replace(req, facets=(), correct=False, group=False), state)
            except SearchServiceError as exc:  # parameters that no longer read, a query the index cannot run
                report.errors[s.id] = str(exc)
                continue
            out.append((s, plan))
        # Plans of searches deleted or changed since are dropped.
        self._plans = {k: v for k, v in self._plans.items() if k in self._used}
        return out

    def percolate(self, puts: list[str], deletes: list[str], seq: int | None, now: float | None = None) -> Report:
        """Match the batch's written articles ``puts`` (ids, committed to
        the index) against every saved search and record the outcome;
        withdraw the alerts of ``deletes``.  ``seq``: the batch's last
        change (``commit_seq`` of the rows, ``commit`` of webhook payloads).
        ``now``: epoch seconds of matching (relative periods count back from
        it).  Returns a ``Report``; a saved search the backend refuses is
        reported in its ``errors`` and the others go on; raises the errors
        of the whole batch (the cluster unreachable, the store locked: the
        caller retries the batch)."""
        t0 = time.perf_counter()
        now = time.time() if now is None else now
        report = Report()
        puts = list(dict.fromkeys(puts))
        if deletes:
            report.withdrawn = self.store.withdraw(deletes, now=now)
        searches = self.store.all()
        if not puts or not searches:
            report.seconds = time.perf_counter() - t0
            return report
        compiled, matches, stored = self.match(searches, puts, now, report)
        known = self.state.rows_of_articles(puts)
        articles: dict[str, _Article] = {}
        decided = []
        for s, _ in compiled:
            if s.id in report.errors:  # refused by the backend: nothing decided (no alert, nothing ended)
                continue
            report.searches += 1
            rows = known.get(s.id, {})
            ended, new = [], []
            for doc_id in puts:
                row = rows.get(doc_id)
                was = row is not None and row.state in MATCHING and row.withdrawn_at is None
                if doc_id in matches[s.id] and not was and stored.get(doc_id) is not None:
                    if doc_id not in articles:
                        articles[doc_id] = _article(stored[doc_id])
                    new.append(articles[doc_id])
                elif was and doc_id not in matches[s.id] and stored.get(doc_id) is not None:
                    ended.append(doc_id)  # (one no longer live is withdrawn by its delete's batch)
            if new or ended:
                decided.append((s, new, ended))
        earlier = self._earlier([s.id for s, new, _ in decided if new], articles.values())
        similar = _BatchSimilarity(list(articles.values()))
        # The signatures first, then the rows: a batch stopped between the two
        # (the process killed, a failed write) and run again finds its
        # recorded rows already known and records nothing new, so it must
        # find their signatures too, or a later copy would be a new alert.
        self.state.keep_signatures((a.id, a.stamp, a.installment, a.signature.tobytes()) for a in articles.values())
        for s, new, ended in decided:
            alerts, copies = _alerts_and_copies(new, earlier.get(s.id, []), similar)
            payload = None
            if alerts and s.webhook_url:
                payload = {"saved_search": {"id": s.id, "name": s.name}, "commit": seq,
                           "articles": [{"id": m.article_id, "title": m.title, "published": m.published,
                                         "url": m.url} for m in alerts]}
            self.store.record(s.id, alerts, copies, ended, seq, now=now, payload=payload)
            report.alerts, report.copies, report.ended = (report.alerts + len(alerts), report.copies + len(copies),
                                                          report.ended + len(ended))
        report.seconds = time.perf_counter() - t0
        return report

    def match(self, searches: list[SavedSearch], puts: list[str], now: float, report: Report):
        """The matching alone: (the searches whose parameters read, each with
        its plan or None; search id -> the ids of ``puts`` it fully matches;
        id -> stored article or None when not live).  Only plans some
        article of the batch holds every character of are run."""
        backend = self.engine.backend
        backend.refresh(force=True)  # the batch's commit
        stored = backend.get_many(puts)
        chars = {doc_id: text_chars(doc.get("title") or "", doc.get("body") or "")
                 for doc_id, doc in stored.items() if doc is not None}
        compiled = self.plans(searches, datetime.fromtimestamp(now, NEWSROOM_TZ), report)
        runnable = [(s, dataclasses.replace(p, limit=len(puts))) for s, p in compiled
                    if p is not None and _possible(plan_chars(p), chars)]
        report.skipped = len(compiled) - len(runnable)
        found = backend.percolate([p for _, p in runnable], puts) if runnable else []
        matches = {s.id: set() for s, _ in compiled}
        for (s, _), ids in zip(runnable, found):
            if isinstance(ids, Exception):  # this search alone failed in the backend: reported, the others go on
                report.errors[s.id] = f"{type(ids).__name__}: {ids}"
                log.warning("saved search %s (%s) failed in the backend: %s", s.id, s.name, report.errors[s.id])
            else:
                matches[s.id] = set(ids)
        return compiled, matches, stored

    def _earlier(self, search_ids: list[str], new) -> dict[str, list]:
        """Search id -> (group key, published, installment, signature) of its
        live alerts within ``dedupe.WINDOW_SECONDS`` of the new matches."""
        stamps = [a.stamp for a in new if a.stamp is not None]
        if not search_ids or not stamps:
            return {}
        found = self.state.signatures_between(search_ids, min(stamps) - dedupe.WINDOW_SECONDS,
                                              max(stamps) + dedupe.WINDOW_SECONDS)
        return {sid: [(r.group_key, r.published, r.installment, np.frombuffer(r.signature, np.uint32))
                      for r in rows] for sid, rows in found.items()}


def _possible(needed: frozenset, chars: dict) -> bool:
    """Does some article (its characters in ``chars``) hold all of ``needed``?"""
    return any(needed <= have for have in chars.values())


def _article(stored: dict) -> _Article:
    """A stored article with its near-duplicate signature (as
    ``search.documents.prepare`` computes it)."""
    art = article_from_stored(stored)
    title_norm = normalize(art.title or "").text
    body_norm = normalize(art.body or "").text
    return _Article(art.id, art.title, local_iso(art.published_text) or None, art.url,
                    int(art.published.timestamp()) if art.published else None,
                    dedupe.installment_key(title_norm), dedupe.signature(title_norm + "\n" + body_norm))


def _alerts_and_copies(new: list, earlier: list, similar: "_BatchSimilarity") -> tuple[list[NewMatch], list[NewMatch]]:
    """New matches of one search as (alerts, copies): earliest first, a
    match that is a near-duplicate of a live alert (``earlier``, or one of
    this batch: ``similar``) is a copy of that alert's group."""
    alerts, copies = [], []
    groups = _Groups(earlier) if earlier else None
    alerted: dict[str, str] = {}  # this batch's alerts: id -> group key
    for a in sorted(new, key=_earliest):
        group = groups.copy_of(a) if groups is not None else None
        if group is None and alerted:
            group = similar.copy_of(a.id, alerted)
        m = NewMatch(a.id, group or a.id, a.title, a.published, a.url)
        if group is None:
            alerts.append(m)
            alerted[a.id] = a.id
        else:
            copies.append(m)
    return alerts, copies


def _earliest(a: _Article):
    return (a.stamp is None, a.stamp or 0, a.id)


def _near(gap, sims, inst_a, inst_b):
    """``search.dedupe.group``'s rule for (arrays of) pairs: within the
    window, similar enough for their distance in time, installments apart."""
    needed = np.where(gap <= dedupe.SAME_DAY_SECONDS, dedupe.THRESHOLD, dedupe.THRESHOLD_LATER)
    ok = (gap <= dedupe.WINDOW_SECONDS) & (sims >= needed)
    return ok & ((inst_a == 0) | (inst_b == 0) | (inst_a == inst_b))


class _BatchSimilarity:
    """Which matched articles of one batch are near-duplicates of each
    other (computed once per batch, for every saved search)."""

    def __init__(self, articles: list):
        usable = [a for a in articles if a.stamp is not None and dedupe.has_signature(a.signature[None, :])[0]]
        self.similar: dict[str, dict[str, float]] = {a.id: {} for a in articles}
        if len(usable) < 2:
            return
        sigs = np.stack([a.signature for a in usable])
        stamps = np.array([a.stamp for a in usable], np.int64)
        inst = np.array([a.installment for a in usable], np.int64)
        sims = (sigs[:, None, :] == sigs[None, :, :]).mean(axis=-1)
        ok = _near(np.abs(stamps[:, None] - stamps[None, :]), sims, inst[:, None], inst[None, :])
        np.fill_diagonal(ok, False)
        for i, j in zip(*np.nonzero(ok)):
            self.similar[usable[i].id][usable[j].id] = float(sims[i, j])

    def copy_of(self, doc_id: str, alerted: dict[str, str]) -> str | None:
        """The group key of the most similar of ``alerted`` (id -> group
        key) that ``doc_id`` is a near-duplicate of, or None."""
        near = self.similar.get(doc_id)
        found = [(sim, other) for other, sim in near.items() if other in alerted] if near else []
        return alerted[max(found)[1]] if found else None


class _Groups:
    """A search's live alerts of earlier batches as arrays, for the
    near-duplicate rule applied to one new article at a time."""

    def __init__(self, earlier: list):
        usable = [e for e in earlier if e[1] is not None and dedupe.has_signature(e[3][None, :])[0]]
        self.keys = [e[0] for e in usable]
        self.stamps = np.array([e[1] for e in usable], np.int64)
        self.installments = np.array([e[2] for e in usable], np.int64)
        self.sigs = np.stack([e[3] for e in usable]) if usable else np.empty((0, dedupe.NUM_PERM), np.uint32)

    def copy_of(self, article: _Article) -> str | None:
        """The group key of the most similar alert ``article`` is a
        near-duplicate of, or None."""
        if not self.keys or article.stamp is None or not dedupe.has_signature(article.signature[None, :])[0]:
            return None
        sims = dedupe.similarity(self.sigs, article.signature)
        ok = _near(np.abs(self.stamps - article.stamp), sims, self.installments, article.installment)
        if not ok.any():
            return None
        return self.keys[int(np.argmax(np.where(ok, sims, -1.0)))]
