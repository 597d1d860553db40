"""Where an index's article store and query log live by default, and the
move of the single shared files of earlier versions.

Each index has its own store and query log, beside it:

    data/index                   ->  data/index.articles.sqlite,  data/index.querylog.sqlite
                                     (and data/index.saved.sqlite: saved searches, alerts)
    data/news2k                  ->  data/news2k.articles.sqlite, data/news2k.querylog.sqlite
    (OpenSearch alias ``news``)  ->  data/opensearch-news.articles.sqlite, ...

so that serving one index never writes into another's store or query log.
Not inside the index directory: a rebuild replaces that directory.

Earlier versions used ``data/articles.sqlite`` and ``data/querylog.sqlite``
for every index.  ``migrate_legacy`` moves them to the new default paths of
the index they fed (the one the store is bound to, else ``data/index``, the
only index those defaults were made for) and otherwise leaves them and says
what to do; nothing is ever deleted.
"""

from __future__ import annotations

import os
import sqlite3

LEGACY_STORE = os.path.join("data", "articles.sqlite")
LEGACY_QUERY_LOG = os.path.join("data", "querylog.sqlite")
LEGACY_INDEX = os.path.join("data", "index")


def _base(index: str, backend: str) -> str:
    if backend == "opensearch":
        return os.path.join("data", f"opensearch-{index}")
    return os.path.normpath(index.rstrip("/") or index)


def default_store(index: str, backend: str = "whoosh") -> str:
    """The article store of ``index`` when ``SEARCH_ARTICLE_STORE`` is unset."""
    return _base(index, backend) + ".articles.sqlite"


def default_query_log(index: str, backend: str = "whoosh") -> str:
    """The query log of ``index`` when ``SEARCH_QUERY_LOG`` is unset."""
    return _base(index, backend) + ".querylog.sqlite"


def default_saved_searches(index: str, backend: str = "whoosh") -> str:
    """The saved-search file of ``index`` when ``SEARCH_SAVED_SEARCHES`` is unset."""
    return _base(index, backend) + ".saved.sqlite"


def store_marker(index: str, backend: str = "whoosh") -> str:
    """The file beside the index that names the article store feeding it
    (written by ``ArticleStore.bind``; beside, not inside: a rebuild
    replaces the index directory), so that the CLI finds that store when
    ``--store`` is not given, and refuses a change that would bypass it."""
    return _base(index, backend) + ".store"


def bound_store(index: str, backend: str = "whoosh") -> str | None:
    """The absolute path of the article store that feeds ``index`` (its
    ``store_marker``), or None when none is recorded."""
    try:
        with open(store_marker(index, backend), encoding="utf-8") as f:
            path = f.read().strip()
    except FileNotFoundError:
        return None
    return path or None


def record_bound_store(index: str, backend: str, store: str) -> None:
    """Write ``store``'s absolute path into ``index``'s ``store_marker``
    (atomically; unchanged files are not rewritten)."""
    path = os.path.abspath(store)
    if bound_store(index, backend) == path:
        return
    marker = store_marker(index, backend)
    os.makedirs(os.path.dirname(os.path.abspath(marker)) or ".", exist_ok=True)
    tmp = f"{marker}.{os.getpid()}.partial"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(path + "\n")
    os.replace(tmp, marker)


def lacking_list(index: str, backend: str = "whoosh") -> str:
    """Where ``indexer rebuild --store`` lists the index's articles that the
    store lacks (for ``--drop-ids``)."""
    return _base(index, backend) + ".store-lacks.txt"


def store_path(settings) -> str:
    """The article store the service uses: ``SEARCH_ARTICLE_STORE`` when set
    (a path or ``off``), else ``index``'s default.  ``settings``: a
    ``search.settings.Settings``."""
    return settings.article_store or default_store(settings.index, settings.backend)


def query_log_path(settings) -> str:
    """The query log the service uses: ``SEARCH_QUERY_LOG`` when set (a path
    or ``off``), else ``index``'s default.  ``settings``: a
    ``search.settings.Settings``."""
    return settings.query_log or default_query_log(settings.index, settings.backend)


def saved_searches_path(settings) -> str:
    """The saved searches, alerts and webhook deliveries the service uses
    (``search.saved_searches``): ``SEARCH_SAVED_SEARCHES`` when set, else
    ``index``'s default.  ``settings``: a ``search.settings.Settings``."""
    return settings.saved_searches or default_saved_searches(settings.index, settings.backend)


def _legacy_owner(path: str) -> str | None:
    """The index key a legacy store is bound to, or None."""
    try:
        conn = sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'index'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def _copy(src: str, dest: str) -> None:
    """A consistent copy (SQLite's backup API), then the source renamed
    aside (``.migrated``), so that no process keeps writing to it unnoticed."""
    a = sqlite3.connect(src, timeout=30)
    tmp = dest + ".partial"
    b = sqlite3.connect(tmp)
    try:
        a.backup(b)
    finally:
        b.close()
        a.close()
    os.replace(tmp, dest)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(src + suffix):
            os.replace(src + suffix, src + ".migrated" + suffix)


def migrate_legacy(index: str, backend: str = "whoosh", environ=os.environ, report=print) -> list[str]:
    """Move ``data/articles.sqlite`` / ``data/querylog.sqlite`` of earlier
    versions to ``index``'s default paths when they belong to it and the
    settings do not name other files; returns what was moved (``report`` is
    told, and also told what to do about a legacy file left in place)."""
    from indexer.article_store import index_key

    moved = []
    if environ.get("SEARCH_ARTICLE_STORE") or not os.path.exists(LEGACY_STORE):
        return moved
    owner = _legacy_owner(LEGACY_STORE)
    mine = index_key(index, backend)
    belongs = owner == mine or (owner is None and mine == index_key(LEGACY_INDEX))
    new_store = default_store(index, backend)
    if not belongs:
        if owner != mine:
            report(f"note: {LEGACY_STORE} (the shared article store of earlier versions) is left in place: "
                   f"it is not the store of {index}. If it is, set SEARCH_ARTICLE_STORE={LEGACY_STORE} "
                   f"or move it to {new_store}")
        return moved
    if os.path.exists(new_store):
        report(f"note: both {LEGACY_STORE} (earlier versions) and {new_store} exist: {new_store} is used; "
               f"compare them and remove the one you do not need")
        return moved
    _copy(LEGACY_STORE, new_store)
    moved.append(f"{LEGACY_STORE} -> {new_store}")
    new_log = default_query_log(index, backend)
    if not environ.get("SEARCH_QUERY_LOG") and os.path.exists(LEGACY_QUERY_LOG) and not os.path.exists(new_log):
        _copy(LEGACY_QUERY_LOG, new_log)
        moved.append(f"{LEGACY_QUERY_LOG} -> {new_log}")
    for m in moved:
        report(f"moved {m} (each index now has its own article store and query log)")
    return moved
