"""A consistent snapshot over a commit's segments (``IndexView``).

Global document numbers run over the segments in table-of-contents order
(segment ``i``'s documents start at ``bases[i]``); the view concatenates the
segments' columns (dates, lengths, facet values, tags), marks deleted
documents, maps near-duplicate groups, and answers postings, positions and
the sidecar data (lead, sentence, paragraph and word boundaries) in global
numbers.  The per-segment arrays are ``reader.SegmentData``'s.
"""

from __future__ import annotations

import numpy as np

from ...fields import SINGLE_VALUED_FACETS as FACET_COLUMNS


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
    """A consistent snapshot over a list of segments, with global doc numbers.

    ``segments``: ``reader.SegmentData`` in table-of-contents order;
    ``deleted``: each segment's deleted local doc numbers; ``generation``:
    the commit's generation.  Attributes: ``bases`` (int64, len segments +
    1), ``n_all``/``n_live`` (documents with/without the deleted), ``live``
    (bool per global doc), ``published`` (int64 seconds, ``NO_DATE`` for
    none), ``lengths``/``avglen`` (word counts of "title" and "body"),
    ``facet_vocab``/``facet_ords`` (each facet's values and each
    document's index into them, -1: none), ``tag_docs``/``tag_ords`` (one
    entry per (doc, tag)), ``group_rep`` (each document's near-duplicate
    representative, itself when none)."""

    def __init__(self, segments: list, deleted: list[frozenset], generation: int):
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

    def locate(self, gdoc: int) -> tuple:
        """(``SegmentData``, local doc number) of global doc ``gdoc``."""
        i = int(np.searchsorted(self.bases, gdoc, side="right")) - 1
        return self.segments[i], gdoc - int(self.bases[i])

    def stored(self, gdoc: int) -> dict:
        """The stored fields of global doc ``gdoc``."""
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
        """The live global doc number of article ``doc_id``, or None."""
        ids, _ = self.postings("id", doc_id)
        for g in ids.tolist():
            if self.live[g]:
                return g
        return None
