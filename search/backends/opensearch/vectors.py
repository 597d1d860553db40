"""Dense vectors in an OpenSearch index (issue 20): each article's vector
kept in its document's source, never indexed, beside its model record.

Why not the cluster's k-NN: the test cluster (``scripts/opensearch``, the
launcher in tools/opensearch-cluster) loads two plugins only,
analysis-common and transport-netty4 (``GET _cat/plugins``): no k-NN
plugin (no ``knn_vector`` field, no ``knn`` query) and no painless
(``lang-painless`` is a module the launcher does not load, so no
``script_score`` over a dense field either).  The vectors therefore live
in ``_source`` and the service ranks by them (``rerank.py``): hybrid
search re-ranks the lexical top candidates, and cannot add articles found
by meaning alone (that needs a nearest-neighbour search over every
vector, which the cluster cannot do).

Two fields per document (``mapping.VECTOR_FIELDS``), written by
``python -m indexer embed`` (``embedjob.py``) as partial updates:

* ``vector``: ``binary`` (not indexed, no doc values): base64 of the
  float32 little-endian bytes of the L2-normalised vector (2,048
  characters for dimension 384, against ~4,600 as a JSON list; exact:
  the service reads back the very floats the model gave);
* ``vector_model``: ``keyword``: the model record's canonical text
  (``ModelRecord.key``): counted by an aggregation (two models in one
  index are refused: ``VectorsModelMismatch``) and by ``exists`` queries
  (the backlog: live articles without the field).

Re-indexing an article (an update through the writer, a rebuild)
replaces its whole source: the vector goes with the old text.  A rebuild
carries the old index's vectors over to the new one for the articles
whose passage (``search/passages.py``) is unchanged (``carry_over``); an
updated article waits for the next embedding run (it counts in the
backlog meanwhile).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterable

import numpy as np

from ...embedding.record import ModelRecord, VectorsModelMismatch, mismatch
from ...passages import passage

log = logging.getLogger(__name__)

VECTOR = "vector"
MODEL = "vector_model"
# At most this many distinct model records are looked for (one is the rule;
# two already make the error).
MODELS_LOOKED_FOR = 10


def encode(vector: np.ndarray) -> str:
    """A float32 ``(dim,)`` vector as its ``vector`` field: base64 of its
    little-endian float32 bytes."""
    return base64.b64encode(np.ascontiguousarray(vector, "<f4").tobytes()).decode("ascii")


def decode(text: str, dim: int) -> np.ndarray:
    """A ``vector`` field back as float32 ``(dim,)``.  Raises ValueError
    for text that is not base64 of ``dim`` float32 values."""
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 4 * dim:
        raise ValueError(f"a stored vector of {len(raw)} bytes; dimension {dim} needs {4 * dim}")
    return np.frombuffer(raw, "<f4").astype(np.float32)


def models(client, index: str) -> dict[str, int]:
    """{model record key: articles with a vector of it} of ``index``
    (``vector_model``'s terms; {} for an index without vectors, or written
    before the field existed)."""
    res = client.search(index=index, body={"size": 0, "track_total_hits": False, "aggs": {
        "models": {"terms": {"field": MODEL, "size": MODELS_LOOKED_FOR}}}})
    return {b["key"]: b["doc_count"] for b in res["aggregations"]["models"]["buckets"]}


def has_fields(client, index: str) -> bool:
    """Does every index behind ``index`` map the vector fields?"""
    mappings = client.indices.get_mapping(index=index)
    return bool(mappings) and all(MODEL in ((m.get("mappings") or {}).get("properties") or {})
                                  for m in mappings.values())


def index_model(client, index: str) -> ModelRecord | None:
    """The model record of ``index``'s vectors (None: no vectors).  Raises
    ``VectorsModelMismatch`` when it holds vectors of two records."""
    if not has_fields(client, index):
        return None
    found = models(client, index)
    if len(found) > 1:
        first, second = sorted(found)[:2]
        raise mismatch(ModelRecord.from_key(first), ModelRecord.from_key(second), index,
                       f"{found[second]} of its articles have vectors of")
    return ModelRecord.from_key(next(iter(found))) if found else None


def with_vectors(client, index: str) -> int:
    """Live articles of ``index`` that have a vector."""
    if not has_fields(client, index):
        return 0
    return client.count(index=index, body={"query": {"exists": {"field": MODEL}}})["count"]


def state(client, index: str, documents: int) -> dict:
    """What ``IndexStats.vectors`` reports for ``index`` of ``documents``
    live articles: {"model", "dim", "with_vectors", "backlog", "error"};
    two models give "error" (and every article counts in the backlog), as
    on Whoosh."""
    try:
        model = index_model(client, index)
    except (VectorsModelMismatch, ValueError) as exc:
        return {"model": None, "dim": None, "with_vectors": 0, "backlog": documents, "error": str(exc)}
    have = with_vectors(client, index) if model else 0
    return {"model": model.model_id if model else None, "dim": model.dim if model else None,
            "with_vectors": have, "backlog": documents - have, "error": None}


def carry_over(client, source: str, dest: str, report: Callable[[str], None] | None = None,
               chunk: int = 500) -> int:
    """Copy into the index ``dest`` (a rebuild's new generation, before it
    is swapped in) the vectors of the index or alias ``source`` (what it
    replaces) for the articles of ``dest`` without one whose passage
    (title and lead, ``search/passages.py``) is the same in both.  Each
    update is conditional on the document not having changed since it was
    read (``if_seq_no``).  Returns the number copied (0 when ``source`` has
    no vectors, or ``dest`` holds another model's: nothing is mixed).
    Raises ``VectorsModelMismatch`` for a ``source`` of two models, and the
    client's errors."""
    from opensearchpy import helpers

    say = report or (lambda _line: None)
    model = index_model(client, source)
    if model is None:
        return 0
    there = index_model(client, dest)
    if there is not None and there != model:
        say(f"vectors not carried over: {dest} holds vectors of {there.model_id}, {source} of {model.model_id}")
        return 0
    ensure_fields(client, dest)
    key = model.key()
    copied = 0
    found = helpers.scan(client, index=source, size=chunk, _source=["stored.title", "stored.body", VECTOR],
                         query={"query": {"term": {MODEL: key}}})
    for batch in _batches(found, chunk):
        old = {h["_id"]: (_passage(h, model), h["_source"][VECTOR]) for h in batch}
        # (a multi-get answers each found document's _seq_no and _primary_term)
        res = client.mget(index=dest, body={"ids": list(old)}, _source_includes=["stored.title", "stored.body", MODEL])
        updates = []
        for d in res["docs"]:
            if not d.get("found") or MODEL in d["_source"]:
                continue
            text, vector = old[d["_id"]]
            if _passage(d, model) == text:
                updates.append(update_action(dest, d["_id"], vector, key, d["_seq_no"], d["_primary_term"]))
        copied += len(apply_updates(client, updates)[0])
    client.indices.refresh(index=dest)
    say(f"{copied} vector(s) carried over from {source}")
    return copied


def _passage(hit: dict, model: ModelRecord) -> str:
    stored = hit["_source"].get("stored") or {}
    return passage(stored.get("title"), stored.get("body"), model.max_tokens)


def _batches(items: Iterable, size: int):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def ensure_fields(client, index: str) -> None:
    """Map the vector fields on every index behind ``index`` that lacks
    them (an index created before they existed: its mapping is strict, so
    an update carrying them would be refused).  Adding fields is allowed
    on a live index; nothing is re-indexed."""
    from .mapping import VECTOR_FIELDS

    if not has_fields(client, index):
        client.indices.put_mapping(index=index, body={"properties": VECTOR_FIELDS})


def update_action(index: str, doc_id: str, vector: str, key: str, seq_no: int, primary_term: int) -> dict:
    """A bulk partial update setting ``doc_id``'s vector (encoded) and
    model record key, applied only if the document is still at
    ``seq_no`` / ``primary_term`` (unchanged since it was read)."""
    return {"_op_type": "update", "_index": index, "_id": doc_id, "if_seq_no": seq_no,
            "if_primary_term": primary_term, "doc": {VECTOR: vector, MODEL: key}}


def apply_updates(client, actions: Iterable[dict], chunk: int = 500) -> tuple[list[str], list[str]]:
    """Send conditional bulk actions (``update_action``s, or whole sources
    with ``if_seq_no``), ``chunk`` per request; returns (ids written, ids
    skipped: changed or deleted since they were read, status 409 or 404).
    Rejected requests (429) are retried with back-off.  Raises
    ``RuntimeError`` naming the first other failure."""
    from opensearchpy import helpers

    done, skipped = [], []
    for ok, item in helpers.streaming_bulk(client, actions, chunk_size=chunk, raise_on_error=False,
                                           raise_on_exception=True, max_retries=5, initial_backoff=1):
        (outcome,) = item.values()
        if ok:
            done.append(outcome["_id"])
        elif outcome.get("status") in (404, 409):
            skipped.append(outcome["_id"])
        else:
            raise RuntimeError(f"updating the vector of {outcome['_id']} failed: {outcome.get('error')}")
    return done, skipped
