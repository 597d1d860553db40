"""An editable blocklist that keeps unwanted terms out of suggestions and
hot searches (real query logs contain adult and abusive queries).

One term per line (``#`` comments); a query or suggestion containing a
term, after the usual normalisation (Traditional, full-width, case), is
blocked.  Re-read when the file changes.  Searching itself is never
blocked: this only decides what the site *recommends*.
"""

from __future__ import annotations

from .normalize import fold_case, normalize_query
from .watched import WatchedFile


class Blocklist:
    """Terms kept out of suggestions and hot searches, one per line in the file at ``path``
    (SEARCH_BLOCKLIST; ``#`` starts a comment), re-read when it changes
    (``watched.WatchedFile``)."""
    def __init__(self, path: str | None):
        self.path = path
        self._file = WatchedFile(path, self._parse, ())

    @staticmethod
    def _parse(lines) -> tuple[str, ...]:
        terms = {fold_case(normalize_query(line.split("#", 1)[0])).strip() for line in lines}
        return tuple(sorted(t.replace(" ", "") for t in terms if t))

    def __len__(self) -> int:
        return len(self._file.fresh())

    def blocks(self, text: str) -> bool:
        """Does ``text`` contain a blocked term (both normalised and case-folded, spaces ignored)?"""
        terms = self._file.fresh()
        if not terms:
            return False
        norm = fold_case(normalize_query(text)).replace(" ", "")
        return any(t in norm for t in terms)
