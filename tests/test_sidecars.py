"""Per-segment sidecar files (search/backends/whoosh/sidecars.py) as a
mechanism: a kind registered here, as the raw-postings and vector kinds
will be, is written with every segment, carried through a merge, removed
with its segment, and reported (or replaced by its fallback) when its file
is missing, damaged or of another version."""

from __future__ import annotations

import os

import numpy as np
import pytest

from conftest import write_jsonl

SUFFIX = ".testlen.npz"


def _build(docs):
    return {"title_chars": np.fromiter((len(d.title_norm) for d in docs), np.int64, len(docs))}


def _merge(parts):
    """The merged segment's array: the kept documents' rows, in merge order."""
    return {"title_chars": np.concatenate([np.asarray(a["title_chars"])[kept] for a, kept in parts])}


@pytest.fixture
def kind():
    """A test-only kind: each document's title length in characters."""
    from search.backends.whoosh import sidecars

    k = sidecars.register(sidecars.SidecarKind(
        name="testlen", suffix=SUFFIX, label="title length file", version=2, oldest=2, build=_build,
        merge=_merge))
    yield k
    sidecars.unregister("testlen")


def _segments(path):
    from whoosh import index as whoosh_index

    return whoosh_index.open_dir(path, indexname="MAIN")._read_toc().segments


def _titles_by_segment(path):
    """{segment id: [title length of each live doc]} from the stored titles."""
    from whoosh import index as whoosh_index

    from search.normalize import normalize

    ix = whoosh_index.open_dir(path, indexname="MAIN")
    toc = ix._read_toc()
    out = {}
    for seg in toc.segments:
        r = whoosh_index.FileIndex._reader(ix.storage, toc.schema, [seg], toc.generation)
        try:
            out[seg.segment_id()] = [len(normalize(r.stored_fields(d)["title"]).text)
                                     for d in range(seg.doc_count_all())]
        finally:
            r.close()
    return out


def _read_all(path, kind):
    from whoosh.filedb.filestore import FileStorage

    from search.backends.whoosh import sidecars

    storage = FileStorage(path)
    return {seg.segment_id(): sidecars.read(storage, seg, kind)["title_chars"].tolist() for seg in _segments(path)}


def test_a_registered_kind_is_written_merged_and_removed_with_its_segment(tmp_path, sample_records, kind):
    from indexer import pipeline
    from indexer.article_store import ArticleStore
    from indexer.writer import IndexWriter
    from search.engine import SearchEngine

    index = str(tmp_path / "index")
    pipeline.build(index, [write_jsonl(tmp_path / "a.jsonl", sample_records[:30])], workers=1,
                   progress=False, batch_size=10)
    first = {s.segment_id() for s in _segments(index)}
    assert len(first) == 3
    # written with each segment, from its prepared documents, in docnum order
    assert _read_all(index, kind) == _titles_by_segment(index)
    with np.load(os.path.join(index, sorted(first)[0] + SUFFIX)) as npz:
        assert int(npz["sidecar_version"][0]) == 2

    # a merge (the writer's, in its child process) writes the kind for the merged segment
    store = ArticleStore(str(tmp_path / "articles.sqlite"))
    writer = IndexWriter(index, store, regroup_interval=3600, merge_at=4, merge_max_docs=100)
    try:
        store.put([dict(sample_records[40], id="m-0")])
        writer.step()
        assert writer.target.merging
        writer.target._merge.wait()
        writer.step()
        writer.drain()
        assert writer.target.merges == 1
    finally:
        writer.close()
    segs = _segments(index)
    assert len(segs) == 1 and segs[0].doc_count() == 31
    assert _read_all(index, kind) == _titles_by_segment(index)
    # the merged-away segments' files went with them, sidecars included
    names = os.listdir(index)
    assert not [n for n in names if n.split(".")[0] in first], names
    assert sorted(n for n in names if n.endswith(SUFFIX)) == [segs[0].segment_id() + SUFFIX]
    assert SearchEngine.open(index, refresh_interval=0).stats().documents == 31

    # a delete that empties a segment removes its files too
    pipeline.build(index, [write_jsonl(tmp_path / "b.jsonl", sample_records[50:52])], workers=1, progress=False)
    added = ({s.segment_id() for s in _segments(index)} - {segs[0].segment_id()}).pop()
    assert os.path.exists(os.path.join(index, added + SUFFIX))
    pipeline.delete(index, [sample_records[50]["id"], sample_records[51]["id"]])
    assert not [n for n in os.listdir(index) if n.startswith(added)]


@pytest.mark.parametrize("damage", ["missing", "truncated", "older"])
def test_a_required_kind_damaged_is_reported_naming_the_file(tmp_path, sample_records, kind, damage):
    from indexer import pipeline
    from search.backends.base import IndexCorrupt
    from search.backends.whoosh import integrity
    from search.engine import SearchEngine

    index = str(tmp_path / "index")
    pipeline.build(index, [write_jsonl(tmp_path / "a.jsonl", sample_records[:8])], workers=1, progress=False)
    name = _segments(index)[0].segment_id() + SUFFIX
    path = os.path.join(index, name)
    if damage == "missing":
        os.remove(path)
        expected = f"title length file {name} (8 documents) is missing"
    elif damage == "truncated":
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) - 30)
        expected = f"title length file {name} (8 documents) is truncated"
    else:
        np.savez(path, title_chars=np.zeros(8, np.int64), sidecar_version=np.array([1], np.int64))
        expected = f"title length file {name} (8 documents) is of version 1; this release reads versions 2 to 2"
    assert [p for p in integrity.problems(index) if expected in p], integrity.problems(index)
    with pytest.raises(IndexCorrupt, match="python -m indexer rebuild") as err:
        SearchEngine.open(index, refresh_interval=0)
    assert expected in str(err.value)


def test_an_optional_kind_falls_back_when_its_file_is_unusable(tmp_path, sample_records):
    from whoosh.filedb.filestore import FileStorage

    from indexer import pipeline
    from search.backends.whoosh import integrity, sidecars
    from search.engine import SearchEngine
    from search.models import SearchRequest

    opt = sidecars.register(sidecars.SidecarKind(
        name="testopt", suffix=".testopt.npz", label="optional test file", version=1, build=_build,
        required=False, fallback=lambda n: {"title_chars": np.full(n, -1, np.int64)}))
    try:
        index = str(tmp_path / "index")
        pipeline.build(index, [write_jsonl(tmp_path / "a.jsonl", sample_records[:5])], workers=1, progress=False)
        seg = _segments(index)[0]
        storage = FileStorage(index)
        assert sidecars.read(storage, seg, opt)["title_chars"].tolist() == _titles_by_segment(index)[seg.segment_id()]
        os.remove(os.path.join(index, opt.filename(seg)))
        assert integrity.problems(index) == []
        assert sidecars.read(storage, seg, opt)["title_chars"].tolist() == [-1] * 5
        # the index still opens and answers: the optional data is simply absent
        title = sample_records[0]["title"]
        hits = SearchEngine.open(index, refresh_interval=0).search(SearchRequest(q=f'"{title[:4]}"', facets=())).hits
        assert sample_records[0]["id"] in [h.id for h in hits]
    finally:
        sidecars.unregister("testopt")


def test_registration_refuses_what_whoosh_would_not_clean_or_a_taken_name(kind):
    from search.backends.whoosh import docinfo, sidecars

    assert [k.name for k in sidecars.kinds()][:1] == ["docinfo"] and docinfo.KIND.required
    with pytest.raises(ValueError, match="removes such files"):
        sidecars.register(sidecars.SidecarKind(name="bad", suffix="-x.npz", label="x", version=1, build=_build))
    with pytest.raises(ValueError, match="already"):
        sidecars.register(sidecars.SidecarKind(name="other", suffix=SUFFIX, label="x", version=1, build=_build))
    with pytest.raises(ValueError, match="already registered"):
        sidecars.register(sidecars.SidecarKind(name="testlen", suffix=".y.npz", label="x", version=1, build=_build))


def test_files_written_before_versions_were_recorded_read_as_version_1(tmp_path, sample_records):
    """Indexes written before this mechanism have docinfo files without
    ``sidecar_version``: they open and search as before (version 1)."""
    from indexer import pipeline
    from search.backends.whoosh import docinfo, integrity
    from search.engine import SearchEngine
    from search.models import SearchRequest

    index = str(tmp_path / "index")
    records = sample_records[:6]
    pipeline.build(index, [write_jsonl(tmp_path / "a.jsonl", records)], workers=1, progress=False)
    engine = SearchEngine.open(index, refresh_interval=0)
    query = SearchRequest(q=f"{records[2]['title'][:2]} w/s {records[2]['title'][2:4]}", facets=())
    before = [h.id for h in engine.search(query).hits]
    for name in [n for n in os.listdir(index) if n.endswith(docinfo.SUFFIX)]:
        with np.load(os.path.join(index, name)) as npz:
            arrays = {k: npz[k] for k in npz.files if k != "sidecar_version"}
        np.savez(os.path.join(index, name), **arrays)
    assert integrity.problems(index) == []
    assert records[2]["id"] in before
    assert [h.id for h in SearchEngine.open(index, refresh_interval=0).search(query).hits] == before


def test_a_missing_sidecar_is_named_and_repaired_by_the_rebuild_it_names(tmp_path, sample_records):
    """The damage message names the command that repairs it, and that
    command works without an article store: sidecars are derived from the
    segment's stored fields, so a rebuild from the index itself keeps every
    article (it used to refuse, counting the segment as lost)."""
    import json
    import subprocess
    import sys

    from conftest import ROOT

    index = str(tmp_path / "ix")
    records = sample_records[:60]
    cli = [sys.executable, "-m", "indexer"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCH_")}
    env["PYTHONPATH"] = ROOT
    subprocess.run([*cli, "build", "--index", index, "--workers", "1", "--no-progress", "--store", "off",
                    write_jsonl(tmp_path / "a.jsonl", records)], cwd=ROOT, env=env, check=True, timeout=300)
    mode = os.stat(index).st_mode & 0o7777
    for name in os.listdir(index):
        if name.endswith(".docinfo.npz"):
            os.remove(os.path.join(index, name))
    stats = subprocess.run([*cli, "stats", "--index", index], cwd=ROOT, env=env, capture_output=True, text=True)
    assert stats.returncode == 1 and "Traceback" not in stats.stderr and stats.stderr.count("\n") == 1
    assert stats.stderr.startswith(f"error: the index at {index} is damaged: document data file ")
    assert f"`python -m indexer rebuild --index {index}`" in stats.stderr
    # writing into it is refused (it used to add, say "added 1", and leave the index unsearchable)
    more = write_jsonl(tmp_path / "b.jsonl", sample_records[60:61])
    for args in (("build", "--index", index, "--workers", "1", "--no-progress", "--store", "off", more),
                 ("delete", "--index", index, "--store", "off", records[0]["id"])):
        refused = subprocess.run([*cli, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert refused.returncode == 1 and refused.stderr == stats.stderr, refused.stderr
    rebuild = subprocess.run([*cli, "rebuild", "--index", index], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=300)
    assert rebuild.returncode == 0, rebuild.stderr
    stats = subprocess.run([*cli, "stats", "--index", index, "--json"], cwd=ROOT, env=env, capture_output=True,
                           text=True, check=True)
    assert json.loads(stats.stdout)["documents"] == len({r["id"] for r in records})
    # the rebuilt index is readable as the old one was (not a private 0700 temporary directory)
    assert os.path.islink(index) and os.stat(index).st_mode & 0o7777 == mode
