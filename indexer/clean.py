"""Text cleaning: normalise whitespace, strip control characters, keep paragraphs."""

from __future__ import annotations

import re

# C0/C1 control characters except tab and newline.  Invisible format
# characters (zero-width spaces, bidi marks, soft hyphens ...) are kept in
# the stored text: the analysis ignores every one of them, at index and at
# query time alike (search/chars.py), and highlights keep exact offsets.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_BLANK_LINES = re.compile(r"\n{2,}")


def clean_text(text: str) -> str:
    """Paragraphs stay on their own lines; runs of spaces become one space."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    text = _CONTROL.sub("", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n", "\n".join(line for line in lines if line)).strip()


def clean_line(text: str) -> str:
    """Titles, names: one line."""
    return _SPACES.sub(" ", _CONTROL.sub("", text.replace("\n", " ").replace("\r", " "))).strip()
