"""The write seam's contract (``search.backends.base.IndexTarget``), run on
both targets through the protocol only: put / replace / delete / commit,
then the read side (``IndexBackend``) holds exactly what a brute-force
oracle kept from the records says (ids and record hashes); a rebuild into
a new generation, swapped in, keeps every article."""

from __future__ import annotations

import os
import uuid

import pytest

N = 60  # articles of the 2k sample: enough for several units, fast on both backends


@pytest.fixture(params=["whoosh", "opensearch"])
def target_spec(request, tmp_path):
    """(backend name, location, url) of an empty index; the OpenSearch
    indexes behind the alias are deleted afterwards."""
    if request.param == "whoosh":
        yield "whoosh", str(tmp_path / "index"), None
        return
    url = os.environ.get("OPENSEARCH_URL")
    if not url:
        if os.environ.get("REQUIRE_OPENSEARCH"):
            pytest.fail("REQUIRE_OPENSEARCH is set but OPENSEARCH_URL is not")
        pytest.skip("no OpenSearch cluster (OPENSEARCH_URL)")
    alias = f"test-target-{uuid.uuid4().hex[:10]}"
    yield "opensearch", alias, url
    from search.backends.opensearch.target import connect

    client = connect(url)
    for name in list(client.indices.get(index=f"{alias}-*")):
        client.indices.delete(index=name)
    client.close()


def _articles(records):
    from indexer.records import read_article, record_hash

    return [(a, record_hash(a)) for a in (read_article(r) for r in records)]


def _write(target, articles, deletes=(), parts=2):
    """Analyse ``articles`` in ``parts`` units (as worker processes would),
    apply them with ``deletes``, commit; returns the Outcome."""
    make = target.document_writers()
    units = []
    for p in range(parts):
        writer = make()
        mine = articles[p::parts]
        for article, h in mine:
            writer.add(article, h)
        unit = writer.flush()
        if unit is not None:
            units.append((unit, [a.id for a, _ in mine]))
    done = target.apply(units, deletes)
    target.commit()
    return done


def _read_side(name, location, url):
    from search.backends import open_backend

    return open_backend(name, location, refresh_interval=0, opensearch_url=url)


def _check(target, spec, oracle: dict) -> None:
    """The target's known hashes and the read side's documents are the oracle."""
    assert target.known() == oracle
    backend = _read_side(*spec)
    try:
        assert backend.doc_count() == len(oracle)
        for doc_id, h in oracle.items():
            found = backend.get(doc_id)
            assert found is not None, doc_id
            assert found["record_hash"] == h
    finally:
        backend.close()


def test_put_replace_delete_commit_and_rebuild(target_spec, sample_records):
    from search.backends import open_target

    name, location, url = target_spec
    records = sample_records[:N]
    target = open_target(name, location, opensearch_url=url, replicas=0)
    try:
        assert target.known() == {}
        articles = _articles(records[:40])
        done = _write(target, articles)
        assert sorted(done.added) == sorted(a.id for a, _ in articles) and not done.updated
        oracle = {a.id: h for a, h in articles}
        _check(target, target_spec, oracle)

        # Replace ten (new titles), add twenty, and within one call the last
        # document of an id wins.
        changed = [dict(r, title=r["title"] + "（更正）") for r in records[:10]]
        again = _articles(changed + records[40:])
        twice = _articles([dict(records[0], title="同一次写入的旧版本")])
        done = _write(target, twice + again, parts=1)
        assert sorted(done.updated) == sorted(r["id"] for r in changed)
        assert sorted(done.added) == sorted(r["id"] for r in records[40:])
        oracle.update({a.id: h for a, h in again})
        _check(target, target_spec, oracle)

        # Delete five and one that is not there; ``finish`` alone commits
        # (the end of an ``indexer delete``).
        gone = [r["id"] for r in records[20:25]]
        done = target.apply([], gone + ["no-such-id"])
        assert sorted(done.deleted) == sorted(gone) and done.not_found == ["no-such-id"]
        for doc_id in gone:
            del oracle[doc_id]
        target.finish(changed=True)
        _check(target, target_spec, oracle)  # (doc_count is a search: it sees only what was committed)

        # Rebuild-and-swap: every stored document into a new generation.
        stored = list(target.stored_documents())
        assert sorted(s["id"] for s in stored) == sorted(oracle)
        fresh = target.new_generation()
        assert fresh.known() == {}
        from search.documents import article_from_stored

        _write(fresh, [(article_from_stored(s), s["record_hash"]) for s in stored])
        fresh.finish(changed=True)
        fresh.swap_in()
        target.reopen()
        _check(target, target_spec, oracle)
        assert target.is_current() and target.exists()
        assert sorted(target.ids()) == sorted(oracle)
    finally:
        target.close()
