"""What the engine needs from an index backend: the read seam
(``IndexBackend``), the typed value of its ``stats()`` and the error it
raises for a damaged index.  The seam speaks article ids (str) only: each
backend translates them to its own document keys."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..plan import BackendHit, BackendResult, Plan
from ..errors import SearchServiceError


class IndexCorrupt(SearchServiceError, status=503, retry_after=30):
    """The index on disk is damaged (a truncated or missing segment file):
    searches cannot be answered until it is rebuilt.  The message names
    what is damaged and the command that repairs it."""


class SnapshotGone(SearchServiceError, status=410):
    """The snapshot a cursor walks is gone: unused for longer than its
    keep-alive (``SEARCH_CURSOR_KEEP_ALIVE``), released, or its index was
    rebuilt.  The message says to start the walk again."""


class TooManySnapshots(SearchServiceError, status=503, retry_after=60):
    """Too many walks hold a snapshot at once (each keeps index files or a
    cluster context alive): a new one must wait until some end or expire."""


@dataclass
class WalkPage:
    """One page of ``IndexBackend.walk``: ``hits`` (``BackendHit``s with
    stored fields and, for a partial match, ``missing``), ``total``: the
    articles of the snapshot's result set (ungrouped), ``total_full``: how
    many of them match every clause, and ``after``: the JSON-ready position
    after the last hit, for the next call (None: the walk is done)."""

    hits: list[BackendHit]
    total: int
    total_full: int
    after: object | None


@dataclass(frozen=True)
class IndexStats:
    """What ``IndexBackend.stats()`` reports (``/healthz``, ``/metrics``,
    ``indexer stats``).

    ``documents``: live articles.  ``segments``: Whoosh segments being
    served (None on OpenSearch).  ``generation``: the Whoosh commit
    generation (None on OpenSearch).  ``last_modified``: time of the last
    commit, epoch seconds (None when unknown: OpenSearch).  ``directory``:
    where the index is (the Whoosh directory after symlinks; the OpenSearch
    alias or index name).  ``vectors``: the dense vectors of the served
    commit (issue 20; None when the backend keeps none: OpenSearch):
    {"model": model id or None (no vectors yet), "dim": int or None,
    "with_vectors": live articles with a vector, "backlog": live articles
    without one (searched lexically until ``indexer embed`` reaches them),
    "error": why vectors cannot be used (two models' files, unreadable
    files) or None}."""

    documents: int
    segments: int | None = None
    generation: int | None = None
    last_modified: float | None = None
    directory: str = ""
    vectors: dict | None = None

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

    def dense_candidates(self, dense, k: int, plan: Plan | None = None) -> list[tuple[str, float]]:
        """The ``k`` articles nearest to ``dense.vector`` (a
        ``search.hybrid.DenseQuery``) by exact inner product over the live
        articles' vectors, among those ``plan``'s filters keep (None: all):
        [(article id, cosine)], cosine descending, ties by index order.
        Hybrid and semantic searches go through ``execute`` of a plan with
        ``Plan.dense``, which ranks the same way.  Raises
        ``search.hybrid.SemanticModeUnavailable`` (400: the index has no
        vectors), ``VectorsModelMismatch`` (500: vectors of another model),
        ``search.hybrid.DenseNotSupported`` (501: a backend without dense
        retrieval: OpenSearch for now)."""

    def article_vector(self, doc_id: str) -> tuple[np.ndarray, str] | None:
        """(the live article ``doc_id``'s own stored vector, float32
        ``(dim,)``, L2-normalised; the id of the model that made it) for
        related articles and story coverage (``search.related``): no query
        is embedded.  None when the article is not live, has no vector yet
        (added since the last ``indexer embed``), or the backend keeps no
        vectors (OpenSearch for now): the caller then ranks by key terms
        alone.  Raises ``VectorsModelMismatch`` (500: vectors of two models)."""

    def percolate(self, plans: list[Plan], ids: list[str]) -> list[list[str] | Exception]:
        """For each plan (compiled for full matches only: ``relax_below =
        0``), the ids among ``ids`` (articles of one batch) it fully
        matches, in the order of ``ids``; ids not live match nothing.  The
        cost grows with ``len(ids)`` and ``len(plans)``, not with the index
        (the percolator's seam: ``search.percolator``).  A plan the
        backend refuses (``UnsupportedQuery``, a failed search of a
        multi-search) has its exception in its place, so one broken saved
        search never stops the others; raises what concerns every plan
        (the cluster unreachable ...)."""

    def version(self) -> object:
        """Changes whenever the searchable content changes (a hashable
        cache key, compared for equality only)."""

    def vectors_version(self) -> object:
        """Changes whenever the dense vectors change, with or without a
        new commit (an embedding run writes them after the commit): a
        hashable key that hybrid and semantic results are cached under
        besides ``version()``.  None for a backend without vectors."""

    def get(self, doc_id: str) -> dict | None:
        """The stored fields of the live article ``doc_id``, or None."""

    def get_many(self, doc_ids: list[str]) -> dict[str, dict | None]:
        """``get`` of each id (one round trip where that matters): id ->
        stored fields, or None for an id not live."""

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

    # ---- cursors: walking a whole result set on a fixed snapshot ----------
    def open_snapshot(self, keep_alive: float) -> str:
        """Pin the searchable content as it is now, for ``keep_alive``
        seconds after its last use (Whoosh: a lease on the served commit,
        seen by every process; OpenSearch: a point in time).  Returns the
        snapshot's id (text, opaque; the cursor token carries it).  Raises
        ``TooManySnapshots`` (503) when too many are open."""

    def walk(self, snapshot: str, plan: Plan, after: object | None, size: int) -> WalkPage:
        """The next ``size`` articles of ``plan``'s result set on
        ``snapshot``, from ``after`` (None: the start; else a ``WalkPage.after``
        of the same snapshot and plan): ungrouped, in the order of the
        search's pages (full matches before partial ones, ranking, ties by
        article), each article once; ``plan.offset``/``limit``, facets and
        grouping are ignored, and ``plan.now`` must stay the same along a
        walk.  Each call renews the snapshot.  Raises ``SnapshotGone`` (410)
        for an expired or unknown snapshot, and what ``execute`` raises."""

    def close_snapshot(self, snapshot: str) -> None:
        """Release the snapshot now (the end of an export); unknown or
        expired snapshots are no error."""

    def close(self) -> None:
        """Release files and connections; the backend is unusable after."""


# ---- the write seam -----------------------------------------------------------
class TargetIncompatible(SearchServiceError, status=503):
    """The index was written by another version of the schema or of the
    text analysis: writing to it would mix terms of two versions.  The
    message names the command that rebuilds it.  (The Whoosh store's
    ``IncompatibleIndex`` is one.)"""


class BackendUnreachable(SearchServiceError, status=503):
    """The index's cluster cannot be reached (OpenSearch); the message is
    the client's."""


class DocumentWriter(Protocol):
    """The worker side of an ``IndexTarget``: analyses articles as they
    arrive (``search.documents.prepare``: jieba is most of the indexing
    cost) and turns each batch into the target's unit of writing.  Built
    in the process that uses it (an indexing worker, or the writer itself)
    by the zero-argument factory ``IndexTarget.document_writers()``
    returns.  Not thread-safe; one per process."""

    def add(self, article, record_hash: str | None) -> None:
        """Analyse one ``search.models.Article`` (already validated, cleaned
        and enriched) into the current batch.  ``record_hash``:
        ``indexer.records.record_hash`` of it, kept with the document (how
        unchanged records are recognised).  Raises whatever the analysis
        raises."""

    def flush(self) -> object | None:
        """The batch written so far, as one picklable unit (Whoosh: a new,
        not yet listed segment written to the index directory; OpenSearch:
        the documents' sources, in order), or None when nothing was added.
        Its documents are in the order they were added.  Starts a new
        batch.  Raises OSError on a failed write."""


@dataclass
class Outcome:
    """What ``IndexTarget.apply`` did: ids by outcome.  ``added``: new ids;
    ``updated``: ids that replaced a live version; ``deleted``: ids
    withdrawn; ``not_found``: ids asked to be deleted that were not there."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)


class IndexTarget(Protocol):
    """What the indexer needs from an index backend to write to it (the
    write seam beside ``IndexBackend``, the read seam).  Opened by
    ``search.backends.open_target``; one target per writing process (the
    Whoosh target holds the index's write lock from open to ``close``).

    A run is: ``known`` (what is there), documents analysed by
    ``document_writers()`` in worker processes, ``apply`` of their units
    and of deletions, ``commit`` (readers see it), and ``finish`` at the
    end of a run; the service's writer calls ``maintain`` after each step
    instead.  ``new_generation`` + ``swap_in`` rebuild a whole index beside
    the live one and switch readers to it atomically.

    Errors: ``open_target`` raises ``IncompatibleIndex`` (an index of
    another analysis version), ``TimeoutError`` (another writer holds the
    Whoosh lock) or ``ValueError`` (no cluster URL, an index where an alias
    is expected); writes raise ``OSError`` / the cluster client's errors."""

    backend: str  # "whoosh" or "opensearch"
    location: str  # the index directory, or the alias

    def known(self) -> dict[str, str | None]:
        """id -> record hash (None when the document predates hashes) of
        every live document.  Reads every document's stored hash: seconds
        on 10^5 documents."""

    def document_writers(self):
        """A picklable zero-argument callable that builds a
        ``DocumentWriter`` for this target in the calling process (after a
        fork, in a worker)."""

    def apply(self, parts: list[tuple[object, list[str]]], deletes=()) -> Outcome:
        """Add the units ``DocumentWriter.flush`` returned, each with the
        ids of its documents in order (a document replaces the live one of
        its id; within one call the last document of an id wins), and delete
        the ids ``deletes`` first (a missing id is ``not_found``, no error).
        Taking one document from each unit in turn gives the order they
        were read in (the indexer deals articles out to its workers in
        turn): a target that keeps an order writes them in that one.
        Invisible to readers until ``commit``."""

    def commit(self, clean: bool = True) -> None:
        """Publish what was applied (a new Whoosh generation; an OpenSearch
        refresh) together with finished background work.  ``clean=False``
        keeps the files earlier generations need (between the batches of a
        bulk run)."""

    def finish(self, changed: bool) -> None:
        """End a run: drop what is empty, remove what no reader needs, and
        recompute near-duplicate groups when ``changed`` (or when there are
        none yet); commits."""

    def maintain(self, changed: bool) -> None:
        """Background maintenance, called by the writer after each step
        (``changed``: the step applied changes): the target decides when to
        merge segments or regroup near-duplicates, runs that off the write
        path, and publishes what finished.  Never raises for a failed
        background job (logged; search works without it)."""

    @property
    def merging(self) -> bool:
        """Is a background merge under way (shown by ``/healthz``)?"""

    def new_generation(self) -> "IndexTarget":
        """An empty target beside this one (Whoosh: a new directory under
        ``<index>.builds/``; OpenSearch: a new index not yet behind the
        alias), written like any other and invisible to readers until its
        ``swap_in``.  Background work of this target is stopped first."""

    def swap_in(self) -> None:
        """Make this new generation the one ``location`` names, atomically
        for readers (a symlink renamed over the old one; one alias update),
        and close it; earlier generations are removed (Whoosh keeps the
        previous build).  Then ``reopen`` the target that made it."""

    def reopen(self) -> None:
        """Follow ``location`` to the generation now in place (after a
        ``swap_in``)."""

    def stored_documents(self, damaged: list | None = None):
        """Iterator of the stored fields (dicts, as ``search.documents``
        stores them) of every live document, whatever analysis version
        wrote them.  ``damaged``: see ``search.backends.whoosh.store.
        stored_documents`` (raises ``IndexCorrupt`` without it)."""

    def exists(self) -> bool:
        """Is there an index at ``location``?"""

    def is_current(self) -> bool:
        """Can this version write to the index (same fields and analysis
        version)?  A missing index counts as yes."""

    def ids(self, select=None) -> list[str]:
        """Every live id for which ``select(id)`` is true (all without it),
        without taking the write lock; [] when the index cannot be read."""

    def damage(self) -> IndexCorrupt | None:
        """The ``IndexCorrupt`` naming damaged files, or None."""

    def close(self) -> None:
        """Release the lock / connection; waits for background jobs."""
