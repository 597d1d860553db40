"""What the engine needs from an index backend: the read seam
(``IndexBackend``), the typed value of its ``stats()`` and the error it
raises for a damaged index.  The seam speaks article ids (str) only: each
backend translates them to its own document keys."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol

from ..plan import BackendResult, Plan
from ..errors import SearchServiceError


class IndexCorrupt(SearchServiceError, status=503, retry_after=30):
    """The index on disk is damaged (a truncated or missing segment file):
    searches cannot be answered until it is rebuilt.  The message names
    what is damaged and the command that repairs it."""


@dataclass(frozen=True)
class IndexStats:
    """What ``IndexBackend.stats()`` reports (``/healthz``, ``/metrics``,
    ``indexer stats``).

    ``documents``: live articles.  ``segments``: Whoosh segments being
    served (None on OpenSearch).  ``generation``: the Whoosh commit
    generation (None on OpenSearch).  ``last_modified``: time of the last
    commit, epoch seconds (None when unknown: OpenSearch).  ``directory``:
    where the index is (the Whoosh directory after symlinks; the OpenSearch
    alias or index name)."""

    documents: int
    segments: int | None = None
    generation: int | None = None
    last_modified: float | None = None
    directory: str = ""

    def as_dict(self) -> dict:
        """The fields as a new dict (for JSON)."""
        return dataclasses.asdict(self)


class IndexBackend(Protocol):
    """The read seam: everything the engine asks of an index.

    Documents are named by their article ids (str) everywhere: in
    ``get``, ``near_duplicates`` and ``Plan.exclude_docs``; ``BackendHit.key``
    is the backend's own handle, opaque to callers.  Any method may raise
    ``IndexCorrupt`` (a damaged index) or the backend's client errors (an
    unreachable OpenSearch cluster)."""

    def refresh(self, force: bool = False) -> bool:
        """Pick up commits made by the writer; True if the searchable
        content may have changed.  Without ``force`` a backend checks at
        most once per refresh interval (Whoosh: a table-of-contents read
        every ``refresh_interval`` seconds); ``force=True`` checks now (after
        a write the caller knows was committed, and in tests).  Raises
        ``IndexCorrupt`` when the served index is damaged."""

    def execute(self, plan: Plan) -> BackendResult:
        """Run ``plan``.  Raises ``search.plan.UnsupportedQuery`` (an
        operator this backend or index cannot answer: a 400),
        ``search.plan.QueryTimeout`` (past ``plan.deadline``),
        ``IndexCorrupt`` (a damaged index), or the OpenSearch backend's
        ``IncompatibleIndex`` (written by another analysis version)."""

    def version(self) -> object:
        """Changes whenever the searchable content changes (a hashable
        cache key, compared for equality only)."""

    def get(self, doc_id: str) -> dict | None:
        """The stored fields of the live article ``doc_id``, or None."""

    def near_duplicates(self, doc_id: str) -> list[dict]:
        """Stored fields of the article's near-duplicate group
        (representative and members, the article itself left out), in date
        order; [] when it has none, is not live, or the index keeps no groups."""

    def doc_frequency(self, word: str) -> int:
        """Live documents having ``word`` (an analysed word) in the title or body."""

    def doc_frequencies(self, words: list[str]) -> list[int]:
        """``doc_frequency`` of each word (one round trip where that
        matters; Whoosh: an estimate from the term dictionaries)."""

    def vocabulary(self, field: str, min_df: int = 1) -> dict[str, int]:
        """Every indexed word of ``field`` ("title" or "body") used by at
        least ``min_df`` documents, with its document frequency (Whoosh: a
        deleted article counts until its segment is merged); "tag": every
        tag as written, with the number of live documents carrying it (for
        pinyin lookup, suggestions, corrections).  Raises ValueError for
        another field, or for "body" on an index written before body words
        were kept (the message says how to rebuild)."""

    def doc_count(self) -> int:
        """Live documents."""

    def has_deletions(self) -> bool:
        """Are deleted documents still counted in term statistics?"""

    def in_live_title(self, word: str) -> bool:
        """Is ``word`` in the title of some live document?"""

    def stats(self) -> IndexStats:
        """Counts and location of the index being served (``IndexStats``)."""

    def close(self) -> None:
        """Release files and connections; the backend is unusable after."""
