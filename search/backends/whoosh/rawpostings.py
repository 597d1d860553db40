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
  and verified against its stored bytes (terms sharing their first 8
  bytes are told apart by a binary search on the bytes);
* ``F.termbytes`` (uint8): the terms' bytes, one after another;
* ``F.terms`` (len terms + 1 rows): per term where its bytes start, its
  first posting and, for the bigram fields (``*_g``), its first position;
* ``F.docs`` (doc numbers) and ``F.tfs`` (term frequencies), one entry a
  posting, doc numbers ascending within a term;
* for the bigram fields ``F.positions``: every posting's character
  positions, flat, in posting order.  A posting's positions number its
  term frequency, so per-posting offsets are the running sum of ``tfs``
  and are not stored.

Integer arrays take the narrowest unsigned type holding their values (doc
numbers and positions uint16 where they fit, else uint32; offsets uint32
or uint64), all little-endian, in the sidecars' aligned, uncompressed
``.npz`` (``npzfile.py``).  Reading touches no memory map: a memory-mapped
page counts in the proportional memory (PSS) of each process that touched
it, and the kernel maps ~100 KB around each touched byte (measured: the
dictionary of the full corpora added 200 MB to a process's PSS in one cold
pass).  Instead every 64th key is kept in memory (``SAMPLE``: ~1 MB for
the full corpora), and a lookup reads one 512-byte block of keys, the term's row and,
for terms over 8 bytes, its bytes with ``os.pread``; postings are read the
same way.  The file's pages stay in the page cache, shared by all workers
and counted in none; a worker holds what it decodes (bounded by the
postings cache).

The kind is optional (``required=False``): a segment without the file (an
index written before), or with one that is truncated, garbled or of
another version, is read through Whoosh's own postings
(``reader.SegmentData`` falls back; ``problem`` says why).  Whoosh's files
are unchanged: stock Whoosh still opens and searches the index.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from . import npzfile, sidecars
from .codec import Inverted

SUFFIX = ".rawpost.npz"
VERSION = 1
# Every SAMPLE-th key is kept in memory; a lookup reads one block of keys.
SAMPLE = 64
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
    columns = [termoff, start]
    if field.endswith("_g"):
        pos_start = np.asarray(inv.pos_start, np.int64)
        if len(pos_start) != len(inv.docs) + 1 or not np.array_equal(np.diff(pos_start), np.asarray(inv.tfs)):
            raise ValueError(f"raw postings: the positions of {field} do not match its term frequencies")
        columns.append(pos_start[start])
    out = {
        f"{field}.keys": keys,
        f"{field}.termbytes": blob,
        f"{field}.terms": _narrow(np.stack(columns, axis=1), "<u4"),
        f"{field}.docs": _narrow(inv.docs, "<u2"),
        f"{field}.tfs": _narrow(inv.tfs),
    }
    if field.endswith("_g"):
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
    __slots__ = ("n", "sample", "keys", "termbytes", "terms", "docs", "tfs", "positions")


class _Array:
    """Where one array lies in the file: ``offset``, ``dtype``, ``length``
    (rows), ``tail`` (the shape after the first axis), ``row_bytes``."""

    __slots__ = ("offset", "dtype", "length", "tail", "row_bytes")

    def __init__(self, offset: int, dtype: np.dtype, shape: tuple):
        self.offset, self.dtype = offset, dtype
        self.length = shape[0] if shape else 1
        self.tail = tuple(shape[1:])
        self.row_bytes = int(np.prod(self.tail, dtype=np.int64)) * dtype.itemsize


class Term:
    """One term found in a raw postings file: its number ``t``, its
    postings ``start``..``end`` and, for a bigram field, its positions
    ``pos_start``..``pos_end``."""

    __slots__ = ("t", "start", "end", "pos_start", "pos_end")

    def __init__(self, t: int, row: list):
        self.t = t
        self.start, self.end = row[0][1], row[1][1]
        self.pos_start, self.pos_end = (row[0][2], row[1][2]) if len(row[0]) > 2 else (0, 0)

    @property
    def doc_frequency(self) -> int:
        """Its postings (documents, deleted ones included)."""
        return self.end - self.start


class RawPostings:
    """One segment's raw postings file, open for reading (thread-safe:
    ``os.pread`` carries its own offset).

    ``path``: the file; ``ndocs``: the segment's documents (a file naming
    others is refused).  Raises ValueError naming what is wrong with the
    file, OSError when it cannot be read."""

    def __init__(self, path: str, ndocs: int):
        self.path = path
        self.fields: dict[str, _Field] = {}
        fd = os.open(path, os.O_RDONLY)
        self._fd = fd
        size = os.fstat(fd).st_size
        with os.fdopen(os.dup(fd), "rb") as f:
            members = npzfile.member_offsets(f, size)
        members = {name: _Array(*where) for name, where in members.items()}
        version = self._pread(members[sidecars.VERSION_KEY], 0, 1) if sidecars.VERSION_KEY in members else None
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

    def _pread(self, member: "_Array", a: int, b: int) -> np.ndarray:
        """Items ``a``..``b`` of an array (rows, for a 2-D one)."""
        n = (b - a) * member.row_bytes
        if n <= 0:
            return np.zeros((0, *member.tail), member.dtype)
        buf = os.pread(self._fd, n, member.offset + a * member.row_bytes)
        if len(buf) != n:
            raise OSError(f"raw postings file {os.path.basename(self.path)} is shorter than it says")
        out = np.frombuffer(buf, member.dtype)
        return out.reshape(-1, *member.tail) if member.tail else out

    def _field(self, members, name: str, ndocs: int) -> _Field:
        grams = name.endswith("_g")
        need = ["keys", "termbytes", "terms", "docs", "tfs"] + (["positions"] if grams else [])
        missing = [k for k in need if f"{name}.{k}" not in members]
        if missing:
            raise ValueError(f"field {name} lacks {', '.join(missing)}")
        f = _Field()
        for k in need:
            setattr(f, k, members[f"{name}.{k}"])
        if not grams:
            f.positions = None
        nterms = f.keys.length
        npost = f.docs.length
        if f.keys.dtype != np.uint64 or f.keys.tail or f.terms.length != nterms + 1 \
                or f.terms.tail != ((3,) if grams else (2,)):
            raise ValueError(f"field {name}: its term arrays disagree in shape")
        first, last = self._pread(f.terms, 0, 1)[0].tolist(), self._pread(f.terms, nterms, nterms + 1)[0].tolist()
        ends = [f.termbytes.length, npost] + ([f.positions.length] if grams else [])
        if any(first) or last != ends or f.tfs.length != npost:
            raise ValueError(f"field {name}: its offsets do not end where its terms, postings and positions do")
        keys = self._pread(f.keys, 0, nterms)
        f.n = nterms
        f.sample = keys[::SAMPLE].copy()
        if npost and ndocs and int(self._pread(f.docs, npost - 1, npost)[0]) >= ndocs:
            raise ValueError(f"field {name}: a posting names a document past the segment's {ndocs}")
        return f

    def _search(self, f: _Field, key, side: str) -> tuple[int, object]:
        """(``np.searchsorted(keys, key, side)``, the key there or None),
        from the in-memory sample and one block of keys."""
        j = int(f.sample.searchsorted(key, side))
        if j == 0:
            return 0, (f.sample[0] if f.n else None)
        a, b = (j - 1) * SAMPLE, min(j * SAMPLE, f.n)
        block = self._pread(f.keys, a, b)
        i = int(block.searchsorted(key, side))
        if i < len(block):
            return a + i, block[i]
        return b, (f.sample[j] if b < f.n else None)  # b == j * SAMPLE: the next sampled key

    def _row(self, f: _Field, t: int) -> list:
        return self._pread(f.terms, t, t + 2).tolist()

    def _bytes(self, f: _Field, row: list) -> bytes:
        return self._pread(f.termbytes, row[0][0], row[1][0]).tobytes()

    def lookup(self, field: str, term: str) -> Term | None:
        """``term`` in ``field``, or None (also for a field the file does
        not hold: ask ``has``)."""
        f = self.fields.get(field)
        if f is None or not f.n:
            return None
        tb = term.encode("utf-8")
        key = key_of(tb)
        lo, found = self._search(f, key, "left")
        if found is None or found != key:
            return None
        row = self._row(f, lo)
        length = row[1][0] - row[0][0]
        # Up to 8 bytes, the key and the length are the whole term.
        if length == len(tb) and (length <= 8 or self._bytes(f, row) == tb):
            return Term(lo, row)
        hi, _ = self._search(f, key, "right")
        lo += 1
        while lo < hi:  # terms sharing their first 8 bytes: bisect on the bytes
            mid = (lo + hi) // 2
            if self._bytes(f, self._row(f, mid)) < tb:
                lo = mid + 1
            else:
                hi = mid
        if lo < f.n:
            row = self._row(f, lo)
            if self._bytes(f, row) == tb:
                return Term(lo, row)
        return None

    def has(self, field: str) -> bool:
        """Does the file hold ``field``?"""
        return field in self.fields

    def postings(self, field: str, term: Term) -> tuple[np.ndarray, np.ndarray]:
        """(doc numbers int64 ascending, tfs float32) of ``term`` (``lookup``)."""
        f = self.fields[field]
        a, b = term.start, term.end
        return self._pread(f.docs, a, b).astype(np.int64), self._pread(f.tfs, a, b).astype(np.float32)

    def position_table(self, field: str, term: Term, tfs: np.ndarray) -> "RawPositionTable":
        """``term``'s positions in a bigram field, read when first asked
        for; ``tfs``: its term frequencies (``postings``)."""
        return RawPositionTable(self, self.fields[field].positions, term.pos_start, term.pos_end, tfs)

    def terms(self, field: str) -> list[str]:
        """Every term of ``field``, ascending."""
        f = self.fields[field]
        offs = self._pread(f.terms, 0, f.n + 1)[:, 0].tolist()
        blob = self._pread(f.termbytes, 0, offs[-1]).tobytes()
        return [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1], offs[1:])]

    def field_inverted(self, field: str) -> Inverted:
        """The whole field as one ``codec.Inverted`` (int64 arrays; for the
        bigram fields ``positions``/``pos_start`` filled, ``values`` None)."""
        f = self.fields[field]
        npost = f.docs.length
        terms = self.terms(field)
        term_start = self._pread(f.terms, 0, f.n + 1)[:, 1].astype(np.int64)
        docs = self._pread(f.docs, 0, npost).astype(np.int64)
        tfs = self._pread(f.tfs, 0, npost).astype(np.int64)
        if f.positions is None:
            return Inverted(terms, term_start, docs, tfs, None)
        positions = self._pread(f.positions, 0, f.positions.length).astype(np.int64)
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
