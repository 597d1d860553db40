"""Read one Whoosh segment as numpy arrays (``SegmentData``).

Whoosh's matchers walk postings one document at a time in Python; counting
every match of a common word that way (for exact totals and facets) took
hundreds of milliseconds.  Here a term's posting list is read as arrays
(document numbers, term frequencies, positions): sliced from the
segment's raw postings file (``rawpostings.py``), or, for a segment
without one (an index written before), decoded block by block from
Whoosh's postings (the format is ``codec.py``'s); either way kept in the
process's postings cache (``cache.py``); per-document columns (date, lengths, facet values) are
loaded once per segment, and its sidecar data (``docinfo``) on first use.
Segments never change once written (only their deletion sets do), so
everything is cached by segment id and survives a refresh.  The view over
all segments of a commit, with global doc numbers, is ``view.py``
(``IndexView`` and ``FacetKeys`` are importable from here too).
"""

from __future__ import annotations

import numpy as np

from ...fields import SINGLE_VALUED_FACETS as FACET_COLUMNS
from ...values import value_key
from . import docinfo, rawpostings
from .cache import POSTINGS_CACHE
from .codec import Inverted, PositionTable, decode_postings, doc_frequency, read_postings
from .schema import NO_DATE
from .view import FacetKeys, IndexView  # noqa: F401 - re-exported: callers import them from here


# Raw postings shorter than this are not cached: reading them again costs
# ~10 us a segment, and on the query mix caching every list cost more CPU
# than it saved (cold pass 5.2-5.4 s with the cache, 5.0 s without; a
# frequent word's lists, ~1 ms to read over 14 segments, 70 us cached).
RAW_CACHE_MIN = 4096
_NONE = (np.empty(0, np.int64), np.empty(0, np.float32), None)


def _nbytes(entry) -> int:
    """What a postings cache entry (ids, tfs, position table or None)
    counts in the cache's bound: its arrays plus ~200 bytes of objects."""
    ids, tfs, table = entry
    return ids.nbytes + tfs.nbytes + (table.nbytes if table is not None else 0) + 200


class SegmentData:
    """Arrays and postings of one segment (shared by all searchers)."""

    def __init__(self, reader, segment, storage=None):
        self.reader = reader
        self.segment = segment
        self.storage = storage
        self._docinfo = None
        self.segid = segment.segment_id()
        self.n = segment.doc_count_all()
        self._terms = reader._terms
        self._postfile = self._terms._postfile
        # The raw postings sidecar (rawpostings.py), or None with the reason:
        # the segment is then read through Whoosh's postings.
        self.raw, self.raw_problem = rawpostings.open_segment(storage, segment) if storage is not None \
            else (None, "no storage")
        if self.n:
            # Opening the stored-fields column reads its offset table
            # (~10 ms per segment): do it now, not in the first query.
            reader.stored_fields(0)
        self.published = self._numeric_column("published", NO_DATE)
        if docinfo.segment_uses_old_marker(storage, segment):  # written when -1 meant "no date"
            self.published = docinfo.current_marker(self.published)
        self.title_len = self._numeric_column("title_len", 0).astype(np.float32)
        self.body_len = self._numeric_column("body_len", 0).astype(np.float32)
        # Per facet: the segment's distinct values and each document's index
        # into them (-1: none); a list of strings per document cost ~20 MB.
        self.facet_values: dict[str, tuple[list[str], np.ndarray]] = {
            f: self._text_column(f) for f in FACET_COLUMNS
        }
        self.tag_pairs = self._tag_pairs()
        self._value_keys: dict[str, dict[str, str]] = {}

    def value_keys(self, field: str) -> dict[str, str]:
        """Each distinct value of ``field`` ("category", "source", "author"
        or "tag") in this segment -> its folded key (``search.values``);
        computed on first use and kept with the segment, which never
        changes, so a refresh folds only new segments' values."""
        keys = self._value_keys.get(field)
        if keys is None:
            values = self.tag_pairs[1] if field == "tag" else self.facet_values[field][0]
            keys = {v: value_key(v) for v in values}
            self._value_keys[field] = keys
        return keys

    # ---- columns -------------------------------------------------------
    def _numeric_column(self, name, default):
        if not self.reader.has_column(name):
            return np.full(self.n, default, dtype=np.int64)
        col = self.reader.column_reader(name)
        return np.fromiter((col[i] for i in range(self.n)), dtype=np.int64, count=self.n)

    def _text_column(self, name) -> tuple[list[str], np.ndarray]:
        ords = np.full(self.n, -1, dtype=np.int32)
        if not self.reader.has_column(name):
            return [], ords
        col = self.reader.column_reader(name)
        index: dict = {}
        for i in range(self.n):
            v = col[i]
            if v:
                ords[i] = index.setdefault(v, len(index))
        return [v.decode("utf-8") if isinstance(v, bytes) else v for v in index], ords

    def _raw_field(self, field: str):
        """The raw postings holding ``field``, or None (read through Whoosh)."""
        raw = self.raw
        return raw if raw is not None and raw.has(field) else None

    def _tag_pairs(self):
        """(doc, tag) pairs for tag facets.  Read past the postings cache:
        a corpus has ~10^5 tags and caching each one cost 100+ MB per process."""
        if self._raw_field("tags") is not None:
            inv = self.raw.field_inverted("tags")
            return inv.docs, inv.terms, np.diff(inv.term_start)
        docs, tags, counts = [], [], []
        if "tags" in self.reader.indexed_field_names():
            for tbytes in self.reader.lexicon("tags"):
                tag = tbytes.decode("utf-8")
                read = self._read("tags", tag)
                if read is not None and len(read[0]):
                    docs.append(read[0])
                    tags.append(tag)
                    counts.append(len(read[0]))
        if docs:
            return np.concatenate(docs), tags, np.asarray(counts, np.int64)
        return np.empty(0, np.int64), [], np.empty(0, np.int64)

    # ---- postings --------------------------------------------------------
    def term_doc_frequency(self, field: str, term: str) -> int:
        """Documents of this segment with ``term`` in ``field``, from the term
        dictionary alone (no postings read; deleted documents count)."""
        if self._raw_field(field) is not None:
            found = self.raw.lookup(field, term)
            return found.doc_frequency if found is not None else 0
        return doc_frequency(self._terms, field, term)

    def _read(self, field: str, term: str):
        """(doc numbers, tfs, payloads) of ``term`` in ``field``, or None
        (``codec.read_postings``: Whoosh's postings), read past the cache."""
        return read_postings(self._terms, self._postfile, field, term)

    def _cached(self, field, term):
        """(ids, tfs, position table or None), from the shared byte-bounded cache.

        From the raw postings when the segment has them (lists shorter than
        ``RAW_CACHE_MIN`` are read again each time, not cached), else
        decoded from Whoosh's blocks.  Payloads are kept only for the bigram fields, and
        then as flat arrays (a bytes object per posting costs ~40 bytes of
        overhead)."""
        key = (self.segid, field, term)
        hit = POSTINGS_CACHE.get(key)
        if hit is not None:
            return hit
        raw = self._raw_field(field)
        if raw is not None:
            found = raw.lookup(field, term)
            if found is None:
                return _NONE
            ids, tfs = raw.postings(field, found)
            hit = (ids, tfs, raw.position_table(field, found, tfs) if field.endswith("_g") else None)
            if len(ids) < RAW_CACHE_MIN:
                return hit  # read again in microseconds: not worth a place in the cache
        else:
            read = self._read(field, term)
            if read is None:
                hit = (np.empty(0, np.int64), np.empty(0, np.float32), None)
            else:
                ids, tfs, values = read
                table = PositionTable(values) if field.endswith("_g") else None
                hit = (ids, tfs, table)
        POSTINGS_CACHE.put(key, hit, _nbytes(hit))
        return hit

    def postings(self, field, term):
        """(doc numbers int64 ascending, tfs float32) of ``term`` in
        ``field`` over this segment's documents, deleted ones included."""
        ids, tfs, _ = self._cached(field, term)
        return ids, tfs

    def positions(self, field, term, docs: np.ndarray):
        """(doc, position) pairs of ``term`` in ``docs`` (which must all contain it)."""
        ids, _, table = self._cached(field, term)
        starts, counts, flat = table.table()
        idx = np.searchsorted(ids, docs)
        c = counts[idx]
        total = int(c.sum())
        rep_doc = np.repeat(docs, c)
        # index of each position in flat: start of its run + offset within run
        offs = np.arange(total) - np.repeat(np.cumsum(c) - c, c)
        return rep_doc, flat[np.repeat(starts[idx], c) + offs]

    def field_inverted(self, field: str) -> Inverted:
        """All posting lists of ``field`` in this segment as one
        ``codec.Inverted`` (terms ascending, deleted documents included;
        int64 arrays; for the bigram fields ``positions``/``pos_start``
        filled, ``values`` None): what a merge reads.  Sliced from the raw
        postings when the segment has them, else decoded from Whoosh's
        postings term by term (``whoosh_field_inverted``), past the
        postings cache."""
        if self._raw_field(field) is not None:
            return self.raw.field_inverted(field)
        return self.whoosh_field_inverted(field)

    def whoosh_field_inverted(self, field: str) -> Inverted:
        """``field_inverted`` decoded from Whoosh's own postings (the
        fallback, and the reference the raw postings are tested against)."""
        terms: list[str] = []
        ids_l, tfs_l, counts, values_all = [], [], [], []
        grams = field.endswith("_g")
        if field in self.reader.indexed_field_names():
            # The term dictionary walked in order: no lookup per term.
            for tbytes, info in self.reader.iter_field(field):
                ids, tfs, values = decode_postings(info, self._postfile)
                if not len(ids):
                    continue
                terms.append(tbytes.decode("utf-8"))
                ids_l.append(ids)
                tfs_l.append(tfs)
                counts.append(len(ids))
                if grams:
                    values_all.extend(values)
        term_start = np.r_[0, np.cumsum(np.asarray(counts, np.int64))].astype(np.int64)
        docs = np.concatenate(ids_l) if ids_l else np.empty(0, np.int64)
        tfs = np.concatenate(tfs_l).astype(np.int64) if tfs_l else np.empty(0, np.int64)
        if not grams:
            return Inverted(terms, term_start, docs, tfs, None)
        _, npos, flat = PositionTable(values_all).table()  # every payload decoded at once
        return Inverted(terms, term_start, docs, tfs, None, flat.astype(np.int64),
                        np.r_[0, np.cumsum(npos)].astype(np.int64))

    def stored(self, docnum):
        """The stored fields (dict) of local document ``docnum``."""
        return self.reader.stored_fields(docnum)

    def docinfo(self) -> dict | None:
        """Lead ends and sentence ends (docinfo.py), loaded on first use:
        only "lead:" and "SAME" queries need them."""
        if self._docinfo is None and self.storage is not None:
            self._docinfo = docinfo.read(self.storage, self.segment)
        return self._docinfo
