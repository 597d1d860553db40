"""The embedding job: vectors for the live documents of a Whoosh index that
lack them, segment by segment (``python -m indexer embed``; issue 20).

The job never takes the index's write lock and never changes a table of
contents: it reads the latest commit, and for each segment embeds the
passages (``search/passages.py``: title + lead) of its live documents
without a vector and writes the segment's vectors file (``vectors.py``),
atomically, every ``checkpoint`` documents and when the segment is done.
So a writer (the service's, a build, ``optimize``) goes on committing
meanwhile, and:

* killed at any point, every file written is whole (a hidden temporary
  file renamed over the old one); the next run starts from what is there;
* a document deleted meanwhile keeps a row that is not live (it goes at the
  next merge);
* a segment merged away meanwhile (``indexer build``, ``optimize``, the
  writer's background merge): at each checkpoint, before embedding a
  chunk and again before writing it, the job reads the latest commit's
  table of contents (``leases.live_segment_ids``); once its segment is no
  longer listed it drops the chunk in hand (counted in ``dropped``) and
  writes nothing more for it, then goes on with the latest commit's segments it
  has not finished (the merged one carries the vectors its sources' files
  held when the merge read them: only the rest is embedded);
* a vectors file of a segment gone (written just after a merge's commit
  and cleaning, or left by an earlier version of the job) is removed by
  ``remove_orphans`` at the start and end of a run and after a segment
  vanished; the writer's clean commits (``optimize`` included, even with
  nothing to merge) remove it with its segment too;
* two runs on one index are refused (``EmbedRunning``): the job holds a
  lock of its own, ``vectors-embed.lock`` in the index directory (flock,
  released when the process ends, however it ends).

The model is the index's (``vectors.index_model``): a run with another
model (or the same model with other prefixes, another dimension or window)
is refused with ``VectorsModelMismatch`` before anything is embedded;
``reset=True`` first removes every vectors file (the way to start over).
Priority (``os.nice``) is the caller's: the command line lowers its own.

An embedding cache (``search/embedding/cache.py``) works through the
embedder given (a ``CachedEmbedder``: texts seen before are not embedded
again); ``fill_cache`` goes the other way, storing an embedded index's
vectors in a cache under the passages they were made from, so that a
fresh build of the same articles is embedded from it.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from whoosh import index as whoosh_index

from ...errors import SearchServiceError
from ...passages import passage
from . import leases, store, vectors

LOCK_NAME = "vectors-embed.lock"
# Documents embedded between two writes of a segment's file: ~2 minutes at
# the ~18 passages/s measured on this 2-core machine (bench.embed_speed).
DEFAULT_CHECKPOINT = 2048


class EmbedRunning(RuntimeError, SearchServiceError, status=409):
    """Another embedding run holds the index's embedding lock (the
    message names the index and the holder's pid when known)."""


@dataclass
class EmbedSummary:
    """What a run did: ``model`` (``vectors.ModelRecord``), ``embedded``
    (documents whose vectors were written), ``dropped`` (documents
    embedded for a segment merged away before their vectors were written),
    ``files_written`` (vectors files written, checkpoints included),
    ``segments`` (segments of the latest commit when the run ended),
    ``backlog`` (live documents of that commit without a vector: 0 unless
    ``limit`` stopped the run, or a merge read a file before its last
    checkpoint, or a commit added documents), ``reset`` (vectors files
    removed first), ``vanished`` (segment ids merged away while the run
    worked on them), ``orphans`` (vectors files of segments gone, removed:
    ``leases.remove_orphans``), ``seconds``."""

    model: vectors.ModelRecord
    embedded: int = 0
    dropped: int = 0
    files_written: int = 0
    segments: int = 0
    backlog: int = 0
    reset: list = field(default_factory=list)
    vanished: list = field(default_factory=list)
    orphans: list = field(default_factory=list)
    seconds: float = 0.0


class _Lock:
    def __init__(self, folder: str):
        self.path = os.path.join(folder, LOCK_NAME)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 32, 0).decode("ascii", "replace").strip()
            os.close(self.fd)
            raise EmbedRunning(f"another embedding run{f' (pid {holder})' if holder else ''} is computing the "
                               f"vectors of {folder}; wait for it to finish") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, str(os.getpid()).encode("ascii"), 0)

    def release(self) -> None:
        os.ftruncate(self.fd, 0)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def latest_commit(folder: str, any_version: bool = False):
    """(storage, schema, generation, [(segment, deleted docnums)]) of the
    latest commit of the index at ``folder``; ``any_version``: also of an
    index of another schema or analysis version (its stored fields are
    read, not its terms).  Raises ``store.IndexMissing``,
    ``store.IncompatibleIndex``."""
    if any_version and not store.exists(folder):
        raise store.IndexMissing(f"no index at {folder!r}")
    ix = whoosh_index.open_dir(folder, indexname=store.INDEXNAME) if any_version else store.open_index(folder)
    toc = ix._read_toc()
    return ix.storage, toc.schema, toc.generation, [(s, frozenset(s.deleted_docs())) for s in toc.segments]


def embed_index(folder: str, embedder, *, limit: int | None = None, checkpoint: int = DEFAULT_CHECKPOINT,
                reset: bool = False, report: Callable[[str], None] | None = None) -> EmbedSummary:
    """Embed the live documents lacking a vector in the latest commit of
    the index at ``folder`` with ``embedder`` (``search.embedding.Embedder``),
    at most ``limit`` of them (None: all), writing each segment's vectors
    file every ``checkpoint`` documents and at its end; a segment merged
    away meanwhile is left at the next checkpoint for the latest commit's
    segments (module docstring); ``reset``: remove every vectors file
    first.  ``report(line)`` hears the progress.  Returns an ``EmbedSummary``.

    Raises ``EmbedRunning`` (another run), ``vectors.VectorsModelMismatch``
    (the index's vectors are of another model: nothing embedded),
    ``store.IndexMissing`` / ``IncompatibleIndex``, ValueError for a
    ``limit`` < 0 or ``checkpoint`` < 1, what the embedder raises, OSError."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be 0 or more, got {limit}")
    if checkpoint < 1:
        raise ValueError(f"checkpoint must be at least 1, got {checkpoint}")
    say = report or (lambda _line: None)
    t0 = time.monotonic()
    folder = os.path.realpath(folder)  # a rebuild swapping the symlink meanwhile: go on in this build
    record = vectors.ModelRecord.of(embedder.info)
    out = EmbedSummary(model=record)
    if not store.exists(folder):
        raise store.IndexMissing(f"no index at {folder!r}")
    lock = _Lock(folder)
    try:
        storage, schema, generation, pairs = latest_commit(folder)
        if reset:
            out.reset = vectors.remove_all(folder)
            say(f"removed {len(out.reset)} vectors file(s)")
        else:
            for name in vectors.stale_temporaries(folder):  # an interrupted run's; only a run writes them
                os.remove(os.path.join(folder, name))
        found = vectors.index_model(folder, pairs)
        if found is not None and found != record:
            raise vectors.mismatch(found, record, folder, "this run would embed with")
        out.orphans += leases.remove_orphans(folder, storage, store.INDEXNAME, vectors.SUFFIX)
        run = _Run(folder, storage, embedder, record, checkpoint, limit, out, say, t0)
        finished: set[str] = set()  # segments done in this run (a merge gives new ids)
        while True:
            gone = None
            for segment, deleted in pairs:
                if segment.segment_id() in finished:
                    continue
                if not run.segment(schema, generation, segment, deleted):
                    gone = segment.segment_id()
                    break
                finished.add(segment.segment_id())
            if gone is None:
                break
            out.vanished.append(gone)
            out.orphans += leases.remove_orphans(folder, storage, store.INDEXNAME, vectors.SUFFIX)
            storage, schema, generation, pairs = latest_commit(folder)
            say(f"{gone}: merged away during the run; going on with the {len(pairs)} segment(s) of "
                f"generation {generation} (merged vectors carry what was written)")
        storage, schema, generation, pairs = latest_commit(folder)
        out.orphans += leases.remove_orphans(folder, storage, store.INDEXNAME, vectors.SUFFIX)
        out.segments = len(pairs)
        out.backlog = vectors.VectorIndex(folder, pairs).backlog
    finally:
        lock.release()
    out.seconds = time.monotonic() - t0
    return out


class _Run:
    """One run's state across segments: the ``limit`` left (``budget``)
    and the summary ``out`` it fills."""

    def __init__(self, folder, storage, embedder, record, checkpoint, limit, out, say, t0):
        self.folder, self.storage, self.embedder, self.record = folder, storage, embedder, record
        self.checkpoint, self.budget, self.out, self.say, self.t0 = checkpoint, limit, out, say, t0

    def alive(self, segid: str) -> bool:
        """The segment ``segid`` is in the latest commit (read now)."""
        return segid in leases.live_segment_ids(self.storage, store.INDEXNAME)[1]

    def segment(self, schema, generation: int, segment, deleted) -> bool:
        """Embed what ``segment`` (of the commit ``generation``) lacks,
        within the budget, a checkpoint at a time; False when it was merged
        away meanwhile (nothing more written for it)."""
        if self.budget is not None and self.budget <= 0:
            return True
        todo, have, present = _lacking(self.folder, segment, deleted, self.record)
        if not len(todo):
            return True
        segid = segment.segment_id()
        take = todo if self.budget is None else todo[:self.budget]
        done = 0
        try:
            reader = whoosh_index.FileIndex._reader(self.storage, schema, [segment], generation)
        except OSError:
            if self.alive(segid):
                raise  # listed and unreadable: damage, not a merge
            return False  # its files are gone already
        try:
            for start in range(0, len(take), self.checkpoint):
                chunk = take[start:start + self.checkpoint]
                if not self.alive(segid):
                    return False
                try:
                    texts = _passages(reader, chunk, self.record.max_tokens)
                except OSError:
                    if self.alive(segid):
                        raise
                    return False
                rows = self.embedder.embed_passages(texts)
                if not self.alive(segid):  # merged away while embedding: the file would be an orphan's
                    self.out.dropped += len(chunk)
                    return False
                have[chunk] = rows
                present[chunk] = True
                vectors.write_file(self.folder, segid, have, present, self.record)
                done += len(chunk)
                if self.budget is not None:
                    self.budget -= len(chunk)
                self.out.embedded += len(chunk)
                self.out.files_written += 1
                rate = self.out.embedded / max(time.monotonic() - self.t0, 1e-9)
                self.say(f"{segid}: {done}/{len(todo)} embedded ({self.out.embedded} in all, {rate:.1f}/s)")
        finally:
            reader.close()
        return True


def carry_over(folder: str, source: str, report: Callable[[str], None] | None = None) -> int:
    """Copy into the index at ``folder`` (a rebuild's new build, before it
    is switched in) the vectors of the index at ``source`` (the build it
    replaces) for the live articles of ``folder`` lacking one whose
    article id has a vector in ``source`` made from the same passage
    (``search/passages.py``: title and lead unchanged, so the model would
    give the same vector; a rebuild from the index itself changes no text
    but may change record hashes).  Returns the number of vectors copied
    (0 when ``source`` has none, or ``folder`` holds vectors of another
    model: nothing is mixed).  Raises ``EmbedRunning``, what reading
    either index raises."""
    say = report or (lambda _line: None)
    if not any(name.endswith(vectors.SUFFIX) for name in os.listdir(source)):
        return 0  # nothing to carry: the source (perhaps a damaged index) is not opened at all
    storage, schema, generation, pairs = latest_commit(source, any_version=True)
    old = vectors.VectorIndex(source, pairs)
    if old.model is None:
        return 0
    found: dict[str, tuple[str, np.ndarray, int]] = {}  # id -> (passage, matrix, row)
    for _, reader, rows, matrix in _vector_blocks(storage, schema, generation, pairs, old):
        for row in rows.tolist():
            stored = reader.stored_fields(row)
            found[stored["id"]] = (passage(stored.get("title"), stored.get("body"), old.model.max_tokens),
                                   matrix, row)
    copied = 0
    lock = _Lock(folder)
    try:
        storage, schema, generation, pairs = latest_commit(folder)
        model = vectors.index_model(folder, pairs)
        if model is not None and model != old.model:
            say(f"vectors not carried over: {folder} holds vectors of {model.model_id}, "
                f"{source} of {old.model.model_id}")
            return 0
        for segment, deleted in pairs:
            todo, have, present = _lacking(folder, segment, deleted, old.model)
            if not len(todo):
                continue
            reader = whoosh_index.FileIndex._reader(storage, schema, [segment], generation)
            try:
                here = 0
                for docnum in todo.tolist():
                    stored = reader.stored_fields(docnum)
                    hit = found.get(stored["id"])
                    if hit is not None and hit[0] == passage(stored.get("title"), stored.get("body"),
                                                             old.model.max_tokens):
                        have[docnum] = hit[1][hit[2]]
                        present[docnum] = True
                        here += 1
            finally:
                reader.close()
            if here:
                vectors.write_file(folder, segment.segment_id(), have, present, old.model)
                copied += here
    finally:
        lock.release()
    say(f"{copied} vector(s) carried over from {source}")
    return copied


def fill_cache(folder: str, cache, report: Callable[[str], None] | None = None) -> tuple[int, int]:
    """Store in ``cache`` (a ``search.embedding.cache.EmbeddingCache``) the
    vectors of the live articles of the index at ``folder`` that have one,
    each under the passage the job embedded (``search/passages.py``: title
    and lead cut to the model's ``max_tokens``) as a "passage" of the
    index's model; so that a fresh build of the same articles (an
    evaluation's) is embedded from the cache.  Reads the latest commit
    (any schema version: stored fields only); never writes the index.
    Returns (vectors seen, rows added: a passage already cached keeps its
    row).  Raises ``store.IndexMissing`` / ``IncompatibleIndex``,
    ``vectors.VectorsModelMismatch``, what the cache raises (its file
    holding the model id with another configuration), OSError."""
    say = report or (lambda _line: None)
    storage, schema, generation, pairs = latest_commit(folder, any_version=True)
    found = vectors.VectorIndex(folder, pairs)
    if found.model is None:
        say(f"{folder} holds no vectors: nothing to store")
        return 0, 0
    record = found.model
    cache.check(record)
    seen = added = 0
    for segment, reader, rows, matrix in _vector_blocks(storage, schema, generation, pairs, found):
        for start in range(0, len(rows), DEFAULT_CHECKPOINT):
            chunk = rows[start:start + DEFAULT_CHECKPOINT]
            texts = _passages(reader, chunk, record.max_tokens)
            added += cache.put(record, "passage", texts, np.asarray(matrix[chunk], np.float32))
            seen += len(chunk)
        say(f"{segment.segment_id()}: {len(rows)} vector(s) read ({seen} in all, {added} new in the cache)")
    return seen, added


def _vector_blocks(storage, schema, generation: int, pairs, index: vectors.VectorIndex):
    """For each segment of ``pairs`` (a commit's, as ``latest_commit``
    gives it) holding vectors in ``index`` (its ``VectorIndex``): (the
    segment, an open reader of it, the segment's doc numbers with a
    vector, the matrix their rows index), the reader closed when the
    caller moves on."""
    base = 0
    blocks = iter(index.blocks)
    block = next(blocks, None)
    for segment, _ in pairs:
        n = segment.doc_count_all()
        if block is not None and len(block[0]) and base <= block[0][0] < base + n:
            reader = whoosh_index.FileIndex._reader(storage, schema, [segment], generation)
            try:
                yield segment, reader, block[1], block[2]
            finally:
                reader.close()
            block = next(blocks, None)
        base += n


def _passages(reader, docnums: np.ndarray, max_chars: int) -> list[str]:
    """The passages of the documents ``docnums`` of a segment's ``reader``.
    Raises OSError when its files cannot be read."""
    return [passage(stored.get("title"), stored.get("body"), max_chars)
            for stored in map(reader.stored_fields, docnums.tolist())]


def _lacking(folder: str, segment, deleted, record: vectors.ModelRecord):
    """(live local doc numbers without a vector int64, the segment's
    vectors as a writable float32 ``(n, dim)`` copy, its presence bool
    ``(n,)``); a segment without a usable file starts from zeros."""
    seg = vectors.SegmentVectors(folder, segment)
    n = seg.n
    if seg.record == record:
        have = np.array(seg.matrix, np.float32)
        present = seg.present.copy()
    else:  # no file, or a damaged one (the index's record was checked: no other model)
        have = np.zeros((n, record.dim), np.float32)
        present = np.zeros(n, bool)
    live = np.ones(n, bool)
    if deleted:
        live[np.fromiter(deleted, np.int64, len(deleted))] = False
    return np.flatnonzero(live & ~present).astype(np.int64), have, present
