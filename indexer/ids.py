"""The id rule: which strings are article ids (one rule, applied alike by
the write API, the indexer CLI and its file readers, the HTML importer, the
article store and the index).

An id is 1 to 200 characters, with

* no whitespace (U+3000 included), control, invisible format, private-use
  or unassigned characters, no U+FFFD (what invalid UTF-8 decodes to) and
  no lone surrogates;
* no ``.`` or ``..`` path segment (``.``, ``..``, ``a/..``, ``./a``): HTTP
  clients resolve those before a request is sent, so such an article could
  never be reached at ``/articles/<id>``;
* no leading ``/``, and not ending in ``/related`` or ``/coverage``, the
  article API's own sub-resources.

Everything else is kept, ``/``, ``:``, ``?``, ``#`` and ``%`` included, so
that the HTML importer's canonical URLs stay ids (clients percent-encode
them in request paths).  Nothing is stripped or rewritten: an id that
breaks the rule is refused (``InvalidId``, a ``ValueError`` whose message
names the rule), never silently changed into another id.
"""

from __future__ import annotations

import unicodedata
from search.errors import SearchServiceError

MAX_ID_LENGTH = 200  # characters (chosen, not measured: a URL path's worth)
RESERVED_SUFFIXES = ("/related", "/coverage")
RULE = ("an id is 1 to 200 characters without whitespace, control, invisible or replacement (U+FFFD) "
        "characters, with no '.' or '..' path segment, not starting with '/' and not ending in "
        "'/related' or '/coverage'")


class InvalidId(ValueError, SearchServiceError, status=400):
    """The id breaks the id rule; ``str()`` says how, and states the rule."""


def problem(value) -> str | None:
    """Why ``value`` is not an id (a short phrase), or None when it is one."""
    if not isinstance(value, str):
        return "the id must be a string"
    if not value:
        return "the id is empty"
    if len(value) > MAX_ID_LENGTH:
        return f"the id has {len(value)} characters"
    for ch in value:
        if ch == "\ufffd":
            return "the id contains U+FFFD (invalid UTF-8?)"
        cat = unicodedata.category(ch)
        if ch.isspace() or cat[0] in "CZ":
            return f"the id contains U+{ord(ch):04X} ({unicodedata.name(ch, cat)})"
    if value.startswith("/"):
        return "the id starts with '/'"
    if any(seg in (".", "..") for seg in value.split("/")):
        return "the id has a '.' or '..' path segment"
    if value.endswith(RESERVED_SUFFIXES):
        return "the id ends in '/related' or '/coverage'"
    return None


def check(value) -> str:
    """``value`` itself when it is an id (an int is read as its decimal
    string, as JSON files often have them); raises ``InvalidId`` otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    why = problem(value)
    if why is not None:
        raise InvalidId(f"invalid id {value!r}: {why} ({RULE})")
    return value


def is_valid(value) -> bool:
    """Is ``value`` an id under the id rule (``problem`` finds nothing)?  An int is not: use
    ``check`` to accept JSON numbers."""
    return problem(value) is None
