"""Write a complete Whoosh segment from prepared documents, in bulk.

Whoosh's stock ``add_document`` path spends most of its time in per-posting
Python work (a pooled external sort, then several method calls per posting):
on our news it indexed 60 k characters/s, 9-18 us per posting at commit.
Here a worker process inverts a whole batch with numpy (sorting integer term
codes), then writes each term's posting blocks directly in the W3 codec's
on-disk format: the same pickled blocks, term-info records and hash tables
that ``whoosh.codec.whoosh3`` writes.  The cost is a few microseconds per
term instead of per posting, and the result is an ordinary Whoosh segment:
stock Whoosh readers, matchers and queries work on it (tests check this).

This module depends on the W3 codec's file layout; whoosh3 is pinned exactly
in pyproject.toml for that reason.
"""

from __future__ import annotations

import zlib
from itertools import accumulate
from zlib import crc32
from pickle import dumps

import numpy as np
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3Codec, W3TermInfo
from whoosh.filedb.filetables import OrderedHashWriter, crc_hash
from whoosh.filedb.filetables import _lengths as _HASH_LENGTHS
from whoosh.filedb.filetables import _pointer as _HASH_POINTER
from whoosh.system import pack_int, pack_long, pack_ushort
from whoosh.util.numeric import _length_byte_cache

from ...analysis import char_codes, gram_codes, gram_term
from ...documents import PreparedDoc
from . import docinfo
from .schema import NO_DATE

BLOCK = 128
COMPRESSION = 1
# Blocks at least this large are compressed (positions are already compact,
# see schema.CharPositions; zlib took ~10% of indexing time for ~25% of size).
COMPRESS_MIN = 1 << 30
# Whoosh reads blocks with pickle.loads, which accepts any protocol; 3 has a
# native opcode for bytes (protocol 2 goes through a slow reduce for them)
# and, unlike 4, no frame header.
PICKLE_PROTOCOL = 3
CRC_HASH = 1  # whoosh.filedb.filetables hash type: crc32

WORD_FIELDS = (("title_w", "title_words"), ("body_w", "body_words"))
GRAM_FIELDS = (("title_g", "title_norm"), ("body_g", "body_norm"))
CHAR_FIELDS = (("title_c", "title_norm"), ("body_c", "body_norm"))
from ...fields import SINGLE_VALUED_FACETS as FACET_FIELDS
_LB = np.asarray(_length_byte_cache, dtype=np.int64)


def _length_bytes(lengths: np.ndarray) -> np.ndarray:
    """whoosh.util.numeric.length_to_byte, vectorised."""
    out = np.searchsorted(_LB, lengths, side="left")
    return np.minimum(out, 255)


class _Inverted:
    """Postings of one field, sorted by term then document.

    terms: list[str]; term_start: int array (len terms + 1) into the postings;
    docs, tfs: int arrays; values: None, a list of bytes (one per posting),
    or for fixed-size payloads one bytes buffer (posting i at [i*size:(i+1)*size]).
    """

    __slots__ = ("terms", "term_start", "docs", "tfs", "values")

    def __init__(self, terms, term_start, docs, tfs, values):
        self.terms, self.term_start, self.docs, self.tfs, self.values = (
            terms, term_start, docs, tfs, values)


def _invert_strings(per_doc_terms: list[list[str]], with_tf: bool) -> _Inverted:
    all_terms: list[str] = []
    counts = np.fromiter((len(t) for t in per_doc_terms), dtype=np.int64, count=len(per_doc_terms))
    for terms in per_doc_terms:
        all_terms.extend(terms)
    if not all_terms:
        return _Inverted([], np.zeros(1, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), None)
    vocab_list = sorted(dict.fromkeys(all_terms))
    vocab = {t: i for i, t in enumerate(vocab_list)}
    codes = np.fromiter(map(vocab.__getitem__, all_terms), dtype=np.int64, count=len(all_terms))
    docs = np.repeat(np.arange(len(per_doc_terms), dtype=np.int64), counts)
    key = codes * len(per_doc_terms) + docs
    ukey, tfs = np.unique(key, return_counts=True)
    pcodes = ukey // len(per_doc_terms)
    pdocs = ukey % len(per_doc_terms)
    starts = np.flatnonzero(np.r_[True, pcodes[1:] != pcodes[:-1]])
    term_ids = pcodes[starts]
    terms = [vocab_list[i] for i in term_ids.tolist()]
    term_start = np.r_[starts, len(pcodes)]
    values = None
    if with_tf:
        values = np.asarray(tfs, dtype=">u4").tobytes()  # Frequency format: pack_uint(tf)
    return _Inverted(terms, term_start, pdocs, tfs, values)


def _invert_chars(texts: list[str]) -> _Inverted:
    """Every letter, digit and ideograph as a term, with its frequency."""
    code_parts, doc_parts = [], []
    for i, text in enumerate(texts):
        codes = char_codes(text)
        if len(codes):
            code_parts.append(codes)
            doc_parts.append(np.full(len(codes), i, dtype=np.int64))
    if not code_parts:
        return _Inverted([], np.zeros(1, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), None)
    ndocs = max(len(texts), 1)
    key = np.concatenate(code_parts) * ndocs + np.concatenate(doc_parts)
    ukey, tfs = np.unique(key, return_counts=True)
    pcodes, pdocs = ukey // ndocs, ukey % ndocs
    tstarts = np.flatnonzero(np.r_[True, pcodes[1:] != pcodes[:-1]])
    terms = [chr(c) for c in pcodes[tstarts].tolist()]
    return _Inverted(terms, np.r_[tstarts, len(pcodes)], pdocs, tfs,
                     np.asarray(tfs, dtype=">u4").tobytes())


def _invert_grams(texts: list[str]) -> _Inverted:
    code_parts, pos_parts, doc_parts = [], [], []
    for i, text in enumerate(texts):
        codes, positions = gram_codes(text)
        if len(codes):
            code_parts.append(codes)
            pos_parts.append(positions)
            doc_parts.append(np.full(len(codes), i, dtype=np.int64))
    if not code_parts:
        return _Inverted([], np.zeros(1, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), [])
    codes = np.concatenate(code_parts)
    positions = np.concatenate(pos_parts)
    docs = np.concatenate(doc_parts)
    order = np.argsort(codes, kind="stable")  # keeps doc, then position order
    codes, positions, docs = codes[order], positions[order], docs[order]
    n = len(codes)
    new_posting = np.r_[True, (codes[1:] != codes[:-1]) | (docs[1:] != docs[:-1])]
    pstart = np.flatnonzero(new_posting)
    pend = np.r_[pstart[1:], n]
    pcodes = codes[pstart]
    pdocs = docs[pstart]
    tfs = pend - pstart
    tstarts = np.flatnonzero(np.r_[True, pcodes[1:] != pcodes[:-1]])
    terms = [gram_term(c) for c in pcodes[tstarts].tolist()]
    term_start = np.r_[tstarts, len(pcodes)]
    values = _char_positions_payloads(positions, pstart, tfs)
    return _Inverted(terms, term_start, pdocs, tfs, values)


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


def _char_positions_payloads(positions: np.ndarray, pstart: np.ndarray, tfs: np.ndarray) -> list[bytes]:
    """schema.CharPositions.encode for every posting at once: a width byte,
    then that posting's positions (little-endian, 2 bytes if they fit)."""
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


class _TermTableWriter:
    """Appends term-info rows to Whoosh's OrderedHashWriter in bulk.

    Equivalent to calling ``tindex.add(key, value)`` per term (same bytes,
    same hash buckets and order index), without a file call per term."""

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
        self.keys.append(key)
        self.values.append(value)

    def flush(self) -> None:
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


def _write_field(fw, fieldname, fieldobj, inv: _Inverted, doc_lengths, weighted: bool):
    """Write all terms of one field (terms already sorted)."""
    fw.start_field(fieldname, fieldobj)
    prefix = pack_ushort(fw._fieldmap[fieldname])
    fixedsize = fieldobj.format.fixed_value_size()
    postfile = fw._postfile
    table = _TermTableWriter(fw._tindex)
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
        bminl = _length_bytes(np.minimum.reduceat(plen, bstarts)).tolist()
        bmaxl = _length_bytes(np.maximum.reduceat(plen, bstarts)).tolist()
        tminl = _length_bytes(np.minimum.reduceat(plen, term_start[:-1])).tolist()
        tmaxl = _length_bytes(np.maximum.reduceat(plen, term_start[:-1])).tolist()
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


def write_segment(storage, indexname: str, schema, docs: list[PreparedDoc]):
    """Write ``docs`` as one new segment in ``storage``; return the Segment.

    The segment is not part of the index until a TOC naming it is committed.
    """
    codec = W3Codec()
    segment = codec.new_segment(storage, indexname)
    ndocs = len(docs)
    fobj = {name: schema[name] for name in schema.names()}

    grams = {f: _invert_grams([getattr(d, attr) for d in docs]) for f, attr in GRAM_FIELDS}
    words = {f: _invert_strings([getattr(d, attr) for d in docs], True) for f, attr in WORD_FIELDS}
    chars = {f: _invert_chars([getattr(d, attr) for d in docs]) for f, attr in CHAR_FIELDS}
    lengths = {
        "title_w": np.fromiter((len(d.title_words) for d in docs), np.int64, ndocs),
        "body_w": np.fromiter((len(d.body_words) for d in docs), np.int64, ndocs),
        "title_g": np.bincount(grams["title_g"].docs, weights=grams["title_g"].tfs, minlength=ndocs).astype(np.int64),
        "body_g": np.bincount(grams["body_g"].docs, weights=grams["body_g"].tfs, minlength=ndocs).astype(np.int64),
    }
    for name, inv in chars.items():
        lengths[name] = np.bincount(inv.docs, weights=inv.tfs, minlength=ndocs).astype(np.int64)

    # ---- per-document data: stored fields, field lengths, columns ----------
    pdw = codec.per_document_writer(storage, segment)
    lens_l = {k: v.tolist() for k, v in lengths.items()}
    for i, d in enumerate(docs):
        pdw.start_doc(i)
        st = d.stored
        for name in ("id", "title", "body", "url", "lang", "published_text",
                     "category", "source", "author", "tags", "extra", "record_hash"):
            value = st.get(name)
            if value is not None:
                pdw.add_field(name, fobj[name], value, None)
        pdw.add_field("keyterms", fobj["keyterms"], d.keyterms, None)
        pdw.add_field("content_hash", fobj["content_hash"], d.content_hash, None)
        for name, ll in lens_l.items():
            pdw.add_field(name, fobj[name], None, ll[i])
        for name in FACET_FIELDS:
            value = d.facets.get(name)
            if value is not None:
                pdw.add_column_value(name, fobj[name].column_type, fobj[name].to_column_value(value))
        ts = d.published_ts if d.published_ts is not None else NO_DATE
        pdw.add_column_value("published", fobj["published"].column_type, fobj["published"].to_column_value(ts))
        pdw.add_column_value("title_len", fobj["title_len"].column_type, lens_l["title_w"][i])
        pdw.add_column_value("body_len", fobj["body_len"].column_type, lens_l["body_w"][i])
        pdw.finish_doc()
    pdw.close()

    # ---- postings -------------------------------------------------------
    fw = codec.field_writer(storage, segment)
    _write_field(fw, "id", fobj["id"], _invert_strings([[d.id] for d in docs], False), None, False)
    for name in FACET_FIELDS:
        per_doc = [[d.facets[name]] if d.facets.get(name) else [] for d in docs]
        _write_field(fw, name, fobj[name], _invert_strings(per_doc, False), None, False)
    _write_field(fw, "tags", fobj["tags"],
                 _invert_strings([d.facets.get("tags") or [] for d in docs], True), None, True)
    for name, inv in words.items():
        _write_field(fw, name, fobj[name], inv, lengths[name], True)
    for name, inv in grams.items():
        _write_field(fw, name, fobj[name], inv, lengths[name], True)
    for name, inv in chars.items():
        _write_field(fw, name, fobj[name], inv, lengths[name], True)
    fw.close()
    segment.set_doc_count(ndocs)
    if segment.should_assemble():
        segment.create_compound_file(storage)
        segment.compound = True
    # After assembling: the compound file takes every file of the segment.
    docinfo.write(storage, segment, docs)
    return segment
