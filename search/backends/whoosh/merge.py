"""The Whoosh target's merge policy: small segments merged in the background.

Every step of the service's writer adds a small segment, so once there are
``merge_at`` segments under ``max_docs`` documents (``MergePolicy``), a
child process merges their live documents into one segment while commits
go on (``BackgroundMerge``); the target then
swaps it in (``swap_in``), dropping from it every document that was
replaced or withdrawn during the merge.  (Whoosh's ``writing.py`` and
tantivy's ``MergePolicy`` likewise keep the policy with the index.)

How the child merges (``kway_pays``): with the k-way merge of
``segmerge.py`` (no text analysed again) when segments carry their postings
as raw arrays (a sidecar kind built from the inverted fields,
``build_inverted``); otherwise by re-analysing the stored text, which is
cheaper than decoding every term's pickled Whoosh postings (on 2,000
articles in 8 segments: 15 s of CPU re-analysing, 20 s decoding and merging;
4 s merging raw arrays).

The child runs at low priority (``os.nice(10)``), so it neither holds the
writer's interpreter lock nor slows its commits; it is bound to the writer
(``search.lifeline.bound_children``): it dies with it and keeps neither the
write lock nor its result pipe's read end, so no orphan can hold the index.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import traceback

from whoosh import index as whoosh_index

from ... import lifeline
from ...documents import article_from_stored, prepare
from . import sidecars
from .segmerge import merge_segments
from .segwriter import write_segment
from .store import INDEXNAME

log = logging.getLogger("search.whoosh.merge")


class MergePolicy:
    """When to merge: ``merge_at`` (count) segments each holding fewer than
    ``max_docs`` documents, deleted ones included.  The defaults (10, 5000)
    are the writer's CLI defaults (``--merge-at``, ``--merge-max-docs``)."""

    def __init__(self, merge_at: int = 10, max_docs: int = 5000):
        self.merge_at = merge_at
        self.max_docs = max_docs

    def select(self, segments: list) -> list:
        """The Whoosh ``Segment`` objects to merge now (in list order), or []."""
        small = [s for s in segments if s.doc_count_all() < self.max_docs]
        return small if len(small) >= self.merge_at else []


class BackgroundMerge:
    """One merge under way: a thread that forks the merge child and waits
    for its result.  ``result`` once ``done()``: (ids of the merged
    segments, the new segment or None when none of their documents was
    live, [(doc id, old segment id, old docnum)] in the new segment's
    order), or None when the merge failed (logged)."""

    def __init__(self, session, segments: list, analyzer):
        self.sources = [(seg, frozenset(seg.deleted_docs())) for seg in segments]
        self.result: tuple | None = None
        storage, schema, generation = session.storage, session.schema, session.generation
        lock_fd = getattr(session.lock, "fd", None)
        parent = os.getpid()

        def job():
            ctx = multiprocessing.get_context("fork")
            receive, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=merge_main, args=(send, storage, schema, generation, self.sources, analyzer),
                               name="merge", daemon=True)
            with lifeline.bound_children(parent, (receive, lock_fd)):
                proc.start()
            send.close()
            try:
                status, value = receive.recv()
            except EOFError:
                status, value = "error", f"merge process died (exit code {proc.exitcode})"
            proc.join()
            if status == "ok":
                self.result = ({seg.segment_id() for seg, _ in self.sources}, *value)
            else:
                log.error("merge failed: %s", value)

        log.info("merging %d small segments (%d documents)", len(self.sources),
                 sum(seg.doc_count() for seg, _ in self.sources))
        self.thread = threading.Thread(target=job, name="merge", daemon=True)
        self.thread.start()

    def done(self) -> bool:
        """Has the merge ended (successfully or not)?"""
        return not self.thread.is_alive()

    def wait(self) -> None:
        """Block until the merge has ended."""
        self.thread.join()

    def swap_in(self, session, locations: dict[str, tuple[str, int]]) -> bool:
        """Replace the merged segments by the result in ``session`` (a
        ``store.WriteSession``; published by its next commit) and move the
        ``locations`` (id -> (segment id, docnum)) of the documents it
        carried; a document replaced or withdrawn since the merge started
        is deleted from the result.  False when the merge failed."""
        if self.result is None:
            return False
        old_ids, segment, origins = self.result
        if segment is not None:
            new_id = segment.segment_id()
            for i, (doc_id, old_segid, old_docnum) in enumerate(origins):
                if locations.get(doc_id) == (old_segid, old_docnum):
                    locations[doc_id] = (new_id, i)
                else:  # replaced or withdrawn while the merge ran
                    segment.delete_document(i)
        session.replace_segments(old_ids, segment)
        return True


def kway_pays() -> bool:
    """Is the k-way merge (``segmerge``) the cheaper way here: does a
    registered sidecar kind keep the postings as raw arrays
    (``build_inverted``), so that ``SegmentData.field_inverted`` slices
    arrays instead of decoding Whoosh's postings term by term?"""
    return any(getattr(kind, "build_inverted", None) is not None for kind in sidecars.kinds())


def merge_main(conn, storage, schema, generation, sources, analyzer) -> None:
    """The merge, in a child process bound to the writer: the live
    documents of ``sources`` ([(segment, deleted docnums)]) into one new
    segment, by the k-way merge when it pays (``kway_pays``), else
    re-analysed from their stored fields with ``analyzer``; sends ("ok",
    (segment or None, origins)) or ("error", traceback text) through
    ``conn``."""
    try:
        os.nice(10)
        if kway_pays():
            conn.send(("ok", merge_segments(storage, INDEXNAME, schema, generation, sources)))
            return
        docs, origins = [], []
        for seg, deleted in sources:
            reader = whoosh_index.FileIndex._reader(storage, schema, [seg], generation)
            try:
                for docnum in range(seg.doc_count_all()):
                    if docnum in deleted:
                        continue
                    stored = reader.stored_fields(docnum)
                    docs.append(prepare(article_from_stored(stored), analyzer, stored.get("record_hash")))
                    origins.append((stored["id"], seg.segment_id(), docnum))
            finally:
                reader.close()
        segment = write_segment(storage, INDEXNAME, schema, docs) if docs else None
        conn.send(("ok", (segment, origins)))
    except Exception:  # noqa: BLE001 - reported by the parent
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()
