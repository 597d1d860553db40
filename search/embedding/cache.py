"""A persistent cache of embeddings (issue 20): a vector is computed once per
(model, kind, exact text), then read back from a file.

Embedding is the expensive step of dense retrieval (~60-80 ms of CPU per
passage with the bundled model; ~1.2-1.7 h of 2 cores for the 108,478
articles of the full corpora), and the evaluations build fresh indexes of
texts already embedded elsewhere.  ``CachedEmbedder`` wraps an
``Embedder``: it looks every text up first, embeds only the misses (in the
wrapped model's batches, each batch stored as soon as it is computed, so a
killed run loses at most one batch), and returns the model's own float32
values, byte for byte (no re-normalisation on the way back).

The file is an SQLite database (stdlib ``sqlite3``; WAL journal, so one
writer and any number of readers, in threads or processes, work side by
side; a writer waits up to ``BUSY_TIMEOUT_MS`` for another's transaction):

* ``models(id, model_id, dim, query_prefix, passage_prefix, max_tokens)``:
  one row per model id, the ``EmbedderInfo`` its vectors were made with.
  A model of the same id with another dimension, prefixes or window is
  refused (``EmbeddingCacheError``): its vectors would not be comparable;
* ``vectors(id, model, kind, sha1, vector)``, unique on (model, kind,
  sha1): ``kind`` "query" or "passage"
  (the same text embedded as either gets another vector), ``sha1`` the
  20-byte SHA-1 of the UTF-8 bytes of the text *as the model is given
  it* (``base.model_text``, before the model's prefix), ``vector`` the row as float32
  little-endian bytes (``dim * 4`` of them; another length is refused as
  damage).

``PRAGMA application_id`` / ``user_version`` mark the file as this cache,
version 1: another SQLite file, a damaged file or another version is
refused with a message naming the file.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Sequence

import numpy as np

from ..errors import SearchServiceError
from .base import Embedder, EmbeddingModelError, check_texts, model_text

APPLICATION_ID = 0x53454331  # "SEC1": search embedding cache, marks the file as ours
VERSION = 1
KINDS = ("query", "passage")
BUSY_TIMEOUT_MS = 60_000  # a writer's transaction is one batch: ~2-3 s at the measured 18 passages/s
_LOOKUP_CHUNK = 500  # keys per SELECT (SQLite's default limit of host parameters is 999 before 3.32)
_DTYPE = np.dtype("<f4")
_SCHEMA = """
CREATE TABLE models (id INTEGER PRIMARY KEY, model_id TEXT NOT NULL UNIQUE, dim INTEGER NOT NULL,
                     query_prefix TEXT NOT NULL, passage_prefix TEXT NOT NULL, max_tokens INTEGER NOT NULL);
CREATE TABLE vectors (id INTEGER PRIMARY KEY, model INTEGER NOT NULL REFERENCES models(id), kind TEXT NOT NULL,
                      sha1 BLOB NOT NULL, vector BLOB NOT NULL);
CREATE UNIQUE INDEX vectors_key ON vectors (model, kind, sha1);
"""
# A rowid table, not WITHOUT ROWID: a row (~1.6 KB for dim 384) then stays on its
# page instead of spilling into an overflow page (an index b-tree keeps at most
# ~1 KB of a 4 KB page's row local), and pages of 16 KB hold ten rows.  Measured
# here on the same 500 vectors of dim 384 (470 passages, 30 queries): 2.36 MB
# (4.7 KB a vector) as WITHOUT ROWID with 4 KB pages, 0.93 MB (1.9 KB) this way.
PAGE_SIZE = 16384


class EmbeddingCacheError(ValueError, SearchServiceError):
    """An embedding cache file that cannot be used: not a database, not
    this cache (another application or version), damaged rows, or rows of
    the same model id made with another dimension or prefixes.  The
    message names the file.  Status 500: the site's files, not a client's
    input."""


def text_key(text: str) -> bytes:
    """The 20-byte SHA-1 of the text the model is given for ``text``
    (``base.model_text``, UTF-8): a cache row's key with the model and the
    kind.  Texts that differ only in what the model never sees (invisible
    characters, compatibility forms, white space) share a row."""
    return hashlib.sha1(model_text(text).encode("utf-8")).digest()


class EmbeddingCache:
    """The cache file at ``path`` (created when missing, with its
    directory's existing permissions).  Thread-safe (one connection, one
    lock); several processes may open the same file.

    Raises ``EmbeddingCacheError`` for a file that is not a usable cache,
    OSError (as ``EmbeddingCacheError``) when it cannot be opened."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._models: dict[str, tuple[int, int]] = {}  # model_id -> (row id, dim)
        try:
            self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                                       isolation_level=None)
        except sqlite3.Error as exc:
            raise EmbeddingCacheError(f"embedding cache {path} cannot be opened: {exc}") from None
        try:
            self._prepare()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise EmbeddingCacheError(f"embedding cache {path} is not a readable SQLite database ({exc}): "
                                      "remove it to start a new cache") from None
        except EmbeddingCacheError:
            self._db.close()
            raise

    def _prepare(self) -> None:
        db = self._db
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        app = db.execute("PRAGMA application_id").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app == 0 and tables == 0:
            db.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # before the first table and WAL, or it is ignored
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("BEGIN IMMEDIATE")
            try:
                if db.execute("PRAGMA application_id").fetchone()[0] == 0:  # not made meanwhile by another
                    for statement in _SCHEMA.split(";"):  # not executescript: it would commit first
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    db.execute(f"PRAGMA user_version = {VERSION}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            app = APPLICATION_ID
        if app != APPLICATION_ID:
            raise EmbeddingCacheError(f"{self.path} is an SQLite database of something else, not an embedding "
                                      "cache: give another file name")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version != VERSION:
            raise EmbeddingCacheError(f"embedding cache {self.path} is of version {version}; this code reads "
                                      f"version {VERSION}: remove it to start a new cache")
        db.execute("PRAGMA synchronous = NORMAL")  # WAL: a power loss may lose the last batches, never corrupt

    def close(self) -> None:
        """Close the file (the object is unusable afterwards)."""
        with self._lock:
            self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def check(self, info) -> int:
        """Record the model ``info`` (an ``EmbedderInfo``, a
        ``ModelRecord``: anything with their five fields) in the file if
        new; returns its dimension.  Raises ``EmbeddingCacheError`` when
        the file holds that model id with another configuration or rows of
        another length."""
        with self._lock:
            return self._model(info)[1]

    def _model(self, info) -> tuple[int, int]:
        """(row id, dim) of ``info``'s model (an ``EmbedderInfo`` or anything
        with its fields), recorded on first use (a write transaction only
        then); on a connection's first use its rows' lengths are checked
        (one pass over them: ~200 MB for the full corpora's vectors).  Raises ``EmbeddingCacheError``
        when the file holds that model id with another configuration."""
        found = self._models.get(info.model_id)
        if found is not None:
            return found
        want = (int(info.dim), info.query_prefix, info.passage_prefix, int(info.max_tokens))
        db = self._db
        select = "SELECT id, dim, query_prefix, passage_prefix, max_tokens FROM models WHERE model_id = ?"
        row = db.execute(select, (info.model_id,)).fetchone()  # a reader takes no write lock
        if row is None:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(select, (info.model_id,)).fetchone()  # another writer's meanwhile?
                if row is None:
                    cur = db.execute("INSERT INTO models (model_id, dim, query_prefix, passage_prefix, max_tokens) "
                                     "VALUES (?, ?, ?, ?, ?)", (info.model_id, *want))
                    row = (cur.lastrowid, *want)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        if tuple(row[1:]) != want:
            raise EmbeddingCacheError(
                f"embedding cache {self.path} holds vectors of {info.model_id} with dim {row[1]}, query prefix "
                f"{row[2]!r}, passage prefix {row[3]!r}, {row[4]} tokens; this embedder has dim {want[0]}, "
                f"query prefix {want[1]!r}, passage prefix {want[2]!r}, {want[3]} tokens. Vectors of two "
                "configurations are not comparable: use another cache file (or give the model another id)")
        bad = db.execute("SELECT count(*) FROM vectors WHERE model = ? AND length(vector) != ?",
                         (row[0], want[0] * _DTYPE.itemsize)).fetchone()[0]
        if bad:
            raise EmbeddingCacheError(f"embedding cache {self.path}: {bad} vector(s) of {info.model_id} are not "
                                      f"{want[0]} float32 values long (damaged): remove the file to start over")
        self._models[info.model_id] = (row[0], want[0])
        return self._models[info.model_id]

    def get(self, info, kind: str, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The cached vectors of ``texts`` (strings, as given to the
        embedder) for the model ``info`` and ``kind`` ("query" or
        "passage"): (float32 ``(len(texts), dim)``, zero rows for misses;
        bool ``(len(texts),)``, True where found).  Raises
        ``EmbeddingCacheError`` (damaged rows, another configuration of the
        model), ValueError for another kind."""
        _check_kind(kind)
        keys = [text_key(t) for t in texts]
        with self._lock:
            model, dim = self._model(info)
            found: dict[bytes, bytes] = {}
            unique = list(dict.fromkeys(keys))
            for start in range(0, len(unique), _LOOKUP_CHUNK):
                chunk = unique[start:start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                found.update(self._db.execute(
                    f"SELECT sha1, vector FROM vectors WHERE model = ? AND kind = ? AND sha1 IN ({marks})",
                    (model, kind, *chunk)))
        out = np.zeros((len(texts), dim), _DTYPE)
        hit = np.zeros(len(texts), bool)
        for i, key in enumerate(keys):
            blob = found.get(key)
            if blob is not None:
                if len(blob) != dim * _DTYPE.itemsize:
                    raise EmbeddingCacheError(f"embedding cache {self.path}: a vector of {info.model_id} is "
                                              f"{len(blob)} bytes, not {dim} float32 values (damaged)")
                out[i] = np.frombuffer(blob, _DTYPE)
                hit[i] = True
        return out.astype(np.float32, copy=False), hit

    def put(self, info, kind: str, texts: Sequence[str], vectors: np.ndarray) -> int:
        """Store ``vectors`` (float32 ``(len(texts), dim)``) as those of
        ``texts`` for the model ``info`` and ``kind``, in one transaction;
        a text already cached keeps its row.  Returns the rows added.
        Raises ValueError for a shape that does not fit, ``EmbeddingCacheError``."""
        _check_kind(kind)
        vectors = np.asarray(vectors)
        with self._lock:
            model, dim = self._model(info)
            if vectors.dtype != np.float32 or vectors.shape != (len(texts), dim):
                raise ValueError(f"vectors of shape {vectors.shape} ({vectors.dtype}) do not fit "
                                 f"{len(texts)} texts of dimension {dim} (float32)")
            rows = [(model, kind, text_key(t), vectors[i].astype(_DTYPE).tobytes()) for i, t in enumerate(texts)]
            db = self._db
            before = db.total_changes
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR IGNORE INTO vectors (model, kind, sha1, vector) VALUES (?, ?, ?, ?)", rows)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return db.total_changes - before

    def count(self, model_id: str | None = None) -> int:
        """Vectors held (of the model ``model_id``; None: of every model)."""
        with self._lock:
            if model_id is None:
                return self._db.execute("SELECT count(*) FROM vectors").fetchone()[0]
            return self._db.execute("SELECT count(*) FROM vectors JOIN models ON models.id = vectors.model "
                                    "WHERE models.model_id = ?", (model_id,)).fetchone()[0]


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")


class CachedEmbedder(Embedder):
    """``embedder`` (an ``Embedder``) behind the cache ``cache`` (an
    ``EmbeddingCache``, or the path of its file): the same interface and
    ``info``; ``embed_queries`` / ``embed_passages`` return the cached
    rows for texts seen before (byte-identical to what the model gave) and
    embed the rest (each distinct text once), ``batch_size`` at a time,
    storing each batch when computed.

    Counters (ints, since construction): ``hits`` and ``misses`` (texts
    found / embedded; a text repeated within one call counts once per
    occurrence as a hit after its first), ``model_calls`` (batches given
    to the model).  Safe to call from several threads (two threads
    missing the same text at once may both embed it; the first row
    stored is kept).  Raises what the cache and the model raise; the file
    is checked against the model's ``info`` at construction."""

    def __init__(self, embedder: Embedder, cache):
        if not isinstance(embedder, Embedder):
            raise EmbeddingModelError(f"CachedEmbedder wraps an Embedder, not {type(embedder).__name__}")
        super().__init__(batch_size=embedder.batch_size, threads=embedder.threads)
        self.inner = embedder
        self.info = embedder.info
        self.cache = cache if isinstance(cache, EmbeddingCache) else EmbeddingCache(os.fspath(cache))
        self.cache.check(self.info)  # refuse a file of another configuration before any work
        self.hits = 0
        self.misses = 0
        self.model_calls = 0

    def stats(self) -> dict:
        """{"hits", "misses", "model_calls"} (ints) since construction."""
        return {"hits": self.hits, "misses": self.misses, "model_calls": self.model_calls}

    def _embed(self, texts, *, query: bool) -> np.ndarray:
        items = check_texts(texts)
        kind = KINDS[0] if query else KINDS[1]
        out, hit = self.cache.get(self.info, kind, items)
        first: dict[str, list[int]] = {}  # missed text -> its positions
        for i in np.flatnonzero(~hit).tolist():
            first.setdefault(items[i], []).append(i)
        missed = list(first)
        embed = self.inner.embed_queries if query else self.inner.embed_passages
        for start in range(0, len(missed), self.batch_size):
            chunk = missed[start:start + self.batch_size]
            vectors = embed(chunk)
            with self._lock:
                self.model_calls += 1
            self.cache.put(self.info, kind, chunk, vectors)
            for text, row in zip(chunk, vectors):
                out[first[text]] = row
        with self._lock:  # the counters only: lookups and the model have their own locks
            self.misses += len(missed)
            self.hits += len(items) - len(missed)
        return out

    def _embed_batch(self, texts: list[str], *, query: bool) -> np.ndarray:
        """One batch through the wrapped model, without the cache."""
        return self.inner._embed_batch(texts, query=query)
