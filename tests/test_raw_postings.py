"""Raw postings (search/backends/whoosh/rawpostings.py): every term of every
indexed field of every segment of the 2,000-article sample reads the same
from the raw arrays as from Whoosh's own postings (doc numbers, term
frequencies, positions of the bigram fields, doc frequencies); a segment
without its raw file, or with a damaged one, answers exactly as with it
(read through Whoosh's postings), the damage named; every path that writes
a segment (build, the writer's steps and merges, rebuild) writes the file."""

from __future__ import annotations

import json
import logging
import os
import random
import shutil

import numpy as np
import pytest

from conftest import write_jsonl


def _open_segments(path):
    """[(Whoosh segment, SegmentData)] of the index at ``path``."""
    from whoosh import index as whoosh_index

    from search.backends.whoosh.reader import SegmentData

    ix = whoosh_index.open_dir(path, indexname="MAIN")
    toc = ix._read_toc()
    out = []
    for seg in toc.segments:
        reader = whoosh_index.FileIndex._reader(ix.storage, toc.schema, [seg], toc.generation)
        out.append((seg, SegmentData(reader, seg, ix.storage)))
    return out


def _assert_same_inverted(raw, ref, where):
    assert raw.terms == ref.terms, where
    assert np.array_equal(raw.term_start, ref.term_start), where
    assert np.array_equal(raw.docs, ref.docs), where
    assert np.array_equal(raw.tfs, ref.tfs), where
    if ref.positions is not None:
        assert np.array_equal(raw.positions, ref.positions), where
        assert np.array_equal(raw.pos_start, ref.pos_start), where
    else:
        assert raw.positions is None, where


def _assert_raw_equals_whoosh(path):
    """Every term of every indexed field of every segment of ``path``: raw
    arrays == Whoosh's decoded postings; returns the number of terms."""
    checked = 0
    for seg, data in _open_segments(path):
        assert data.raw is not None, data.raw_problem
        fields = sorted(data.reader.indexed_field_names())
        assert sorted(data.raw.fields) == fields
        for field in fields:
            ref = data.whoosh_field_inverted(field)  # decoded from Whoosh's blocks
            raw = data.raw.field_inverted(field)
            where = (seg.segment_id(), field)
            _assert_same_inverted(raw, ref, where)
            # terms found through the raw dictionary (every 3rd: ~5 us each; runs of terms sharing
            # their first 8 bytes, the ids, all), doc frequencies as Whoosh's postings count them
            dfs = np.diff(ref.term_start).tolist()
            for t in range(0, len(ref.terms), 1 if field == "id" else 3):
                found = data.raw.lookup(field, ref.terms[t])
                assert found.t == t and found.doc_frequency == dfs[t], (where, ref.terms[t])
            for t in range(1, len(ref.terms), 7):
                assert data.term_doc_frequency(field, ref.terms[t]) == dfs[t], (where, ref.terms[t])
            checked += len(ref.terms)
            # terms the segment lacks: neighbours, prefixes and extensions of real ones
            known = set(ref.terms)
            for term in ref.terms[:: max(1, len(ref.terms) // 50)]:
                for other in (term + "\x00", term[:-1] + chr(ord(term[-1]) + 1), term + term):
                    if other not in known:
                        assert data.raw.lookup(field, other) is None and data.term_doc_frequency(field, other) == 0
    return checked


def test_every_term_of_every_field_of_every_segment_reads_as_whoosh_decodes_it(sample_index):
    assert _assert_raw_equals_whoosh(sample_index) > 100_000


def test_the_read_path_gives_whooshs_postings_and_positions(sample_index):
    """``SegmentData.postings``/``positions`` (through the postings cache)
    from the raw file equal Whoosh's decoded postings and position payloads."""
    from search.backends.whoosh.cache import POSTINGS_CACHE
    from search.backends.whoosh.codec import PositionTable

    rng = random.Random(18)
    POSTINGS_CACHE.clear()
    for seg, data in _open_segments(sample_index):
        for field in ("body_g", "title_g", "body_w", "body_c", "tags", "id", "category"):
            terms = [t.decode("utf-8") for t in data.reader.lexicon(field)]
            for term in rng.sample(terms, min(15, len(terms))):
                ids, tfs, values = data._read(field, term)
                got_ids, got_tfs = data.postings(field, term)
                assert got_ids.dtype == np.int64 and got_tfs.dtype == np.float32
                assert np.array_equal(got_ids, ids) and np.array_equal(got_tfs, tfs), (field, term)
                if field.endswith("_g"):
                    docs = ids[:: max(1, len(ids) // 5)]
                    starts, counts, flat = PositionTable(values).table()
                    idx = np.searchsorted(ids, docs)
                    expected = np.concatenate([flat[starts[i]: starts[i] + counts[i]] for i in idx.tolist()])
                    d, p = data.positions(field, term, docs)
                    assert np.array_equal(p, expected) and np.array_equal(d, np.repeat(docs, counts[idx]))
        assert data.postings("body_w", "\x00nowhere")[0].tolist() == []
    POSTINGS_CACHE.clear()


def _queries():
    """Every 12th distinct query of the mix (every kind is there) and some
    of the query language's position-based operators."""
    from bench.latency import distinct_queries, load_mix

    mix = distinct_queries(load_mix())
    return mix[::12] + [{"kind": "ops", "q": q} for q in (
        '"香港特别行政区"', "香港 w/s 政府", "经济 w/3 发展", "lead:习近平", "中国 -香港", "title:新闻")]


_ANSWERS: dict = {}


def _answers(path, queries):
    """(query, total, [(id, title, snippet)], facets) of each query, with
    the postings cache emptied before and after (index copies share
    segment ids: nothing read from one may serve the other)."""
    from bench.latency import request_for
    from search.backends.whoosh.cache import POSTINGS_CACHE
    from search.engine import SearchEngine

    key = (path, tuple(json.dumps(q, sort_keys=True) for q in queries))
    if key in _ANSWERS:
        return _ANSWERS[key]
    POSTINGS_CACHE.clear()
    engine = SearchEngine.open(path, refresh_interval=0, synonyms_path=None)
    out = []
    for item in queries:
        r = engine.search(request_for(item))
        out.append((item["q"], r.total, [(h.id, h.title, h.snippet) for h in r.hits],
                    json.dumps(r.facets, sort_keys=True, default=str)))
    POSTINGS_CACHE.clear()
    _ANSWERS[key] = out
    return out


@pytest.fixture(scope="module")
def copies(sample_index, tmp_path_factory):
    """The sample index as built, and a copy without any raw postings file."""
    from search.backends.whoosh import rawpostings

    base = tmp_path_factory.mktemp("raw")
    without = str(base / "without")
    shutil.copytree(os.path.realpath(sample_index), without)
    removed = [n for n in os.listdir(without) if n.endswith(rawpostings.SUFFIX)]
    assert len(removed) >= 3
    for name in removed:
        os.remove(os.path.join(without, name))
    return sample_index, without


def test_an_index_without_raw_files_answers_exactly_as_with_them(copies):
    with_raw, without = copies
    assert all(d.raw is not None for _, d in _open_segments(with_raw))
    assert all(d.raw is None and d.raw_problem.endswith("is missing") for _, d in _open_segments(without))
    queries = _queries()
    got, expected = _answers(with_raw, queries), _answers(without, queries)
    assert sum(1 for a in expected if a[1]) > len(queries) // 2  # most queries match something
    for a, b in zip(got, expected):
        assert a == b, a[0]


@pytest.mark.parametrize("damage", ["truncated", "garbled", "older", "inconsistent"])
def test_a_damaged_raw_file_is_named_and_its_segment_falls_back(copies, tmp_path, caplog, damage):
    from search.backends.whoosh import npzfile, rawpostings, sidecars

    index = str(tmp_path / "ix")
    shutil.copytree(os.path.realpath(copies[0]), index)
    seg, data = _open_segments(index)[0]
    name = rawpostings.filename(seg)
    path = os.path.join(index, name)
    n = seg.doc_count_all()
    if damage == "truncated":
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
        expected = f"raw postings file {name} ({n} documents) is truncated"
    elif damage == "garbled":  # the archive's directory overwritten
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.seek(size - 2000)
            f.write(b"\xff" * 1978)
        expected = f"raw postings file {name} ({n} documents) cannot be read"
    elif damage == "older":
        arrays = {"body_w.keys": np.zeros(0, np.uint64), sidecars.VERSION_KEY: np.array([7], np.int64)}
        with open(path, "wb") as f:
            npzfile.write_archive(f, arrays)
        expected = f"raw postings file {name} ({n} documents) is of version 7; this release reads versions 1 to 1"
    else:  # a field's offsets cut short: well-formed archive, inconsistent arrays
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
        arrays["body_w.terms"] = arrays["body_w.terms"][:-1]
        with open(path, "wb") as f:
            npzfile.write_archive(f, arrays)
        expected = f"raw postings file {name} ({n} documents) cannot be read: field body_w: its term arrays disagree in shape"
    found = rawpostings.problem(index, seg)
    assert found is not None and found.startswith(expected), found
    with caplog.at_level(logging.WARNING, logger="search.backends.whoosh.rawpostings"):
        segments = _open_segments(index)
    assert segments[0][1].raw is None and segments[0][1].raw_problem == found
    assert [r.getMessage() for r in caplog.records if name in r.getMessage()][0].startswith(found)
    assert all(d.raw is not None for _, d in segments[1:])
    # the damaged segment is read through Whoosh's postings: the same answers
    queries = _queries()[:6]
    assert _answers(index, queries) == _answers(copies[1], queries)


def test_every_path_writing_a_segment_writes_the_raw_file(tmp_path, sample_records):
    """A build, the writer's steps, its merge and a rebuild from the index
    write each new segment's raw file, equal to Whoosh's postings."""
    from indexer import pipeline
    from indexer.article_store import ArticleStore
    from indexer.rebuild import rebuild_from_index
    from indexer.writer import IndexWriter
    from search.backends.whoosh import rawpostings

    def raw_files(path):
        path = os.path.realpath(path)
        segs = [s for s, _ in _open_segments(path)]
        assert all(rawpostings.problem(path, s) is None for s in segs)
        return {s.segment_id() for s in segs}, {n for n in os.listdir(path) if n.endswith(rawpostings.SUFFIX)}

    index = str(tmp_path / "index")
    pipeline.build(index, [write_jsonl(tmp_path / "a.jsonl", sample_records[:30])], workers=1,
                   progress=False, batch_size=10)
    segs, files = raw_files(index)
    assert len(segs) == 3 and files == {s + rawpostings.SUFFIX for s in segs}

    store = ArticleStore(str(tmp_path / "articles.sqlite"))
    writer = IndexWriter(index, store, regroup_interval=3600, merge_at=4, merge_max_docs=100)
    try:
        store.put([dict(sample_records[40], id="m-0")])
        writer.step()  # the writer's own segment, then a merge of all four (in its child process)
        stepped, _ = raw_files(index)
        assert len(stepped - segs) == 1
        assert writer.target.merging
        writer.target._merge.wait()
        writer.step()
        writer.drain()
        assert writer.target.merges == 1
    finally:
        writer.close()
    merged, files = raw_files(index)
    assert len(merged) == 1 and files == {s + rawpostings.SUFFIX for s in merged}  # old files gone with their segments
    _assert_raw_equals_whoosh(os.path.realpath(index))

    assert rebuild_from_index("whoosh", index, None, workers=1) == 31
    rebuilt, files = raw_files(index)
    assert rebuilt and not rebuilt & merged and files == {s + rawpostings.SUFFIX for s in rebuilt}
    _assert_raw_equals_whoosh(os.path.realpath(index))


def test_the_archive_keeps_arrays_aligned_and_narrow(tmp_path):
    """Each array of a sidecar archive starts on a 64-byte boundary (read in
    place), ``np.load`` reads it, and the raw arrays take the narrowest
    unsigned type: doc numbers and positions uint16 where they fit."""
    from search.backends.whoosh import npzfile, rawpostings, sidecars
    from search.backends.whoosh.codec import Inverted

    inv = Inverted(["a", "香港", "香港特别行政区", "香港特别行政区政府"], np.array([0, 2, 3, 4, 6]),
                   np.array([1, 70_000, 5, 2, 3, 9]), np.array([1, 2, 1, 3, 1, 300]), None)
    arrays = rawpostings.build({"body_w": inv})
    assert arrays["body_w.docs"].dtype == np.dtype("<u4") and arrays["body_w.tfs"].dtype == np.dtype("<u2")
    # the last two terms share their first 8 bytes: the same key, told apart by their bytes
    keys = arrays["body_w.keys"]
    assert keys[2] == keys[3] and keys[1] != keys[2] and (np.diff(keys.astype(np.float64)) >= 0).all()
    arrays[sidecars.VERSION_KEY] = np.array([1], np.int64)
    path = str(tmp_path / "x.rawpost.npz")
    with open(path, "wb") as f:
        f.write(b"")
        npzfile.write_archive(f, arrays)
    with open(path, "rb") as f:
        members = npzfile.member_offsets(f, os.path.getsize(path))
    assert all(offset % npzfile.ALIGN == 0 for offset, _, _ in members.values())
    with np.load(path) as npz:
        assert all(np.array_equal(npz[k], v) for k, v in arrays.items())
    raw = rawpostings.RawPostings(path, 70_001)
    assert [raw.lookup("body_w", t).t for t in inv.terms] == [0, 1, 2, 3]
    assert raw.lookup("body_w", "香港特别行政") is raw.lookup("body_w", "b") is raw.lookup("title_w", "a") is None
    ids, tfs = raw.postings("body_w", raw.lookup("body_w", inv.terms[3]))
    assert ids.tolist() == [3, 9] and tfs.tolist() == [1.0, 300.0]
    _assert_same_inverted(raw.field_inverted("body_w"), inv, "body_w")
    grams = Inverted(["香港"], np.array([0, 2]), np.array([0, 4]), np.array([2, 1]), None,
                     np.array([3, 9, 1]), np.array([0, 2, 3]))
    g = rawpostings.build({"body_g": grams})
    assert g["body_g.positions"].dtype == np.dtype("<u2") and g["body_g.terms"].tolist() == [[0, 0, 0], [6, 2, 3]]
    # a field of many terms: lookups through the in-memory sample and one block of keys,
    # a run of 3,000 terms with one key crossing blocks
    words = sorted({f"hkcnews-{i:05d}" for i in range(3000)} | {f"{i:04d}" for i in range(0, 9000, 3)})
    many = Inverted(words, np.arange(len(words) + 1), np.arange(len(words)) % 7, np.ones(len(words), np.int64), None)
    arrays = rawpostings.build({"id": many})
    arrays[sidecars.VERSION_KEY] = np.array([1], np.int64)
    with open(path, "wb") as f:
        npzfile.write_archive(f, arrays)
    raw = rawpostings.RawPostings(path, 7)
    assert [raw.lookup("id", w).t for w in words] == list(range(len(words)))
    assert all(raw.lookup("id", w) is None for w in ("hkcnews-", "hkcnews-3000", "hkcnews-00000x", "0001", "9999", ""))
    with pytest.raises(ValueError, match="do not match its term frequencies"):
        rawpostings.build({"body_g": Inverted(["香港"], np.array([0, 1]), np.array([0]), np.array([2]), None,
                                              np.array([3]), np.array([0, 1]))})
