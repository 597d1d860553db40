"""``python -m indexer embed`` on an OpenSearch index (issue 20): the
vectors of the articles lacking one, computed here and written into
their documents as partial updates (``vectors.py`` says where and how).

The same passages (``search/passages.py``: title + lead, cut to the
model's ``max_tokens``) and the same refusal as on Whoosh: an index
holding another model's vectors is refused (``VectorsModelMismatch``,
nothing embedded) until ``reset`` drops them.

The articles without a vector are scrolled (``must_not exists
vector_model``), embedded ``batch`` at a time, and each batch is one
bulk request of partial updates, each conditional on the document being
unchanged since it was read (``if_seq_no``): an article updated or
withdrawn meanwhile is skipped (it is still without a vector, so the
next run takes it).  Killed at any point, a run loses at most the batch
it was embedding; the next run starts with what is still missing.  Two
runs at once only duplicate work (the later update of an article is
refused as a conflict).  The caller lowers the process's priority
(``indexer/cli_embed.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ...embedding.record import ModelRecord, mismatch
from . import vectors
from .vectors import MODEL, VECTOR, ensure_fields, index_model

DEFAULT_BATCH = 256  # articles per bulk request of updates (and per progress line)
LACKING = {"bool": {"must_not": [{"exists": {"field": MODEL}}]}}


@dataclass
class EmbedSummary:
    """What a run did: ``model`` (its ``ModelRecord``), ``embedded``
    (vectors written), ``skipped`` (articles changed or withdrawn between
    reading and writing), ``backlog`` (live articles still without a vector
    at the end), ``reset`` (vectors dropped first), ``seconds``."""

    model: ModelRecord
    embedded: int = 0
    skipped: int = 0
    backlog: int = 0
    reset: int = 0
    seconds: float = 0.0
    batches: list = field(default_factory=list)  # (articles embedded, seconds) per batch


def backlog(client, index: str) -> int:
    """Live articles of ``index`` without a vector."""
    return client.count(index=index, body={"query": LACKING})["count"]


def embed_index(client, index: str, embedder, limit: int | None = None, batch: int = DEFAULT_BATCH,
                reset: bool = False, report: Callable[[str], None] | None = None) -> EmbedSummary:
    """Embed the articles of the OpenSearch index or alias ``index`` that
    lack a vector with ``embedder`` (a ``search.embedding.Embedder``), at
    most ``limit`` of them (None: all), ``batch`` per bulk request;
    ``reset``: first drop every vector (another model's, to start over).
    ``report(line)`` hears the progress.  Returns an ``EmbedSummary``.

    Raises ``VectorsModelMismatch`` (the index holds another model's
    vectors: nothing embedded), ValueError for ``limit`` < 0 or ``batch``
    < 1, what the embedder and the client raise."""
    from opensearchpy import helpers

    if limit is not None and limit < 0:
        raise ValueError(f"limit must be 0 or more, got {limit}")
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    say = report or (lambda _line: None)
    t0 = time.monotonic()
    record = ModelRecord.of(embedder.info)
    out = EmbedSummary(model=record)
    ensure_fields(client, index)
    if reset:
        out.reset = drop_vectors(client, index)
        say(f"removed {out.reset} vector(s)")
    found = index_model(client, index)
    if found is not None and found != record:
        raise mismatch(found, record, index, "this run would embed with")
    key = record.key()
    todo = [] if limit == 0 else helpers.scan(
        client, index=index, size=batch, query={"query": LACKING}, _source=["stored.title", "stored.body"],
        seq_no_primary_term=True)
    pending: list[dict] = []
    for hit in todo:
        if limit is not None and out.embedded + out.skipped + len(pending) >= limit:
            break
        pending.append(hit)
        if len(pending) == batch:
            _write(client, pending, embedder, record, key, out, say, t0)
            pending = []
    if pending:
        _write(client, pending, embedder, record, key, out, say, t0)
    client.indices.refresh(index=index)
    out.backlog = backlog(client, index)
    out.seconds = time.monotonic() - t0
    return out


def _write(client, hits: list[dict], embedder, record: ModelRecord, key: str, out: EmbedSummary, say, t0) -> None:
    """Embed one batch of scrolled hits and send their updates."""
    start = time.monotonic()
    texts = [vectors.passage((h["_source"].get("stored") or {}).get("title"),
                             (h["_source"].get("stored") or {}).get("body"), record.max_tokens) for h in hits]
    rows = np.asarray(embedder.embed_passages(texts), np.float32)
    actions = [vectors.update_action(h["_index"], h["_id"], vectors.encode(row), key, h["_seq_no"],
                                     h["_primary_term"]) for h, row in zip(hits, rows)]
    done, skipped = vectors.apply_updates(client, actions)
    out.embedded += len(done)
    out.skipped += len(skipped)
    out.batches.append((len(done), time.monotonic() - start))
    rate = out.embedded / max(time.monotonic() - t0, 1e-9)
    say(f"{out.embedded} embedded ({rate:.1f}/s), {out.skipped} skipped (changed meanwhile)")


def drop_vectors(client, index: str, chunk: int = 500) -> int:
    """Remove every article's vector and model record from ``index`` (its
    source written again without them: the cluster runs no update
    scripts), each conditional on the document being unchanged since it
    was read.  Returns the number of articles written."""
    from opensearchpy import helpers

    def actions():  # streamed: a large index's sources are never all in memory
        for hit in helpers.scan(client, index=index, size=chunk, query={"query": {"exists": {"field": MODEL}}},
                                seq_no_primary_term=True):
            source = {k: v for k, v in hit["_source"].items() if k not in (VECTOR, MODEL)}
            yield {"_op_type": "index", "_index": hit["_index"], "_id": hit["_id"], "_source": source,
                   "if_seq_no": hit["_seq_no"], "if_primary_term": hit["_primary_term"]}

    done, _ = vectors.apply_updates(client, actions(), chunk)
    client.indices.refresh(index=index)
    return len(done)
