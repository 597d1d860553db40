"""Export of a result set for newsroom staff: CSV (UTF-8 with a BOM, so
that Excel reads the Chinese correctly) or JSON Lines, with id, title,
publication time, source, author, url and a plain-text snippet.

``published`` is in newsroom time (``2024-03-01T23:30:00Z`` is exported
as ``2024-03-02T07:30:00+08:00``; a date alone stays that date), so its
first ten characters are the day the pages show and the date filters and
timeline count the article under (``search.timeutil.local_iso``).  A CSV
cell that would start a spreadsheet formula (``=``, ``+``, ``-``, ``@``,
TAB, CR) begins with ``'`` (``search.csvsafe``)."""

from __future__ import annotations

import html
import io
import json
import re

from search.csvsafe import dict_writer
from search.timeutil import local_iso

COLUMNS = ("id", "title", "published", "source", "author", "url", "snippet")
MAX_ROWS = 10000
_MARK = re.compile(r"</?mark>")


def plain_snippet(snippet_html: str) -> str:
    """The highlighted snippet as text (marks removed, entities decoded)."""
    return html.unescape(_MARK.sub("", snippet_html or ""))


def rows(hits) -> list[dict]:
    return [{"id": h.id, "title": h.title, "published": local_iso(h.published), "source": h.source or "",
             "author": h.author or "", "url": h.url or "", "snippet": plain_snippet(h.snippet)} for h in hits]


def to_csv(hits) -> bytes:
    out = io.StringIO()
    writer = dict_writer(out, COLUMNS, lineterminator="\r\n")  # cells never start a formula
    writer.writeheader()
    writer.writerows(rows(hits))
    return "\ufeff".encode("utf-8") + out.getvalue().encode("utf-8")


def to_jsonl(hits) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows(hits)).encode("utf-8")
