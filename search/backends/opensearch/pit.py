"""Cursors on OpenSearch: a point in time (PIT) + ``search_after``.

``open_snapshot`` creates a point in time on the alias (``POST
/<index>/_search/point_in_time?keep_alive=…``): the searches of a walk see
the index as it was then, whatever is written or withdrawn meanwhile, and
each renews it for ``keep_alive`` seconds.  ``walk`` pages through it in
the order of the search's ungrouped pages (``sort``: relevance with the
full-match bonus of a relaxed query, or date; ties by article id),
continuing after the last hit's sort values.  Whether the walk includes
partial matches is decided once, in the snapshot, at its start, as
``OpenSearchBackend.execute`` decides it.  These are the backend's methods
(``OpenSearchBackend.open_snapshot`` … are these functions)."""

from __future__ import annotations

from opensearchpy import exceptions as client_errors

from ...plan import BackendHit, Plan
from ..base import BackendUnreachable, SnapshotGone, TooManySnapshots, WalkPage

FULL_MATCH_BONUS = 10000.0  # partial matches: every full match ranks above them


def sort(plan: Plan) -> list:
    """The order of an ungrouped result: relevance (full matches first
    through their bonus) or date (undated last, then relevance), ties by
    article id, so that pages and a cursor's walk agree."""
    if plan.sort in ("newest", "oldest"):
        order = "desc" if plan.sort == "newest" else "asc"
        return [{"published": {"order": order, "missing": "_last"}}, {"_score": "desc"}, {"id": "asc"}]
    return [{"_score": "desc"}, {"id": "asc"}]


def open_snapshot(backend, keep_alive: float) -> str:
    """A point in time on the alias: ``"<keep-alive seconds>:<pit id>"``."""
    seconds = max(1, int(round(keep_alive)))
    try:
        res = backend.client.create_pit(index=backend.index, params={"keep_alive": f"{seconds}s"})
    except client_errors.TransportError as exc:
        if exc.status_code == 429 or "too many" in str(exc).lower():  # search.max_open_pit_context
            raise TooManySnapshots("the cluster holds too many open cursors (point-in-time contexts): try again "
                                   "when some have ended or expired") from None
        raise
    return f"{seconds}:{res['pit_id']}"


def _pit(snapshot: str) -> tuple[str, str]:
    seconds, _, pit_id = snapshot.partition(":")
    if not seconds.isdigit() or not pit_id:
        raise SnapshotGone("no such snapshot: start the walk again")
    return f"{seconds}s", pit_id


def _search(backend, snapshot: str, body: dict) -> dict:
    """A search in the point in time (renewing it); an expired or unknown
    one is ``SnapshotGone``."""
    keep_alive, pit_id = _pit(snapshot)
    try:
        res = backend.client.search(body={**body, "pit": {"id": pit_id, "keep_alive": keep_alive}})
    except client_errors.NotFoundError as exc:
        text = str(exc)  # NotFoundError(404, 'search_phase_execution_exception', 'No search context found for id [N]')
        if "search_context_missing" in text or "search context" in text.lower():
            raise SnapshotGone("the cursor expired (unused for longer than its keep-alive): "
                               "start the walk again") from None
        raise
    shards = res.get("_shards") or {}
    if shards.get("failed"):
        # A shard whose context was reaped answers nothing: the page would
        # silently hold part of the result set (a total of one shard's share).
        reasons = " ".join(str(f.get("reason")) for f in shards.get("failures") or ())
        if "search_context_missing" in reasons or "search context" in reasons.lower():
            raise SnapshotGone("the cursor expired (unused for longer than its keep-alive): "
                               "start the walk again")
        raise BackendUnreachable(f"{shards['failed']} of {shards.get('total')} shards failed to answer the "
                                 "cursor's page; try again")
    return res


def _count(backend, snapshot: str, query: dict) -> int:
    return _search(backend, snapshot, {"size": 0, "track_total_hits": True, "query": query})["hits"]["total"]["value"]


def walk(backend, snapshot: str, plan: Plan, after: object | None, size: int) -> WalkPage:
    """``IndexBackend.walk``.  ``after``: {"r": relaxed?, "f": full
    matches, "n": articles walked, "sa": the last hit's sort values}."""
    backend.check_version()
    state = dict(after) if isinstance(after, dict) else None
    if state is None:
        full = _count(backend, snapshot, backend.query(plan))
        relax = False
        if len(plan.must) >= 2 and plan.relax_below > 0 and any(c.soft() for c in plan.must):
            filtered = plan.filters or plan.date_from is not None or plan.date_to is not None or plan.exclude_docs
            unfiltered = _count(backend, snapshot, backend.query(plan, filtered=False)) if filtered else full
            relax = unfiltered < plan.relax_below
        state = {"r": relax, "f": full, "n": 0, "sa": None}
    relaxed = bool(state["r"])
    body = {"query": backend.query(plan, relaxed), "size": size, "sort": sort(plan), "track_total_hits": True,
            "_source": ["stored"]}
    if state["sa"] is not None:
        body["search_after"] = state["sa"]
    res = _search(backend, snapshot, body)
    hits = []
    for h in res["hits"]["hits"]:
        score = float(h.get("_score") or 0.0)
        missing = []
        if relaxed and score >= FULL_MATCH_BONUS:
            score -= FULL_MATCH_BONUS  # the bonus only ranks; report the match's own score
        elif relaxed:
            matched = set(h.get("matched_queries") or [])
            missing = [i for i, c in enumerate(plan.must) if c.soft() and f"m{i}" not in matched]
        hits.append(BackendHit(h["_id"], score, h["_source"]["stored"], missing=missing))
    total = res["hits"]["total"]["value"]
    walked = state["n"] + len(hits)
    nxt = None
    if hits and walked < total:
        nxt = {"r": relaxed, "f": state["f"], "n": walked, "sa": res["hits"]["hits"][-1]["sort"]}
    return WalkPage(hits, total, state["f"] if relaxed else total, nxt)


def close_snapshot(backend, snapshot: str) -> None:
    """Delete the point in time (an unknown or expired one is no error)."""
    try:
        _, pit_id = _pit(snapshot)
        backend.client.delete_pit(body={"pit_id": [pit_id]})
    except (SnapshotGone, client_errors.NotFoundError):
        pass
