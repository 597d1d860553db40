"""Cursors on a Whoosh index (``IndexBackend.open_snapshot``, ``walk``,
``close_snapshot``): a lease on a commit (``leases.py``) keeps its files
on disk; any process opens that commit read-only and walks the ranked
matches of a plan in the search's order.  A mixin of ``WhooshBackend``
(it uses the backend's view, readers, locks and caches)."""

from __future__ import annotations

import dataclasses

from whoosh import index as whoosh_index

from ...plan import BackendHit, Plan
from ..base import SnapshotGone, TooManySnapshots, WalkPage
from . import leases, store
from .executor import Executor, Ranked
from .reader import IndexView, SegmentData


class SnapshotWalks:
    """The cursor methods of ``WhooshBackend``."""

    # ---- cursors (IndexBackend.open_snapshot, walk, close_snapshot) ---------------
    SNAPSHOT_VIEWS = 4  # views of older leased generations kept per process
    RANKED_WALKS = 8  # walks whose ranked matches are kept per process

    def open_snapshot(self, keep_alive: float) -> str:
        """A lease (``leases``) on the served commit: ``"<generation>-<lease id>"``."""
        for _ in range(self.DAMAGE_RETRIES + 1):
            generation = self.view.generation
            try:
                return f"{generation}-{leases.create(self.realpath, generation, keep_alive, store.INDEXNAME)}"
            except leases.LeaseGone:  # a newer commit cleaned it meanwhile: take that one
                self.refresh(force=True)
            except leases.TooManyLeases as exc:
                raise TooManySnapshots(f"{exc}: try again when some have ended or expired") from None
        raise SnapshotGone("the index changed too often to pin a snapshot; try again")

    @staticmethod
    def _lease(snapshot: str) -> tuple[int, str]:
        generation, _, lease_id = snapshot.partition("-")
        if not generation.isdigit() or not lease_id:
            raise SnapshotGone("no such snapshot: start the walk again")
        return int(generation), lease_id

    def _snapshot_view(self, generation: int) -> IndexView:
        """The view of ``generation`` (the served one, or a leased older one
        opened read-only, sharing the readers of segments in common)."""
        with self._lock:
            if self._view is not None and self._view.generation == generation:
                return self._view
            view = self._snapshots.get(generation)
            if view is not None:
                self._snapshots.move_to_end(generation)
                return view
            toc = whoosh_index.TOC.read(self.ix.storage, store.INDEXNAME, generation)
            data = []
            for seg in toc.segments:
                known = self._segdata.get(seg.segment_id())
                if known is None:
                    reader = whoosh_index.FileIndex._reader(self.ix.storage, toc.schema, [seg], generation)
                    known = SegmentData(reader, seg, self.ix.storage)
                data.append(known)
            view = IndexView(data, [frozenset(seg.deleted_docs()) for seg in toc.segments], generation)
            self._snapshots[generation] = view
            while len(self._snapshots) > self.SNAPSHOT_VIEWS:
                self._snapshots.popitem(last=False)
            return view

    def walk(self, snapshot: str, plan: Plan, after: object | None, size: int) -> WalkPage:
        """``after``: how many articles were walked (an offset into the
        snapshot's fixed order).  The ranked matches are computed once per
        walk and process, then sliced."""
        generation, lease_id = self._lease(snapshot)
        try:
            leases.renew(self.realpath, generation, lease_id)
        except leases.LeaseGone:
            raise SnapshotGone("the cursor expired (unused for longer than its keep-alive) or its index was "
                               "rebuilt: start the walk again") from None
        offset = int(after or 0)
        key = (self.realpath, snapshot, repr(dataclasses.replace(plan, deadline=None, offset=0, limit=0)))
        try:
            view = self._snapshot_view(generation)
            with self._walk_lock:
                ranked = self._ranked.get(key)
            if ranked is None:
                ranked = Executor(view).ranked(plan)
            with self._walk_lock:
                self._ranked[key] = ranked
                self._ranked.move_to_end(key)
                while len(self._ranked) > self.RANKED_WALKS:
                    self._ranked.popitem(last=False)
            end = min(offset + size, len(ranked.docs))
            hits = [self._walk_hit(view, ranked, i) for i in range(offset, end)]
        except FileNotFoundError:
            raise SnapshotGone("the cursor's snapshot is no longer on disk: start the walk again") from None
        total = len(ranked.docs)
        return WalkPage(hits, total, int((ranked.matched == 2).sum()), end if end < total else None)

    @staticmethod
    def _walk_hit(view: IndexView, ranked: Ranked, i: int):
        doc = int(ranked.docs[i])
        return BackendHit(doc, float(ranked.scores[i]), view.stored(doc), missing=ranked.missing(i))

    def close_snapshot(self, snapshot: str) -> None:
        """Remove the lease file (its files go at the writer's next clean commit)."""
        try:
            generation, lease_id = self._lease(snapshot)
        except SnapshotGone:
            return
        leases.release(self.realpath, generation, lease_id)
        with self._walk_lock:
            for key in [k for k in self._ranked if k[1] == snapshot]:
                self._ranked.pop(key, None)
