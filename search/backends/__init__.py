"""Index backends.  The engine reads through ``base.IndexBackend`` (``open_backend``),
the indexer writes through ``base.IndexTarget`` (``open_target``);
only ``search/backends/whoosh/`` may import whoosh, only
``search/backends/opensearch/`` opensearch-py."""

BACKENDS = ("whoosh", "opensearch")


def open_backend(name: str, location: str, refresh_interval: float = 1.0, opensearch_url: str | None = None):
    """``location``: the index directory (whoosh) or the index/alias name (opensearch)."""
    if name == "whoosh":
        from .whoosh import WhooshBackend

        return WhooshBackend(location, refresh_interval=refresh_interval)
    if name == "opensearch":
        from .opensearch.backend import OpenSearchBackend

        if not opensearch_url:
            raise ValueError("the opensearch backend needs OPENSEARCH_URL")
        return OpenSearchBackend(opensearch_url, location, version_interval=refresh_interval)
    raise ValueError(f"unknown backend {name!r} (use {' or '.join(BACKENDS)})")


LOCAL = ("whoosh",)  # backends whose index is a local directory (the writer's pid file lives in it)
# Backends whose index only one writer may write (Whoosh's lock): while the
# service's writer runs, changes go through it; on the others the indexer
# CLI writes beside it.
SINGLE_WRITER = ("whoosh",)


def open_target(name: str, location: str, *, opensearch_url: str | None = None, userdict: str | None = None,
                create: bool = True, regroup_interval: float = 1.0, merge_at: int = 10,
                merge_max_docs: int = 5000, shards: int | None = 1, replicas: int | None = 1):
    """The write side (``base.IndexTarget``) of the index ``location`` (a
    Whoosh directory, or an OpenSearch alias on ``opensearch_url``).

    ``regroup_interval`` (s): the shortest gap between background
    regroupings (both; ``regroup_schedule.RegroupSchedule``); Whoosh: the merge policy (``merge_at`` small segments of fewer
    than ``merge_max_docs`` documents); OpenSearch: ``shards`` and
    ``replicas`` of a new index (None: as the live one), ``create`` an
    empty index behind a missing alias (Whoosh creates its directory at
    the first write).  Raises ValueError for an unknown backend or a
    missing URL; see ``IndexTarget`` for the rest."""
    if name == "whoosh":
        from .whoosh.target import WhooshTarget

        return WhooshTarget(location, userdict, regroup_interval=regroup_interval, merge_at=merge_at,
                            merge_max_docs=merge_max_docs)
    if name == "opensearch":
        from .opensearch.target import OpenSearchTarget

        return OpenSearchTarget(opensearch_url, location, userdict, create=create, shards=shards, replicas=replicas,
                                regroup_interval=regroup_interval)
    raise ValueError(f"unknown backend {name!r} (use {' or '.join(BACKENDS)})")
