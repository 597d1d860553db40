"""Read a Whoosh index as numpy arrays, segment by segment.

Whoosh's matchers walk postings one document at a time in Python; counting
every match of a common word that way (for exact totals and facets) took
hundreds of milliseconds.  Here a term's posting list is decoded block by
block into arrays (document numbers, term frequencies, payloads), and
per-document columns (date, lengths, facet values) are loaded once per
segment.  Segments never change once written (only their deletion sets do),
so everything is cached by segment id and survives a refresh.
"""

from __future__ import annotations

import io
import pickle
import threading
import zlib
from collections import OrderedDict

import numpy as np
from whoosh.reading import TermNotFound

from ...values import value_key
from . import docinfo
from .schema import NO_DATE, decode_char_positions

from ...fields import SINGLE_VALUED_FACETS as FACET_COLUMNS
from ... import settings


class PositionTable:
    """CharPositions payloads of one posting list, decoded on first use
    (single-bigram words never need positions) with numpy over the joined
    bytes (a Python loop over millions of payloads took a quarter of all
    query time)."""

    __slots__ = ("_lens", "_raw", "_table")

    def __init__(self, values: list[bytes]):
        self._lens = np.fromiter(map(len, values), np.int64, len(values))
        self._raw = np.frombuffer(b"".join(values), np.uint8)
        self._table = None

    @property
    def nbytes(self) -> int:
        """Counted as decoded (flat int32 positions plus the raw bytes), so
        the cache's bound holds after decoding."""
        return self._lens.nbytes * 3 + self._raw.nbytes * 3

    def table(self):
        """(start of each posting's run, run lengths, flat positions)."""
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


def _nbytes(entry) -> int:
    ids, tfs, table = entry
    return ids.nbytes + tfs.nbytes + (table.nbytes if table is not None else 0) + 200


class ByteLRU:
    """A thread-safe LRU bounded by the bytes of its entries (shared by all
    segments of a process, so memory stays bounded however large the index)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            self._data.move_to_end(key)
            return item[0]

    def put(self, key, value, nbytes: int) -> None:
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            if nbytes > self.max_bytes:
                return
            self._data[key] = (value, nbytes)
            self.bytes += nbytes
            while self.bytes > self.max_bytes and self._data:
                _, (_, size) = self._data.popitem(last=False)
                self.bytes -= size


POSTINGS_CACHE = ByteLRU(int(settings.current().postings_cache_mb * 2**20))  # SEARCH_POSTINGS_CACHE_MB


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

    def _tag_pairs(self):
        """(doc, tag) pairs for tag facets.  Read past the postings cache:
        a corpus has ~10^5 tags and caching each one cost 100+ MB per process."""
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
        try:
            return self._terms.term_info(field, term.encode("utf-8")).doc_frequency()
        except (TermNotFound, KeyError):
            return 0

    def _read(self, field: str, term: str):
        try:
            ti = self._terms.term_info(field, term.encode("utf-8"))
        except (TermNotFound, KeyError):
            return None
        if ti.is_inlined():
            ids, weights, values = ti.inlined_postings()
            return (np.asarray(ids, np.int64), np.asarray(weights, np.float32), list(values))
        offset, length = ti.extent()
        if isinstance(length, tuple):  # W3TermInfo.from_bytes leaves it unpacked
            length = length[0]
        buf = self._postfile.get(offset, length)
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

    def _cached(self, field, term):
        """(ids, tfs, position table or None), from the shared byte-bounded cache.

        Payloads are kept only for the bigram fields, and then as flat
        arrays (a bytes object per posting costs ~40 bytes of overhead)."""
        key = (self.segid, field, term)
        hit = POSTINGS_CACHE.get(key)
        if hit is not None:
            return hit
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

    def stored(self, docnum):
        return self.reader.stored_fields(docnum)

    def docinfo(self) -> dict | None:
        """Lead ends and sentence ends (docinfo.py), loaded on first use:
        only "lead:" and "SAME" queries need them."""
        if self._docinfo is None and self.storage is not None:
            self._docinfo = docinfo.read(self.storage, self.segment)
        return self._docinfo



class FacetKeys:
    """The folded keys of one facet field over a view: ``keys[k]`` is a
    key, ``key_of[o]`` the key number of the original value ``o`` (an
    index into ``IndexView.facet_vocab[field]``), ``forms[k]`` the original
    value numbers that fold to key ``k``, ``rank[k]`` the key's place in
    sorted key order (ties in facet counts go to the smaller key)."""

    __slots__ = ("keys", "key_of", "forms", "number", "rank")

    def __init__(self, vocab: list[str], key_by_value: dict[str, str]):
        number: dict[str, int] = {}
        key_of = np.fromiter((number.setdefault(key_by_value[v], len(number)) for v in vocab), np.int64, len(vocab))
        self.keys = list(number)
        self.number = number
        self.key_of = key_of
        forms: list[list[int]] = [[] for _ in self.keys]
        for o, k in enumerate(key_of.tolist()):
            forms[k].append(o)
        self.forms = forms
        rank = np.empty(len(self.keys), np.int64)
        rank[sorted(range(len(self.keys)), key=self.keys.__getitem__)] = np.arange(len(self.keys))
        self.rank = rank

    def ords_of(self, key_numbers) -> np.ndarray:
        """The original value numbers of the given key numbers."""
        return np.asarray([o for k in key_numbers for o in self.forms[k]], np.int64)


class IndexView:
    """A consistent snapshot over a list of segments, with global doc numbers."""

    def __init__(self, segments: list[SegmentData], deleted: list[frozenset], generation: int):
        self.segments = segments
        self.generation = generation
        sizes = [s.n for s in segments]
        self.bases = np.r_[0, np.cumsum(sizes)].astype(np.int64) if sizes else np.zeros(1, np.int64)
        self.n_all = int(self.bases[-1])
        live = np.ones(self.n_all, dtype=bool)
        for base, dels in zip(self.bases.tolist(), deleted):
            if dels:
                live[base + np.fromiter(dels, np.int64, len(dels))] = False
        self.live = live
        self.n_live = int(live.sum())
        cat = lambda arrs, dt: np.concatenate(arrs) if arrs else np.empty(0, dt)  # noqa: E731
        self.published = cat([s.published for s in segments], np.int64)
        self.lengths = {
            "title": cat([s.title_len for s in segments], np.float32),
            "body": cat([s.body_len for s in segments], np.float32),
        }
        self.avglen = {
            f: float(arr[live].mean()) if self.n_live else 1.0 for f, arr in self.lengths.items()
        }
        self.facet_vocab: dict[str, list[str]] = {}
        self.facet_ords: dict[str, np.ndarray] = {}
        for f in FACET_COLUMNS:
            vocab: dict[str, int] = {}
            ords = np.full(self.n_all, -1, dtype=np.int64)
            for base, seg in zip(self.bases.tolist(), segments):
                values, seg_ords = seg.facet_values[f]
                to_global = np.array([vocab.setdefault(v, len(vocab)) for v in values] + [-1], np.int64)
                ords[base : base + seg.n] = to_global[seg_ords]  # -1 picks the appended -1
            self.facet_vocab[f] = list(vocab)
            self.facet_ords[f] = ords
        tag_vocab: dict[str, int] = {}
        tdocs, tords = [], []
        for base, seg in zip(self.bases.tolist(), segments):
            docs, tags, counts = seg.tag_pairs
            tdocs.append(docs + base)
            ords = np.fromiter((tag_vocab.setdefault(t, len(tag_vocab)) for t in tags), np.int64, len(tags))
            tords.append(np.repeat(ords, counts))
        self.facet_vocab["tag"] = list(tag_vocab)
        self._facet_keys: dict[str, FacetKeys] = {}
        self._tag_duplicates = None
        self.tag_docs = cat(tdocs, np.int64)
        self.tag_ords = cat(tords, np.int64)
        # Near-duplicate groups: each document's representative (itself
        # when it has none); see groups.py.
        self.group_rep = np.arange(self.n_all, dtype=np.int64)
        self.grouped = False

    def set_groups(self, data: dict | None) -> None:
        """Map a groups file's (segment id, docnum) pairs to global doc
        numbers; pairs whose segment is gone or whose documents were deleted
        since are ignored."""
        if data is None:
            return
        self.grouped = True
        if not len(data["member"]):
            return
        base_of = {s.segment.segment_id(): int(b) for s, b in zip(self.segments, self.bases[:-1].tolist())}
        seg_base = np.array([base_of.get(str(sid), -1) for sid in data["segments"]], np.int64)
        member, rep = data["member"].astype(np.int64), data["rep"].astype(np.int64)
        ok = (seg_base[member[:, 0]] >= 0) & (seg_base[rep[:, 0]] >= 0)
        m = seg_base[member[ok, 0]] + member[ok, 1]
        r = seg_base[rep[ok, 0]] + rep[ok, 1]
        alive = self.live[m] & self.live[r]
        self.group_rep[m[alive]] = r[alive]

    def facet_keys(self, field: str) -> FacetKeys:
        """The folded keys of ``field``'s values (``search.values``: what
        filters, the value operators and facets compare), built on first
        use per view from the segments' cached keys."""
        cached = self._facet_keys.get(field)
        if cached is None:
            key_by_value: dict[str, str] = {}
            for seg in self.segments:
                key_by_value.update(seg.value_keys(field))
            cached = FacetKeys(self.facet_vocab.get(field, []), key_by_value)
            self._facet_keys[field] = cached
        return cached

    def tag_key_duplicates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Documents with several tags of one folded key (香港電台 and
        香港电台): (doc, key number, tags beyond the first), so that a tag
        facet can count each such document once without sorting every
        (document, key) pair of a result.  Built once per view."""
        if self._tag_duplicates is None:
            fk = self.facet_keys("tag")
            n_keys = max(len(fk.keys), 1)
            pairs, counts = np.unique(self.tag_docs * n_keys + fk.key_of[self.tag_ords], return_counts=True)
            dup = counts > 1
            self._tag_duplicates = (pairs[dup] // n_keys, pairs[dup] % n_keys, counts[dup] - 1)
        return self._tag_duplicates

    def locate(self, gdoc: int) -> tuple[SegmentData, int]:
        i = int(np.searchsorted(self.bases, gdoc, side="right")) - 1
        return self.segments[i], gdoc - int(self.bases[i])

    def stored(self, gdoc: int) -> dict:
        seg, local = self.locate(gdoc)
        return seg.stored(local)

    def postings(self, field, term):
        """Global (ids, tfs) over live and deleted docs of all segments."""
        ids_parts, tf_parts = [], []
        for base, seg in zip(self.bases.tolist(), self.segments):
            ids, tfs = seg.postings(field, term)
            if len(ids):
                ids_parts.append(ids + base)
                tf_parts.append(tfs)
        if not ids_parts:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        if len(ids_parts) == 1:
            return ids_parts[0], tf_parts[0]
        return np.concatenate(ids_parts), np.concatenate(tf_parts)

    def positions(self, field, term, gdocs: np.ndarray):
        """(global doc, position) pairs of ``term`` in ``gdocs`` (sorted)."""
        seg_idx = np.searchsorted(self.bases, gdocs, side="right") - 1
        docs_parts, pos_parts = [], []
        for si in np.unique(seg_idx).tolist():
            base = int(self.bases[si])
            d, p = self.segments[si].positions(field, term, gdocs[seg_idx == si] - base)
            docs_parts.append(d + base)
            pos_parts.append(p)
        if not docs_parts:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(docs_parts), np.concatenate(pos_parts)

    def lead_end(self, gdocs: np.ndarray) -> np.ndarray:
        """Where each document's first paragraph ends (-1: not recorded)."""
        out = np.full(len(gdocs), -1, np.int64)
        seg_idx = np.searchsorted(self.bases, gdocs, side="right") - 1
        for si in np.unique(seg_idx).tolist():
            info = self.segments[si].docinfo()
            if info is not None:
                sel = seg_idx == si
                out[sel] = info["lead_end"][gdocs[sel] - self.bases[si]]
        return out

    def sentence_ends(self, gdocs: np.ndarray):
        """(doc, end position) of every sentence of ``gdocs`` (sorted), or
        None when a segment did not record them."""
        return self._ends("sentence", gdocs)

    def paragraph_ends(self, gdocs: np.ndarray):
        """(doc, end position) of every paragraph of ``gdocs`` (sorted), or
        None when a segment did not record them."""
        return self._ends("paragraph", gdocs)

    def _ends(self, kind: str, gdocs: np.ndarray):
        seg_idx = np.searchsorted(self.bases, gdocs, side="right") - 1
        docs_parts, end_parts = [], []
        for si in np.unique(seg_idx).tolist():
            info = self.segments[si].docinfo()
            if info is None or info.get(f"{kind}_offsets") is None:
                return None
            local = gdocs[seg_idx == si] - self.bases[si]
            offsets, ends = info[f"{kind}_offsets"], info[f"{kind}_ends"]
            counts = offsets[local + 1] - offsets[local]
            idx = np.repeat(offsets[local], counts) + (np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts))
            docs_parts.append(np.repeat(local + self.bases[si], counts))
            end_parts.append(ends[idx].astype(np.int64))
        if not docs_parts:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(docs_parts), np.concatenate(end_parts)

    def _bits(self, field: str, kind: str, gdoc: int) -> np.ndarray | None:
        """One document's word-start (``kind="word"``) or token-boundary
        (``"bound"``) bitmap as booleans over character positions, or None
        when its segment did not record boundaries."""
        seg, local = self.locate(gdoc)
        info = seg.docinfo()
        if info is None or f"{field}_bit_offsets" not in info:
            return None
        off = info[f"{field}_bit_offsets"]
        return np.unpackbits(info[f"{field}_{kind}_bits"][off[local]:off[local + 1]]).view(bool)

    def word_ordinals(self, field: str, docs: np.ndarray, positions: np.ndarray) -> np.ndarray | None:
        """For each (doc, character position) pair (``docs`` sorted), the
        ordinal of the word containing that character in ``field``
        ("title" or "body"): 0 for the first word.  None when a segment did
        not record word boundaries (an index written before them)."""
        out = np.empty(len(docs), np.int64)
        if not len(docs):
            return out
        cuts = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1], True])
        for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
            bits = self._bits(field, "word", int(docs[a]))
            if bits is None:
                return None
            ordinal = np.cumsum(bits) - 1
            out[a:b] = ordinal[np.minimum(positions[a:b], len(ordinal) - 1)]
        return out

    def whole_words(self, field: str, docs: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
        """For each occurrence [start, end) in a doc (``docs`` sorted): is it
        a whole word, starting where a word starts and ending where a token
        starts (or the text ends)?  None without recorded boundaries."""
        out = np.zeros(len(docs), bool)
        if not len(docs):
            return out
        cuts = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1], True])
        for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
            words = self._bits(field, "word", int(docs[a]))
            bounds = self._bits(field, "bound", int(docs[a]))
            if words is None or bounds is None:
                return None
            s, e = starts[a:b], ends[a:b]
            ok = (s < len(words)) & (e < len(bounds))
            out[a:b][ok] = words[s[ok]] & bounds[e[ok]]
        return out

    def id_to_doc(self, doc_id: str) -> int | None:
        ids, _ = self.postings("id", doc_id)
        for g in ids.tolist():
            if self.live[g]:
                return g
        return None
