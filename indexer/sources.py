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


@dataclass
class RawRecord:
    location: str  # "file:line"
    data: dict | None
    error: str | None = None


class UnsupportedFile(ValueError):
    pass


def _open_text(path: str, newline: str = ""):
    """Text of a file (gzip or not).  ``newline=""`` (CSV: the csv module
    splits rows itself); ``"\n"`` for JSON Lines, whose lines end at
    ``\n`` only (a lone ``\r``, U+2028, U+2029 or U+0085 is inside a line)."""
    if path.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", errors="replace", newline=newline)
    return open(path, encoding="utf-8-sig", errors="replace", newline=newline)


def read_jsonl(path: str) -> Iterator[RawRecord]:
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
