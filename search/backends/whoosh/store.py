"""Opening, creating and committing to a Whoosh index directory.

Exactly one writer at a time holds Whoosh's WRITELOCK (a ``WriteSession``).
Segments are written by worker processes (``segwriter.write_segment``) and
become visible only when the session commits a new table of contents (TOC);
Whoosh writes the TOC to a temporary file and renames it, so readers see
either the old or the new generation, and an interrupted run leaves every
previous commit readable.
"""

from __future__ import annotations

import os
import time

from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC

from ...analysis import ANALYSIS_VERSION
from ..base import TargetIncompatible
from . import groups, integrity, leases, segment_io
from .schema import analysis_version, build_schema
from ...errors import SearchServiceError

segment_io.install()

INDEXNAME = "MAIN"


class IndexMissing(SearchServiceError, status=503):
    """There is no index at the path (the message names it)."""


class IncompatibleIndex(TargetIncompatible):
    """The index was written by an older version of the schema or of the
    analysis (its terms would not match the queries of this version)."""


def check_schema(schema, path: str = "DIR") -> None:
    """Raise IncompatibleIndex unless the index was written with this
    version's fields and analysis (``analysis.ANALYSIS_VERSION``): mixing
    versions would silently miss articles."""
    expected = build_schema()
    missing = [name for name in expected.names() if name not in schema.names()]
    if missing:
        raise IncompatibleIndex(
            f"index lacks fields {missing}: it was built by an older version; "
            f"rebuild it with `python -m indexer rebuild --index {path}`"
        )
    version = analysis_version(schema)
    if version != ANALYSIS_VERSION:
        raise IncompatibleIndex(
            f"the index at {path} was analysed by version {version} of the text analysis and this "
            f"software analyses text as version {ANALYSIS_VERSION}; searching or adding to it would miss "
            f"articles. Rebuild it: `python -m indexer rebuild --index {path}`"
        )


def exists(path: str) -> bool:
    """Is ``path`` a directory holding an index?"""
    return os.path.isdir(path) and whoosh_index.exists_in(path, indexname=INDEXNAME)


def create(path: str, userdict_path: str | None = None):
    """An empty index at ``path`` (made if missing) with this version's
    schema, recording ``userdict_path``; returns the Whoosh ``FileIndex``."""
    os.makedirs(path, exist_ok=True)
    return whoosh_index.create_in(path, build_schema(userdict_path), indexname=INDEXNAME)


def open_index(path: str):
    """The Whoosh ``FileIndex`` at ``path``; raises ``IndexMissing``, or
    ``IncompatibleIndex`` for an index of another schema/analysis version."""
    if not exists(path):
        raise IndexMissing(f"no index at {path!r}")
    ix = whoosh_index.open_dir(path, indexname=INDEXNAME)
    check_schema(ix.schema, path)
    return ix


def stored_documents(path: str, damaged: list | None = None):
    """The stored fields of every live document of the index at ``path``,
    whatever analysis version wrote it (a rebuild re-analyses them).

    A damaged segment file (``integrity.segment_file_problem``) raises
    ``IndexCorrupt`` naming it, unless ``damaged`` is a list: then the
    segment is skipped and a sentence naming it and its document count is
    appended there.  Damaged or missing sidecar files do not count: the
    stored fields are all in the segment file."""
    if not exists(path):
        raise IndexMissing(f"no index at {path!r}")
    ix = whoosh_index.open_dir(path, indexname=INDEXNAME)
    toc = ix._read_toc()
    for seg in toc.segments:
        problem = integrity.segment_file_problem(path, seg, indexname=INDEXNAME)
        reader = None
        if problem is None:
            try:
                reader = whoosh_index.FileIndex._reader(ix.storage, toc.schema, [seg], toc.generation)
                docs = [reader.stored_fields(d) for d in range(seg.doc_count_all()) if not seg.is_deleted(d)]
            except Exception as exc:  # noqa: BLE001 - whatever a damaged file raises
                problem = (f"segment file {seg.segment_id()}.seg ({seg.doc_count_all()} documents) cannot be "
                           f"read ({type(exc).__name__}: {exc})")
            finally:
                if reader is not None:
                    reader.close()
        if problem is not None:
            if damaged is None:
                raise integrity.corrupt_error(path, [problem])
            damaged.append(problem)
            continue
        yield from docs


def open_or_create(path: str, userdict_path: str | None = None):
    """``open_index``, or ``create`` when there is no index at ``path``."""
    return open_index(path) if exists(path) else create(path, userdict_path)


class WriteSession:
    """The single writer: holds the lock, tracks segments, commits TOCs."""

    def __init__(self, path: str, userdict_path: str | None = None, timeout: float = 30.0):
        self.path = path
        self.ix = open_or_create(path, userdict_path)
        self.storage: FileStorage = self.ix.storage
        self.lock = self.ix.lock("WRITELOCK")
        deadline = time.monotonic() + timeout
        while not self.lock.acquire(blocking=False):
            if time.monotonic() > deadline:
                raise TimeoutError(f"another writer holds the lock on {path!r}")
            time.sleep(0.2)
        toc = self.ix._read_toc()
        self.schema = toc.schema
        self.generation = toc.generation
        self.segments = list(toc.segments)
        self._dirty = False
        self.closed = False

    # ---- reading what is already there ---------------------------------
    def id_map(self, locations: dict[str, tuple[str, int]] | None = None) -> dict[str, tuple[int, int, str | None]]:
        """id -> (segment number, docnum, record hash) of every live document.
        ``locations``: ``id_locations()`` when the caller has it already."""
        locations = self.id_locations() if locations is None else locations
        by_segment: dict[str, list[tuple[str, int]]] = {}
        for doc_id, (sid, docnum) in locations.items():
            by_segment.setdefault(sid, []).append((doc_id, docnum))
        out: dict[str, tuple[int, int, str | None]] = {}
        for segno, seg in enumerate(self.segments):
            docs = by_segment.get(seg.segment_id())
            if not docs:
                continue
            r = whoosh_index.FileIndex._reader(self.storage, self.schema, [seg], self.generation)
            try:
                for doc_id, docnum in docs:
                    out[doc_id] = (segno, docnum, r.stored_fields(docnum).get("record_hash"))
            finally:
                r.close()
        return out

    def id_locations(self) -> dict[str, tuple[str, int]]:
        """id -> (segment id, docnum) of every live document, from the id
        postings only (no stored fields: fast on a large index)."""
        out: dict[str, tuple[str, int]] = {}
        for seg in self.segments:
            r = whoosh_index.FileIndex._reader(self.storage, self.schema, [seg], self.generation)
            try:
                if "id" not in r.indexed_field_names():
                    continue
                sid = seg.segment_id()
                for tbytes in r.lexicon("id"):
                    for docnum in r.postings("id", tbytes).all_ids():
                        if not seg.is_deleted(docnum):
                            out[tbytes.decode("utf-8")] = (sid, docnum)
            finally:
                r.close()
        return out

    def replace_segments(self, old_ids: set[str], new_segment=None) -> None:
        """Swap merged segments (ids as ``segment_id()``) for their merge
        result, or drop them when it is None (nothing of them was live);
        published by the next commit, their files go at the next clean
        commit."""
        self.segments = [s for s in self.segments if s.segment_id() not in old_ids]
        if new_segment is not None:
            self.segments.append(new_segment)
        self._dirty = True

    def doc_count(self) -> int:
        """Live documents of the listed segments."""
        return sum(s.doc_count() for s in self.segments)

    # ---- changing ---------------------------------------------------------
    def delete(self, segno: int, docnum: int) -> None:
        """Delete document ``docnum`` of the ``segno``-th listed segment."""
        self.segments[segno].delete_document(docnum)
        self._dirty = True

    def delete_in(self, segment_id: str, docnum: int) -> bool:
        """Delete document ``docnum`` of the segment ``segment_id`` (ids
        survive merges, positions do not); False when that segment is no
        longer listed."""
        for seg in self.segments:
            if seg.segment_id() == segment_id:
                seg.delete_document(docnum)
                self._dirty = True
                return True
        return False

    def add_segment(self, segment) -> int:
        """List a segment written by ``segwriter.write_segment`` (published
        by the next commit); returns its position in the list."""
        self.segments.append(segment)
        self._dirty = True
        return len(self.segments) - 1

    def drop_empty_segments(self) -> None:
        """Unlist the segments without a live document."""
        kept = [s for s in self.segments if s.doc_count() > 0]
        if len(kept) != len(self.segments):
            self.segments = kept
            self._dirty = True

    def commit(self, clean: bool = False, regroup: bool = False, groups_arrays: dict | None = None) -> None:
        """Publish the current segment list as a new generation.

        ``clean`` also deletes files no longer referenced (by this
        generation or by one a cursor holds a live lease on: ``leases``);
        only safe when no worker is writing a segment that is not committed yet.  ``regroup``
        recomputes the near-duplicate groups (seconds on 10^5 articles, so
        once at the end of a build, not at every batch) and publishes them
        with a new generation, so that every reader reloads;
        ``groups_arrays`` publishes groups computed in the background
        (``groups.compute`` on a snapshot) instead."""
        if regroup or groups_arrays is not None:
            self._dirty = True
        if self._dirty:
            self.generation += 1
            if regroup:
                groups_arrays = groups.compute(self.storage, self.snapshot())
            if groups_arrays is not None:
                groups.write(self.path, self.generation, groups_arrays)
            TOC(self.schema, self.segments, self.generation).write(self.storage, INDEXNAME)
            self._dirty = False
        if clean:
            leases.clean(self.storage, self.path, INDEXNAME, self.generation, self.segments)
            groups.remove_other_generations(self.path, keep=self.generation)

    def snapshot(self) -> list:
        """(segment, its deleted docnums) of the current list: what a
        background job may read while this session keeps changing it."""
        return [(seg, frozenset(seg.deleted_docs())) for seg in self.segments]

    def close(self) -> None:
        """Release the write lock (uncommitted changes are dropped)."""
        if not self.closed:
            self.lock.release()
            self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
