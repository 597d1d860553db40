"""The k-way merge of Whoosh segments (``segmerge.py``) and ``python -m
indexer optimize``: a merged index answers exactly like the unmerged one.

One index is built from part of the 2,000-article sample in several
segments, with deletions and updates; a copy of it is optimised.  Both are
real Whoosh indexes on disk; the engines, stock Whoosh and the CLI run on
them as deployed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import SAMPLE, load_jsonl, write_jsonl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_ARTICLES = 400
BATCH = 100  # four segments from the build, one from the updates
DELETED = 15
UPDATED = 6


def _env():
    return {**os.environ, "PYTHONPATH": ROOT}


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "indexer", *args], capture_output=True, text=True,
                          env=_env(), cwd=ROOT, timeout=timeout)


def toc(path):
    from search.backends.whoosh import store

    return store.open_index(path)._read_toc()


def _records():
    """(the articles built, the ids deleted, the updated versions)."""
    records = load_jsonl(SAMPLE)[:N_ARTICLES - 3]
    # near-duplicates of articles of the first segment, in the last one
    records += [{**records[i], "id": f"{records[i]['id']}-copy", "title": records[i]["title"] + "！"}
                for i in (10, 11, 12)]
    deleted = [r["id"] for r in records[3::25]][:DELETED]
    changed = [{**r, "title": r["title"] + "（更新）", "body": r["body"] + "\n本文已更新。"}
               for r in records[5::61][:UPDATED]]
    assert not {r["id"] for r in changed} & set(deleted)
    return records, deleted, changed


def _optimized_copy(path: str, to: str) -> dict:
    from search.backends.whoosh import segmerge
    from search.backends.whoosh.target import WhooshTarget

    shutil.copytree(path, to, symlinks=True)
    target = WhooshTarget(to)
    chunk, segmerge.CHUNK_POSTINGS = segmerge.CHUNK_POSTINGS, 997  # many chunks, a term across none
    try:
        return target.optimize()
    finally:
        segmerge.CHUNK_POSTINGS = chunk
        target.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The articles in four segments, no deletions: (index, its merged copy)."""
    from indexer import pipeline

    base = tmp_path_factory.mktemp("optimize-plain")
    records, _, _ = _records()
    plain = str(base / "plain")
    pipeline.build(plain, [write_jsonl(base / "part.jsonl", records)], workers=1, batch_size=BATCH,
                   progress=False, optimize=False)
    assert len(toc(plain).segments) == N_ARTICLES // BATCH
    merged = str(base / "plain-merged")
    _optimized_copy(plain, merged)
    return plain, merged


@pytest.fixture(scope="module")
def indexes(built, tmp_path_factory):
    """The built index with deletions and updates (one more segment):
    (unmerged index, merged copy, deleted ids, updated ids, optimize's figures)."""
    from indexer import pipeline

    base = tmp_path_factory.mktemp("optimize")
    _, deleted, changed = _records()
    unmerged = str(base / "unmerged")
    shutil.copytree(built[0], unmerged, symlinks=True)
    n, missing = pipeline.delete(unmerged, deleted)
    assert n == DELETED and not missing
    summary = pipeline.build(unmerged, [write_jsonl(base / "upd.jsonl", changed)], workers=1,
                             progress=False, optimize=False)
    assert summary.updated == UPDATED
    assert len(toc(unmerged).segments) == N_ARTICLES // BATCH + 1
    merged = str(base / "merged")
    done = _optimized_copy(unmerged, merged)
    return unmerged, merged, deleted, [r["id"] for r in changed], done


@pytest.fixture(scope="module")
def live_index(tmp_path_factory):
    """An index built in one segment from the live articles of ``indexes``
    (the updated versions), in the merged index's order: the oracle."""
    from indexer import pipeline

    base = tmp_path_factory.mktemp("optimize-live")
    records, deleted, changed = _records()
    gone = set(deleted) | {r["id"] for r in changed}
    live = [r for r in records if r["id"] not in gone] + changed
    path = str(base / "live")
    pipeline.build(path, [write_jsonl(base / "live.jsonl", live)], workers=1, batch_size=100000,
                   progress=False, optimize=False)
    assert len(toc(path).segments) == 1
    return path


def _live_docs(path):
    """[(id, segment data, local docnum)] of the live documents, in global order."""
    from search.backends.whoosh.backend import WhooshBackend

    backend = WhooshBackend(path, refresh_interval=0)
    view = backend.view
    out = []
    for seg, base in zip(view.segments, view.bases[:-1].tolist()):
        for d in range(seg.n):
            if view.live[base + d]:
                out.append((seg.stored(d)["id"], seg, d))
    return backend, out


def test_optimize_leaves_one_segment_with_the_live_articles(indexes):
    unmerged, merged, deleted, updated, done = indexes
    before, after = toc(unmerged), toc(merged)
    assert len(after.segments) == 1
    assert done["segments_before"] == len(before.segments) and done["segments_after"] == 1
    assert done["merged"] == len(before.segments)
    dropped = sum(s.deleted_count() for s in before.segments)
    assert done["dropped"] == dropped == DELETED + UPDATED
    seg = after.segments[0]
    assert not seg.has_deletions()
    live_before = sum(s.doc_count() for s in before.segments)
    assert seg.doc_count_all() == live_before == done["documents"] == N_ARTICLES - DELETED
    _, docs = _live_docs(merged)
    ids = [doc_id for doc_id, _, _ in docs]
    assert len(ids) == len(set(ids)) == N_ARTICLES - DELETED
    assert not set(deleted) & set(ids)
    _, docs_before = _live_docs(unmerged)
    assert ids == [doc_id for doc_id, _, _ in docs_before]  # the same order
    by_id = {doc_id: seg.stored(d) for doc_id, seg, d in docs}
    for doc_id in updated:
        assert by_id[doc_id]["title"].endswith("（更新）")
    # the old segments' files are gone with their table of contents
    files = os.listdir(merged)
    for old in before.segments:
        assert not [f for f in files if f.startswith(old.segment_id())]


def test_merged_segment_equals_one_written_from_the_same_articles(indexes, tmp_path):
    """Postings (every field, term, doc, frequency and position), stored
    fields, columns, field lengths and sidecars: as ``write_segment`` writes
    them from the same articles, re-analysed from the stored fields."""
    from whoosh import index as whoosh_index

    from search.analysis import Analyzer
    from search.backends.whoosh import docinfo, segmerge, sidecars, store
    from search.backends.whoosh.reader import SegmentData
    from search.backends.whoosh.segwriter import write_segment
    from search.documents import article_from_stored, prepare
    from search.segmenter import get_segmenter

    _, merged, _, _, _ = indexes
    mt = toc(merged)
    mix = store.open_index(merged)
    mseg = mt.segments[0]
    mreader = whoosh_index.FileIndex._reader(mix.storage, mt.schema, [mseg], mt.generation)
    stored = [mreader.stored_fields(d) for d in range(mseg.doc_count_all())]
    analyzer = Analyzer(get_segmenter(None))
    docs = [prepare(article_from_stored(s), analyzer, s.get("record_hash")) for s in stored]
    fresh = store.create(str(tmp_path / "fresh"))
    fseg = write_segment(fresh.storage, store.INDEXNAME, fresh.schema, docs)
    freader = whoosh_index.FileIndex._reader(fresh.storage, fresh.schema, [fseg], 0)
    try:
        m, f = SegmentData(mreader, mseg, mix.storage), SegmentData(freader, fseg, fresh.storage)
        for name, *_ in segmerge.FIELDS:
            a, b = m.field_inverted(name), f.field_inverted(name)
            assert a.terms == b.terms, name
            for attr in ("term_start", "docs", "tfs", "positions", "pos_start"):
                x, y = getattr(a, attr), getattr(b, attr)
                assert (x is None) == (y is None), (name, attr)
                if x is not None:
                    assert np.array_equal(x, y), (name, attr)
            # the term records: frequencies, weights, length bounds
            for term in a.terms[:: max(1, len(a.terms) // 50)]:
                ta = mreader.term_info(name, term)
                tb = freader.term_info(name, term)
                assert (ta.weight(), ta.doc_frequency(), ta.min_length(), ta.max_length(), ta.max_weight()) == \
                       (tb.weight(), tb.doc_frequency(), tb.min_length(), tb.max_length(), tb.max_weight())
        assert len(stored) == fseg.doc_count_all()
        for d in range(len(stored)):
            assert stored[d] == freader.stored_fields(d)
            for name in segmerge.LENGTH_FIELDS:
                assert mreader.doc_field_length(d, name) == freader.doc_field_length(d, name)
        for name in segmerge.LENGTH_FIELDS:
            assert mseg._fieldlengths[name] == fseg._fieldlengths[name]
        for name in segmerge.COLUMNS:
            ma = list(mreader.column_reader(name))
            fa = list(freader.column_reader(name))
            assert ma == fa, name
        for name in m.facet_values:
            assert m.facet_values[name][0] == f.facet_values[name][0]
            assert np.array_equal(m.facet_values[name][1], f.facet_values[name][1])
        assert np.array_equal(m.published, f.published)
        kinds = sidecars.kinds()
        assert docinfo.KIND in kinds
        for kind in kinds:  # docinfo, and any other registered kind
            mi, fi = sidecars.read(mix.storage, mseg, kind), sidecars.read(fresh.storage, fseg, kind)
            assert mi.keys() == fi.keys() and fi.keys(), kind.name
            for key in fi.keys():
                assert np.array_equal(mi[key], fi[key]), (kind.name, key)
                assert mi[key].dtype == fi[key].dtype, (kind.name, key)
    finally:
        mreader.close()
        freader.close()


def test_sidecar_data_per_article_unchanged(indexes):
    """Lead, sentence, paragraph and word boundaries, dates and MinHash
    signatures of every article, read before and after the merge."""
    unmerged, merged, _, _, _ = indexes

    def per_article(path):
        _, docs = _live_docs(path)
        out = {}
        for doc_id, seg, d in docs:
            info = seg.docinfo()
            row = {k: info[k][d].tolist() for k in ("published", "minhash", "lead_end", "installment")}
            for offsets, names in (("sentence_offsets", ("sentence_ends",)),
                                   ("paragraph_offsets", ("paragraph_ends",)),
                                   ("title_bit_offsets", ("title_word_bits", "title_bound_bits")),
                                   ("body_bit_offsets", ("body_word_bits", "body_bound_bits"))):
                a, b = info[offsets][d], info[offsets][d + 1]
                for name in names:
                    row[name] = info[name][a:b].tolist()
            out[doc_id] = row
        return out

    before, after = per_article(unmerged), per_article(merged)
    assert before.keys() == after.keys()
    assert before == after
    assert any(row["sentence_ends"] for row in after.values())


def test_near_duplicate_groups_unchanged(indexes):
    def groups_by_id(path):
        backend, docs = _live_docs(path)
        view = backend.view
        assert view.grouped
        id_of = {}
        for seg, base in zip(view.segments, view.bases[:-1].tolist()):
            for d in range(seg.n):
                id_of[base + d] = seg.stored(d)["id"]
        return {id_of[g]: id_of[int(view.group_rep[g])] for g in np.flatnonzero(view.live).tolist()}

    before, after = groups_by_id(unmerged := indexes[0]), groups_by_id(indexes[1])
    assert unmerged and before == after
    assert any(doc != rep for doc, rep in after.items())  # the sample has near-duplicates


def _answers(path):
    from bench.latency import distinct_queries, load_mix, request_for
    from search.engine import SearchEngine

    engine = SearchEngine.open(path, refresh_interval=0)
    engine.pinyin.get(wait=120)
    engine.suggester.get(wait=120)
    out = []
    for item in distinct_queries(load_mix()):
        answer = engine.search(request_for(item)).to_dict()
        answer.pop("took_ms", None)
        out.append((item, answer))
    return out


def _same_answers(a_path, b_path):
    before, after = _answers(a_path), _answers(b_path)
    assert len(before) == len(after) > 500
    assert sum(1 for _, a in before if a["total"]) > 100
    for (item, a), (_, b) in zip(before, after):
        assert a == b, item


def test_merged_index_answers_the_query_mix_like_the_unmerged_one(built):
    """Every distinct query of bench/querymix.jsonl on the index in four
    segments and merged: totals, ids in order, scores, snippets, facet
    counts, readings, corrections, all the same."""
    _same_answers(*built)


def test_merged_index_answers_like_an_index_of_its_live_articles(indexes, live_index):
    """With deletions and updates merged away: the same answers as an index
    built from the live articles alone.  (The unmerged index itself may
    differ in what its vocabulary feeds: a deleted article's words count
    in its term dictionaries until the merge, so pinyin readings and
    corrections can differ; its matches cannot.)"""
    _same_answers(live_index, indexes[1])


def test_stock_whoosh_reads_the_merged_index(indexes):
    """Whoosh's own searcher and queries on the merged index find the same
    articles as on the unmerged one (terms, phrases over the bigram
    positions, facets)."""
    from whoosh import index as whoosh_index
    from whoosh.query import Phrase, Term

    from search.backends.whoosh import store

    unmerged, merged, *_ = indexes

    def run(path, queries):
        ix = whoosh_index.open_dir(path, indexname=store.INDEXNAME)
        with ix.searcher() as s:
            return s.doc_count(), [sorted(hit["id"] for hit in s.search(q, limit=None)) for q in queries]

    queries = [Term("body_w", "香港"), Term("title_w", "中国"), Term("category", "国内"),
               Term("body_c", "港"), Term("body_g", "香港"), Phrase("body_g", ["香港", "特别"]),
               Phrase("title_g", ["习近", "近平"])]
    count_a, found_a = run(unmerged, queries)
    count_b, found_b = run(merged, queries)
    assert count_a == count_b == N_ARTICLES - DELETED
    assert found_a == found_b
    assert all(found_a[i] for i in (0, 3, 4))


def test_optimize_refuses_while_the_write_lock_is_held(indexes):
    from search.backends.whoosh import store

    unmerged = indexes[0]
    generation = toc(unmerged).generation
    session = store.WriteSession(unmerged)
    try:
        done = cli("optimize", "--index", unmerged)
    finally:
        session.close()
    assert done.returncode == 2
    assert f"process {os.getpid()}" in done.stderr and "holds the write lock" in done.stderr
    assert "nothing was changed" in done.stderr
    assert toc(unmerged).generation == generation and len(toc(unmerged).segments) > 1


def test_optimize_refuses_bad_input(tmp_path):
    missing = cli("optimize", "--index", str(tmp_path / "none"))
    assert missing.returncode == 2 and "no index at" in missing.stderr
    assert not os.path.exists(tmp_path / "none")
    other = cli("optimize", "--index", "news", "--backend", "opensearch")
    assert other.returncode == 2 and "_forcemerge" in other.stderr


def test_build_ends_with_one_segment_and_optimize_on_the_command_line(tmp_path):
    from indexer import pipeline

    records = load_jsonl(SAMPLE)[:40]
    src = write_jsonl(tmp_path / "a.jsonl", records)
    index = str(tmp_path / "ix")
    done = cli("build", "--index", index, "--workers", "1", "--batch-size", "15", "--no-progress", src)
    assert done.returncode == 0, done.stderr
    assert "merged 3 segments into one: 3 -> 1 segment(s), 40 documents" in done.stderr
    assert len(toc(index).segments) == 1
    other = str(tmp_path / "ix2")
    summary = pipeline.build(other, [src], workers=1, batch_size=15, progress=False)
    assert summary.optimized is None and len(toc(other).segments) == 3  # optimize is the CLI's default
    pipeline.delete(other, [records[20]["id"]])
    done = cli("optimize", "--index", other, "--max-segments", "2")
    assert done.returncode == 0, done.stderr
    assert "merged 2 segments into one: 3 -> 2 segment(s), 39 documents (1 deleted dropped)" in done.stderr
    assert [s.doc_count_all() for s in toc(other).segments] == [15, 24]
    again = cli("optimize", "--index", other, "--max-segments", "2")
    assert again.returncode == 0 and "nothing to merge: 2 segment(s), 39 documents" in again.stderr
    bad = cli("optimize", "--index", other, "--max-segments", "0")
    assert bad.returncode == 2 and "--max-segments must be at least 1" in bad.stderr


def test_optimize_killed_at_any_point_leaves_a_valid_commit(indexes, tmp_path):
    """``kill -9`` of ``indexer optimize`` as its merge writes its first
    file, and later as it writes its last ones: every time the index opens
    with every article (the previous commit, or the merged one when the kill
    came after its table of contents), and the next optimize finishes and
    removes what the killed ones left."""
    from search.engine import SearchEngine

    unmerged = indexes[0]
    index = str(tmp_path / "ix")
    shutil.copytree(unmerged, index, symlinks=True)
    original = set(os.listdir(index))
    generation, nsegs = toc(index).generation, len(toc(index).segments)
    expected = N_ARTICLES - DELETED
    args = [sys.executable, "-m", "indexer", "optimize", "--index", index]
    hits = 0
    for wanted in (1, 4):  # new files seen before the kill: the merge's first, then later ones
        proc = subprocess.Popen(args, env=_env(), cwd=ROOT, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                if len(set(os.listdir(index)) - original) >= wanted:
                    break
                time.sleep(0.002)
            ended_first = proc.poll() is not None
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait()
        hits += not ended_first
        now = toc(index)
        assert (now.generation, len(now.segments)) in ((generation, nsegs), (generation + 1, 1))
        engine = SearchEngine.open(index, refresh_interval=0)
        assert engine.stats().documents == expected
        assert engine.search(hong_kong()).total == baseline_total(unmerged)
    assert hits >= 1  # at least one kill hit a merge under way
    done = cli("optimize", "--index", index)
    assert done.returncode == 0, done.stderr
    assert len(toc(index).segments) == 1
    segid = toc(index).segments[0].segment_id()
    left = [n for n in os.listdir(index) if n.startswith("MAIN_") and not n.startswith(segid)
            and n not in ("MAIN_WRITELOCK",)]
    assert not left, left
    assert SearchEngine.open(index, refresh_interval=0).stats().documents == expected


def hong_kong():
    """A query with many matches."""
    from search.models import SearchRequest

    return SearchRequest(q="香港", size=10)


_BASELINE: dict = {}


def baseline_total(unmerged: str) -> int:
    """The unmerged index's total for ``hong_kong()`` (computed once)."""
    from search.engine import SearchEngine

    if "total" not in _BASELINE:
        _BASELINE["total"] = SearchEngine.open(unmerged, refresh_interval=0).search(hong_kong()).total
        assert _BASELINE["total"] > 0
    return _BASELINE["total"]


def _grams_per_doc(docs) -> dict:
    from search.analysis import gram_codes

    return {"body_grams": np.fromiter((len(gram_codes(d.body_norm)[0]) for d in docs), np.int64, len(docs))}


def _grams_from_postings(inverted) -> dict:
    # Built field by field, as SidecarKind.build_inverted must be (a merge
    # passes one field at a time); every article of the test has body grams,
    # so the count covers every document.
    if "body_g" not in inverted:
        return {}
    body = inverted["body_g"]
    return {"body_grams": np.bincount(body.docs, weights=body.tfs).astype(np.int64)}


def test_a_kind_built_from_the_postings_is_built_from_the_merged_ones(tmp_path):
    """A sidecar kind with ``build_inverted`` (raw postings) is built from
    the merged postings, with the values it had per article."""
    from dataclasses import dataclass
    from typing import Callable

    from whoosh.filedb.filestore import FileStorage

    from indexer import pipeline
    from search.backends.whoosh import sidecars
    from search.backends.whoosh.target import WhooshTarget

    @dataclass(frozen=True)
    class PostingsKind(sidecars.SidecarKind):
        build_inverted: Callable | None = None

    kind = sidecars.register(PostingsKind(name="testgrams", suffix=".testgrams.npz", label="gram count file",
                                          version=1, build=_grams_per_doc, build_inverted=_grams_from_postings))
    try:
        records = load_jsonl(SAMPLE)[:30]
        index = str(tmp_path / "ix")
        pipeline.build(index, [write_jsonl(tmp_path / "a.jsonl", records)], workers=1, batch_size=10,
                       progress=False)
        pipeline.delete(index, [records[4]["id"]])

        def per_id():
            storage = FileStorage(index)
            backend, docs = _live_docs(index)
            return {doc_id: int(sidecars.read(storage, seg.segment, kind)["body_grams"][d]) for doc_id, seg, d in docs}

        before = per_id()
        assert len(toc(index).segments) == 3 and len(before) == 29 and all(before.values())
        target = WhooshTarget(index)
        try:
            target.optimize()
        finally:
            target.close()
        assert len(toc(index).segments) == 1
        assert per_id() == before
    finally:
        sidecars.unregister("testgrams")


def test_a_wide_field_gets_wide_payloads_in_every_chunk():
    """One position of 65,536 or more makes every payload of the field 4
    bytes wide, as ``encode_char_positions_batch`` does for a whole field,
    also in a chunk whose own positions are all small."""
    from search.backends.whoosh.codec import Inverted, decode_char_positions
    from search.backends.whoosh.segmerge import _position_values

    chunk = Inverted(["ab", "cd"], np.array([0, 1, 2]), np.array([0, 1]), np.array([2, 1]), None,
                     np.array([3, 9, 4]), np.array([0, 2, 3]))
    narrow, wide = _position_values(chunk, False), _position_values(chunk, True)
    assert [v[0] for v in narrow] == [2, 2] and [v[0] for v in wide] == [4, 4]
    assert [decode_char_positions(v).tolist() for v in wide] == [[3, 9], [4]]
    assert [decode_char_positions(v).tolist() for v in narrow] == [[3, 9], [4]]


def test_related_lists_do_not_depend_on_the_segment_count(built):
    """Related articles (key terms weighted by article counts from the term
    dictionaries) are the same in four segments and merged into one."""
    from search.engine import SearchEngine

    a = SearchEngine.open(built[0], refresh_interval=3600)
    b = SearchEngine.open(built[1], refresh_interval=3600)
    view = a.backend.view
    ids = [view.stored(g)["id"] for g in range(0, view.n_all, 7) if view.live[g]]
    assert len(ids) > 50
    compared = 0
    for doc_id in ids:
        ra, rb = a.related(doc_id, size=5), b.related(doc_id, size=5)
        assert [(h.id, round(h.score, 9)) for h in ra] == [(h.id, round(h.score, 9)) for h in rb], doc_id
        compared += bool(ra)
    assert compared > 50
