"""The postings codec: the on-disk postings format, written and read here.

Everything our Whoosh segments hold about postings has its byte layout in
this one module, encoder beside decoder, so a format change is one file
(tantivy keeps ``postings/serializer.rs`` and its reader the same way):

* **position payloads** (``CharPositions``, the bigram fields ``*_g``): one
  width byte (2 or 4) then the posting's absolute character positions as
  little-endian unsigned integers of that width (``encode_char_positions``
  per posting, ``encode_char_positions_batch`` for a whole field,
  ``decode_char_positions`` and ``PositionTable`` back);
* **posting lists** in the W3 codec's block-list layout (what
  ``whoosh.codec.whoosh3`` writes and its matchers read): the 4-byte magic,
  then blocks of at most ``BLOCK`` postings, each ``pack_int(±length)``
  (negative: the last block), a pickled block header ``(count, last doc,
  max weight, compression, min length byte, max length byte)`` and a
  pickled ``(doc deltas, weights, values)``; doc deltas restart at each
  block (the first is absolute); a term with one posting is inlined in its
  term record instead (``write_field``, ``read_postings``);
* **term records** (``W3TermInfo``) in Whoosh's ordered hash table with the
  CRC32 key hash (``TermTableWriter``), and the field-length bytes
  (``length_bytes``).

The layout is the W3 codec's, byte for byte: stock Whoosh readers,
matchers and queries work on our segments (tests check this), and whoosh3
is pinned exactly in pyproject.toml for that reason.  Segment assembly
(inversion, stored fields, columns) is ``segwriter.py``; the per-segment
arrays and the postings cache are ``reader.py``.

Size: over 400 lines because it is the whole format in both directions
(the issue asks for one file to change when the format changes).
"""

from __future__ import annotations

import io
import pickle
import zlib
from array import array
from itertools import accumulate
from pickle import dumps
from zlib import crc32

import numpy as np
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.filedb.filetables import OrderedHashWriter, crc_hash
from whoosh.filedb.filetables import _lengths as _HASH_LENGTHS
from whoosh.filedb.filetables import _pointer as _HASH_POINTER
from whoosh.reading import TermNotFound
from whoosh.system import pack_int, pack_long, pack_ushort
from whoosh.util.numeric import _length_byte_cache

# Postings per block: the W3 codec's default block size (stock readers
# accept any; 128 is what whoosh3 writes).
BLOCK = 128
COMPRESSION = 1
# Blocks at least this large are compressed, i.e. none: positions are
# already compact, and zlib took ~10% of indexing time for ~25% of size
# (measured on the news corpora when this writer was written).
COMPRESS_MIN = 1 << 30
# Whoosh reads blocks with pickle.loads, which accepts any protocol; 3 has a
# native opcode for bytes (protocol 2 goes through a slow reduce for them)
# and, unlike 4, no frame header.
PICKLE_PROTOCOL = 3
CRC_HASH = 1  # whoosh.filedb.filetables hash type: crc32

_LITTLE = array("I", [1]).tobytes()[0] == 1
_LB = np.asarray(_length_byte_cache, dtype=np.int64)


# ---- position payloads ------------------------------------------------------
def encode_char_positions(poslist) -> bytes:
    """One posting's positions (ints >= 0, ascending) -> its payload: the
    width byte (2 when every position is under 65,536, else 4), then the
    positions little-endian.  What Whoosh's stock ``add_document`` path
    writes through ``schema.CharPositions``."""
    width = 2 if not poslist or max(poslist) < 65536 else 4
    a = array("H" if width == 2 else "I", poslist)
    if not _LITTLE:  # pragma: no cover - big-endian platforms
        a.byteswap()
    return bytes([width]) + a.tobytes()


def encode_char_positions_batch(positions: np.ndarray, pstart: np.ndarray, tfs: np.ndarray) -> list[bytes]:
    """``encode_char_positions`` for every posting of a field at once.

    ``positions``: all positions, posting after posting; ``pstart``: where
    each posting's run starts in it; ``tfs``: each run's length.  One width
    for the whole batch (2 unless some position reaches 65,536).  Returns
    one payload per posting."""
    width = 2 if len(positions) == 0 or int(positions.max()) < 65536 else 4
    npost = len(pstart)
    sizes = 1 + width * tfs
    ends = np.cumsum(sizes)
    starts = ends - sizes
    out = np.empty(int(ends[-1]) if npost else 0, dtype=np.uint8)
    out[starts] = width
    post_of = np.repeat(np.arange(npost), tfs)
    dest = starts[post_of] + 1 + width * (np.arange(len(positions)) - pstart[post_of])
    pbytes = positions.astype("<u2" if width == 2 else "<u4").view(np.uint8).reshape(-1, width)
    for j in range(width):
        out[dest + j] = pbytes[:, j]
    buf = out.tobytes()
    return [buf[s:e] for s, e in zip(starts.tolist(), ends.tolist())]


def decode_char_positions(valuestring: bytes) -> np.ndarray:
    """One payload -> its positions (uint16 or uint32 array, a view of the
    bytes).  Raises IndexError on an empty payload."""
    width = valuestring[0]
    return np.frombuffer(valuestring, dtype="<u2" if width == 2 else "<u4", offset=1)


class PositionTable:
    """The position payloads of one posting list, decoded on first use
    (single-bigram words never need positions) with numpy over the joined
    bytes (a Python loop over millions of payloads took a quarter of all
    query time).  ``values``: the payloads, one bytes object per posting."""

    __slots__ = ("_lens", "_raw", "_table")

    def __init__(self, values: list[bytes]):
        self._lens = np.fromiter(map(len, values), np.int64, len(values))
        self._raw = np.frombuffer(b"".join(values), np.uint8)
        self._table = None

    @property
    def nbytes(self) -> int:
        """Bytes counted for the postings cache: as decoded (flat int32
        positions plus the raw bytes), so the cache's bound holds after
        decoding."""
        return self._lens.nbytes * 3 + self._raw.nbytes * 3

    def table(self):
        """(start of each posting's run in ``flat``, run lengths, flat
        int32 positions): three arrays, the first two one entry a posting."""
        if self._table is None:
            self._table = self._decode()
        return self._table

    def _decode(self):
        lens, raw = self._lens, self._raw
        if not len(lens):
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32)
        byte_starts = np.cumsum(lens) - lens
        widths = raw[byte_starts]
        width = int(widths[0])
        if (widths == width).all():
            keep = np.ones(len(raw), dtype=bool)
            keep[byte_starts] = False
            flat = raw[keep].view("<u2" if width == 2 else "<u4")
            counts = (lens - 1) // width
        else:  # pragma: no cover - mixed widths only across exotic segments
            ends = np.cumsum(lens)
            arrays = [decode_char_positions(raw[a:b].tobytes()) for a, b in zip(byte_starts.tolist(), ends.tolist())]
            flat = np.concatenate(arrays)
            counts = np.fromiter((len(a) for a in arrays), np.int64, len(arrays))
        starts = np.cumsum(counts) - counts
        return starts, counts, flat.astype(np.int32)


# ---- field lengths ----------------------------------------------------------
def length_bytes(lengths: np.ndarray) -> np.ndarray:
    """``whoosh.util.numeric.length_to_byte``, vectorised: field lengths
    (ints) -> Whoosh's one-byte approximations (0-255)."""
    out = np.searchsorted(_LB, lengths, side="left")
    return np.minimum(out, 255)


# ---- term records -----------------------------------------------------------
def _write_hashes_fast(self):
    """Same bytes as HashWriter._write_hashes, one file write per bucket."""
    dbfile = self.dbfile
    pack = _HASH_POINTER.pack
    for entries in self.buckets:
        pos = dbfile.tell()
        numslots = 2 * len(entries)
        self.directory.append((pos, numslots))
        table = [None] * numslots
        for hashval, position in entries:
            slot = (hashval >> 8) % numslots
            while table[slot] is not None:
                slot = (slot + 1) % numslots
            table[slot] = (hashval, position)
        dbfile.write(b"".join(pack(*e) if e is not None else _NULL_SLOT for e in table))


_NULL_SLOT = _HASH_POINTER.pack(0, 0)


class _FastOrderedHashWriter(OrderedHashWriter):
    _write_hashes = _write_hashes_fast


class TermTableWriter:
    """Appends term-info rows to Whoosh's OrderedHashWriter in bulk.

    Equivalent to calling ``tindex.add(key, value)`` per term (same bytes,
    same hash buckets and order index), without a file call per term; the
    table is switched to the CRC32 key hash when still empty."""

    def __init__(self, tindex):
        self.tindex = tindex
        if not isinstance(tindex, _FastOrderedHashWriter):
            tindex.__class__ = _FastOrderedHashWriter
            if not tindex.buckets[0] and not any(tindex.buckets) and tindex.hashtype != CRC_HASH:
                # Use Whoosh's CRC32 key hash (hash type 1) instead of MD5: the
                # type is a byte of the file header, which readers honour.
                dbfile = tindex.dbfile
                pos = dbfile.tell()
                dbfile.seek(tindex.startoffset + 4)
                dbfile.write_byte(CRC_HASH)
                dbfile.seek(pos)
                tindex.hashtype = CRC_HASH
                tindex.hashfn = crc_hash
        self.keys: list[bytes] = []
        self.values: list[bytes] = []

    def add(self, key: bytes, value: bytes) -> None:
        """Queue one record (keys in ascending order); written by ``flush``."""
        self.keys.append(key)
        self.values.append(value)

    def flush(self) -> None:
        """Write the queued records in one file write."""
        keys, values = self.keys, self.values
        if not keys:
            return
        tindex = self.tindex
        pack = _HASH_LENGTHS.pack
        recs = [pack(len(k), len(v)) + k + v for k, v in zip(keys, values)]
        start = tindex.dbfile.tell()
        positions = list(accumulate((len(r) for r in recs[:-1]), initial=start))
        hashes = [crc32(k) & 0xFFFFFFFF for k in keys]
        buckets = tindex.buckets
        for h, pos in zip(hashes, positions):
            buckets[h & 255].append((h, pos))
        tindex.dbfile.write(b"".join(recs))
        tindex.index.extend(positions)
        tindex.lastkey = keys[-1]
        self.keys, self.values = [], []


# ---- posting lists: writing -------------------------------------------------
class Inverted:
    """Postings of one field, sorted by term then document: what
    ``write_field`` encodes.

    terms: list[str], ascending; term_start: int array (len terms + 1) into
    the postings; docs, tfs: int arrays (one entry a posting); values:
    None, a list of bytes (one payload per posting), or for fixed-size
    payloads one bytes buffer (posting i at [i*size:(i+1)*size]).
    For the bigram fields (``*_g``) the same positions are also kept flat:
    ``positions`` (int64, every posting's character positions in posting
    order) and ``pos_start`` (int64, len docs + 1, posting i's positions at
    ``positions[pos_start[i]:pos_start[i+1]]``); None for other fields.
    """

    __slots__ = ("terms", "term_start", "docs", "tfs", "values", "positions", "pos_start")

    def __init__(self, terms, term_start, docs, tfs, values, positions=None, pos_start=None):
        self.terms, self.term_start, self.docs, self.tfs, self.values = (
            terms, term_start, docs, tfs, values)
        self.positions, self.pos_start = positions, pos_start


def write_field(fw, fieldname, fieldobj, inv: Inverted, doc_lengths, weighted: bool) -> None:
    """Write all terms of one field through the W3 field writer ``fw``.

    ``doc_lengths``: each document's field length (int array) or None (no
    length bytes); ``weighted``: weights are the term frequencies (else 1).
    Each term gets its block list in the postings file and its term record;
    a term with a single posting is inlined in its record, as
    ``W3TermInfo.set_inlined`` does."""
    fw.start_field(fieldname, fieldobj)
    prefix = pack_ushort(fw._fieldmap[fieldname])
    fixedsize = fieldobj.format.fixed_value_size()
    postfile = fw._postfile
    table = TermTableWriter(fw._tindex)
    nterms = len(inv.terms)
    if not nterms:
        fw.finish_field()
        return
    npost = len(inv.docs)
    term_start = inv.term_start
    # Block structure: a block starts at each term start and every BLOCK postings.
    term_of = np.repeat(np.arange(nterms), np.diff(term_start))
    idx_in_term = np.arange(npost) - term_start[term_of]
    block_first = idx_in_term % BLOCK == 0
    bstarts = np.flatnonzero(block_first)
    bends = np.r_[bstarts[1:], npost]
    docs = inv.docs
    deltas = docs.copy()
    deltas[1:] -= docs[:-1]
    deltas[bstarts] = docs[bstarts]
    tfs = inv.tfs.astype(np.float64)
    bmaxw = np.maximum.reduceat(tfs, bstarts) if weighted else np.ones(len(bstarts))
    bminw = np.minimum.reduceat(tfs, bstarts) if weighted else np.ones(len(bstarts))
    if doc_lengths is not None:
        plen = doc_lengths[docs]
        bminl = length_bytes(np.minimum.reduceat(plen, bstarts)).tolist()
        bmaxl = length_bytes(np.maximum.reduceat(plen, bstarts)).tolist()
        tminl = length_bytes(np.minimum.reduceat(plen, term_start[:-1])).tolist()
        tmaxl = length_bytes(np.maximum.reduceat(plen, term_start[:-1])).tolist()
    else:
        bminl = bmaxl = [0] * len(bstarts)
        tminl = tmaxl = [0] * nterms
    tweight = np.add.reduceat(tfs, term_start[:-1]).tolist() if weighted else np.diff(term_start).tolist()
    tmaxw = np.maximum.reduceat(tfs, term_start[:-1]).tolist() if weighted else [1.0] * nterms
    deltas_l = deltas.tolist()
    docs_l = docs.tolist()
    # Weights are term frequencies: pickled as ints (2 bytes) rather than
    # floats (9 bytes); Whoosh's matchers and our reader accept either.
    tfs_l = inv.tfs.astype(np.int64).tolist()
    bstarts_l, bends_l = bstarts.tolist(), bends.tolist()
    bmaxw_l, bminw_l = bmaxw.tolist(), bminw.tolist()
    ts_l = term_start.tolist()
    values = inv.values
    struct_pack = W3TermInfo._struct.pack

    chunks: list[bytes] = []
    append = chunks.append
    offset = postfile.tell()
    terms = inv.terms
    add_term = table.add
    nblocks = len(bstarts_l)
    blk = 0
    for t in range(nterms):
        ps, pe = ts_l[t], ts_l[t + 1]
        if pe - ps == 1:
            # A single posting is stored inline in the term record, as
            # W3TermInfo.set_inlined does (no block in the postings file).
            if values is None or fixedsize == 0:
                v = ()
            elif fixedsize:
                v = (values[ps * fixedsize : (ps + 1) * fixedsize],)
            else:
                v = (values[ps],)
            doc = docs_l[ps]
            w = tfs_l[ps]
            add_term(
                prefix + terms[t].encode("utf-8"),
                struct_pack(True, float(w), 1, tminl[t], tmaxl[t], float(w), doc, doc)
                + dumps(((doc,), (w,), v), PICKLE_PROTOCOL),
            )
            blk += 1
            continue
        start = offset
        append(WHOOSH3_HEADER_MAGIC)
        offset += 4
        while blk < nblocks:
            a = bstarts_l[blk]
            if a >= pe:
                break
            b = bends_l[blk]
            mx = bmaxw_l[blk]
            if mx == 1.0:
                w = None
            elif mx == bminw_l[blk]:
                w = float(mx)
            else:
                w = tuple(tfs_l[a:b])
            if values is None or fixedsize == 0:
                v = None
            elif fixedsize:
                v = values[a * fixedsize : b * fixedsize]
            else:
                v = tuple(values[a:b])
            data = dumps((tuple(deltas_l[a:b]), w, v), PICKLE_PROTOCOL)
            comp = 0
            if len(data) >= COMPRESS_MIN:
                comp = COMPRESSION
                data = zlib.compress(data, COMPRESSION)
            info = dumps((b - a, docs_l[b - 1], mx, comp, bminl[blk], bmaxl[blk]), PICKLE_PROTOCOL)
            blen = len(info) + len(data)
            offset += 4 + blen
            append(pack_int(-blen if b >= pe else blen) + info + data)
            blk += 1
        add_term(
            prefix + terms[t].encode("utf-8"),
            struct_pack(False, float(tweight[t]), pe - ps, tminl[t], tmaxl[t],
                        float(tmaxw[t]), docs_l[ps], docs_l[pe - 1])
            + pack_long(start) + pack_int(offset - start),
        )
        if len(chunks) > 8192:
            postfile.write(b"".join(chunks))
            chunks.clear()
    postfile.write(b"".join(chunks))
    assert postfile.tell() == offset
    table.flush()
    fw.finish_field()


# ---- posting lists: reading -------------------------------------------------
def doc_frequency(terms, field: str, term: str) -> int:
    """Documents with ``term`` in ``field`` according to the segment's term
    dictionary ``terms`` (a W3 terms reader: ``reader._terms``), without
    reading postings (deleted documents count); 0 for an unknown term."""
    try:
        return terms.term_info(field, term.encode("utf-8")).doc_frequency()
    except (TermNotFound, KeyError):
        return 0


def read_postings(terms, postfile, field: str, term: str):
    """One term's posting list: (doc numbers int64, weights float32,
    payloads list) with one entry a posting, doc numbers ascending; None
    for a term the segment lacks.  ``terms``: the segment's W3 terms reader
    (``reader._terms``); ``postfile``: its postings file (``_postfile``).
    Payloads are bytes (``decode_char_positions``) for the bigram fields,
    Frequency's packed tf or nothing for others."""
    try:
        ti = terms.term_info(field, term.encode("utf-8"))
    except (TermNotFound, KeyError):
        return None
    return decode_postings(ti, postfile)


def decode_postings(ti, postfile):
    """The posting list of the term record ``ti`` (a ``W3TermInfo``, as
    ``read_postings`` finds it or a walk of the term dictionary yields it:
    ``reader.iter_field``), decoded: (doc numbers int64, weights float32,
    payloads list), as ``read_postings`` returns."""
    if ti.is_inlined():
        ids, weights, values = ti.inlined_postings()
        return (np.asarray(ids, np.int64), np.asarray(weights, np.float32), list(values))
    offset, length = ti.extent()
    if isinstance(length, tuple):  # W3TermInfo.from_bytes leaves it unpacked
        length = length[0]
    buf = postfile.get(offset, length)
    # Deltas restart at each block; make each block's first delta relative
    # to the previous block's last id, then one cumsum gives all ids.
    deltas_all: list[int] = []
    weights_all: list[float] = []
    values: list = []
    bio = io.BytesIO(buf)
    p = 4  # after the W3 block-list magic
    end = len(buf)
    prev_max = 0
    while p < end:
        blen = int.from_bytes(buf[p : p + 4], "big", signed=True)
        p += 4
        last = blen < 0
        blen = abs(blen)
        bio.seek(p)
        count, maxid, _maxw, comp, _mnl, _mxl = pickle.load(bio)
        data = buf[bio.tell() : p + blen]
        if comp:
            data = zlib.decompress(data)
        deltas, weights, vals = pickle.loads(data)
        start = len(deltas_all)
        deltas_all.extend(deltas)
        deltas_all[start] -= prev_max
        prev_max = maxid
        if weights is None:
            weights_all.extend([1.0] * count)
        elif isinstance(weights, (int, float)):
            weights_all.extend([weights] * count)
        else:
            weights_all.extend(weights)
        if isinstance(vals, tuple):
            values.extend(vals)
        p += blen
        if last:
            break
    ids = np.cumsum(np.array(deltas_all, dtype=np.int64))
    return ids, np.array(weights_all, dtype=np.float32), values
