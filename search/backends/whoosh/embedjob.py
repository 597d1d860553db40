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
* a segment merged away meanwhile: the merge carried the vectors its file
  held when the merge read it, and the next run embeds the rest in the
  merged segment; the file written for the vanished segment is removed by
  the writer's next clean commit (it is named after its segment);
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
from . import store, vectors

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
    (documents embedded), ``files_written`` (vectors files written,
    checkpoints included), ``segments`` (segments of the commit read),
    ``backlog`` (live documents of that commit still without a vector
    when the run ended: 0 unless ``limit`` stopped it or segments
    vanished), ``reset`` (vectors files removed first), ``vanished``
    (segments merged away during the run), ``seconds``."""

    model: vectors.ModelRecord
    embedded: int = 0
    files_written: int = 0
    segments: int = 0
    backlog: int = 0
    reset: list = field(default_factory=list)
    vanished: list = field(default_factory=list)
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
    file every ``checkpoint`` documents and at its end; ``reset``: remove
    every vectors file first.  ``report(line)`` hears the progress.
    Returns an ``EmbedSummary``.

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
        out.segments = len(pairs)
        budget = limit
        for segment, deleted in pairs:
            todo, have, present = _lacking(folder, segment, deleted, record)
            if not len(todo):
                continue
            if budget is not None:
                if budget <= 0:
                    out.backlog += len(todo)
                    continue
            segid = segment.segment_id()
            take = todo if budget is None else todo[:budget]
            done = 0
            try:
                reader = whoosh_index.FileIndex._reader(storage, schema, [segment], generation)
            except OSError:
                reader = None
            try:
                for start in range(0, len(take), checkpoint):
                    chunk = take[start:start + checkpoint]
                    texts = _passages(reader, chunk, record.max_tokens)
                    if texts is None:
                        out.vanished.append(segid)
                        say(f"{segid}: merged away since the run started; its documents get vectors at the next run")
                        break
                    have[chunk] = embedder.embed_passages(texts)
                    present[chunk] = True
                    vectors.write_file(folder, segid, have, present, record)
                    done += len(chunk)
                    out.embedded += len(chunk)
                    out.files_written += 1
                    rate = out.embedded / max(time.monotonic() - t0, 1e-9)
                    say(f"{segid}: {done}/{len(todo)} embedded ({out.embedded} in all, {rate:.1f}/s)")
            finally:
                if reader is not None:
                    reader.close()
            out.backlog += len(todo) - done
            if budget is not None:
                budget -= done
    finally:
        lock.release()
    out.seconds = time.monotonic() - t0
    return out


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
    base = 0
    blocks = iter(old.blocks)
    block = next(blocks, None)
    for segment, _ in pairs:
        n = segment.doc_count_all()
        if block is not None and len(block[0]) and base <= block[0][0] < base + n:
            reader = whoosh_index.FileIndex._reader(storage, schema, [segment], generation)
            try:
                for row in block[1].tolist():
                    stored = reader.stored_fields(row)
                    text = passage(stored.get("title"), stored.get("body"), old.model.max_tokens)
                    found[stored["id"]] = (text, block[2], row)
            finally:
                reader.close()
            block = next(blocks, None)
        base += n
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
    base = 0
    blocks = iter(found.blocks)
    block = next(blocks, None)
    for segment, _ in pairs:
        n = segment.doc_count_all()
        if block is not None and len(block[0]) and base <= block[0][0] < base + n:
            rows, matrix = block[1], block[2]
            reader = whoosh_index.FileIndex._reader(storage, schema, [segment], generation)
            try:
                for start in range(0, len(rows), DEFAULT_CHECKPOINT):
                    chunk = rows[start:start + DEFAULT_CHECKPOINT]
                    texts = []
                    for docnum in chunk.tolist():
                        stored = reader.stored_fields(docnum)
                        texts.append(passage(stored.get("title"), stored.get("body"), record.max_tokens))
                    added += cache.put(record, "passage", texts, np.asarray(matrix[chunk], np.float32))
                    seen += len(chunk)
            finally:
                reader.close()
            say(f"{segment.segment_id()}: {len(rows)} vector(s) read ({seen} in all, {added} new in the cache)")
            block = next(blocks, None)
        base += n
    return seen, added


def _passages(reader, docnums: np.ndarray, max_chars: int) -> list[str] | None:
    """The passages of the documents ``docnums`` of a segment's ``reader``;
    None when its files are gone (the segment was merged away and cleaned)."""
    if reader is None:
        return None
    texts = []
    try:
        for docnum in docnums.tolist():
            stored = reader.stored_fields(docnum)
            texts.append(passage(stored.get("title"), stored.get("body"), max_chars))
    except OSError:
        return None
    return texts


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
