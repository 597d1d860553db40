"""What ``/healthz`` reports: can searches and indexing work right now?

``report(app)`` -> (HTTP status, JSON object)::

    {"ok": bool, "status": "ok" | "degraded" | "unavailable",
     "problems": [{"code": str, "message": str}], "reason": str (the messages, joined),
     "index_open": bool, "documents", "segments", "generation", "last_modified",
     "vectors": null (OpenSearch) | {"model": str | null, "dim": int | null, "with_vectors": int,
                 "backlog": int (live articles without a vector yet),
                 "error": str | null (a vectors file that cannot be used; with the write API, also the
                          writer's last failed embedding run, until a run succeeds: indexer.embed_process)},
     "semantic": {"default_mode": SEARCH_DEFAULT_MODE, "available": bool (can hybrid and semantic
                  search run?), "reason": why not | null},
     # with the write API on (an article store):
     "writer_running": bool, "writer": {supervisor status, see indexer.supervisor} | null,
     "indexing_backlog": int (changes not yet indexed),
     "backlog_oldest_age_s": float | null (age of the oldest of them, seconds),
     "merging": bool,
     "alerting_error": why saved searches are not being matched right now (the writer's
                       alerting retries; searches and indexing are unaffected) | null,
     "userdict": null | {"version": the user dictionary (hash) the index is being brought to,
                         "pending_words": [words added or removed whose articles are being re-indexed],
                         "reindexing": bool, "done": int, "total": int | null (articles re-indexed / to do),
                         "error": why this worker could not re-read the file (it keeps the last good one) | null}}

``ok`` is true and the status 200 only when there is no problem; any
problem makes it 503 (``unavailable``: searches cannot work; ``degraded``:
searches work but indexing, or the default search mode, does not).  Problem codes: ``index_unavailable``
(missing, unreadable or corrupt index), ``writer_down`` (the writer is not
running: why, and when it is restarted), ``writer_starting``,
``indexing_stalled`` (the writer runs but the oldest waiting change is
older than ``SEARCH_BACKLOG_MAX_AGE``), ``store_unavailable`` (the article
store cannot be read), ``semantic_unavailable`` (``SEARCH_DEFAULT_MODE`` is
hybrid or semantic but cannot run: no vectors, no extra, another model's
vectors; searches that name no mode are then lexical).
"""

from __future__ import annotations

import sqlite3
import time

from search.backends.base import IndexCorrupt

from indexer.article_store import StoreUnavailable
from indexer.embed_process import EMBED_ERROR
from indexer.userdict_reindex import progress as userdict_progress

from .engine import IndexUnavailable, article_store


def _problem(code: str, message: str) -> dict:
    return {"code": code, "message": message}


def _index_part(app) -> tuple[dict, list[dict]]:
    holder = app.extensions["search_engine"]
    try:
        engine = holder.get()
        engine.check()
        stats = engine.stats()
    except (IndexUnavailable, IndexCorrupt) as exc:
        return {"index_open": False}, [_problem("index_unavailable", str(exc))]
    except Exception as exc:  # noqa: BLE001 - a damaged index is reported, never a 500
        return {"index_open": False}, [_problem("index_unavailable", f"{type(exc).__name__}: {exc}")]
    default_mode = app.config.get("SEARCH_DEFAULT_MODE", "lexical")
    try:
        why = engine.semantic_unavailable()
    except Exception as exc:  # noqa: BLE001 - reported, never a 500
        why = f"{type(exc).__name__}: {exc}"
    problems = []
    if default_mode != "lexical" and why is not None:
        problems.append(_problem("semantic_unavailable", f"SEARCH_DEFAULT_MODE={default_mode} cannot run, so "
                                 f"searches that name no mode are lexical: {why}"))
    return ({"index_open": True, "documents": stats.documents, "segments": stats.segments,
             "generation": stats.generation, "last_modified": stats.last_modified, "vectors": stats.vectors,
             "semantic": {"default_mode": default_mode, "available": why is None, "reason": why}}, problems)


def _writer_part(app) -> tuple[dict, list[dict]]:
    try:
        store = article_store(app, existing_only=True)
    except (sqlite3.Error, StoreUnavailable) as exc:
        exc = exc.__cause__ or exc  # what SQLite said
        return ({"writer_running": False, "writer": None, "indexing_backlog": None, "backlog_oldest_age_s": None,
                 "merging": None}, [_problem("store_unavailable", f"the article store cannot be read: {exc}")])
    if store is None:
        return {}, []
    from indexer.supervisor import read_status
    from indexer.writer import running_writer

    cfg = app.config
    problems = []
    pid = running_writer(cfg["SEARCH_INDEX"], cfg["SEARCH_BACKEND"], cfg["SEARCH_ARTICLE_STORE"])
    status = read_status(cfg.get("SEARCH_WRITER_STATUS"))
    part: dict = {"writer_running": pid is not None, "writer": status}
    try:
        part["indexing_backlog"] = store.backlog()
        oldest = store.oldest_pending_at()
        part["backlog_oldest_age_s"] = None if oldest is None else round(max(0.0, time.time() - oldest), 1)
        part["merging"] = bool(store.state("merging"))
        # The writer's alerting threads (indexer.alerting): why saved searches are not matched now, or null.
        part["alerting_error"] = store.meta("alerting_error") or None
        part["userdict"] = userdict_progress(store)
        engine = getattr(app.extensions["search_engine"], "_engine", None)
        error = engine.analyzer.segmenter.error if engine is not None else None
        if part["userdict"] is not None or error:
            part["userdict"] = {**(part["userdict"] or {}), "error": error}
    except (sqlite3.Error, StoreUnavailable) as exc:
        exc = exc.__cause__ or exc
        part.update(indexing_backlog=None, backlog_oldest_age_s=None, merging=None)
        problems.append(_problem("store_unavailable", f"the article store cannot be read: {exc}"))
    backlog = part.get("indexing_backlog")
    age = part.get("backlog_oldest_age_s")
    waiting = f"; {backlog} changes wait in the store" + (f", the oldest for {age:g} s" if age is not None else "") \
        if backlog else ""
    if pid is None:
        if status and status.get("state") in ("starting", "running") and not status.get("last_exit"):
            problems.append(_problem("writer_starting", "the index writer is starting" + waiting))
        else:
            why = ""
            if status and status.get("last_exit"):
                why = f": {status['last_exit']['reason']}"
            when = ""
            if status and status.get("next_start_at"):
                when = f"; restarting in {max(0.0, status['next_start_at'] - time.time()):.0f} s"
            elif status and status.get("state") in ("starting", "running"):
                when = "; restarting now"
            problems.append(_problem("writer_down", f"the index writer is not running{why}{when}{waiting}"))
    elif age is not None and age > cfg.get("SEARCH_BACKLOG_MAX_AGE", 300):
        problems.append(_problem("indexing_stalled", f"the index writer runs but is behind{waiting}"))
    return part, problems


def _embed_failure(app) -> str | None:
    """The writer's last failed embedding run (``indexer.embed_process.EMBED_ERROR``
    in the article store's meta), None when the last run succeeded, there
    is no store, or it cannot be read (``_writer_part`` reports that)."""
    try:
        store = article_store(app, existing_only=True)
        return (store.meta(EMBED_ERROR) or None) if store is not None else None
    except (sqlite3.Error, StoreUnavailable):
        return None


def report(app) -> tuple[int, dict]:
    """(status code, body) of ``/healthz`` (see the module docstring)."""
    index, problems = _index_part(app)
    if index.get("vectors") is not None:
        failure = _embed_failure(app)
        if failure:  # searches work lexically meanwhile: said, not a problem
            said = index["vectors"].get("error")
            index["vectors"] = {**index["vectors"], "error": f"{said}; {failure}" if said else failure}
    writer, writer_problems = _writer_part(app)
    problems += writer_problems
    state = "ok" if not problems else ("unavailable" if not index["index_open"] else "degraded")
    body = {"ok": not problems, "status": state, "problems": problems,
            "reason": "; ".join(p["message"] for p in problems), **index, **writer}
    return (200 if not problems else 503), body
