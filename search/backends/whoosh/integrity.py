"""Is a Whoosh index directory intact?  Segment files are written once and
never change, so damage shows in their size: each compound ``.seg`` file
starts with the offset and length of its directory, which ends the file
(whoosh's ``CompoundStorage`` layout: ``!q`` offset, ``!i`` length).  Each
segment's required sidecar files (``sidecars.py``; the per-document data
``<segment id>.docinfo.npz`` of ``docinfo.py`` is one) must be there too,
whole and of a version this release reads; without docinfo, sentence,
paragraph and word boundaries, dates for grouping and the near-duplicate
signatures would silently be missing.

``problems(path)`` -> a list of sentences, one per damaged segment of the
latest table of contents (empty: intact); ``IndexCorrupt`` messages are
made from them with the repair command (``corrupt_error``)."""

from __future__ import annotations

import os
import struct

from whoosh import index as whoosh_index

from ..base import IndexCorrupt
from . import sidecars

_HEAD = struct.Struct("!qi")


def segment_file(path: str, segment, indexname: str = "MAIN") -> str:
    """The segment's compound file (its id already names the index)."""
    return os.path.join(path, f"{segment.segment_id()}.seg")


def segment_problem(path: str, segment, expected_size: int | None = None, indexname: str = "MAIN") -> str | None:
    """Why ``segment``'s files are damaged, or None.  ``expected_size``: its
    ``.seg`` file's size when it was opened (any change is damage); None: the
    segment is being opened, and its sidecar files' versions are checked too
    (files never change once written: later checks look for damage only)."""
    return (segment_file_problem(path, segment, expected_size, indexname)
            or sidecar_problem(path, segment, check_version=expected_size is None))


def segment_file_problem(path: str, segment, expected_size: int | None = None,
                         indexname: str = "MAIN") -> str | None:
    """Why ``segment``'s ``.seg`` file (its postings and stored fields) is
    damaged, or None; its sidecar files are not looked at (a rebuild from
    the index reads the stored fields and writes new sidecars)."""
    fp = segment_file(path, segment, indexname)
    n = segment.doc_count_all()
    name = os.path.basename(fp)
    try:
        size = os.path.getsize(fp)
        with open(fp, "rb") as f:
            head = f.read(_HEAD.size)
    except FileNotFoundError:
        return f"segment file {name} ({n} documents) is missing"
    except OSError as exc:
        return f"segment file {name} ({n} documents) cannot be read: {exc}"
    if not getattr(segment, "compound", True):
        return None
    if len(head) < _HEAD.size:
        return f"segment file {name} ({n} documents) is truncated to {size} bytes"
    offset, length = _HEAD.unpack(head)
    if offset < _HEAD.size or length < 0 or size < offset + length:
        return f"segment file {name} ({n} documents) is truncated: {size} bytes of at least {offset + length}"
    if expected_size is not None and size != expected_size:
        return f"segment file {name} ({n} documents) changed size since it was written: {expected_size} -> {size} bytes"
    return None


def sidecar_problem(path: str, segment, check_version: bool = True) -> str | None:
    """Why one of the segment's required sidecar files is unusable, or None
    (``sidecars.problems``; ``check_version``: read the files' versions too)."""
    return sidecars.problems(path, segment, check_version)


def problems(path: str, indexname: str = "MAIN") -> list[str]:
    """Every damaged segment of the index at ``path`` (its latest table of
    contents); a table of contents that cannot be read is one problem."""
    try:
        ix = whoosh_index.open_dir(path, indexname=indexname)
        segments = ix._read_toc().segments
    except Exception as exc:  # noqa: BLE001 - whatever a damaged TOC raises
        return [f"the table of contents cannot be read ({type(exc).__name__}: {exc})"]
    return [p for p in (segment_problem(path, s, indexname=indexname) for s in segments) if p]


def corrupt_error(path: str, found: list[str]) -> IndexCorrupt:
    """The exception for damage ``found`` (sentences, one per damaged
    file) in the index at ``path``, with the way to repair it; the
    sentences are also its ``problems`` attribute."""
    exc = IndexCorrupt(
        f"the index at {path} is damaged: {'; '.join(found)}. Searches cannot be answered until it is rebuilt: "
        f"`python -m indexer rebuild --index {path}` (from the article store feeding the index, or "
        "`--store STORE`; damaged sidecar files alone are rebuilt from the index itself)")
    exc.problems = list(found)  # each damaged file, in a sentence
    return exc
