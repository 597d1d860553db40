"""Cursors: walking a whole result set on a fixed snapshot of the index.

A walk starts with ``START`` ("*"): the backend pins a snapshot
(``IndexBackend.open_snapshot``: a lease on a Whoosh commit, an OpenSearch
point in time) and every page continues where the last one stopped
(``IndexBackend.walk``), in the order of the search's pages (full matches
before partial ones, the ranking, ties by article), every article once,
ungrouped, exactly the search's ``total_articles`` in all.  Articles written
or withdrawn meanwhile do not change the walk.

The cursor token the client holds is ``Cursor`` signed with HMAC-SHA256
(itsdangerous, the signing library Flask's own cookies use) under a key of
the service: opaque, and any change to it fails the check (``CursorInvalid``,
a 400).  It says which snapshot, which search (the request's parameters as
given, and the instant ``now`` that fixes the recency ranking and a relative
date range) and where the walk stands.  An expired snapshot is
``base.SnapshotGone`` (410).
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import asdict, dataclass, field

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .backends.base import SnapshotGone, WalkPage
from .errors import SearchServiceError
from .results import hit, partial_needles

START = "*"  # the token that starts a walk
SALT = "search-cursor-v1"


class CursorInvalid(ValueError, SearchServiceError, status=400):
    """The cursor is not one this service issued (tampered with, cut, made
    by another service) or does not belong to the search it came with."""


class CursorStale(SearchServiceError, status=409):
    """The search's plan changed since the walk started (the synonyms file
    was reloaded, the pinyin lexicon finished building, new words came
    in): the walk's position belongs to another order, so going on would
    repeat or skip articles.  The message says to start again."""


@dataclass
class Cursor:
    """Where a walk stands.  ``snapshot``: the backend's snapshot id (""
    for a walk of the live index: an anonymous one, see ``walk_page``);
    ``params``: the search's query parameters as (name, value) pairs, in
    order (the cursor parameter and ``size`` left out); ``now``: epoch
    seconds fixing the ranking's recency and a relative ``range``; ``after``:
    the backend's position (``WalkPage.after``; an offset for a live walk);
    ``walked``: articles returned so far; ``backend``: "whoosh" or
    "opensearch"; ``staff``: started with staff authentication (only staff
    may continue it); ``plan``: the ``fingerprint`` of the plan the walk
    ranks by ("" before its first page)."""

    snapshot: str
    params: list = field(default_factory=list)
    now: float = 0.0
    after: object = None
    walked: int = 0
    backend: str = ""
    staff: bool = False
    plan: str = ""


def _serializer(key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


def encode(cursor: Cursor, key: str) -> str:
    """The signed, URL-safe token of ``cursor`` (text)."""
    return _serializer(key).dumps(asdict(cursor))


def decode(token: str, key: str, backend: str | None = None, max_age: float | None = None) -> Cursor:
    """The ``Cursor`` of ``token``.  Raises ``CursorInvalid`` (400) when the
    signature does not match (a changed or foreign token) or when it was
    made for another backend than ``backend``, and ``SnapshotGone`` (410)
    when it was issued more than ``max_age`` seconds ago (the keep-alive,
    counted from the page that issued it, on every backend alike: a
    cluster reaps expired points in time only about once a minute)."""
    try:
        data = _serializer(key).loads(token, max_age=max_age)
        cursor = Cursor(**data)
    except SignatureExpired:
        raise SnapshotGone("the cursor expired (unused for longer than its keep-alive): start the walk again "
                           "with cursor=*") from None
    except (BadSignature, TypeError, ValueError):
        raise CursorInvalid("the cursor is not valid: it was changed, cut short or made by another service; "
                            "start again with cursor=*") from None
    if backend is not None and cursor.backend != backend:
        raise CursorInvalid("the cursor was made for another index backend; start again with cursor=*")
    return cursor


def canonical_params(pairs) -> list[list[str]]:
    """The search parameters of a request as the cursor keeps them: (name,
    value) pairs in the order given, without ``cursor`` and ``size``
    (a page's size may change along a walk)."""
    return [[k, v] for k, v in pairs if k not in ("cursor", "size")]


def fingerprint(plan) -> str:
    """16 hex digits naming what orders a walk: the plan without its
    deadline, page and instant (a walk fixes ``now`` itself)."""
    fixed = dataclasses.replace(plan, deadline=None, offset=0, limit=0, now=None)
    return hashlib.sha256(repr(fixed).encode("utf-8")).hexdigest()[:16]


def _compile(engine, req, size: int, now: float, timed: bool):
    """``req``'s walk plan (ungrouped, no facets, ranked as at ``now``), or
    None when its query holds nothing searchable."""
    plan, searchable, _, _, _ = engine._plan(dataclasses.replace(req, group=False), timed)
    if not searchable:
        return None
    return dataclasses.replace(plan, now=now, group=False, facets=(), offset=0, limit=size)


def _live(engine, plan, offset: int, size: int) -> WalkPage:
    """A page of the live index's ungrouped result set from ``offset``
    (``IndexBackend.execute``, the search's own order)."""
    res = engine.backend.execute(dataclasses.replace(plan, offset=offset, limit=size))
    end = offset + len(res.hits)
    full = res.total if res.total_full is None else res.total_full
    return WalkPage(res.hits, res.total, full, end if res.hits and end < res.total else None)


def _hits(plan, page: WalkPage, highlight: bool) -> list:
    needles = [n for c in plan.must for n in c.needles()]
    hits = []
    for h in page.hits:
        found = hit(h.stored, h.score, needles + partial_needles(plan.must, h.missing), highlight)
        found.match = {"full": not h.missing, "missing": [plan.must[i].label() for i in h.missing]}
        hits.append(found)
    return hits


def walk_page(engine, req, snapshot: str, after: object | None, size: int, now: float, timed: bool = True,
              plan_id: str = ""):
    """The next ``size`` articles of ``req``'s ungrouped result set,
    through ``engine`` (a ``SearchEngine``: its parse, pinyin, synonyms and
    compilation, as for its searches), ranked as at ``now`` (epoch seconds,
    the same along a walk).  On ``snapshot`` (``IndexBackend.walk``), or
    with ``snapshot`` "" on the live index from the offset ``after``
    (``IndexBackend.execute``: no snapshot held, so articles written
    meanwhile may shift it).  ``plan_id``: the ``fingerprint`` the walk's
    earlier pages were ranked by ("" at the start).  Returns (``WalkPage``,
    its hits as ``Hit``s, highlighted when ``req.highlight``, each with
    ``match``, the plan's fingerprint).  ``timed``: each page within the
    query timeout.  Raises ``CursorStale`` (409) when the plan is no longer
    ``plan_id``, ``SnapshotGone`` (410) for an expired snapshot, and what a
    search raises."""
    plan = _compile(engine, req, size, now, timed)
    if plan is None:
        return WalkPage([], 0, 0, None), [], ""
    plan_now = fingerprint(plan)
    if plan_id and plan_now != plan_id:
        raise CursorStale("the search changed meanwhile (its synonyms, pinyin or words were updated), so the "
                          "walk's place in its order is lost: start the walk again with cursor=*")
    if snapshot:
        page = engine.backend.walk(snapshot, plan, after, size)
    else:
        page = _live(engine, plan, int(after or 0), size)
    return page, _hits(plan, page, req.highlight), plan_now


def walk(engine, req, snapshot: str, after: object | None, size: int, now: float, timed: bool = True):
    """``walk_page`` without the fingerprint: (``WalkPage``, hits)."""
    page, hits, _ = walk_page(engine, req, snapshot, after, size, now, timed)
    return page, hits


class Export:
    """The pages of a whole walk (``walk_all``): iterate it for (``WalkPage``,
    hits) pages; ``close()`` releases its snapshot (idempotent; the end of
    the iteration calls it too), also when nobody ever iterated it (a HEAD
    request, a client gone before the first chunk)."""

    def __init__(self, engine, req, snapshot: str, plan, first, limit: int | None, chunk: int):
        self.engine, self.req, self.snapshot, self.plan = engine, req, snapshot, plan
        self.first, self.limit, self.chunk = first, limit, chunk
        self._closed = False

    def close(self) -> None:
        """Release the walk's snapshot now (a second call does nothing); the
        iteration, if any, stops before its next page."""
        if not self._closed:
            self._closed = True
            if self.snapshot:
                self.engine.backend.close_snapshot(self.snapshot)

    def _page(self, after, size: int):
        engine = self.engine
        timeout = getattr(engine, "query_timeout", None)
        plan = dataclasses.replace(self.plan, limit=size,
                                   deadline=time.monotonic() + timeout if timeout else None)
        page = engine.backend.walk(self.snapshot, plan, after, size)
        return page, _hits(plan, page, False)

    def __iter__(self):
        try:
            page, hits = self.first
            walked = len(hits)
            yield page, hits
            while page.after is not None and (self.limit is None or walked < self.limit):
                if self._closed:
                    return
                size = self.chunk if self.limit is None else min(self.chunk, self.limit - walked)
                page, hits = self._page(page.after, size)
                walked += len(hits)
                yield page, hits
        finally:
            self.close()


def walk_all(engine, req, keep_alive: float, limit: int | None = None, chunk: int = 500):
    """Every article of ``req``'s result set (a ``SearchRequest``; up to
    ``limit``, None: all) on one snapshot of ``engine``'s index, ranked by
    one plan compiled at the start (a synonyms reload meanwhile changes
    nothing): returns (the result set's total, an ``Export``: iterate it
    for (``WalkPage``, hits) pages of ``chunk`` articles; its ``close()``
    releases the snapshot, as the end of the iteration does).  The first
    page is read before this returns (its errors are the caller's, before
    a response starts); the others as the iterator is consumed, so memory
    holds one chunk of documents.  Ungrouped, the query as given (no
    did-you-mean), without highlighting (exports carry the whole body)."""
    now = time.time()
    req = dataclasses.replace(req, group=False, correct=False, page=1, highlight=False)
    size = chunk if limit is None else min(chunk, limit)
    plan = _compile(engine, req, size, now, True)
    if plan is None:
        return 0, Export(engine, req, "", None, (WalkPage([], 0, 0, None), []), limit, chunk)
    snapshot = engine.backend.open_snapshot(keep_alive)
    try:
        page = engine.backend.walk(snapshot, plan, None, size)
        first = page, _hits(plan, page, False)
    except BaseException:
        engine.backend.close_snapshot(snapshot)
        raise
    return page.total, Export(engine, req, snapshot, plan, first, limit, chunk)
