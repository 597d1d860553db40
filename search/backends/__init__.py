"""Index backends.  The engine talks to them through ``base.IndexBackend``;
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
