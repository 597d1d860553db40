"""Per-document data Whoosh has no good place for, in one file per segment.

``<segment id>.docinfo.npz`` is written with its segment (segments never
change) and holds numpy arrays:

* ``no_date`` (one int64): the "no publication date" marker the segment
  uses (``ranking.NO_DATE``); a file without it is older and used -1
  (``OLD_NO_DATE``), which ``read`` maps to ``NO_DATE`` (``old_marker``);
* ``published`` (int64), ``minhash`` (n x ``dedupe.NUM_PERM`` uint32) and
  ``installment`` (int64): what near-duplicate grouping needs (``groups.py``);
* ``lead_end`` (int32): where the first paragraph ends, and
  ``sentence_offsets`` / ``sentence_ends`` and ``paragraph_offsets`` /
  ``paragraph_ends``: every sentence and paragraph end, as character
  positions of the body's bigram postings.  With them "in the lead", "in
  the same sentence" (``w/s``) and "in the same paragraph" (``w/p``) are
  decided from postings, without reading text;
* word boundaries of the title and the body (``analysis.Words``) as packed
  bitmaps over character positions, one bit per character plus one:
  ``<field>_word_bits`` (a word starts here) and ``<field>_bound_bits`` (any
  token starts here, or the text ends), each document's bytes from
  ``<field>_bit_offsets``.  About 2 bits per character (~25 MB for the full
  corpora); proximity (``w/N``: how many words apart) and whole-word
  matches are decided from them.

It is the first kind of sidecar file (``sidecars.py``: written with its
segment, removed with it, checked on open), and a required one: a segment
whose file is missing, truncated or of a version outside 1..``VERSION``
makes the index damaged (``IndexCorrupt``, repaired by ``python -m indexer
rebuild``).  Read without that check (the writer's regrouping), a segment
without the file (written by stock Whoosh) reads as "no signature, no
boundaries" (``_missing``).  Files written before sidecar versions were
recorded are version 1, as are today's: the one older layout (no
``no_date``) is told apart by that array and read in place (``_adapt``).
"""

from __future__ import annotations

import os

import numpy as np

from ... import dedupe
from ...ranking import NO_DATE, OLD_NO_DATE
from . import sidecars

SUFFIX = ".docinfo.npz"
VERSION = 1


def filename(segment) -> str:
    """``<segment id>.docinfo.npz``."""
    return KIND.filename(segment)


def _bits(positions, length: int) -> bytes:
    """Packed bitmap of ``length + 1`` bits with ``positions`` set."""
    bits = np.zeros(length + 1, bool)
    bits[np.asarray(positions, np.int64)] = True
    return np.packbits(bits).tobytes()


def _bitmaps(docs, field: str) -> dict:
    words, bounds = [], []
    for d in docs:
        starts = getattr(d, f"{field}_starts")
        tokens = getattr(d, f"{field}_bounds")
        length = len(d.title_norm if field == "title" else d.body_norm)
        if starts is None:
            starts, tokens = [], []
        words.append(_bits(starts, length))
        bounds.append(_bits(list(tokens) + [length], length))
    offsets = np.r_[0, np.cumsum([len(b) for b in words])].astype(np.int64)
    return {
        f"{field}_bit_offsets": offsets,
        f"{field}_word_bits": np.frombuffer(b"".join(words), np.uint8),
        f"{field}_bound_bits": np.frombuffer(b"".join(bounds), np.uint8),
    }


def _build(docs) -> dict:
    """The arrays of the file for ``docs``, the segment's PreparedDocs in
    docnum order (see the module's docstring)."""
    n = len(docs)
    no_sig = np.full(dedupe.NUM_PERM, dedupe.NO_SIGNATURE, np.uint32)
    ends = [d.sentence_ends if d.sentence_ends is not None else np.zeros(1, np.int32) for d in docs]
    paras = [d.paragraph_ends if d.paragraph_ends is not None else np.zeros(1, np.int32) for d in docs]
    return {
        "no_date": np.array([NO_DATE], np.int64),
        "published": np.fromiter((NO_DATE if d.published_ts is None else d.published_ts for d in docs),
                                 np.int64, n),
        "minhash": np.stack([d.minhash if d.minhash is not None else no_sig for d in docs])
        if n else np.empty((0, dedupe.NUM_PERM), np.uint32),
        "lead_end": np.fromiter((d.lead_end for d in docs), np.int32, n),
        "installment": np.fromiter((d.installment for d in docs), np.int64, n),
        "sentence_offsets": np.r_[0, np.cumsum([len(e) for e in ends])].astype(np.int64),
        "sentence_ends": np.concatenate(ends).astype(np.int32) if n else np.empty(0, np.int32),
        "paragraph_offsets": np.r_[0, np.cumsum([len(e) for e in paras])].astype(np.int64),
        "paragraph_ends": np.concatenate(paras).astype(np.int32) if n else np.empty(0, np.int32),
        **_bitmaps(docs, "title"),
        **_bitmaps(docs, "body"),
    }


def _missing(n: int) -> dict:
    """What a segment of ``n`` documents without the file reads as."""
    return {
        "published": np.full(n, NO_DATE, np.int64),
        "minhash": np.full((n, dedupe.NUM_PERM), dedupe.NO_SIGNATURE, np.uint32),
        "lead_end": np.full(n, -1, np.int32),
        "installment": np.zeros(n, np.int64),
        "sentence_offsets": None,
        "sentence_ends": None,
    }


def _ragged(offsets: np.ndarray, values: np.ndarray, kept: np.ndarray):
    """(offsets, values) of a per-document list (document i's entries at
    ``values[offsets[i]:offsets[i + 1]]``) for the documents ``kept`` only."""
    lens = offsets[kept + 1] - offsets[kept]
    total = int(lens.sum())
    within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens)
    return lens, values[np.repeat(offsets[kept], lens) + within]


_PER_DOC = (("published", np.int64), ("minhash", np.uint32), ("lead_end", np.int32), ("installment", np.int64))
# (offsets, the lists sharing them) of each per-document list
_LISTS = (("sentence_offsets", ("sentence_ends",)), ("paragraph_offsets", ("paragraph_ends",)),
          ("title_bit_offsets", ("title_word_bits", "title_bound_bits")),
          ("body_bit_offsets", ("body_word_bits", "body_bound_bits")))


def _merge(parts) -> dict:
    """The arrays of a segment merged from others (``segmerge.py``):
    ``parts``, per source segment in merge order, (its arrays, the sorted
    local doc numbers kept); the kept documents' rows in that order, the
    list offsets rebased, as ``_build`` writes them for the same articles.
    Raises ValueError for a part without the full arrays (a segment
    written without the file: rebuild the index)."""
    for info, _ in parts:
        if "sentence_offsets" not in info or "body_bit_offsets" not in info:
            raise ValueError("a segment without its document data file cannot be merged; "
                             "rebuild the index (`python -m indexer rebuild`)")
    out = {"no_date": np.array([NO_DATE], np.int64)}
    for name, dtype in _PER_DOC:
        out[name] = np.concatenate([np.asarray(info[name])[kept] for info, kept in parts]).astype(dtype)
    if not len(out["minhash"]):
        out["minhash"] = out["minhash"].reshape(0, dedupe.NUM_PERM)
    for offsets_name, names in _LISTS:
        lens = []
        for name in names:
            pieces = []
            for info, kept in parts:
                part_lens, values = _ragged(np.asarray(info[offsets_name], np.int64), np.asarray(info[name]), kept)
                pieces.append(values)
                if name == names[0]:
                    lens.append(part_lens)
            out[name] = np.concatenate(pieces)
        out[offsets_name] = np.r_[0, np.cumsum(np.concatenate(lens))].astype(np.int64)
    return out


def _adapt(name: str, value: np.ndarray, names: frozenset) -> np.ndarray:
    """A file without ``no_date`` marked a missing date with -1."""
    if name == "published" and "no_date" not in names:
        return current_marker(value)
    return value


KIND = sidecars.register(sidecars.SidecarKind(
    name="docinfo", suffix=SUFFIX, label="document data file", version=VERSION,
    build=_build, required=True, fallback=_missing, adapt=_adapt, merge=_merge))


def write(storage, segment, docs) -> None:
    """Write the file for ``segment``; ``docs``: its PreparedDocs, in docnum
    order.  (``segwriter`` writes every kind at once: ``sidecars.write_all``.)"""
    sidecars.write(storage, segment, KIND, docs)


def read(storage, segment):
    """The segment's arrays: a mapping of name -> numpy array, loaded
    lazily from an index directory; ``_missing`` when there is no file."""
    return sidecars.read(storage, segment, KIND)


def segment_uses_old_marker(storage, segment) -> bool:
    """``old_marker`` for a segment, reading only the file's list of arrays
    (the file is closed again: nothing else is loaded)."""
    name = filename(segment)
    if storage is None or not storage.file_exists(name):
        return True
    folder = getattr(storage, "folder", None)
    if folder is not None:
        with np.load(os.path.join(folder, name), allow_pickle=False) as data:
            return "no_date" not in data.files
    return old_marker(read(storage, segment))


def old_marker(info) -> bool:
    """Does a segment with these docinfo arrays (None: no file) mark a
    missing date with the old -1 (written before ``no_date`` existed)?"""
    return info is None or "no_date" not in info


def current_marker(published: np.ndarray) -> np.ndarray:
    """A date column of an old segment with its -1 read as ``NO_DATE``."""
    return np.where(published == OLD_NO_DATE, NO_DATE, published).astype(np.int64)
