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
of that field (``SegmentData.field_inverted``) and the merged field, then
written in chunks of terms, so the payload list of the largest field never
exists whole.  (A sidecar kind built from the merged postings,
``build_inverted``, keeps every merged field until the sidecars are written.)
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


def merge_field(parts: Sequence[Inverted], remaps: Sequence[np.ndarray]) -> Inverted:
    """The k-way merge of one field: ``parts`` (each source's ``Inverted``,
    terms ascending), ``remaps`` (``renumbering``).  Returns the merged
    ``Inverted`` (terms ascending, postings by term then new doc number;
    ``values`` None; for the bigram fields ``positions``/``pos_start``
    filled), without terms whose every posting was deleted."""
    grams = any(p.positions is not None for p in parts)
    union = sorted(set().union(*(p.terms for p in parts)))
    index = {t: i for i, t in enumerate(union)}
    nterms = len(union)
    running = np.zeros(nterms, np.int64)  # kept postings per merged term so far
    plans = []
    for p, remap in zip(parts, remaps):
        tid = np.fromiter(map(index.__getitem__, p.terms), np.int64, len(p.terms))
        keep = remap[p.docs] >= 0 if len(p.docs) else np.zeros(0, bool)
        kept_before = np.r_[0, np.cumsum(keep)]
        kept_per_term = kept_before[p.term_start[1:]] - kept_before[p.term_start[:-1]]
        offset = running[tid]  # where this source's postings start within each term
        running[tid] += kept_per_term
        plans.append((tid, keep, kept_before, offset))
    del index
    starts = np.r_[0, np.cumsum(running)].astype(np.int64)
    npost = int(starts[-1])
    docs = np.empty(npost, np.int64)
    tfs = np.empty(npost, np.int64)
    dests = []
    for p, remap, (tid, keep, kept_before, offset) in zip(parts, remaps, plans):
        idx = np.flatnonzero(keep)
        local_term = np.repeat(np.arange(len(p.terms), dtype=np.int64), np.diff(p.term_start))[idx]
        rank = kept_before[idx] - kept_before[p.term_start[local_term]]
        dest = starts[tid[local_term]] + offset[local_term] + rank
        docs[dest] = remap[p.docs[idx]]
        tfs[dest] = p.tfs[idx]
        dests.append((idx, dest) if grams else None)
    present = np.flatnonzero(running)
    terms = [union[i] for i in present.tolist()]
    term_start = np.r_[starts[present], npost].astype(np.int64)
    if not grams:
        return Inverted(terms, term_start, docs, tfs, None)
    runs = np.zeros(npost, np.int64)
    for p, plan in zip(parts, dests):
        idx, dest = plan
        runs[dest] = p.pos_start[idx + 1] - p.pos_start[idx]
    pos_start = np.r_[0, np.cumsum(runs)].astype(np.int64)
    positions = np.empty(int(pos_start[-1]), np.int64)
    for p, (idx, dest) in zip(parts, dests):
        lens = runs[dest]
        total = int(lens.sum())
        within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens)
        positions[np.repeat(pos_start[dest], lens) + within] = p.positions[np.repeat(p.pos_start[idx], lens) + within]
    return Inverted(terms, term_start, docs, tfs, None, positions, pos_start)


def _compact(inv: Inverted) -> Inverted:
    """``inv`` with 32-bit doc numbers, frequencies and positions (the same
    values, half the memory): what is kept of each field for the sidecar
    kinds built from the merged postings."""
    small = Inverted(inv.terms, inv.term_start, inv.docs.astype(np.int32), inv.tfs.astype(np.int32), None)
    if inv.positions is not None:
        small.positions, small.pos_start = inv.positions.astype(np.int32), inv.pos_start
    return small


def _chunks(inv: Inverted, limit: int):
    """``inv`` cut at term boundaries into ``Inverted``s of about ``limit``
    postings (a term larger than that is one chunk), doc numbers kept."""
    ts = inv.term_start
    nterms = len(inv.terms)
    t = 0
    while t < nterms:
        end = int(np.searchsorted(ts, ts[t] + limit, side="right")) - 1
        end = min(max(end, t + 1), nterms)
        a, b = int(ts[t]), int(ts[end])
        part = Inverted(inv.terms[t:end], ts[t:end + 1] - a, inv.docs[a:b], inv.tfs[a:b], None)
        if inv.positions is not None:
            ps = inv.pos_start
            part.positions = inv.positions[ps[a]:ps[b]]
            part.pos_start = ps[a:b + 1] - ps[a]
        yield part
        t = end


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


def write_merged_field(fw, name: str, fieldobj, inv: Inverted, payload, lengths, weighted: bool) -> None:
    """Write a merged field through the W3 field writer ``fw`` in chunks of
    terms, with the payloads ``segwriter`` gives it (None, the packed term
    frequencies, or the position payloads)."""
    wide = inv.positions is not None and len(inv.positions) and int(inv.positions.max()) >= _WIDE
    if not inv.terms:
        write_field(fw, name, fieldobj, inv, lengths, weighted)
        return
    for part in _chunks(inv, CHUNK_POSTINGS):
        if payload == "tf":
            part.values = np.asarray(part.tfs, dtype=">u4").tobytes()  # Frequency format: pack_uint(tf)
        elif payload == "positions":
            part.values = _position_values(part, bool(wide))
        write_field(fw, name, fieldobj, part, lengths, weighted)
        part.values = None


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
        inverted: dict[str, Inverted] = {}
        lengths: dict[str, np.ndarray] = {}
        fw = codec.field_writer(storage, segment)
        for name, payload, with_lengths, weighted in FIELDS:
            inv = merge_field([s.data.field_inverted(name) for s in sources], remaps)
            if with_lengths:
                lengths[name] = np.bincount(inv.docs, weights=inv.tfs, minlength=ndocs).astype(np.int64)
            write_merged_field(fw, name, fobj[name], inv, payload,
                               lengths[name] if with_lengths else None, weighted)
            if keep_inverted:
                inverted[name] = _compact(inv)
            del inv
            if report is not None:
                report(f"merged {name}")
        fw.close()
        origins = _write_per_document(codec, storage, segment, fobj, sources, lengths, ndocs)
        segment.set_doc_count(ndocs)
        if segment.should_assemble():
            segment.create_compound_file(storage)
            segment.compound = True
        parts = {kind.name: [(sidecars.read(storage, s.segment, kind), s.kept) for s in sources]
                 for kind in sidecars.kinds() if getattr(kind, "build_inverted", None) is None}
        sidecars.write_merged(storage, segment, parts, inverted)
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
