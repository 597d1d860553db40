"""Raw postings: a segment's posting lists as plain little-endian arrays.

Whoosh keeps postings as pickled blocks found through a hashed term
dictionary; reading one term took a ``term_info`` lookup (~16 us, 14
segments each) and unpickling its blocks.  This sidecar kind
(``sidecars.py``: ``<segment id>.rawpost.npz``, written with its segment,
removed with it, checked on open) holds the same postings as arrays, per
indexed field ``F`` (every field ``segwriter`` inverts):

* ``F.keys`` (uint64, one per term, non-decreasing): the first 8 bytes of
  the term's UTF-8 form, big-endian, zero-padded.  Terms are in ascending
  order, so these keys are too: a term is found with ``np.searchsorted``
  over the memory-mapped keys and verified against its stored bytes
  (terms sharing their first 8 bytes are told apart by a binary search on
  the bytes);
* ``F.termbytes`` (uint8) and ``F.termoff`` (len terms + 1): the terms;
* ``F.start`` (len terms + 1): each term's first posting;
* ``F.docs`` (doc numbers) and ``F.tfs`` (term frequencies), one entry a
  posting, doc numbers ascending within a term;
* for the bigram fields (``*_g``) ``F.positions`` (every posting's
  character positions, flat, in posting order) and ``F.posstart`` (len
  terms + 1: each term's first position).  A posting's positions number
  its term frequency, so per-posting offsets are the running sum of
  ``tfs`` and are not stored.

Integer arrays take the narrowest unsigned type holding their values
(doc numbers and positions uint16 where they fit, else uint32; offsets
uint32 or uint64), all little-endian.  The file is the sidecars' aligned,
uncompressed ``.npz``: the dictionary arrays are memory-mapped (a lookup
touches a few pages, shared by every process through the page cache) and
postings are read with ``os.pread`` slices (a worker keeps no copy of the
index: what it decodes is bounded by the postings cache).

The kind is optional (``required=False``): a segment without the file (an
index written before), or with one that is truncated, garbled or of
another version, is read through Whoosh's own postings
(``reader.SegmentData`` falls back; ``problem`` says why).  Whoosh's files
are unchanged: stock Whoosh still opens and searches the index.
"""

from __future__ import annotations

import logging
import mmap
import os

import numpy as np

from . import npzfile, sidecars
from .codec import Inverted

SUFFIX = ".rawpost.npz"
VERSION = 1
log = logging.getLogger(__name__)


def _uint(max_value: int) -> np.dtype:
    """The narrowest little-endian unsigned type holding 0..``max_value``."""
    for dt in ("<u1", "<u2", "<u4"):
        if max_value <= np.iinfo(dt).max:
            return np.dtype(dt)
    return np.dtype("<u8")


def _narrow(values, at_least: str = "<u1") -> np.ndarray:
    values = np.asarray(values)
    top = int(values.max()) if len(values) else 0
    dt = max(_uint(top), np.dtype(at_least), key=lambda d: d.itemsize)
    return values.astype(dt)


def prefix_keys(blob: np.ndarray, termoff: np.ndarray) -> np.ndarray:
    """Each term's first 8 UTF-8 bytes as a big-endian uint64 (zero-padded):
    ``blob`` holds the terms' bytes one after another, ``termoff`` (len
    terms + 1) where each starts.  Ordered as the terms are."""
    n = len(termoff) - 1
    keys = np.zeros(n, np.uint64)
    starts, ends = termoff[:-1], termoff[1:]
    for j in range(8):
        idx = starts + j
        have = idx < ends
        byte = np.zeros(n, np.uint64)
        byte[have] = blob[idx[have]]
        keys |= byte << np.uint64(56 - 8 * j)
    return keys


def key_of(term_bytes: bytes) -> np.uint64:
    """``prefix_keys`` of one term's UTF-8 bytes."""
    return np.uint64(int.from_bytes(term_bytes[:8].ljust(8, b"\0"), "big"))


def field_arrays(field: str, inv: Inverted) -> dict:
    """The arrays of one field (module docstring) from its ``Inverted``.
    Raises ValueError when the terms are not ascending or, for a bigram
    field, a posting's positions do not number its term frequency."""
    enc = [t.encode("utf-8") for t in inv.terms]
    termoff = np.zeros(len(enc) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, enc), np.int64, len(enc)), out=termoff[1:])
    blob = np.frombuffer(b"".join(enc), np.uint8)
    keys = prefix_keys(blob, termoff)
    if len(keys) > 1 and not (keys[1:] >= keys[:-1]).all():
        raise ValueError(f"raw postings: the terms of {field} are not in ascending order")
    start = np.asarray(inv.term_start, np.int64)
    out = {
        f"{field}.keys": keys,
        f"{field}.termbytes": blob,
        f"{field}.termoff": _narrow(termoff, "<u4"),
        f"{field}.start": _narrow(start, "<u4"),
        f"{field}.docs": _narrow(inv.docs, "<u2"),
        f"{field}.tfs": _narrow(inv.tfs),
    }
    if field.endswith("_g"):
        pos_start = np.asarray(inv.pos_start, np.int64)
        if len(pos_start) != len(inv.docs) + 1 or not np.array_equal(np.diff(pos_start), np.asarray(inv.tfs)):
            raise ValueError(f"raw postings: the positions of {field} do not match its term frequencies")
        out[f"{field}.posstart"] = _narrow(pos_start[start], "<u4")
        out[f"{field}.positions"] = _narrow(inv.positions, "<u2")
    return out


def build(inverted: dict) -> dict:
    """The kind's arrays from a segment's ``{field: codec.Inverted}``."""
    out: dict = {}
    for field, inv in inverted.items():
        out.update(field_arrays(field, inv))
    return out


KIND = sidecars.register(sidecars.SidecarKind(
    name="rawpostings", suffix=SUFFIX, label="raw postings file", version=VERSION, build=None,
    required=False, fallback=lambda n: {}, build_inverted=build))


def filename(segment) -> str:
    """``<segment id>.rawpost.npz``."""
    return KIND.filename(segment)


# ---- reading ------------------------------------------------------------------
class _Field:
    __slots__ = ("keys", "termoff", "tb0", "start", "docs", "tfs", "posstart", "positions")


class RawPostings:
    """One segment's raw postings file, open for reading (thread-safe).

    ``path``: the file; ``ndocs``: the segment's documents (a file naming
    others is refused).  Raises ValueError naming what is wrong with the
    file, OSError when it cannot be read."""

    def __init__(self, path: str, ndocs: int):
        self.path = path
        self.fields: dict[str, _Field] = {}
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            with os.fdopen(os.dup(fd), "rb") as f:
                members = npzfile.member_offsets(f, size)
            self._mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if size else None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        version = self._view(members, sidecars.VERSION_KEY) if sidecars.VERSION_KEY in members else None
        if version is None or not KIND.oldest <= int(version[0]) <= KIND.version:
            raise ValueError(f"version {None if version is None else int(version[0])}, not "
                             f"{KIND.oldest}..{KIND.version}")
        names = {name.rsplit(".", 1)[0] for name in members if name != sidecars.VERSION_KEY}
        for name in sorted(names):
            self.fields[name] = self._field(members, name, ndocs)

    def __del__(self):
        fd = getattr(self, "_fd", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def _view(self, members, name) -> np.ndarray:
        offset, dtype, shape = members[name]
        count = int(np.prod(shape, dtype=np.int64))
        if not count:
            return np.zeros(shape, dtype)
        return np.frombuffer(self._mm, dtype, count, offset).reshape(shape)

    def _field(self, members, name: str, ndocs: int) -> _Field:
        need = ["keys", "termbytes", "termoff", "start", "docs", "tfs"]
        if name.endswith("_g"):
            need += ["posstart", "positions"]
        missing = [k for k in need if f"{name}.{k}" not in members]
        if missing:
            raise ValueError(f"field {name} lacks {', '.join(missing)}")
        f = _Field()
        f.keys = self._view(members, f"{name}.keys")
        f.termoff = self._view(members, f"{name}.termoff")
        f.tb0 = members[f"{name}.termbytes"][0]
        f.start = self._view(members, f"{name}.start")
        f.docs = members[f"{name}.docs"]
        f.tfs = members[f"{name}.tfs"]
        nterms = len(f.keys)
        npost = f.docs[2][0]
        problems = []
        if f.keys.dtype != np.uint64 or len(f.termoff) != nterms + 1 or len(f.start) != nterms + 1:
            problems.append("its term arrays disagree in length")
        elif int(f.termoff[-1]) != members[f"{name}.termbytes"][2][0] or int(f.start[-1]) != npost \
                or f.tfs[2][0] != npost or int(f.start[0]) != 0 or int(f.termoff[0]) != 0:
            problems.append("its offsets do not end where its postings do")
        f.posstart = f.positions = None
        if name.endswith("_g") and not problems:
            f.posstart = self._view(members, f"{name}.posstart")
            f.positions = members[f"{name}.positions"]
            if len(f.posstart) != nterms + 1 or int(f.posstart[-1]) != f.positions[2][0]:
                problems.append("its positions do not end where its postings do")
        if npost and not problems:
            top = self._pread(f.docs, npost - 1, npost)  # the last posting's document
            if int(top[0]) >= max(ndocs, 1) and ndocs:
                problems.append(f"a posting names document {int(top[0])} of {ndocs}")
        if problems:
            raise ValueError(f"field {name}: {problems[0]}")
        return f

    def _pread(self, member, a: int, b: int) -> np.ndarray:
        offset, dtype, _ = member
        n = (b - a) * dtype.itemsize
        if n <= 0:
            return np.zeros(0, dtype)
        buf = os.pread(self._fd, n, offset + a * dtype.itemsize)
        if len(buf) != n:
            raise OSError(f"raw postings file {os.path.basename(self.path)} is shorter than when it was opened")
        return np.frombuffer(buf, dtype)

    def _term_bytes(self, f: _Field, i: int) -> bytes:
        a, b = f.termoff[i : i + 2].tolist()
        return self._mm[f.tb0 + a : f.tb0 + b]

    def find(self, field: str, term: str) -> int:
        """The index of ``term`` among ``field``'s terms, or -1 (also for a
        field the file does not hold: ask ``has``)."""
        f = self.fields.get(field)
        if f is None or not len(f.keys):
            return -1
        tb = term.encode("utf-8")
        key = key_of(tb)
        keys = f.keys
        lo = int(keys.searchsorted(key, "left"))
        n = len(keys)
        if lo == n or keys[lo] != key:
            return -1
        if self._term_bytes(f, lo) == tb:
            return lo
        hi = int(keys.searchsorted(key, "right"))
        lo += 1
        while lo < hi:  # terms sharing their first 8 bytes: bisect on the bytes
            mid = (lo + hi) // 2
            if self._term_bytes(f, mid) < tb:
                lo = mid + 1
            else:
                hi = mid
        if lo < n and keys[lo] == key and self._term_bytes(f, lo) == tb:
            return lo
        return -1

    def has(self, field: str) -> bool:
        """Does the file hold ``field``?"""
        return field in self.fields

    def doc_frequency(self, field: str, term: str) -> int:
        """Postings of ``term`` in ``field`` (deleted documents count); 0
        for an unknown term."""
        t = self.find(field, term)
        if t < 0:
            return 0
        a, b = self.fields[field].start[t : t + 2].tolist()
        return b - a

    def postings(self, field: str, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(doc numbers int64 ascending, tfs float32) of term number ``t``."""
        f = self.fields[field]
        a, b = f.start[t : t + 2].tolist()
        return self._pread(f.docs, a, b).astype(np.int64), self._pread(f.tfs, a, b).astype(np.float32)

    def position_table(self, field: str, t: int, tfs: np.ndarray) -> "RawPositionTable":
        """Term number ``t``'s positions in a bigram field, read when first
        asked for; ``tfs``: its term frequencies (``postings``)."""
        f = self.fields[field]
        a, b = f.posstart[t : t + 2].tolist()
        return RawPositionTable(self, f.positions, a, b, tfs)

    def terms(self, field: str) -> list[str]:
        """Every term of ``field``, ascending."""
        f = self.fields[field]
        if not len(f.keys):
            return []
        offs = f.termoff.tolist()
        blob = self._mm[f.tb0 : f.tb0 + offs[-1]]
        return [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1], offs[1:])]

    def field_inverted(self, field: str) -> Inverted:
        """The whole field as one ``codec.Inverted`` (int64 arrays; for the
        bigram fields ``positions``/``pos_start`` filled, ``values`` None)."""
        f = self.fields[field]
        npost = f.docs[2][0]
        terms = self.terms(field)
        term_start = f.start.astype(np.int64)
        docs = self._pread(f.docs, 0, npost).astype(np.int64)
        tfs = self._pread(f.tfs, 0, npost).astype(np.int64)
        if f.positions is None:
            return Inverted(terms, term_start, docs, tfs, None)
        positions = self._pread(f.positions, 0, f.positions[2][0]).astype(np.int64)
        pos_start = np.zeros(npost + 1, np.int64)
        np.cumsum(tfs, out=pos_start[1:])
        return Inverted(terms, term_start, docs, tfs, None, positions, pos_start)


class RawPositionTable:
    """One posting list's positions in a raw postings file, read on first
    use; the interface of ``codec.PositionTable`` (``table``, ``nbytes``)."""

    __slots__ = ("_raw", "_member", "_a", "_b", "_tfs", "_table")

    def __init__(self, raw: RawPostings, member, a: int, b: int, tfs: np.ndarray):
        self._raw, self._member, self._a, self._b, self._tfs = raw, member, a, b, tfs
        self._table = None

    @property
    def nbytes(self) -> int:
        """Bytes counted for the postings cache, as decoded."""
        return (self._b - self._a) * 4 + len(self._tfs) * 16

    def table(self):
        """(start of each posting's run in ``flat``, run lengths, flat
        int32 positions), as ``codec.PositionTable.table``."""
        if self._table is None:
            counts = self._tfs.astype(np.int64)
            starts = np.cumsum(counts) - counts
            flat = self._raw._pread(self._member, self._a, self._b).astype(np.int32)
            self._table = (starts, counts, flat)
        return self._table


def _open(folder: str, segment) -> tuple[RawPostings | None, str | None]:
    found = sidecars.problem(folder, segment, KIND)
    if not found:
        try:
            return RawPostings(os.path.join(folder, filename(segment)), segment.doc_count_all()), None
        except (OSError, ValueError) as exc:
            found = f"{KIND.label} {filename(segment)} ({segment.doc_count_all()} documents) cannot be read: {exc}"
    return None, found


def problem(folder: str, segment) -> str | None:
    """Why ``segment``'s raw postings file in the index directory ``folder``
    cannot be used (missing, truncated, unreadable, of another version,
    inconsistent), as a sentence naming the file; None when it is fine."""
    return _open(folder, segment)[1]


def open_segment(storage, segment) -> tuple[RawPostings | None, str | None]:
    """(``segment``'s raw postings, None), or (None, why not: ``problem``)
    when the storage is no directory or the file is unusable: the segment
    is then read through Whoosh's postings.  A damaged file is logged."""
    folder = getattr(storage, "folder", None)
    if folder is None:
        return None, "the index is not in a directory"
    raw, found = _open(folder, segment)
    if found and not found.endswith("is missing"):
        log.warning("%s: this segment is searched through Whoosh's postings (slower); "
                    "`python -m indexer rebuild` writes the file again", found)
    return raw, found
