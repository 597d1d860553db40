"""The Whoosh implementation of the write seam (``base.IndexTarget``).

It owns the index's segments (through ``store.WriteSession``, which holds
the write lock), where every live document is (id -> (segment id, docnum):
ids survive merges, positions in the segment list do not), the merge
policy (``merge.py``), background regrouping of near-duplicates
(``groups.py``), and new generations: a complete index built in
``<index>.builds/<timestamp>`` and switched in by renaming a symlink over
``<index>``.

Worker processes analyse articles and write whole segments
(``SegmentWriter``, built by ``document_writers()``); the target lists
them, deletes the versions they replace and commits a new generation.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import stat
import tempfile
import threading
import time

import numpy as np

from ...analysis import Analyzer
from ...documents import prepare
from ...segmenter import get_segmenter
from ..base import Outcome
from ..regroup_schedule import RegroupSchedule
from . import groups, integrity, segmerge, store
from .merge import BackgroundMerge, MergePolicy
from .segwriter import write_segment

log = logging.getLogger("search.whoosh.target")


class SegmentWriter:
    """``base.DocumentWriter`` for Whoosh: analyses articles as they arrive
    and writes them as one new segment of the index at ``flush`` (not yet
    listed: invisible until the target applies and commits it)."""

    def __init__(self, storage, schema, analyzer: Analyzer):
        self.storage, self.schema, self.analyzer = storage, schema, analyzer
        self.docs: list = []

    @classmethod
    def open(cls, index_dir: str, userdict: str | None = None) -> "SegmentWriter":
        """A writer for the index at ``index_dir`` (raises ``store.IndexMissing``
        / ``store.IncompatibleIndex``)."""
        ix = store.open_index(index_dir)
        return cls(ix.storage, ix.schema, Analyzer(get_segmenter(userdict)))

    def add(self, article, record_hash: str | None) -> None:
        """Analyse ``article`` into the current batch."""
        self.docs.append(prepare(article, self.analyzer, record_hash))

    def flush(self):
        """The batch as a new Whoosh segment, or None when it is empty."""
        docs, self.docs = self.docs, []
        return write_segment(self.storage, store.INDEXNAME, self.schema, docs) if docs else None


class WhooshTarget:
    """``base.IndexTarget`` on the Whoosh index directory ``location``
    (created, with ``userdict`` recorded, by the first write when missing).
    The write lock is taken at the first write (``known``, ``apply``...)
    and held until ``close``; reading (``stored_documents``, ``exists``,
    ``is_current``) takes no lock, so an index of another analysis version
    can still be read and rebuilt.

    ``regroup_interval`` (seconds): the shortest gap between background
    regroupings after changes (``regroup_schedule.RegroupSchedule``);
    ``merge_at`` / ``merge_max_docs``: the merge policy (``MergePolicy``)."""

    backend = "whoosh"

    def __init__(self, location: str, userdict: str | None = None, regroup_interval: float = 1.0,
                 merge_at: int = 10, merge_max_docs: int = 5000, timeout: float = 30.0):
        self.location = location
        self.userdict = userdict
        self.timeout = timeout
        self.policy = MergePolicy(merge_at, merge_max_docs)
        self.regroup_interval = regroup_interval
        self._session: store.WriteSession | None = None
        self._locations: dict[str, tuple[str, int]] | None = None
        self._merge: BackgroundMerge | None = None
        self._analyzer: Analyzer | None = None
        self._groups_job: threading.Thread | None = None
        self._groups_result: dict | None = None
        self._regroups = RegroupSchedule(regroup_interval)
        self._replaces: str | None = None  # a new generation: the location it will be swapped into
        self.merges = 0
        self.segments_added = 0  # segments listed by ``apply`` since opening (a build's)

    # ---- the lock and what is there ------------------------------------------
    @property
    def session(self) -> store.WriteSession:
        """The write session (the lock), opened (the index created) at first
        use, with where every live document is: a damaged segment or sidecar
        file fails here (``IndexCorrupt`` naming it and the rebuild), at the
        start of a run or of the writer, and releases the lock: writing into
        a damaged index would leave it unsearchable and say nothing."""
        if self._session is None:
            session = store.WriteSession(self.location, self.userdict, timeout=self.timeout)
            try:
                damaged = self.damage()
                if damaged is not None:
                    raise damaged
                self._locations = session.id_locations()
            except BaseException:
                session.close()
                raise
            self._session = session
        return self._session

    @property
    def locations(self) -> dict[str, tuple[str, int]]:
        """id -> (segment id, docnum) of every live document (from the id
        postings only: fast on a large index)."""
        self.session
        return self._locations

    def known(self) -> dict[str, str | None]:
        """id -> record hash of every live document (reads stored fields)."""
        return {doc_id: h for doc_id, (_, _, h) in self.session.id_map(self.locations).items()}

    def doc_count(self) -> int:
        """Live documents of the segments listed now."""
        return self.session.doc_count()

    def exists(self) -> bool:
        """Is there an index at ``location``?"""
        return store.exists(self.location)

    def is_current(self) -> bool:
        """Can this version write to it (a missing index counts as yes)?"""
        if not store.exists(self.location):
            return True
        try:
            store.open_index(self.location)
        except store.IncompatibleIndex:
            return False
        return True

    def stored_documents(self, damaged: list | None = None):
        """``store.stored_documents`` of the index (no lock taken)."""
        return store.stored_documents(self.location, damaged)

    def damage(self):
        """``IndexCorrupt`` naming the damaged segment files and the command
        that repairs them, or None when the index is intact or missing."""
        found = integrity.problems(self.location) if store.exists(self.location) else []
        return integrity.corrupt_error(self.location, found) if found else None

    def ids(self, select=None) -> list[str]:
        """Every live id for which ``select(id)`` is true (all without it),
        from the id postings (no lock taken, no stored fields read); []
        when the index cannot be opened."""
        try:
            ix = store.open_index(self.location)
        except Exception:  # noqa: BLE001 - missing, damaged or of another version
            return []
        with ix.searcher() as searcher:
            reader = searcher.reader()
            out = []
            for term in reader.lexicon("id"):
                doc_id = term.decode("utf-8") if isinstance(term, bytes) else term
                if (select is None or select(doc_id)) and searcher.document_number(id=doc_id) is not None:
                    out.append(doc_id)
        return out

    # ---- writing -------------------------------------------------------------
    def document_writers(self):
        """Factory of ``SegmentWriter``s for this index (picklable)."""
        self.session  # the index exists before a worker opens it
        return functools.partial(SegmentWriter.open, self.location, self.userdict)

    def apply(self, parts, deletes=()) -> Outcome:
        """List the segments of ``parts`` ([(segment or None, ids in docnum
        order)]) and delete what they replace and the ids ``deletes``."""
        session, locations, out = self.session, self.locations, Outcome()
        for doc_id in deletes:
            loc = locations.pop(doc_id, None)
            if loc is None:
                out.not_found.append(doc_id)
            else:
                session.delete_in(*loc)
                out.deleted.append(doc_id)
        fresh: set[str] = set()
        for segment, ids in parts:
            if segment is None:
                continue
            session.add_segment(segment)
            self.segments_added += 1
            segid = segment.segment_id()
            for docnum, doc_id in enumerate(ids):
                old = locations.get(doc_id)
                if old is not None:
                    session.delete_in(*old)
                if doc_id not in fresh:  # an id again later in this call counts once
                    (out.updated if old is not None else out.added).append(doc_id)
                    fresh.add(doc_id)
                locations[doc_id] = (segid, docnum)
        return out

    def commit(self, clean: bool = True) -> None:
        """A new generation: the session's segments, a finished merge and
        groups computed in the background.  Old tables of contents and
        merged-away segments go at once when ``clean``, except while a
        merge is writing its (not yet listed) segment."""
        self._publish_merge()
        ready, self._groups_result = self._groups_result, None
        self.session.commit(groups_arrays=ready, clean=clean and self._merge is None)

    def finish(self, changed: bool) -> None:
        """Drop empty segments, clean, regroup when ``changed`` or when the
        index has no groups yet (seconds on 10^5 articles)."""
        self.session.drop_empty_segments()
        self.session.commit(clean=True, regroup=changed or not groups.exists(self.location))

    def optimize(self, max_segments: int = 1, report=None) -> dict:
        """Merge the newest segments into one (``segmerge.py``: a k-way
        merge of their postings, no text analysed again, deleted documents
        dropped) so that at most ``max_segments`` (>= 1) remain, in place of
        the first of them (documents keep their order), and commit: one new
        table of contents, written atomically (killed at any point, the
        previous commit stays valid), with the near-duplicate groups
        carried over (``groups.remap``; computed when there are none), then
        clean (``leases.clean``; with nothing to merge too).  A background
        merge under way is finished and published first.  Returns
        {"segments_before", "segments_after", "documents", "dropped"
        (deleted documents removed), "merged" (segments merged), "seconds"}.
        Raises ValueError for ``max_segments`` < 1, what taking the lock
        raises (``TimeoutError``), ``IndexCorrupt``."""
        if max_segments < 1:
            raise ValueError(f"--max-segments must be at least 1, not {max_segments}")
        t0 = time.monotonic()
        if self._merge is not None:
            self._merge.wait()
            self.commit()
        session = self.session
        before = list(session.segments)
        out = {"segments_before": len(before), "segments_after": len(before), "documents": session.doc_count(),
               "dropped": 0, "merged": 0, "seconds": 0.0}
        if len(before) <= max_segments:
            session.commit(clean=True)  # nothing to merge; files no commit needs go (an orphan vectors file)
            out["seconds"] = time.monotonic() - t0
            return out
        chosen = before[max_segments - 1:]
        pairs = [(seg, frozenset(seg.deleted_docs())) for seg in chosen]
        segment, origins = segmerge.merge_segments(session.storage, store.INDEXNAME, session.schema,
                                                   session.generation, pairs, report)
        new_id = segment.segment_id() if segment is not None else None
        moved = {}
        for seg, _ in pairs:
            moved[seg.segment_id()] = (new_id, np.full(seg.doc_count_all(), -1, np.int64))
        locations = self.locations
        for i, (doc_id, segid, docnum) in enumerate(origins):
            moved[segid][1][docnum] = i
            locations[doc_id] = (new_id, i)
        old_groups = groups.load(self.location, session.generation)
        session.replace_segments(set(moved), segment)
        if segment is not None:  # where the first merged segment was: documents keep their order
            session.segments.insert(max_segments - 1, session.segments.pop())
        remapped = groups.remap(old_groups, moved) if old_groups is not None else None
        session.commit(clean=True, regroup=remapped is None, groups_arrays=remapped)
        out.update(segments_after=len(session.segments), dropped=sum(seg.deleted_count() for seg, _ in pairs),
                   merged=len(pairs), seconds=time.monotonic() - t0)
        return out

    # ---- background maintenance ---------------------------------------------
    @property
    def merging(self) -> bool:
        """A merge started and not swapped in yet."""
        return self._merge is not None

    def maintain(self, changed: bool) -> None:
        """Publish a finished merge or regrouping at once (without waiting
        for the next write), start a regrouping when due and, after
        changes, a merge when the policy asks for one."""
        if not changed:
            if (self._merge is not None and self._merge.done()) or self._groups_result is not None:
                self.commit()
        else:
            self._regroups.note_change()
        self._maybe_regroup()
        if changed and self._merge is None:
            chosen = self.policy.select(self.session.segments)
            if chosen:
                if self._analyzer is None:
                    self._analyzer = Analyzer(get_segmenter(self.userdict))
                self._merge = BackgroundMerge(self.session, chosen, self._analyzer)

    def _publish_merge(self) -> None:
        """Swap a finished merge in (before a commit)."""
        if self._merge is None or not self._merge.done():
            return
        merge, self._merge = self._merge, None
        if merge.swap_in(self.session, self.locations):
            self.merges += 1
            self._regroups.note_change()

    def _maybe_regroup(self) -> None:
        if self._groups_job is not None and not self._groups_job.is_alive():
            self._groups_job = None
        if self._groups_job is None and self._regroups.due():
            snapshot = self.session.snapshot()
            storage = self.session.storage
            schedule = self._regroups
            schedule.start()

            def job():
                try:
                    self._groups_result = groups.compute(storage, snapshot)
                except Exception:  # noqa: BLE001 - groups are best effort; search works without
                    log.exception("regrouping failed")
                finally:
                    schedule.ended()

            self._groups_job = threading.Thread(target=job, name="regroup", daemon=True)
            self._groups_job.start()

    def _stop_merge(self) -> None:
        if self._merge is not None:
            self._merge.wait()
            self._merge = None

    # ---- generations -----------------------------------------------------------
    def new_generation(self) -> "WhooshTarget":
        """An empty index in ``<location>.builds/<timestamp>`` (a running
        merge is waited for and dropped: the rebuild re-analyses everything)."""
        self._stop_merge()
        live = os.path.abspath(self.location.rstrip("/"))
        builds = live + ".builds"
        os.makedirs(builds, exist_ok=True)
        path = tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=builds)
        # mkdtemp makes it private (0700): a service running as another user
        # would lose the index at the swap; give it the live index's mode.
        os.chmod(path, stat.S_IMODE(os.stat(live).st_mode) if os.path.exists(live) else 0o755)
        fresh = WhooshTarget(path, self.userdict, timeout=self.timeout)
        fresh._replaces = live
        return fresh

    def swap_in(self) -> str:
        """Point ``<index>`` at this build: a new symlink renamed over the
        old one, so a running service keeps answering from the old build
        until it sees the new one; first the old build's vectors are copied
        for the articles whose title and lead did not change
        (``_carry_vectors``).  (An ``<index>`` that is still a plain
        directory from an earlier ``build`` is first moved into the builds
        folder: a moment without an index.)  The previous build is kept,
        older ones are removed.  Returns this build's directory."""
        self.close()
        index_dir, target = self._replaces, self.location
        if os.path.isdir(index_dir):
            self._carry_vectors(os.path.realpath(index_dir))
        builds = index_dir + ".builds"
        stamp = os.path.basename(target)
        if os.path.isdir(index_dir) and not os.path.islink(index_dir):
            os.replace(index_dir, os.path.join(builds, "previous-" + stamp))
        tmp_link = index_dir + f".switch-{os.getpid()}"
        os.symlink(os.path.relpath(target, os.path.dirname(index_dir)), tmp_link)
        previous = os.path.realpath(index_dir) if os.path.islink(index_dir) else None
        os.replace(tmp_link, index_dir)
        keep = {target, previous}
        for name in os.listdir(builds):
            full = os.path.join(builds, name)
            if full not in keep and not name.startswith("previous-"):
                shutil.rmtree(full, ignore_errors=True)
        return target

    def _carry_vectors(self, source: str) -> None:
        """Give this build the vectors of ``source`` (the build it replaces)
        for the articles whose title and lead are unchanged
        (``embedjob.carry_over``); a failure is logged, not raised: the
        rebuild stands, and ``indexer embed`` computes what is missing."""
        from . import embedjob

        try:
            embedjob.carry_over(self.location, source, report=log.info)
        except Exception as exc:  # noqa: BLE001 - vectors are recomputed by the next embedding run
            log.warning("vectors of %s not carried over to the new build (%s: %s); `python -m indexer embed` "
                        "computes them", source, type(exc).__name__, exc)

    def reopen(self) -> None:
        """Release the old build's lock; the next write takes the new one's."""
        self._stop_merge()
        if self._session is not None:
            self._session.close()
        self._session = self._locations = None
        self._groups_result = None

    def close(self) -> None:
        """Release the write lock (a running merge's result is dropped)."""
        if self._session is not None:
            self._session.close()
