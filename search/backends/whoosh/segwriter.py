"""Write a complete Whoosh segment from prepared documents, in bulk.

Whoosh's stock ``add_document`` path spends most of its time in per-posting
Python work (a pooled external sort, then several method calls per posting):
on our news it indexed 60 k characters/s, 9-18 us per posting at commit.
Here a worker process inverts a whole batch with numpy (sorting integer term
codes) into sorted posting lists (``codec.Inverted``), which ``codec.py``
writes in the W3 codec's on-disk format (the same pickled blocks, term-info
records and hash tables that ``whoosh.codec.whoosh3`` writes).  The cost is
a few microseconds per term instead of per posting, and the result is an
ordinary Whoosh segment: stock Whoosh readers, matchers and queries work on
it (tests check this).  This module assembles the segment: inversion, stored
fields, field lengths and columns, postings through the codec, then the
segment's sidecar files (``sidecars.py``).
"""

from __future__ import annotations

import numpy as np
from whoosh.codec.whoosh3 import W3Codec

from ...analysis import char_codes, gram_codes, gram_term
from ...documents import PreparedDoc
from ...fields import SINGLE_VALUED_FACETS as FACET_FIELDS
from . import sidecars
from .codec import Inverted, encode_char_positions_batch, write_field
from .schema import NO_DATE

WORD_FIELDS = (("title_w", "title_words"), ("body_w", "body_words"))
GRAM_FIELDS = (("title_g", "title_norm"), ("body_g", "body_norm"))
CHAR_FIELDS = (("title_c", "title_norm"), ("body_c", "body_norm"))


def _invert_strings(per_doc_terms: list[list[str]], with_tf: bool) -> Inverted:
    all_terms: list[str] = []
    counts = np.fromiter((len(t) for t in per_doc_terms), dtype=np.int64, count=len(per_doc_terms))
    for terms in per_doc_terms:
        all_terms.extend(terms)
    if not all_terms:
        return Inverted([], np.zeros(1, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), None)
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
    return Inverted(terms, term_start, pdocs, tfs, values)


def _invert_chars(texts: list[str]) -> Inverted:
    """Every letter, digit and ideograph as a term, with its frequency."""
    code_parts, doc_parts = [], []
    for i, text in enumerate(texts):
        codes = char_codes(text)
        if len(codes):
            code_parts.append(codes)
            doc_parts.append(np.full(len(codes), i, dtype=np.int64))
    if not code_parts:
        return Inverted([], np.zeros(1, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), None)
    ndocs = max(len(texts), 1)
    key = np.concatenate(code_parts) * ndocs + np.concatenate(doc_parts)
    ukey, tfs = np.unique(key, return_counts=True)
    pcodes, pdocs = ukey // ndocs, ukey % ndocs
    tstarts = np.flatnonzero(np.r_[True, pcodes[1:] != pcodes[:-1]])
    terms = [chr(c) for c in pcodes[tstarts].tolist()]
    return Inverted(terms, np.r_[tstarts, len(pcodes)], pdocs, tfs,
                     np.asarray(tfs, dtype=">u4").tobytes())


def _invert_grams(texts: list[str]) -> Inverted:
    code_parts, pos_parts, doc_parts = [], [], []
    for i, text in enumerate(texts):
        codes, positions = gram_codes(text)
        if len(codes):
            code_parts.append(codes)
            pos_parts.append(positions)
            doc_parts.append(np.full(len(codes), i, dtype=np.int64))
    if not code_parts:
        return Inverted([], np.zeros(1, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), [],
                        np.empty(0, np.int64), np.zeros(1, np.int64))
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
    values = encode_char_positions_batch(positions, pstart, tfs)
    return Inverted(terms, term_start, pdocs, tfs, values, positions.astype(np.int64), np.r_[pstart, n])


def write_segment(storage, indexname: str, schema, docs: list[PreparedDoc]):
    """Write ``docs`` (PreparedDocs, in docnum order) as one new segment of
    the index ``indexname`` in ``storage`` with ``schema``: its compound
    ``.seg`` file and every registered sidecar file (``sidecars.py``);
    return the Segment.  The segment is not part of the index until a TOC
    naming it is committed.  Raises what the storage raises (OSError)."""
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
    # Every indexed field's postings, also what the sidecar kinds built from
    # postings (raw postings) are written from.
    inverted = {"id": _invert_strings([[d.id] for d in docs], False)}
    for name in FACET_FIELDS:
        inverted[name] = _invert_strings([[d.facets[name]] if d.facets.get(name) else [] for d in docs], False)
    inverted["tags"] = _invert_strings([d.facets.get("tags") or [] for d in docs], True)
    inverted.update(words)
    inverted.update(grams)
    inverted.update(chars)
    fw = codec.field_writer(storage, segment)
    write_field(fw, "id", fobj["id"], inverted["id"], None, False)
    for name in FACET_FIELDS:
        write_field(fw, name, fobj[name], inverted[name], None, False)
    write_field(fw, "tags", fobj["tags"], inverted["tags"], None, True)
    for name, inv in words.items():
        write_field(fw, name, fobj[name], inv, lengths[name], True)
    for name, inv in grams.items():
        write_field(fw, name, fobj[name], inv, lengths[name], True)
    for name, inv in chars.items():
        write_field(fw, name, fobj[name], inv, lengths[name], True)
    fw.close()
    segment.set_doc_count(ndocs)
    if segment.should_assemble():
        segment.create_compound_file(storage)
        segment.compound = True
    # After assembling: the compound file takes every file of the segment.
    sidecars.write_all(storage, segment, docs, inverted)
    return segment
