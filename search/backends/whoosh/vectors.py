"""Dense vectors per article (issue 20): one sidecar file per segment,
written after the segment was committed.

``<segment id>.vectors.npz`` (a sidecar kind, ``sidecars.py``: removed
with its segment by Whoosh's cleaning, carried by merges) holds, for a
segment of ``n`` documents (deleted ones included):

* ``vectors``: float32 ``(n, dim)``, each row L2-normalised (the embedder
  seam's ``embed_passages`` of the article's title + lead,
  ``search/passages.py``); a row of zeros where ``present`` is 0;
* ``present``: uint8 ``(n,)``, 1 where the document has its vector;
* the model record (``ModelRecord``): ``model_id``, ``query_prefix``,
  ``passage_prefix`` (uint8 arrays of their UTF-8 bytes), ``dim`` and
  ``max_tokens`` (one int64 each).

Unlike docinfo the kind is *not* written with its segment (``build`` is
None, ``required=False``): vectors take seconds per hundred articles on
2 cores, so ``python -m indexer embed`` (``embedjob.py``) computes them
later, in its own low-priority process, and writes each segment's file
with ``write_file``: a temporary file whose name starts with "." (Whoosh's
cleaning and ``leases.clean`` skip such names) renamed over the old file
(``os.replace``), so a reader that opened the old file keeps its inode and
one opening it afterwards sees the new one.  A segment without the file
(or with a damaged one, or one of another version) reads as "no vectors"
(``_absent``): search works lexically, and the documents count in the
backlog (``VectorIndex.backlog``) until the next embedding run writes it
again.  Integrity checks on open look at required kinds only, so a
vectors file never makes an index "damaged".

Merges (``indexer optimize``, the writer's background merges:
``segmerge.py``) carry the kept documents' rows and presence
(``_merge``); a deleted document's row is simply not live, and goes at the
next merge.  A merge of segments of which none has vectors writes no file.

The index-level model record is the one every vectors file of the current
commit carries: ``index_model`` reads them all and raises
``VectorsModelMismatch`` if two disagree, and the embedding job refuses a
model other than the index's (the message names both and says how to
start over: ``python -m indexer embed --reset``).  A merge of segments of
two models raises the same error (it cannot happen through the job).

Reading (``VectorIndex``): per segment a read-only memory map of the
``vectors`` array (``npzfile.member_offsets``: the array starts on a
64-byte boundary), so every worker of a service shares the same pages.
"""

from __future__ import annotations

import os
import re

import numpy as np

from ...embedding.record import RECORD_INT as _RECORD_INT, RECORD_TEXT as _RECORD_TEXT
from ...embedding.record import ModelRecord, VectorsModelMismatch, mismatch  # noqa: F401 - re-exported
from . import npzfile, sidecars

SUFFIX = ".vectors.npz"
VERSION = 1
LABEL = "vectors file"
_TEMP = re.compile(r"^\.(.+)" + re.escape(SUFFIX) + r"\.\d+\.tmp$")


def record_of(arrays) -> ModelRecord | None:
    """The model record of a vectors file's arrays (None: no file, i.e.
    the kind's fallback)."""
    if "model_id" not in arrays:
        return None
    text = {k: np.asarray(arrays[k], np.uint8).tobytes().decode("utf-8") for k in _RECORD_TEXT}
    ints = {k: int(np.asarray(arrays[k])[0]) for k in _RECORD_INT}
    return ModelRecord(**text, **ints)


def _absent(n: int) -> dict:
    """What a segment of ``n`` documents without a vectors file reads as."""
    return {"present": np.zeros(n, np.uint8)}


def _merge(parts) -> dict | None:
    """The vectors of a segment merged from others: ``parts``, per source
    segment in merge order, (its arrays, the sorted local doc numbers
    kept); the kept rows in that order, zeros and absent for a part
    without vectors.  None when no part has vectors (no file).  Raises
    ``VectorsModelMismatch`` for parts of two models."""
    records = {record_of(arrays) for arrays, _ in parts} - {None}
    if not records:
        return None
    if len(records) > 1:
        first, second = sorted(records, key=lambda r: r.describe())[:2]
        raise VectorsModelMismatch(
            f"segments with vectors of {first.describe()} and of {second.describe()} cannot be merged: vectors "
            "of two models are never mixed; drop them with `python -m indexer embed --index DIR --model MODEL "
            "--reset`")
    (record,) = records
    rows, present = [], []
    for arrays, kept in parts:
        if record_of(arrays) is None:
            rows.append(np.zeros((len(kept), record.dim), np.float32))
            present.append(np.zeros(len(kept), np.uint8))
        else:
            rows.append(np.asarray(arrays["vectors"], np.float32)[kept])
            present.append(np.asarray(arrays["present"], np.uint8)[kept])
    return {"vectors": np.concatenate(rows).reshape(-1, record.dim), "present": np.concatenate(present),
            **record.arrays()}


KIND = sidecars.register(sidecars.SidecarKind(
    name="vectors", suffix=SUFFIX, label=LABEL, version=VERSION, build=None, required=False,
    fallback=_absent, merge=_merge))


# ---- writing --------------------------------------------------------------------
def filename(segment_id: str) -> str:
    """``<segment id>.vectors.npz``."""
    return segment_id + SUFFIX


def write_file(folder: str, segment_id: str, vectors: np.ndarray, present: np.ndarray, record: ModelRecord) -> str:
    """Write (or replace) the vectors file of the committed segment
    ``segment_id`` of the index directory ``folder`` atomically: a hidden
    temporary file, flushed to disk, renamed over the file.  ``vectors``:
    float32 ``(n, record.dim)`` (n: the segment's documents, deleted ones
    included), zero rows where ``present`` (``(n,)``, bool or 0/1) is
    false.  Returns the file's path.  Raises ValueError for shapes that do
    not fit, OSError for what the file system raises."""
    vectors = np.ascontiguousarray(vectors, np.float32)
    present = np.asarray(present).astype(np.uint8)
    if vectors.ndim != 2 or vectors.shape[1] != record.dim or present.shape != (vectors.shape[0],):
        raise ValueError(f"vectors {vectors.shape} and presence {present.shape} do not fit a segment "
                         f"of {len(present)} documents and dimension {record.dim}")
    arrays = {"vectors": vectors, "present": present, **record.arrays(),
              sidecars.VERSION_KEY: np.array([VERSION], np.int64)}
    final = os.path.join(folder, filename(segment_id))
    tmp = os.path.join(folder, f".{filename(segment_id)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            npzfile.write_archive(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself reaches the disk
    finally:
        os.close(fd)
    return final


def remove_all(folder: str) -> list[str]:
    """Delete every vectors file of the index directory ``folder`` (every
    segment's, and temporary files an interrupted run left); returns the
    names removed, sorted.  A reader that mapped a file keeps reading it."""
    removed = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(SUFFIX) or _TEMP.match(name):
            try:
                os.remove(os.path.join(folder, name))
                removed.append(name)
            except FileNotFoundError:
                pass
    return removed


def stale_temporaries(folder: str) -> list[str]:
    """Temporary files of interrupted runs (``.<segment>.vectors.npz.<pid>.tmp``)."""
    return sorted(name for name in os.listdir(folder) if _TEMP.match(name))


# ---- reading ---------------------------------------------------------------------
class SegmentVectors:
    """One segment's vectors as read now: ``n`` (documents, deleted ones
    included), ``present`` (bool ``(n,)``), ``matrix`` (a read-only
    float32 memory map ``(n, dim)``, None without a file), ``record``
    (``ModelRecord`` or None), ``problem`` (why the file was not used:
    missing, damaged, another version; None when it was)."""

    def __init__(self, folder: str, segment):
        self.segment_id = segment.segment_id()
        self.n = segment.doc_count_all()
        self.present = np.zeros(self.n, bool)
        self.matrix = None
        self.record = None
        self.problem = sidecars.problem(folder, segment, KIND)
        if self.problem is not None:
            return
        path = os.path.join(folder, filename(self.segment_id))
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                where = npzfile.member_offsets(f, size)
                # The record and presence are small: read them now, from this same file.
                small = {}
                for name in ("present", *_RECORD_TEXT, *_RECORD_INT):
                    offset, dtype, shape = where[name]
                    f.seek(offset)
                    small[name] = np.frombuffer(f.read(int(np.prod(shape, dtype=np.int64)) * dtype.itemsize),
                                                dtype).reshape(shape)
                offset, dtype, shape = where["vectors"]
                record = record_of(small)
                if dtype != np.float32 or shape != (self.n, record.dim) or small["present"].shape != (self.n,):
                    raise ValueError(f"arrays of shape {shape} / {small['present'].shape} ({dtype}) do not fit "
                                     f"{self.n} documents of dimension {record.dim}")
                # mapped through the open descriptor: the file this segment's record came from
                self.matrix = (np.memmap(f, dtype=np.float32, mode="r", offset=offset, shape=shape)
                               if self.n else np.zeros((0, record.dim), np.float32))
        except (OSError, KeyError, ValueError, UnicodeDecodeError) as exc:
            self.problem = f"{LABEL} {filename(self.segment_id)} cannot be read: {exc}"
            return
        self.record = record
        self.present = small["present"].astype(bool)


class VectorIndex:
    """The vectors of one commit's live documents, for dense retrieval.

    Built from the index directory ``folder`` and ``pairs``: [(Whoosh
    segment, its deleted local doc numbers)] in table-of-contents order
    (global doc numbers run over them, as in ``view.IndexView``).
    Attributes:

    * ``model``: the ``ModelRecord`` of every vectors file (None: no
      vectors at all); two different ones raise ``VectorsModelMismatch``;
    * ``blocks``: per segment with vectors, (global doc numbers int64,
      ``matrix`` rows int64, the segment's memory-mapped float32 ``(n,
      dim)`` matrix): the live documents that have a vector;
    * ``docnums``: every block's global doc numbers, concatenated (int64);
    * ``n_live``: live documents; ``backlog``: live documents without a
      vector (``n_live - len(docnums)``);
    * ``problems``: per segment whose file exists but was not used, why.
    """

    def __init__(self, folder: str, pairs):
        self.blocks = []
        self.problems = []
        self.n_live = 0
        records: dict[ModelRecord, str] = {}
        base = 0
        for segment, deleted in pairs:
            seg = SegmentVectors(folder, segment)
            live = np.ones(seg.n, bool)
            if deleted:
                live[np.fromiter(deleted, np.int64, len(deleted))] = False
            self.n_live += int(live.sum())
            if seg.record is not None:
                records.setdefault(seg.record, seg.segment_id)
                rows = np.flatnonzero(live & seg.present).astype(np.int64)
                if len(rows):
                    self.blocks.append((base + rows, rows, seg.matrix))
            elif seg.problem is not None and os.path.exists(os.path.join(folder, filename(seg.segment_id))):
                self.problems.append(seg.problem)
            base += seg.n
        if len(records) > 1:
            first, second = list(records)[:2]
            raise mismatch(first, second, folder, f"segment {records[second]}'s vectors are of")
        self.model = next(iter(records), None)
        self.docnums = (np.concatenate([b[0] for b in self.blocks]) if self.blocks
                        else np.empty(0, np.int64))
        self.backlog = self.n_live - len(self.docnums)

    @classmethod
    def of_view(cls, view, folder: str | None = None) -> "VectorIndex":
        """The vectors of an ``IndexView``'s commit in the index directory
        ``folder`` (None: the segments' storage's; ``view.live`` marks the
        deleted)."""
        if not view.segments:
            return cls("", [])
        folder = folder or view.segments[0].storage.folder
        pairs = []
        for seg, base in zip(view.segments, view.bases[:-1].tolist()):
            live = view.live[base:base + seg.n]
            pairs.append((seg.segment, frozenset(np.flatnonzero(~live).tolist())))
        return cls(folder, pairs)

    def vectors(self) -> np.ndarray:
        """The live documents' vectors, in ``docnums`` order: float32
        ``(len(docnums), dim)``, a copy (tests, small indexes; search uses
        ``scores``, which reads the maps in place)."""
        dim = self.model.dim if self.model else 0
        if not self.blocks:
            return np.empty((0, dim), np.float32)
        return np.concatenate([np.asarray(matrix[rows]) for _, rows, matrix in self.blocks])

    def scores(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(global doc numbers int64, cosines float32) of every live
        document with a vector, for ``query`` (float32 ``(dim,)``,
        L2-normalised by the same model: ``embed_queries``).  Raises
        ValueError for a query of another length."""
        query = np.asarray(query, np.float32)
        dim = self.model.dim if self.model else query.shape[-1]
        if query.shape != (dim,):
            raise ValueError(f"query vector of shape {query.shape}; this index's vectors have dimension {dim}")
        if not self.blocks:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        return self.docnums, np.concatenate([(matrix @ query)[rows] for _, rows, matrix in self.blocks])


def vectors_state(view, folder: str) -> dict:
    """What ``IndexStats.vectors`` reports for an ``IndexView`` of the
    index directory ``folder``: {"model", "dim", "with_vectors",
    "backlog", "error"} (see ``search.backends.base.IndexStats``); never
    raises for the vectors' sake (two models: "error" says so, and every
    live article counts in the backlog)."""
    try:
        found = VectorIndex.of_view(view, folder)
    except (VectorsModelMismatch, OSError) as exc:
        return {"model": None, "dim": None, "with_vectors": 0, "backlog": int(view.n_live), "error": str(exc)}
    model = found.model
    return {"model": model.model_id if model else None, "dim": model.dim if model else None,
            "with_vectors": int(len(found.docnums)), "backlog": int(found.backlog),
            "error": "; ".join(found.problems) or None}


def index_model(folder: str, pairs) -> ModelRecord | None:
    """The model record of the vectors of the commit ``pairs`` (see
    ``VectorIndex``) of the index directory ``folder``; None when it has
    none.  Raises ``VectorsModelMismatch`` when two files disagree."""
    return VectorIndex(folder, pairs).model
