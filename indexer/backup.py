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
from dataclasses import dataclass, field

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


@dataclass
class RestorePlan:
    """What a restore changes in the store, by id (each list sorted):

    * ``lacking``: articles of the current store that the backup lacks
      (withdrawn by the restore);
    * ``brought_back``: articles the backup holds that the current store
      does not (withdrawals after the backup excluded, unless ``as_is``);
    * ``changed``: articles whose record differs (the backup's is restored);
    * ``withdrawals_kept``: articles the backup holds that were withdrawn
      after it (audit log): kept withdrawn, unless ``as_is``.

    ``articles``: how many the store holds after the restore."""
    lacking: list[str] = field(default_factory=list)
    brought_back: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    withdrawals_kept: list[str] = field(default_factory=list)
    articles: int = 0
    as_is: bool = False


def _articles(conn) -> dict[str, str]:
    return dict(conn.execute("SELECT id, record FROM articles"))


def _check_backup(backup_path: str) -> sqlite3.Connection:
    """The backup, opened read-only once checked (an article store,
    ``PRAGMA integrity_check`` ok); else FileNotFoundError / ValueError."""
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
    except BaseException:
        src.close()
        raise
    return src


def _plan(src: sqlite3.Connection, current_path: str | None, as_is: bool) -> RestorePlan:
    """Compare the backup (``src``) with the store at ``current_path``."""
    backup_articles = _articles(src)
    tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    backup_audit = src.execute("SELECT COALESCE(MAX(seq), 0) FROM audit").fetchone()[0] if "audit" in tables else 0
    current: dict[str, str] = {}
    withdrawn_after: set[str] = set()
    if current_path is not None and os.path.exists(current_path):
        cur = sqlite3.connect(f"file:{os.path.abspath(current_path)}?mode=ro", uri=True, timeout=30.0)
        try:
            current = _articles(cur)
            withdrawn_after = {r[0] for r in cur.execute(
                "SELECT id FROM audit WHERE seq > ? AND action = 'withdraw'", (backup_audit,))}
        finally:
            cur.close()
    plan = RestorePlan(as_is=as_is)
    plan.withdrawals_kept = sorted(i for i in withdrawn_after if i in backup_articles and i not in current)
    result = dict(backup_articles)
    if not as_is:
        for i in plan.withdrawals_kept:
            del result[i]
    plan.lacking = sorted(i for i in current if i not in result)
    plan.brought_back = sorted(i for i in result if i not in current)
    plan.changed = sorted(i for i in result if i in current and current[i] != result[i])
    plan.articles = len(result)
    return plan


def plan_restore(backup_path: str, store_path: str, as_is: bool = False) -> RestorePlan:
    """What ``restore`` would change now (nothing is written)."""
    src = _check_backup(backup_path)
    try:
        return _plan(src, store_path, as_is)
    finally:
        src.close()


def restore(backup_path: str, store_path: str, principal: str | None = None,
            as_is: bool = False) -> tuple[RestorePlan, str | None]:
    """Replace the store's content by a backup (checked first: an article
    store, ``PRAGMA integrity_check`` ok), through the backup API, so that
    processes holding the store open see the restored content.

    The current content is first saved beside it (returned path); the
    audit log is append-only, so its entries made after the backup are
    kept.  A restore never silently undoes a withdrawal: an article the
    backup holds that was withdrawn after it (``withdraw`` in the audit log)
    stays withdrawn, unless ``as_is`` (the backup exactly as it is).

    The index follows through the changes that differ, not by replaying
    the whole log: the numbering of changes continues after the highest
    seq either store used (a change number is never given twice, so a
    client's old status URL never describes another change), everything up
    to there counts as applied, and one change is queued per article that
    differs (a put for one brought back or replaced, a delete for one the
    result lacks), plus one for each article the writer had not yet caught
    up with.  Without a previous store the whole restored log is applied.
    Each id the restore changes is audited (``restore`` with what happened,
    or ``withdraw`` for a withdrawal re-applied), then ``restore *``.

    Returns (the ``RestorePlan`` carried out, where the previous content
    was saved or None).  Errors: FileNotFoundError (no backup), ValueError
    (not an article store, damaged; the store itself), ``StoreUnavailable``."""
    if os.path.exists(store_path) and os.path.exists(backup_path) and os.path.samefile(store_path, backup_path):
        raise ValueError(f"{backup_path} is the article store itself: restore from a backup of it")
    src = _check_backup(backup_path)
    try:
        saved = None
        if os.path.exists(store_path):
            saved = f"{store_path}.before-restore-{time.strftime('%Y%m%dT%H%M%S')}"
            n = 1
            while os.path.exists(saved):  # two restores within a second
                n += 1
                saved = f"{store_path}.before-restore-{time.strftime('%Y%m%dT%H%M%S')}-{n}"
            backup(store_path, saved)
        plan = _plan(src, saved, as_is)  # against the saved snapshot: what is replaced
        out = sqlite3.connect(store_path, timeout=30.0)
        try:
            src.backup(out)
        finally:
            out.close()
    finally:
        src.close()
    store = ArticleStore(store_path)
    who = principal or cli_principal()
    source = os.path.abspath(backup_path)
    catch_up: set[str] = set()
    if saved is None:
        store.set_applied(0)  # a new store: its whole log goes to the index
    else:
        previous = ArticleStore(saved)
        old_last, old_applied = previous.last_seq(), previous.applied()
        catch_up = {ch.id for ch in previous.pending(old_applied, limit=10**9)}
        with store._guard(), store._conn() as c:
            base = max(old_last, c.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0])
            if c.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'changes'", (base,)).rowcount == 0:
                c.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('changes', ?)", (base,))
            c.execute("INSERT INTO state (key, value) VALUES ('applied', ?) "
                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (base,))
    if saved is not None:  # the audit log is append-only: entries made after the backup are kept
        last = store._conn().execute("SELECT COALESCE(MAX(seq), 0) FROM audit").fetchone()[0]
        newer = ArticleStore(saved).audit_entries(after=last, limit=10**9)
        with store._guard(), store._conn() as c:
            for e in newer:
                store._audit(c, e["at"], e["principal"], e["action"], e["id"], e["detail"])
    now = time.time()
    with store._guard(), store._conn() as c:
        def withdraw(doc_id: str, action: str, detail: str) -> None:
            c.execute("DELETE FROM articles WHERE id = ?", (doc_id,))
            c.execute("INSERT INTO changes (id, op, at) VALUES (?, 'delete', ?)", (doc_id, now))
            store._audit(c, now, who, action, doc_id, detail)

        if not as_is:
            for doc_id in plan.withdrawals_kept:
                withdraw(doc_id, "withdraw", f"withdrawn after the backup {source}: kept withdrawn by its restore")
        for doc_id in plan.lacking:
            withdraw(doc_id, "restore", f"not in the backup {source}: withdrawn")
        for doc_id in plan.brought_back:
            store._audit(c, now, who, "restore", doc_id, f"brought back from the backup {source}")
        for doc_id in plan.changed:
            store._audit(c, now, who, "restore", doc_id, f"the record of the backup {source} restored")
        if saved is not None:
            # what the index must take from the restored content (the
            # withdrawals above queued their own deletes)
            withdrawn = set(plan.lacking) | (set() if as_is else set(plan.withdrawals_kept))
            for doc_id in sorted((set(plan.brought_back) | set(plan.changed) | catch_up) - withdrawn):
                held = c.execute("SELECT 1 FROM articles WHERE id = ?", (doc_id,)).fetchone() is not None
                c.execute("INSERT INTO changes (id, op, at) VALUES (?, ?, ?)",
                          (doc_id, "put" if held else "delete", now))
        store._audit(c, now, who, "restore", "*", f"from {source}" + (" (as it is)" if as_is else ""))
    plan.articles = store.count()
    return plan, saved
