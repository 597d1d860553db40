"""``python -m indexer backup`` / ``restore``: a consistent copy of the
article store while the service runs, and putting one back.

Both use SQLite's online backup API (``sqlite3.Connection.backup``): a
backup is a consistent snapshot even while the web workers and the writer
go on committing, and a restore replaces the content under processes that
keep the store open (they see the restored content at their next read).
"""

from __future__ import annotations

import os
import sqlite3
import time

from .article_store import ArticleStore, cli_principal

def backup(store_path: str, dest: str) -> int:
    """A consistent copy of the store at ``dest`` while it is in use
    (SQLite's online backup API: writers may go on meanwhile); returns the
    number of articles copied.  ``dest`` must not exist (FileExistsError)."""
    if os.path.exists(dest):
        raise FileExistsError(f"{dest} exists: choose a new file for the backup")
    if not os.path.exists(store_path):
        raise FileNotFoundError(f"no article store at {store_path}")
    src = sqlite3.connect(store_path, timeout=30.0)
    tmp = dest + ".partial"
    out = sqlite3.connect(tmp)
    try:
        src.backup(out)
        out.execute("PRAGMA journal_mode=DELETE")
        count = out.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    finally:
        out.close()
        src.close()
    os.replace(tmp, dest)
    return count


def restore(backup_path: str, store_path: str, principal: str | None = None) -> tuple[int, str | None]:
    """Replace the store's content by a backup (checked first: an article
    store, ``PRAGMA integrity_check`` ok), through the backup API, so that
    processes holding the store open see the restored content.  The current
    content is first saved beside it (returned path) and the restore is
    written to the audit log.  The writer re-applies the restored change
    log (``applied`` reset to 0: re-applying is harmless), so every restored
    article reaches the index; articles the index holds that the backup
    lacks are kept (a rebuild from the store refuses to drop them).
    Returns (articles restored, where the previous content was saved)."""
    if not os.path.exists(backup_path):
        raise FileNotFoundError(f"no backup at {backup_path}")
    src = sqlite3.connect(f"file:{os.path.abspath(backup_path)}?mode=ro", uri=True)
    try:
        try:
            ok = src.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{backup_path} is not an article store ({exc})") from None
        if not ok:
            raise ValueError(f"{backup_path} is damaged (integrity_check failed)")
        if not {"articles", "changes", "state"} <= tables:
            raise ValueError(f"{backup_path} is not an article store")
        saved = None
        if os.path.exists(store_path):
            saved = f"{store_path}.before-restore-{time.strftime('%Y%m%dT%H%M%S')}"
            backup(store_path, saved)
        out = sqlite3.connect(store_path, timeout=30.0)
        try:
            src.backup(out)
        finally:
            out.close()
    finally:
        src.close()
    store = ArticleStore(store_path)
    store.set_applied(0)
    if saved is not None:  # the audit log is append-only: entries made after the backup are kept
        last = store._conn().execute("SELECT COALESCE(MAX(seq), 0) FROM audit").fetchone()[0]
        newer = ArticleStore(saved).audit_entries(after=last, limit=10**9)
        with store._guard(), store._conn() as c:
            for e in newer:
                store._audit(c, e["at"], e["principal"], e["action"], e["id"], e["detail"])
    store.audit(principal or cli_principal(), "restore", "*", f"from {os.path.abspath(backup_path)}")
    return store.count(), saved
