"""What the engine needs from an index backend."""

from __future__ import annotations

from typing import Protocol

from ..plan import BackendResult, Plan
from ..errors import SearchServiceError


class IndexCorrupt(SearchServiceError, status=503, retry_after=30):
    """The index on disk is damaged (a truncated or missing segment file):
    searches cannot be answered until it is rebuilt.  The message names
    what is damaged and the command that repairs it."""


class IndexBackend(Protocol):
    def refresh(self, force: bool = False) -> bool:
        """Pick up commits made by the writer; True if anything changed.
        ``force``: check now, not only once per refresh interval."""

    def execute(self, plan: Plan) -> BackendResult: ...

    def version(self) -> object:
        """Changes whenever the searchable content changes (cache key)."""

    def get(self, doc_id: str) -> tuple[object, dict] | None:
        """(backend key, stored fields) of a live document, or None."""

    def near_duplicates(self, key) -> list[tuple[object, dict]]:
        """(key, stored fields) of the document's near-duplicate group
        (representative and members, itself left out), in date order."""

    def doc_frequency(self, word: str) -> int: ...

    def doc_frequencies(self, words: list[str]) -> list[int]:
        """``doc_frequency`` of each word (one round trip where that matters)."""

    def vocabulary(self, field: str, min_df: int = 1) -> dict[str, int]:
        """Every indexed word of ``field`` ("title" or "body") used by at
        least ``min_df`` documents, with its document frequency; "tag":
        every tag as written, with the number of live documents carrying it
        (for pinyin lookup, suggestions, corrections).  Raises ValueError
        for another field, or for "body" on an index that does not keep it."""

    def doc_count(self) -> int:
        """Live documents."""

    def has_deletions(self) -> bool:
        """Are deleted documents still counted in term statistics?"""

    def in_live_title(self, word: str) -> bool:
        """Is ``word`` in the title of some live document?"""

    def stats(self) -> dict: ...

    def close(self) -> None: ...
