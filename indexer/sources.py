"""Read raw records from files, with their location for error messages.

Supported: ``.jsonl`` / ``.jsonl.gz`` (one JSON object per line, the shared
corpus format), ``.csv`` / ``.csv.gz`` (a header row with the same column
names; ``tags`` separated by ``|``: a comma belongs to the tag), and saved article pages:
``.html`` / ``.htm`` files or directories of them (``html_pages.py``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

from .records import MAX_DEPTH
from search.errors import SearchServiceError


@dataclass
class RawRecord:
    """One record as read from a file, before validation: ``location`` (``file:line``, or the file
    for an HTML page), ``data`` (the fields as a dict, None when the record could not be read)
    and ``error`` (why not, or None)."""
    location: str  # "file:line"
    data: dict | None
    error: str | None = None


class UnsupportedFile(ValueError, SearchServiceError, status=400):
    """A file type the indexer does not read (the message lists those it does)."""
    pass


def _open_text(path: str, newline: str = ""):
    """Text of a file (gzip or not).  ``newline=""`` (CSV: the csv module
    splits rows itself); ``"\n"`` for JSON Lines, whose lines end at
    ``\n`` only (a lone ``\r``, U+2028, U+2029 or U+0085 is inside a line)."""
    if path.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", errors="replace", newline=newline)
    return open(path, encoding="utf-8-sig", errors="replace", newline=newline)


def read_jsonl(path: str) -> Iterator[RawRecord]:
    """The records of a JSON Lines file (gzip when it ends in ``.gz``), one per non-blank line, in
    file order; a line that is not JSON or not an object comes as a ``RawRecord`` with ``error``
    set.  Raises OSError when the file cannot be opened."""
    with _open_text(path, newline="\n") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            loc = f"{path}:{lineno}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                yield RawRecord(loc, None, f"invalid JSON: {exc.msg} at column {exc.colno}")
                continue
            except RecursionError:
                yield RawRecord(loc, None, f"invalid JSON: nested more than {MAX_DEPTH} levels deep")
                continue
            if not isinstance(data, dict):
                yield RawRecord(loc, None, "expected a JSON object")
                continue
            yield RawRecord(loc, data)


def read_csv(path: str) -> Iterator[RawRecord]:
    """The records of a CSV file (gzip when it ends in ``.gz``) with a header row: empty cells are
    None, ``tags`` is split at ``|``; a row with more cells than the header, or unreadable CSV,
    comes with ``error`` set.  Raises OSError when the file cannot be opened."""
    with _open_text(path) as f:
        reader = csv.DictReader(f)
        try:
            for row in reader:
                loc = f"{path}:{reader.line_num}"
                if None in row:
                    yield RawRecord(loc, None, "more fields than the header has")
                    continue
                data = {k.strip(): (v if v != "" else None) for k, v in row.items() if k}
                tags = data.get("tags")
                if isinstance(tags, str):  # "|" separates tags; a comma is part of a tag (香港,选举)
                    data["tags"] = [t.strip() for t in tags.split("|") if t.strip()]
                yield RawRecord(loc, data)
        except csv.Error as exc:
            yield RawRecord(f"{path}:{reader.line_num}", None, f"invalid CSV: {exc}")


def read_file(path: str) -> Iterator[RawRecord]:
    """The records of ``path`` by its type: JSON Lines, CSV, an HTML page or a directory of them
    (see the module docstring).  Raises ``UnsupportedFile`` for any other name."""
    lower = path.lower()
    if lower.endswith((".html", ".htm")) or os.path.isdir(path):
        from .html_pages import read_html

        return read_html(path)
    if lower.endswith((".jsonl", ".jsonl.gz", ".json.gz", ".ndjson")):
        return read_jsonl(path)
    if lower.endswith((".csv", ".csv.gz")):
        return read_csv(path)
    raise UnsupportedFile(f"{path}: unsupported file type (use .jsonl, .jsonl.gz, .csv, .csv.gz, .html "
                          "or a directory of .html pages)")
