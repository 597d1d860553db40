"""Re-indexing after the user dictionary changed, in the writer process.

The segmenter re-reads the user dictionary when its file changes
(``search.segmenter``), in every web worker and in the writer, so new
articles and new queries are cut with the new words at once.  Articles
indexed before were cut with the old dictionary: this re-puts, from the
article store, every article whose text holds a word that was added or
removed (the word's characters, normalised as the segmenter sees them),
a batch per writer step, so a re-index never holds up the change log for
long.  Until it is done, queries still find those articles however they
were cut (``search.pending_words``): every web worker reads this state
(``words``, and ``reindex.words``) from the store and searches each word
added, removed or being re-indexed both as the word and as the phrase of
its characters.  The articles to re-index are found here, by the text of
the stored records (``affected_ids``), not through the index.

The writer reads the state only when there is something to do: after the
dictionary's version changed, or while a re-index runs; an idle writer
with a settled dictionary costs nothing per step (it is the store's only
writer of this state).

State, in the article store's ``meta`` table under ``userdict`` (JSON; the
store feeds exactly one index, and a rebuild from the store re-analyses
everything)::

    {"version": hash the index's articles were cut with,
     "words": [that dictionary's words, normalised],
     "reindex": null | {"target": hash being brought in, "words": [changed words],
                        "total": articles to re-index | null while they are searched for,
                        "done": articles re-indexed},
     "last": the last finished re-index: {"words", "done", "total"} (or absent)}

A writer restarted in the middle resumes: it finds the same articles (id
order) and goes on from ``done``; a dictionary changed again meanwhile
adds its changed words to those still pending and starts over.
"""

from __future__ import annotations

import json
import logging
import threading

from search.normalize import normalize_query

from .records import RecordError, read_article, record_hash

log = logging.getLogger("indexer.userdict")

META_KEY = "userdict"
BATCH = 200  # articles re-indexed per writer step (chosen, not measured: about a second of analysis)


def _words(loaded) -> list[str]:
    """The words of a ``search.segmenter.Loaded`` dictionary, normalised (as loaded), sorted."""
    return sorted(loaded.words)


def read_state(articles) -> dict | None:
    """The ``userdict`` state of the store (see the module), or None."""
    raw = articles.meta(META_KEY)
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def progress(articles) -> dict | None:
    """What ``/healthz`` shows: {"version", "pending_words", "reindexing",
    "done", "total"}: the re-index under way (total None while the
    articles are searched for), else the last one (0 and 0 when there was
    none); None when the writer has recorded no user dictionary yet."""
    state = read_state(articles)
    if state is None:
        return None
    job = state.get("reindex")
    if job is not None:
        return {"version": job.get("target"), "pending_words": list(job.get("words") or []), "reindexing": True,
                "done": job.get("done", 0), "total": job.get("total")}
    last = state.get("last") or {}
    return {"version": state.get("version"), "pending_words": [], "reindexing": False,
            "done": last.get("done", 0), "total": last.get("total", 0)}


def affected_ids(articles, words: list[str]) -> list[str]:
    """Ids (in id order) of the live articles of ``articles`` whose title or
    body, normalised, contains one of ``words`` (normalised)."""
    if not words:
        return []
    out = []
    for record in articles.records():
        text = normalize_query(f"{record.get('title') or ''}\n{record.get('body') or ''}")
        if any(w in text for w in words):
            out.append(str(record.get("id")))
    return out


class UserDictReindex:
    """The writer's part: ``step(loop)`` after each of its steps (``loop``:
    the ``ChangeLoop``, whose document writer and target re-index); the
    search for affected articles runs in a thread."""

    def __init__(self, articles, segmenter, batch: int = BATCH):
        self.articles = articles
        self.segmenter = segmenter
        self.batch = batch
        self._scan: tuple[str, list[str] | None] | None = None  # (target version, ids or None while running)
        self._thread: threading.Thread | None = None
        self._settled: str | None = None  # the version the index is known to be cut with, no re-index running

    def _save(self, state: dict) -> None:
        self.articles.set_meta(META_KEY, json.dumps(state, ensure_ascii=False))

    def _start_scan(self, target: str, words: list[str]) -> None:
        holder = [target, None]
        self._scan = holder  # type: ignore[assignment]

        def job():
            try:
                holder[1] = affected_ids(self.articles, words)  # its own connection (per thread)
            except Exception:  # noqa: BLE001 - retried at the next change of version
                log.exception("finding the articles to re-index failed")
                holder[1] = []

        self._thread = threading.Thread(target=job, name="userdict-scan", daemon=True)
        self._thread.start()

    def step(self, loop) -> int:
        """Bring the index one batch closer to the current user dictionary;
        returns how many articles were re-indexed (0: nothing to do now).
        Returns at once, reading nothing, while the dictionary's version is
        the one the index is known to be cut with and no re-index runs."""
        if not self.segmenter.userdict_path:
            return 0
        self.segmenter.check()
        loaded = self.segmenter.loaded  # one dictionary: version and words agree
        current = loaded.version
        if self._settled == current:
            return 0
        words = _words(loaded)
        state = read_state(self.articles)
        if state is None:  # the first writer with this dictionary: the index was cut with it
            self._save({"version": current, "words": words, "reindex": None})
            self._settled = current
            return 0
        job = state.get("reindex")
        if job is None and state.get("version") == current:
            self._settled = current
            return 0
        self._settled = None
        if job is None or job.get("target") != current:
            changed = set(state.get("words") or []) ^ set(words)
            if job is not None:  # a re-index interrupted by another change: its words are still pending
                changed |= set(job.get("words") or [])
            job = {"target": current, "words": sorted(changed), "total": None, "done": 0}
            state["reindex"] = job
            self._save(state)
            self._scan = None
            log.info("user dictionary %s: re-indexing the articles with %s", current, "、".join(job["words"]) or "-")
        if self._scan is None or self._scan[0] != current:
            self._start_scan(current, job["words"])
            return 0
        ids = self._scan[1]
        if ids is None:
            return 0  # still searching
        if job.get("total") is None:
            job["total"] = len(ids)
        done = min(int(job.get("done") or 0), len(ids))
        chunk = ids[done:done + self.batch]
        if chunk:
            self._reput(loop, chunk)
            job["done"] = done + len(chunk)
        if job["done"] >= len(ids):
            state = {"version": current, "words": words, "reindex": None,
                     "last": {"words": job["words"], "done": job["done"], "total": len(ids)}}
            self._scan = None
            self._settled = current
            log.info("user dictionary %s: %d articles re-indexed", current, len(ids))
        else:
            state["reindex"] = job
        self._save(state)
        return len(chunk)

    def _reput(self, loop, ids: list[str]) -> None:
        """Analyse the stored records of ``ids`` anew and put them through
        the target (one unit, one commit); an id withdrawn meanwhile is skipped."""
        put = []
        for doc_id in ids:
            record = self.articles.get(doc_id)
            if record is None:
                continue
            try:
                article = read_article(record, acknowledged=True)
            except RecordError as exc:
                log.error("%s not re-indexed: %s", doc_id, exc)
                continue
            loop.documents.add(article, record_hash(article))
            put.append(article.id)
        unit = loop.documents.flush()
        if unit is not None:
            loop.target.apply([(unit, put)], [])
            loop.target.commit()
            loop.target.maintain(changed=True)

    def rebuilt(self) -> None:
        """The whole index was re-analysed with the current dictionary."""
        if self.segmenter.userdict_path:
            self.segmenter.check(force=True)
            loaded = self.segmenter.loaded
            self._save({"version": loaded.version, "words": _words(loaded), "reindex": None})
            self._scan = None
            self._settled = loaded.version
