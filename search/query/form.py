"""The advanced-search form's fields as one ordinary query string
(``compose``), so what staff fill in becomes a query they can read, edit
and share."""

from __future__ import annotations

import re

from ..fields import MAX_DISTANCE, MAX_MENTIONS
from .lexer import PROXIMITY


def _quoted(text: str) -> str:
    text = text.replace('"', " ").strip()
    return f'"{text}"' if text else ""


def _term(text: str) -> str:
    """One side of an operator: a single short word as is; anything longer,
    and anything the parser would read as an operator, an exclusion or a
    group, quoted."""
    text = " ".join(text.replace('"', " ").split())
    plain = _word(text) == text and ":" not in text and "：" not in text
    return text if plain and text and " " not in text and len(text) <= 4 else _quoted(text)


def _word(text: str) -> str:
    """A typed word as a query word (an operator-like word quoted)."""
    text = text.replace('"', "")
    if (text in ("AND", "OR", "NOT", "SAME", "|") or PROXIMITY.match(text) or text[:1] in "-－"
            or any(ch in text for ch in "()（）")):
        return _quoted(text)
    return text


_FORM_ITEM = re.compile(r'["“「『＂]([^"”」』＂]*)["”」』＂]?|(\S+)')


def _form_items(text: str) -> list[str]:
    """A form field's words and "quoted phrases" as query terms: a phrase
    stays one term (none = ``"体育 新闻"`` excludes that phrase, not every
    article mentioning 新闻)."""
    items = []
    for m in _FORM_ITEM.finditer(text):
        if m.group(2) is not None:
            items.append(_word(m.group(2)))
        elif m.group(1).strip():
            items.append(_quoted(m.group(1)))
    return [i for i in items if i]


def compose(all_words: str = "", exact: str = "", any_words: str = "", none_words: str = "",
            scope: str = "all", mentions: str = "", min_mentions: int = 0,
            same_left: str = "", same_right: str = "", author: str = "", source: str = "",
            category: str = "", near_left: str = "", near_right: str = "", near_distance: int = 0,
            near_ordered: bool = False, same_unit: str = "sentence") -> str:
    """The advanced-search form's fields as one ordinary query string.

    ``scope``: "all" (title and body), "title" or "lead" (first paragraph)
    for the all/exact/any words.  ``near_*``: two terms at most
    ``near_distance`` words apart (``near_ordered``: in that order);
    ``same_*``: two terms in one sentence or paragraph (``same_unit``)."""
    prefix = {"title": "title:", "lead": "lead:"}.get(scope, "")
    parts = []
    for item in _form_items(all_words):
        parts.append(prefix + item)
    if exact.strip():
        parts.append(prefix + _quoted(exact))
    options = [prefix + item for item in _form_items(any_words)]
    if len(options) == 1:
        parts.append(options[0])
    elif options:
        parts.append("(" + " OR ".join(options) + ")")
    for item in _form_items(none_words):
        parts.append("-" + item)
    if mentions.strip() and min_mentions >= 1:
        parts.append(f"atleast{min(min_mentions, MAX_MENTIONS)}:{_term(mentions)}")
    if same_left.strip() and same_right.strip():
        op = "w/p" if same_unit == "paragraph" else "w/s"
        parts.append(f"{_term(same_left)} {op} {_term(same_right)}")
    if near_left.strip() and near_right.strip() and near_distance >= 1:
        op = f"{'pre' if near_ordered else 'w'}/{min(near_distance, MAX_DISTANCE)}"
        parts.append(f"{_term(near_left)} {op} {_term(near_right)}")
    for name, value in (("author", author), ("source", source), ("category", category)):
        if value.strip():
            parts.append(f"{name}:{_quoted(value) if ' ' in value.strip() else value.strip()}")
    return " ".join(p for p in parts if p)
