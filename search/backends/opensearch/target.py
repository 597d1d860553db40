"""The OpenSearch implementation of the write seam (``base.IndexTarget``).

Documents are analysed in the indexer's worker processes into their
OpenSearch sources (``SourceWriter``: jieba is most of the cost) and reach
the cluster as bulk requests through the alias the service searches
(``indexing.apply``, with retries).  A commit is a refresh; near-duplicate
groups are recomputed after a run and, behind the service's writer, in a
background thread after changes (``groups.regroup``, when
``regroup_schedule.RegroupSchedule`` says).  A new generation is a new index
``<alias>-<timestamp>``, switched in by one atomic alias update.

OpenSearch has no single-writer lock: ``indexer build`` writes straight to
the cluster even while the service runs.  Errors reaching the cluster are
raised as ``base.BackendUnreachable`` (the indexer does not import
opensearch-py).
"""

from __future__ import annotations

import functools
import logging
import threading
from itertools import zip_longest

from ...analysis import Analyzer
from ...documents import prepare
from ...segmenter import get_segmenter
from ..base import Outcome
from ..regroup_schedule import RegroupSchedule
from .errors import translated
from .groups import regroup
from .indexing import SourceDoc, apply, create_generation, ensure_alias, known_hashes, stored_documents, swap_alias
from .mapping import to_source
from .vectors import carry_over

log = logging.getLogger("search.opensearch.target")


def connect(url: str | None):
    """An opensearch-py client for ``url`` (120 s request timeout: bulk
    requests of 500 analysed articles on a busy 2-node cluster); ValueError
    without a URL."""
    from opensearchpy import OpenSearch

    if not url:
        raise ValueError("the opensearch backend needs --opensearch-url (or OPENSEARCH_URL)")
    return OpenSearch(url, timeout=120)


def _in_turn(units: list[list]):
    """One item from each unit in turn (the order the indexer read them in)."""
    for row in zip_longest(*units, fillvalue=_GAP):
        yield from (item for item in row if item is not _GAP)


_GAP = object()


class SourceWriter:
    """``base.DocumentWriter`` for OpenSearch: a batch of ``SourceDoc``s
    (id and source), so the process sending bulk requests does not convert."""

    def __init__(self, userdict: str | None = None):
        self.analyzer = Analyzer(get_segmenter(userdict))
        self.docs: list[SourceDoc] = []

    def add(self, article, record_hash: str | None) -> None:
        """Analyse ``article`` into its source."""
        doc = prepare(article, self.analyzer, record_hash)
        self.docs.append(SourceDoc(doc.id, to_source(doc)))

    def flush(self) -> list[SourceDoc] | None:
        """The batch's sources in order, or None when it is empty."""
        docs, self.docs = self.docs, []
        return docs or None


class OpenSearchTarget:
    """``base.IndexTarget`` on the alias ``location`` of the cluster at
    ``url`` (or ``client``).  ``create``: make an empty index behind the
    alias when it is missing (``indexing.ensure_alias``: ValueError for an
    index of another analysis version, or an index where the alias should
    be); without it, deleting from a missing alias raises ValueError.
    ``shards`` / ``replicas``: of a new index; None for a new generation:
    as the live index (1 when there is none)."""

    backend = "opensearch"
    merging = False  # no segments of ours to merge: the cluster merges its own

    def __init__(self, url: str | None, alias: str, userdict: str | None = None, *, client=None,
                 create: bool = True, shards: int | None = 1, replicas: int | None = 1,
                 regroup_interval: float = 1.0, _index: str | None = None):
        self.url = url
        self.client = client if client is not None else connect(url)
        self._owns_client = client is None
        self.location = alias
        self.userdict = userdict
        self.shards, self.replicas = shards, replicas
        self.index = _index or alias  # where this target writes (a new generation: its own index)
        self.regroup_interval = regroup_interval
        self.regroups = 0
        self._checked = False
        self._regroups = RegroupSchedule(regroup_interval)
        self._regroup_job: threading.Thread | None = None
        if create and _index is None:
            self._ensure()

    @translated
    def _ensure(self) -> None:
        ensure_alias(self.client, self.location, self.shards or 1, self.replicas if self.replicas is not None else 1)
        self._checked = True

    # ---- what is there --------------------------------------------------------
    @translated
    def exists(self) -> bool:
        """Is there an index or alias ``location``?"""
        return bool(self.client.indices.exists(index=self.location))

    @translated
    def is_current(self) -> bool:
        """Can this version write to it (a missing alias counts as yes)?"""
        from .backend import IncompatibleIndex, OpenSearchBackend

        if not self.client.indices.exists_alias(name=self.location):
            return True
        try:
            OpenSearchBackend("", self.location, client=self.client).check_version()
        except IncompatibleIndex:
            return False
        return True

    @translated
    def stored_documents(self, damaged: list | None = None):
        """The stored fields of every document (scrolled); ``damaged`` is
        not used (a cluster reports no damaged segments)."""
        yield from stored_documents(self.client, self.index)

    @translated
    def known(self) -> dict[str, str | None]:
        """id -> record hash of every document (scrolled; {} without an index)."""
        if not self.client.indices.exists(index=self.index):
            return {}
        return known_hashes(self.client, self.index)

    def damage(self):
        """None: a cluster reports no damaged files to this side."""
        return None

    def ids(self, select=None) -> list[str]:
        """Every id behind the alias for which ``select(id)`` is true (all
        without it; [] when there is no alias)."""
        try:
            return [i for i in self.known() if select is None or select(i)]
        except Exception:  # noqa: BLE001 - as for a Whoosh index that cannot be opened
            return []

    # ---- writing ------------------------------------------------------------------
    def document_writers(self):
        """Factory of ``SourceWriter``s (picklable)."""
        return functools.partial(SourceWriter, self.userdict)

    @translated
    def apply(self, parts, deletes=()) -> Outcome:
        """One streamed bulk request: the deletions, then the sources of
        ``parts`` in order (retried with back-off; raises if a document
        still fails).  Raises ValueError when the index does not exist."""
        if not self._checked:
            if not self.client.indices.exists(index=self.index):
                raise ValueError(f"no index or alias {self.index!r} on the cluster")
            self._checked = True
        done = apply(self.client, self.index, _in_turn([docs for docs, _ in parts if docs]), deletes)
        added = list(dict.fromkeys(done.get("created", [])))
        fresh = set(added)  # an id again later in this call counts once, as on Whoosh
        updated = [i for i in dict.fromkeys(done.get("updated", [])) if i not in fresh]
        return Outcome(added=added, updated=updated, deleted=done.get("deleted", []),
                       not_found=done.get("not_found", []))

    @translated
    def commit(self, clean: bool = True) -> None:
        """A refresh: what was applied becomes searchable."""
        self.client.indices.refresh(index=self.index)

    @translated
    def finish(self, changed: bool) -> None:
        """Refresh, then regroup near-duplicates after changes (a withdrawn
        representative hands its group on)."""
        self.client.indices.refresh(index=self.index)
        if changed:
            regroup(self.client, self.index)

    def maintain(self, changed: bool) -> None:
        """Regroup in a background thread after changes, when the schedule
        says (``RegroupSchedule``; called again while idle, so changes noted
        during a regrouping start the next one without another write).  The
        regrouping writes ``dup_rep`` and refreshes: readers see it at once."""
        if changed:
            self._regroups.note_change()
        if not self._regroups.due():
            return
        schedule = self._regroups
        schedule.start()

        def job():
            try:
                regroup(self.client, self.location)
                self.regroups += 1
            except Exception:  # noqa: BLE001 - groups are best effort; search works without
                log.exception("regrouping failed")
            finally:
                schedule.ended()

        self._regroup_job = threading.Thread(target=job, name="regroup", daemon=True)
        self._regroup_job.start()

    # ---- generations -----------------------------------------------------------
    @translated
    def new_generation(self) -> "OpenSearchTarget":
        """A new empty index ``<alias>-<timestamp>`` with this version's
        mapping, not behind the alias yet."""
        shards, replicas = self.shards, self.replicas
        if (shards is None or replicas is None) and self.client.indices.exists(index=self.location):
            settings = self.client.indices.get_settings(index=self.location)
            first = next(iter(settings.values()))["settings"]["index"]
            shards = int(first.get("number_of_shards", 1)) if shards is None else shards
            replicas = int(first.get("number_of_replicas", 1)) if replicas is None else replicas
        shards, replicas = shards or 1, replicas if replicas is not None else 1
        name = create_generation(self.client, self.location, shards, replicas)
        return OpenSearchTarget(self.url, self.location, self.userdict, client=self.client, create=False,
                                shards=shards, replicas=replicas, _index=name)

    @translated
    def swap_in(self) -> str:
        """Point the alias at this index (``indexing.swap_alias``), first
        giving it the vectors of the index the alias points to for the
        articles whose title and lead are unchanged (``vectors.carry_over``;
        a failure is logged, not raised: the rebuild stands and ``indexer
        embed`` computes what is missing).  Returns this index's name."""
        if self.index != self.location and self.client.indices.exists_alias(name=self.location):
            try:
                carry_over(self.client, self.location, self.index, report=log.info)
            except Exception as exc:  # noqa: BLE001 - the next embedding run computes them
                log.warning("vectors of %s not carried over to %s (%s: %s); `python -m indexer embed` computes "
                            "them", self.location, self.index, type(exc).__name__, exc)
        swap_alias(self.client, self.location, self.index, self.replicas)
        return self.index

    def reopen(self) -> None:
        """Nothing to follow: the alias already names the new index."""

    def close(self) -> None:
        """Wait for a background regrouping; close the connection if ours."""
        if self._regroup_job is not None:
            self._regroup_job.join()
        if self._owns_client:
            self.client.close()
