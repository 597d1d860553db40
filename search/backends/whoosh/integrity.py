"""Is a Whoosh index directory intact?  Segment files are written once and
never change, so damage shows in their size: each compound ``.seg`` file
starts with the offset and length of its directory, which ends the file
(whoosh's ``CompoundStorage`` layout: ``!q`` offset, ``!i`` length).  Each
segment's per-document data (``<segment id>.docinfo.npz``, written with
it: ``docinfo.py``) must be there too and end with a zip archive's end
record (numpy writes no archive comment, so the record is the last 22
bytes); without it sentence, paragraph and word boundaries, dates for
grouping and the near-duplicate signatures would silently be missing.

``problems(path)`` -> a list of sentences, one per damaged segment of the
latest table of contents (empty: intact); ``IndexCorrupt`` messages are
made from them with the repair command (``corrupt_error``)."""

from __future__ import annotations

import os
import struct

from whoosh import index as whoosh_index

from ..base import IndexCorrupt
from . import docinfo

_HEAD = struct.Struct("!qi")
_ZIP_END = b"PK\x05\x06"  # the end-of-central-directory record's signature
_ZIP_END_SIZE = 22


def segment_file(path: str, segment, indexname: str = "MAIN") -> str:
    """The segment's compound file (its id already names the index)."""
    return os.path.join(path, f"{segment.segment_id()}.seg")


def segment_problem(path: str, segment, expected_size: int | None = None, indexname: str = "MAIN") -> str | None:
    """Why ``segment``'s file is damaged, or None.  ``expected_size``: its
    size when it was opened (any change is damage)."""
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
    return sidecar_problem(path, segment)


def sidecar_problem(path: str, segment) -> str | None:
    """Why the segment's per-document data file is damaged, or None."""
    name = docinfo.filename(segment)
    n = segment.doc_count_all()
    try:
        with open(os.path.join(path, name), "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - _ZIP_END_SIZE))
            tail = f.read(_ZIP_END_SIZE)
    except FileNotFoundError:
        return f"document data file {name} ({n} documents) is missing"
    except OSError as exc:
        return f"document data file {name} ({n} documents) cannot be read: {exc}"
    if len(tail) < _ZIP_END_SIZE or not tail.startswith(_ZIP_END):
        return f"document data file {name} ({n} documents) is truncated ({size} bytes)"
    return None


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
    """The exception for damage ``found`` in the index at ``path``, with
    the way to repair it."""
    return IndexCorrupt(
        f"the index at {path} is damaged: {'; '.join(found)}. Searches cannot be answered until it is rebuilt "
        f"from the article store: `python -m indexer rebuild --index {path} --store STORE` (the service's "
        "SEARCH_ARTICLE_STORE)")
