"""Merge segments into one without re-analysing text: a k-way merge.

Every committed segment is a sorted list of terms with sorted posting
lists, so N segments merge the way tantivy and Lucene merge them: the term
lists are merged in order, each term's postings are concatenated across the
segments (segment order, then document order: the new document number is
the segment's base plus the document's rank among the segment's kept
documents, so concatenation stays sorted), deleted documents are dropped,
and the result is written through the same codec calls as
``segwriter.write_segment``, field by field with the same payloads, field
lengths and ``weighted`` flags.  Stored fields and columns are copied for
the kept documents, and every sidecar kind is merged (``sidecars.write_merged``).
The merged segment cannot be told apart from one ``write_segment`` writes
from the same articles (tests check postings, stored fields, columns,
lengths and sidecars), and no text is analysed again.

Memory is bounded by one field at a time: each source segment's postings
of that field (``SegmentData.field_inverted``, kept with 32-bit arrays:
``compact``), merged and written in chunks of about ``CHUNK_POSTINGS``
postings (``FieldMerge``), so neither the merged field nor its payload list
exists whole.  A sidecar kind built from the merged postings
(``build_inverted``: the raw postings) gets each merged field, gathered in
narrow arrays (``Kept``), as soon as it is merged
(``sidecars.build_fields``); the field's postings are freed then, so only
the kinds' arrays accumulate.  On the full corpora
(108,478 articles, 14 segments) see README ("Segments and optimize") for
the measured time and peak memory.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec

from ...fields import SINGLE_VALUED_FACETS as FACET_FIELDS
from . import sidecars
from .codec import Inverted, encode_char_positions_batch, write_field
from .reader import SegmentData

# How each field is written, as segwriter.write_segment writes it, in its
# order: (field, payload: None | "tf" | "positions", with field lengths, weighted).
FIELDS = (
    ("id", None, False, False),
    *((name, None, False, False) for name in FACET_FIELDS),
    ("tags", "tf", False, True),
    ("title_w", "tf", True, True),
    ("body_w", "tf", True, True),
    ("title_g", "positions", True, True),
    ("body_g", "positions", True, True),
    ("title_c", "tf", True, True),
    ("body_c", "tf", True, True),
)
# The field lengths added to each document, in segwriter's order.
LENGTH_FIELDS = ("title_w", "body_w", "title_g", "body_g", "title_c", "body_c")
# Columns copied for each kept document (facets, date, word counts).
COLUMNS = (*FACET_FIELDS, "published", "title_len", "body_len")
# Postings per write_field call: bounds the payload list of one call.
CHUNK_POSTINGS = 1 << 20
_WIDE = 65536  # a position this large makes every payload of a field 4 bytes wide


class Source:
    """One segment to merge: the Whoosh ``segment``, its deleted local doc
    numbers and, once opened, its reader and ``SegmentData``."""

    def __init__(self, segment, deleted):
        self.segment = segment
        self.deleted = frozenset(deleted)
        n = segment.doc_count_all()
        live = np.ones(n, bool)
        if self.deleted:
            live[np.fromiter(self.deleted, np.int64, len(self.deleted))] = False
        self.kept = np.flatnonzero(live).astype(np.int64)  # sorted local doc numbers kept
        self.reader = None
        self.data: SegmentData | None = None

    def open(self, storage, schema, generation) -> None:
        """Open the segment's reader and arrays (``SegmentData``)."""
        self.reader = whoosh_index.FileIndex._reader(storage, schema, [self.segment], generation)
        self.data = SegmentData(self.reader, self.segment, storage)

    def close(self) -> None:
        """Close the reader."""
        if self.reader is not None:
            self.reader.close()
            self.reader = self.data = None


def renumbering(sources: Sequence[Source]) -> list[np.ndarray]:
    """Per source, local doc number -> merged doc number (int64; -1 for a
    deleted document): segment order, then doc order."""
    out, base = [], 0
    for src in sources:
        remap = np.full(src.segment.doc_count_all(), -1, np.int64)
        remap[src.kept] = base + np.arange(len(src.kept), dtype=np.int64)
        base += len(src.kept)
        out.append(remap)
    return out


def compact(inv: Inverted) -> Inverted:
    """One source's ``Inverted`` of a field with 32-bit doc numbers,
    frequencies and positions, and ``pos_start`` kept per term only
    (len terms + 1: where each term's positions start; a posting's run is
    its frequency), each array as narrow as its values allow (``narrow``):
    what ``FieldMerge`` holds of each source.  Raises
    ValueError when a bigram posting's positions do not number its
    frequency."""
    small = Inverted(inv.terms, np.asarray(inv.term_start, np.int64), narrow(inv.docs), narrow(inv.tfs), None)
    if inv.positions is not None:
        pos_start = np.asarray(inv.pos_start, np.int64)
        if not np.array_equal(np.diff(pos_start), inv.tfs):
            raise ValueError("a bigram posting's positions do not number its term frequency")
        small.positions = narrow(inv.positions)
        small.pos_start = pos_start[small.term_start]
    return small


def narrow(values: np.ndarray) -> np.ndarray:
    """Non-negative integers in the narrowest of uint16, uint32 and int64
    that holds them (the same values: a source's doc numbers, frequencies
    and positions mostly fit in 16 bits)."""
    top = int(values.max()) if len(values) else 0
    dtype = np.uint16 if top < 1 << 16 else np.uint32 if top < 1 << 32 else np.int64
    return values.astype(dtype)


class FieldMerge:
    """The k-way merge of one field, streamed in chunks of terms.

    ``parts``: each source's postings of the field (``compact``), terms
    ascending; ``remaps``: ``renumbering``; ``ndocs``: documents of the
    merged segment.  The merged term list is the sorted union of the
    sources'; a term's postings are each source's kept ones in source
    order (so doc numbers ascend), at offsets counted up front.  After
    construction: ``lengths`` (int64 per merged document: the sum of its
    frequencies, the field length ``write_segment`` gives), ``npost`` and
    ``npos`` (kept postings and positions), ``wide`` (a kept position is
    65,536 or more), ``max_tf`` (the largest kept frequency)."""

    def __init__(self, parts: Sequence[Inverted], remaps: Sequence[np.ndarray], ndocs: int):
        self.parts, self.remaps = parts, remaps
        self.grams = any(p.positions is not None for p in parts)
        self.union = sorted(set().union(*(p.terms for p in parts)))
        index = {t: i for i, t in enumerate(self.union)}
        self.running = np.zeros(len(self.union), np.int64)  # kept postings per merged term
        self.plans = []
        lengths = np.zeros(ndocs, np.float64)
        self.npos, self.wide, self.max_tf = 0, False, 0
        for p, remap in zip(parts, remaps):
            tid = np.fromiter(map(index.__getitem__, p.terms), np.int64, len(p.terms))
            new = remap[p.docs] if len(p.docs) else np.zeros(0, np.int64)
            keep = new >= 0
            kept_before = np.r_[0, np.cumsum(keep)]
            offset = self.running[tid]  # where this source's postings start within each term
            self.running[tid] += kept_before[p.term_start[1:]] - kept_before[p.term_start[:-1]]
            self.plans.append((tid, offset))
            lengths += np.bincount(new[keep], weights=p.tfs[keep], minlength=ndocs)
            self.max_tf = max(self.max_tf, int(p.tfs[keep].max()) if keep.any() else 0)
            if self.grams:
                self.npos += int(p.tfs[keep].sum())
                kept_pos = np.repeat(keep, p.tfs)
                self.wide = self.wide or bool(len(p.positions) and kept_pos.any()
                                              and int(p.positions[kept_pos].max()) >= _WIDE)
            del new, keep, kept_before
        self.lengths = lengths.astype(np.int64)
        self.starts = np.r_[0, np.cumsum(self.running)].astype(np.int64)
        self.npost = int(self.starts[-1])

    def chunks(self, limit: int):
        """The merged postings as ``Inverted``s of whole terms, about
        ``limit`` postings each (a larger term alone), in term order: merged
        doc numbers; for the bigram fields ``positions`` / ``pos_start``
        relative to the chunk; terms without a kept posting left out."""
        starts, nterms = self.starts, len(self.union)
        ua = 0
        while ua < nterms:
            ub = int(np.searchsorted(starts, starts[ua] + limit, side="right")) - 1
            ub = min(max(ub, ua + 1), nterms)
            yield self._chunk(ua, ub)
            ua = ub

    def _chunk(self, ua: int, ub: int) -> Inverted:
        base = int(self.starts[ua])
        n = int(self.starts[ub]) - base
        docs, tfs = np.empty(n, np.int64), np.empty(n, np.int64)
        moves = []
        for p, remap, (tid, offset) in zip(self.parts, self.remaps, self.plans):
            la, lb = int(np.searchsorted(tid, ua)), int(np.searchsorted(tid, ub))
            ts = p.term_start
            pa, pb = int(ts[la]), int(ts[lb])
            if pa == pb:
                continue
            new = remap[p.docs[pa:pb]]
            keep = new >= 0
            kept_before = np.r_[0, np.cumsum(keep)]
            idx = np.flatnonzero(keep)
            local = np.repeat(np.arange(la, lb, dtype=np.int64), np.diff(ts[la:lb + 1]))[idx]
            rank = kept_before[idx] - kept_before[ts[local] - pa]
            dest = self.starts[tid[local]] - base + offset[local] + rank
            docs[dest] = new[idx]
            src_tfs = p.tfs[pa:pb]
            tfs[dest] = src_tfs[idx]
            if self.grams:
                src_start = p.pos_start[la] + np.r_[0, np.cumsum(src_tfs, dtype=np.int64)]
                moves.append((p, src_start[idx], dest))
        present = np.flatnonzero(self.running[ua:ub])
        terms = [self.union[ua + i] for i in present.tolist()]
        term_start = np.r_[self.starts[ua + present] - base, n].astype(np.int64)
        if not self.grams:
            return Inverted(terms, term_start, docs, tfs, None)
        pos_start = np.r_[0, np.cumsum(tfs)].astype(np.int64)
        positions = np.empty(int(pos_start[-1]), np.int64)
        for p, src, dest in moves:
            lens = tfs[dest]
            within = np.arange(int(lens.sum()), dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens)
            positions[np.repeat(pos_start[dest], lens) + within] = p.positions[np.repeat(src, lens) + within]
        return Inverted(terms, term_start, docs, tfs, None, positions, pos_start)


class Kept:
    """The merged postings of one field gathered chunk by chunk, in narrow
    arrays (doc numbers and ``pos_start`` unsigned 32-bit while they fit,
    frequencies and positions 16-bit while they fit): what sidecar kinds
    built from the postings (``build_inverted``) read."""

    def __init__(self, merge: FieldMerge):
        self.terms: list[str] = []
        self.term_start = [np.zeros(1, np.int64)]
        self.docs = np.empty(merge.npost, np.uint32 if len(merge.lengths) < 1 << 32 else np.int64)
        self.tfs = np.empty(merge.npost, np.uint16 if merge.max_tf < 1 << 16 else np.int64)
        self.grams = merge.grams
        if merge.grams:
            self.positions = np.empty(merge.npos, np.int64 if merge.wide else np.uint16)
            self.pos_start = np.zeros(merge.npost + 1, np.uint32 if merge.npos < 2**32 else np.int64)
        self.at = self.pos_at = 0

    def add(self, chunk: Inverted) -> None:
        """Append a chunk (``FieldMerge.chunks``)."""
        a, n = self.at, len(chunk.docs)
        self.terms.extend(chunk.terms)
        self.term_start.append(chunk.term_start[1:] + a)
        self.docs[a:a + n] = chunk.docs
        self.tfs[a:a + n] = chunk.tfs
        if self.grams:
            m = len(chunk.positions)
            self.positions[self.pos_at:self.pos_at + m] = chunk.positions
            self.pos_start[a + 1:a + n + 1] = chunk.pos_start[1:] + self.pos_at
            self.pos_at += m
        self.at += n

    def inverted(self) -> Inverted:
        """The field's merged ``Inverted``."""
        inv = Inverted(self.terms, np.concatenate(self.term_start), self.docs, self.tfs, None)
        if self.grams:
            inv.positions, inv.pos_start = self.positions, self.pos_start
        return inv


def _position_values(part: Inverted, wide: bool) -> list[bytes]:
    """The payloads of a chunk of a bigram field, as
    ``encode_char_positions_batch`` writes them for the whole field: 4
    bytes wide when any position of the field is (``wide``)."""
    positions, pstart, tfs = part.positions, part.pos_start[:-1], np.diff(part.pos_start)
    if wide and (not len(positions) or int(positions.max()) < _WIDE):
        # One extra posting at a wide position makes the batch wide; its payload is dropped.
        values = encode_char_positions_batch(np.r_[positions, _WIDE], np.r_[pstart, len(positions)], np.r_[tfs, 1])
        return values[:-1]
    return encode_char_positions_batch(positions, pstart, tfs)


def merge_and_write_field(fw, name: str, fieldobj, merge: FieldMerge, payload, with_lengths: bool,
                          weighted: bool, kept: Kept | None = None) -> None:
    """Write the merged field through the W3 field writer ``fw`` chunk by
    chunk, with the payloads ``segwriter`` gives it (None, the packed term
    frequencies, or the position payloads), field lengths when
    ``with_lengths``; each chunk also goes to ``kept`` when given."""
    lengths = merge.lengths if with_lengths else None
    if not merge.npost:
        write_field(fw, name, fieldobj, Inverted([], np.zeros(1, np.int64), np.empty(0, np.int64),
                                                 np.empty(0, np.int64), None), lengths, weighted)
        return
    for chunk in merge.chunks(CHUNK_POSTINGS):
        if payload == "tf":
            chunk.values = np.asarray(chunk.tfs, dtype=">u4").tobytes()  # Frequency format: pack_uint(tf)
        elif payload == "positions":
            chunk.values = _position_values(chunk, merge.wide)
        write_field(fw, name, fieldobj, chunk, lengths, weighted)
        chunk.values = None
        if kept is not None:
            kept.add(chunk)


def merge_segments(storage, indexname: str, schema, generation: int, pairs, report=None):
    """Merge the segments of ``pairs`` ([(Whoosh segment, deleted local doc
    numbers)], in table-of-contents order, of the commit ``generation``)
    into one new segment of ``indexname`` in ``storage``, written with every
    sidecar kind but not listed (a TOC naming it must be committed).

    Returns (segment or None when no document is kept, origins): origins is
    [(article id, old segment id, old docnum)] in the new segment's doc order.
    ``report(message)`` hears each field as it is merged.  Raises what the
    storage raises (OSError), ``IndexCorrupt`` for a damaged sidecar file."""
    _check_schema(schema)
    sources = [Source(seg, deleted) for seg, deleted in pairs]
    remaps = renumbering(sources)
    ndocs = sum(len(s.kept) for s in sources)
    if not ndocs:
        return None, []
    try:
        for src in sources:
            src.open(storage, schema, generation)
        codec = W3Codec()
        segment = codec.new_segment(storage, indexname)
        fobj = {name: schema[name] for name in schema.names()}
        keep_inverted = any(getattr(k, "build_inverted", None) for k in sidecars.kinds())
        built: dict[str, dict] = {}  # kind name -> its arrays, field by field
        lengths: dict[str, np.ndarray] = {}
        fw = codec.field_writer(storage, segment)
        for name, payload, with_lengths, weighted in FIELDS:
            merge = FieldMerge([compact(s.data.field_inverted(name)) for s in sources], remaps, ndocs)
            if with_lengths:
                lengths[name] = merge.lengths
            kept = Kept(merge) if keep_inverted else None
            merge_and_write_field(fw, name, fobj[name], merge, payload, with_lengths, weighted, kept)
            del merge
            if kept is not None:
                sidecars.build_fields(built, name, kept.inverted())
                del kept
            if report is not None:
                report(f"merged {name}")
        fw.close()
        origins = _write_per_document(codec, storage, segment, fobj, sources, lengths, ndocs)
        segment.set_doc_count(ndocs)
        if segment.should_assemble():
            segment.create_compound_file(storage)
            segment.compound = True
        for src in sources:  # their arrays are not needed any more
            src.close()
        parts = {kind.name: [(sidecars.read(storage, s.segment, kind), s.kept) for s in sources]
                 for kind in sidecars.kinds() if getattr(kind, "build_inverted", None) is None}
        sidecars.write_merged(storage, segment, parts, built)
    finally:
        for src in sources:
            src.close()
    return segment, origins


def _check_schema(schema) -> None:
    """Raise ValueError naming any field with postings or a column that
    this module does not merge (a field added to the schema must be added
    here too, or a merge would drop it)."""
    postings = {name for name, *_ in FIELDS}
    unknown = [name for name in schema.names()
               if (schema[name].column_type and name not in COLUMNS)
               or (getattr(schema[name], "indexed", False) and name not in postings
                   and not (schema[name].column_type and name in COLUMNS))]
    if unknown:
        raise ValueError(f"segmerge does not know how to merge the fields {unknown}: add them to segmerge.FIELDS "
                         "or COLUMNS as segwriter writes them")


def _write_per_document(codec, storage, segment, fobj, sources, lengths, ndocs) -> list:
    """Stored fields, field lengths and columns of the kept documents, as
    ``write_segment`` adds them; returns the origins (``merge_segments``)."""
    pdw = codec.per_document_writer(storage, segment)
    lens_l = {k: lengths[k].tolist() for k in LENGTH_FIELDS}
    i = 0
    origins = []
    for src in sources:
        reader = src.reader
        segid = src.segment.segment_id()
        columns = [(name, fobj[name].column_type, reader.column_reader(name, translate=False))
                   for name in COLUMNS if reader.has_column(name)]
        for docnum in src.kept.tolist():
            pdw.start_doc(i)
            stored = reader.stored_fields(docnum)
            origins.append((stored.get("id"), segid, docnum))
            for name, value in stored.items():
                pdw.add_field(name, fobj[name], value, None)
            for name, ll in lens_l.items():
                pdw.add_field(name, fobj[name], None, ll[i])
            for name, ctype, col in columns:
                value = col[docnum]
                if name in FACET_FIELDS and value == ctype.default_value():
                    continue  # write_segment adds no value for a document without one
                pdw.add_column_value(name, ctype, value)
            pdw.finish_doc()
            i += 1
    assert i == ndocs
    pdw.close()
    return origins
