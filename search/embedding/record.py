"""What made an index's dense vectors (issue 20): the model record every
backend keeps beside its vectors, and the refusal to mix two models.

Whoosh keeps it in each segment's vectors file
(``search/backends/whoosh/vectors.py``), OpenSearch in each document
beside its vector (``search/backends/opensearch/vectors.py``); both
refuse vectors of another record with ``VectorsModelMismatch``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import SearchServiceError

RECORD_TEXT = ("model_id", "query_prefix", "passage_prefix")
RECORD_INT = ("dim", "max_tokens")


class VectorsModelMismatch(ValueError, SearchServiceError):
    """Vectors of two different models (or of one model with another
    prefix or dimension configuration) would be mixed in one index: the
    message names both records and how to start over (``--reset``).
    Status 500: the site's configuration, not a client's input."""


@dataclass(frozen=True)
class ModelRecord:
    """What made an index's vectors: the embedder's ``EmbedderInfo``
    fields (model_id: text; dim: vector length; query_prefix /
    passage_prefix: text put before queries / passages; max_tokens: the
    model's input window in tokens).  Two records that differ in any field
    make vectors that are not comparable."""

    model_id: str
    dim: int
    query_prefix: str
    passage_prefix: str
    max_tokens: int

    @classmethod
    def of(cls, info) -> "ModelRecord":
        """The record of an ``search.embedding.EmbedderInfo``."""
        return cls(info.model_id, int(info.dim), info.query_prefix, info.passage_prefix, int(info.max_tokens))

    def describe(self) -> str:
        """One line naming the model and its configuration."""
        return (f"{self.model_id} (dim {self.dim}, query prefix {self.query_prefix!r}, "
                f"passage prefix {self.passage_prefix!r}, {self.max_tokens} tokens)")

    def arrays(self) -> dict:
        """The record as arrays (a Whoosh vectors file's): uint8 UTF-8
        bytes per text field, one int64 per number."""
        out = {k: np.frombuffer(getattr(self, k).encode("utf-8"), np.uint8) for k in RECORD_TEXT}
        out.update({k: np.array([getattr(self, k)], np.int64) for k in RECORD_INT})
        return out

    def key(self) -> str:
        """The record as one canonical JSON text (sorted keys, no spaces):
        equal records, equal keys (an OpenSearch keyword value)."""
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_key(cls, key: str) -> "ModelRecord":
        """The record of a ``key()`` text.  Raises ValueError for text that
        is not one."""
        try:
            fields = json.loads(key)
            return cls(**{k: str(fields[k]) for k in RECORD_TEXT}, **{k: int(fields[k]) for k in RECORD_INT})
        except (TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"not a vectors model record: {key[:200]!r} ({exc})") from None


def mismatch(found: ModelRecord, other: ModelRecord, where: str, doing: str) -> VectorsModelMismatch:
    """The error for vectors of ``other`` meeting the index's ``found``
    (``where``: the index directory or alias; ``doing``: what was attempted)."""
    return VectorsModelMismatch(
        f"the index at {where} holds vectors of {found.describe()}; {doing} {other.describe()}. "
        "Vectors of two models are not comparable and are never mixed: to start over with the new model, "
        f"drop the old vectors with `python -m indexer embed --index {where} --model MODEL --reset`")
