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

from itsdangerous import BadSignature, URLSafeSerializer

from .backends.base import WalkPage
from .errors import SearchServiceError
from .results import hit, partial_needles

START = "*"  # the token that starts a walk
SALT = "search-cursor-v1"


class CursorInvalid(ValueError, SearchServiceError, status=400):
    """The cursor is not one this service issued (tampered with, cut, made
    by another service) or does not belong to the search it came with."""


@dataclass
class Cursor:
    """Where a walk stands.  ``snapshot``: the backend's snapshot id;
    ``params``: the search's query parameters as (name, value) pairs, in
    order (the cursor parameter and ``size`` left out); ``now``: epoch
    seconds fixing the ranking's recency and a relative ``range``; ``after``:
    the backend's position (``WalkPage.after``); ``walked``: articles
    returned so far; ``backend``: "whoosh" or "opensearch"."""

    snapshot: str
    params: list = field(default_factory=list)
    now: float = 0.0
    after: object = None
    walked: int = 0
    backend: str = ""


def _serializer(key: str) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


def encode(cursor: Cursor, key: str) -> str:
    """The signed, URL-safe token of ``cursor`` (text)."""
    return _serializer(key).dumps(asdict(cursor))


def decode(token: str, key: str, backend: str | None = None) -> Cursor:
    """The ``Cursor`` of ``token``.  Raises ``CursorInvalid`` (400) when the
    signature does not match (a changed or foreign token) or when it was
    made for another backend than ``backend``."""
    try:
        data = _serializer(key).loads(token)
        cursor = Cursor(**data)
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


def walk(engine, req, snapshot: str, after: object | None, size: int, now: float, timed: bool = True):
    """The next ``size`` articles of ``req``'s ungrouped result set on
    ``snapshot`` (``IndexBackend.walk``), through ``engine`` (a
    ``SearchEngine``: its parse, pinyin, synonyms and compilation, as for
    its searches), ranked as at ``now`` (epoch seconds, the same along a
    walk).  Returns (``WalkPage``, its hits as ``Hit``s, highlighted when
    ``req.highlight``, each with ``match``).  ``timed``: each page within
    the query timeout.  Raises ``SnapshotGone`` (410) for an expired
    snapshot, and what a search raises."""
    plan, searchable, _, _, _ = engine._plan(dataclasses.replace(req, group=False), timed)
    if not searchable:
        return WalkPage([], 0, 0, None), []
    plan = dataclasses.replace(plan, now=now, group=False, facets=(), offset=0, limit=size)
    page = engine.backend.walk(snapshot, plan, after, size)
    needles = [n for c in plan.must for n in c.needles()]
    hits = []
    for h in page.hits:
        found = hit(h.stored, h.score, needles + partial_needles(plan.must, h.missing), req.highlight)
        found.match = {"full": not h.missing, "missing": [plan.must[i].label() for i in h.missing]}
        hits.append(found)
    return page, hits


def walk_all(engine, req, keep_alive: float, limit: int | None = None, chunk: int = 500):
    """Every article of ``req``'s result set (a ``SearchRequest``; up to
    ``limit``, None: all) on one snapshot of ``engine``'s index, released at
    the end: returns (the result set's total, an iterator of (``WalkPage``,
    hits) pages of ``chunk`` articles).  The first page is read before this
    returns (its errors are the caller's, before a response starts); the
    others as the iterator is consumed, so memory holds one chunk of
    documents.  Ungrouped, the query as given (no did-you-mean), without
    highlighting (exports carry the whole body)."""
    now = time.time()
    req = dataclasses.replace(req, group=False, correct=False, page=1, highlight=False)
    snapshot = engine.backend.open_snapshot(keep_alive)
    try:
        first = walk(engine, req, snapshot, None, chunk if limit is None else min(chunk, limit), now)
    except BaseException:
        engine.backend.close_snapshot(snapshot)
        raise

    def pages():
        try:
            page, hits = first
            walked = len(hits)
            yield page, hits
            while page.after is not None and (limit is None or walked < limit):
                size = chunk if limit is None else min(chunk, limit - walked)
                page, hits = walk(engine, req, snapshot, page.after, size, now)
                walked += len(hits)
                yield page, hits
        finally:
            engine.backend.close_snapshot(snapshot)

    return first[0].total, pages()
