"""A cursor's snapshot on Whoosh: its commit is leased on disk
(search/backends/whoosh/leases.py), so the writer's merges and clean
commits keep its files until the lease expires, and any process (another
gunicorn worker) can walk it; after the expiry the walk is a 410 and the
next clean commit removes what only the lease kept."""

import os
import time

import pytest
from whoosh.index import TOC

from conftest import SAMPLE, load_jsonl, write_jsonl


def _files_of(path, generation):
    """The table of contents and segment files (sidecars included) of ``generation``."""
    from whoosh.filedb.filestore import FileStorage

    toc = TOC.read(FileStorage(path), "MAIN", generation)
    ids = {s.segment_id() for s in toc.segments}
    return {f for f in os.listdir(path) if f == f"_MAIN_{generation}.toc" or f.split(".")[0] in ids}


def _walk(engine, snapshot, q="中国", size=7, now=1e9):
    from search.cursor import walk
    from search.models import SearchRequest

    req = SearchRequest(q=q, facets=(), group=False, correct=False)
    ids, after = [], None
    while True:
        page, hits = walk(engine, req, snapshot, after, size, now)
        ids += [h.id for h in hits]
        after = page.after
        if after is None:
            return ids, page.total


@pytest.fixture
def small_index(tmp_path):
    """90 sample articles in three segments of 30."""
    from indexer import pipeline

    records = load_jsonl(SAMPLE)[:90]
    path = str(tmp_path / "ix")
    pipeline.build(path, [write_jsonl(tmp_path / "a.jsonl", records)], workers=1, batch_size=30, progress=False)
    return path, records


def test_a_leased_commit_survives_merges_and_clean_commits_until_it_expires(small_index):
    from search.backends import open_target
    from search.backends.base import SnapshotGone
    from search.backends.whoosh import leases
    from search.engine import SearchEngine
    from search.models import SearchRequest

    path, records = small_index
    engine = SearchEngine.open(path, refresh_interval=0, synonyms_path=None)
    generation = engine.backend.view.generation
    snapshot = engine.backend.open_snapshot(keep_alive=600)
    before, total = _walk(engine, snapshot)
    assert total == len(before) == len(set(before)) > 7
    kept = _files_of(path, generation)
    assert len([f for f in kept if f.endswith(".seg")]) == 3

    # The writer withdraws three walked articles, merges every segment into
    # one and cleans: the leased generation's files stay.
    target = open_target("whoosh", path, merge_at=2, merge_max_docs=100000, regroup_interval=3600)
    try:
        assert sorted(target.apply([], before[:3]).deleted) == sorted(before[:3])
        target.commit()
        target.maintain(True)
        assert target.merging
        target._merge.wait()
        target.commit()  # publishes the merge and cleans
        assert target.merges == 1 and len(target.session.segments) == 1
        assert kept <= set(os.listdir(path))
        # Another process (a fresh engine: another worker) walks the same
        # snapshot from the lease: the same articles, the withdrawn ones too.
        other = SearchEngine.open(path, refresh_interval=0, synonyms_path=None)
        assert other.backend.view.generation > generation
        assert _walk(other, snapshot) == (before, total)
        assert other.search(SearchRequest(q="中国", size=100, group=False, facets=(),
                                          correct=False)).total == total - 3

        # The lease expires (its last use long ago): a 410, and the next
        # clean commit removes the files only it kept, and the lease file.
        lease = [f for f in os.listdir(path) if f.startswith(f"cursor-{generation}-")]
        assert len(lease) == 1
        past = time.time() - 601
        os.utime(os.path.join(path, lease[0]), (past, past))
        with pytest.raises(SnapshotGone) as gone:
            _walk(other, snapshot)
        assert gone.value.status == 410 and "start the walk again" in str(gone.value)
        target.apply([], before[3:4])
        target.commit()
        left = set(os.listdir(path))
        assert not (kept - _files_of(path, target.session.generation)) & left
        assert lease[0] not in left
        assert leases.live_generations(path) == set()
    finally:
        target.close()


def test_a_lease_lapses_after_its_keep_alive_and_release_ends_it(small_index):
    from search.backends.base import SnapshotGone
    from search.backends.whoosh import leases
    from search.engine import SearchEngine

    path, _ = small_index
    engine = SearchEngine.open(path, refresh_interval=0, synonyms_path=None)
    snapshot = engine.backend.open_snapshot(keep_alive=1)
    ids, _ = _walk(engine, snapshot)  # each use renews it
    assert ids and leases.live_generations(path) == {engine.backend.view.generation}
    deadline = time.monotonic() + 10
    while leases.live_generations(path) and time.monotonic() < deadline:  # polled, without using it
        time.sleep(0.05)
    assert not leases.live_generations(path), "a lease unused for longer than its keep-alive stayed live"
    with pytest.raises(SnapshotGone):
        _walk(engine, snapshot)
    released = engine.backend.open_snapshot(keep_alive=600)
    _walk(engine, released)
    engine.backend.close_snapshot(released)
    with pytest.raises(SnapshotGone):
        _walk(engine, released)
    with pytest.raises(SnapshotGone):
        _walk(engine, "not-a-snapshot")


def test_open_snapshots_are_bounded(small_index, monkeypatch):
    """Each lease may keep a commit's files on disk: past ``MAX_LIVE`` live
    ones a new walk is a 503 until one ends (released or expired)."""
    from search.backends.base import TooManySnapshots
    from search.backends.whoosh import leases
    from search.engine import SearchEngine

    path, _ = small_index
    monkeypatch.setattr(leases, "MAX_LIVE", 2)
    engine = SearchEngine.open(path, refresh_interval=0, synonyms_path=None)
    first = engine.backend.open_snapshot(keep_alive=600)
    engine.backend.open_snapshot(keep_alive=600)
    with pytest.raises(TooManySnapshots) as refused:
        engine.backend.open_snapshot(keep_alive=600)
    assert refused.value.status == 503 and refused.value.retry_after
    engine.backend.close_snapshot(first)
    assert _walk(engine, engine.backend.open_snapshot(keep_alive=600))[0]


def test_a_new_lease_deletes_the_expired_ones(small_index):
    """On a service whose writer commits nothing (idle or read-only), no
    clean commit runs: a new lease itself deletes the expired lease files
    (it holds the lock), so they do not pile up; live ones stay."""
    from search.backends.whoosh import leases
    from search.engine import SearchEngine

    path, _ = small_index
    engine = SearchEngine.open(path, refresh_interval=0, synonyms_path=None)
    old = [engine.backend.open_snapshot(keep_alive=60) for _ in range(5)]
    live = engine.backend.open_snapshot(keep_alive=600)
    files = {f for f in os.listdir(path) if f.endswith(".lease")}
    assert len(files) == 6
    for snapshot in old:  # last used an hour ago: expired
        generation, _, lease_id = snapshot.partition("-")
        file = os.path.join(path, f"cursor-{generation}-{lease_id}.lease")
        past = time.time() - 3600
        os.utime(file, (past, past))
    assert leases.live_count(path) == 1
    new = engine.backend.open_snapshot(keep_alive=600)
    left = {f for f in os.listdir(path) if f.endswith(".lease")}
    assert left == {f"cursor-{s.partition('-')[0]}-{s.partition('-')[2]}.lease" for s in (live, new)}
    assert _walk(engine, live)[0] and _walk(engine, new)[0]  # the live ones still walk
