"""The postings codec (search/backends/whoosh/codec.py): what the bulk
segment writer encodes decodes back to exactly what the prepared documents
say, for every term of every field of the 2,000-article sample (a
brute-force oracle built from ``search.documents.prepare``'s output with
the analysis' plain-Python paths, not the writer's numpy inversion), and
stock Whoosh's own matchers decode the same; plus the edges: a term in one
document (inlined in its term record), a term at position 0, block
boundaries at 128 postings, the largest term frequency and 4-byte
positions."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest

FACETS = ("category", "source", "author")


def _prepare(articles):
    from search.analysis import Analyzer
    from search.documents import prepare
    from search.segmenter import get_segmenter

    analyzer = Analyzer(get_segmenter(None))
    return [prepare(a, analyzer) for a in articles]


def _write(path, docs):
    """One segment of ``docs`` in a new index at ``path``: (reader, segment)."""
    from whoosh import index as whoosh_index

    from search.backends.whoosh import store
    from search.backends.whoosh.segwriter import write_segment

    ix = store.create(str(path))
    seg = write_segment(ix.storage, store.INDEXNAME, ix.schema, docs)
    return whoosh_index.FileIndex._reader(ix.storage, ix.schema, [seg], 1), seg


class _Expected:
    """What the prepared documents say one term's postings are, in doc
    order: ``docs``, ``tfs`` and (bigram fields) every position, posting
    after posting (``flat``)."""

    __slots__ = ("docs", "tfs", "flat")

    def __init__(self):
        self.docs, self.tfs, self.flat = [], [], []

    def add(self, doc: int, tf: int, positions=()) -> None:
        self.docs.append(doc)
        self.tfs.append(tf)
        self.flat.extend(positions)


def _oracle(docs) -> dict:
    """field -> term -> _Expected, by plain Python over the prepared
    documents (documents in order, so every list comes out in doc order)."""
    from search.analysis import Analyzer

    out: dict = defaultdict(lambda: defaultdict(_Expected))
    for i, d in enumerate(docs):
        out["id"][d.id].add(i, 1)
        for name in FACETS:
            if d.facets.get(name):
                out[name][d.facets[name]].add(i, 1)
        for tag, tf in Counter(d.facets.get("tags") or []).items():
            out["tags"][tag].add(i, tf)
        for f in ("title", "body"):
            for word, tf in Counter(getattr(d, f"{f}_words")).items():
                out[f"{f}_w"][word].add(i, tf)
            text = getattr(d, f"{f}_norm")
            for ch, tf in Counter(c for c in text if c.isalnum()).items():
                out[f"{f}_c"][ch].add(i, tf)
            grams = defaultdict(list)
            for gram, pos in Analyzer.gram_terms(text):
                grams[gram].append(pos)
            for gram, positions in grams.items():
                out[f"{f}_g"][gram].add(i, len(positions), positions)
    return out


class _Dictionary:
    """A field's term records read in one sequential pass (``iter_field``),
    standing in for the term dictionary's hash lookups (a pread each, most
    of this test's time otherwise)."""

    def __init__(self, reader, field):
        self.infos = dict(reader.iter_field(field))

    def term_info(self, field, tbytes):
        return self.infos[tbytes]


def _read(reader, field, term, dictionary=None):
    from search.backends.whoosh.codec import read_postings

    terms = reader._terms
    return read_postings(dictionary or terms, terms._postfile, field, term)


def _positions(reader, field, term) -> list[list[int]]:
    """Each posting's positions, decoded by ``codec.PositionTable``."""
    from search.backends.whoosh.codec import PositionTable

    starts, counts, flat = PositionTable(_read(reader, field, term)[2]).table()
    return [flat[s:s + c].tolist() for s, c in zip(starts.tolist(), counts.tolist())]


def _check_term(reader, field, term, expected: _Expected, dictionary=None):
    """The decoded postings of ``term`` equal ``expected``."""
    from search.backends.whoosh.codec import PositionTable

    ids, tfs, values = _read(reader, field, term, dictionary)
    assert ids.tolist() == expected.docs, (field, term)
    weights = [1] * len(expected.docs) if field in ("id", *FACETS) else expected.tfs
    assert tfs.tolist() == weights, (field, term)
    if field.endswith("_g"):
        starts, counts, flat = PositionTable(values).table()
        assert counts.tolist() == expected.tfs, (field, term)
        assert flat.tolist() == expected.flat, (field, term)
        assert np.array_equal(starts, np.cumsum(counts) - counts), (field, term)


def _check_field(reader, field, oracle_field: dict) -> int:
    """Every term of ``field``: the term dictionary (terms in byte order,
    document frequencies) and each term's postings; returns the count."""
    from search.backends.whoosh.codec import doc_frequency

    dictionary = _Dictionary(reader, field)
    expected = sorted(oracle_field, key=lambda t: t.encode("utf-8"))
    assert [t.decode("utf-8") for t in dictionary.infos] == expected, field
    dfs = [len(oracle_field[t].docs) for t in expected]
    assert [ti.doc_frequency() for ti in dictionary.infos.values()] == dfs, field
    for term in expected:
        _check_term(reader, field, term, oracle_field[term], dictionary)
    assert doc_frequency(reader._terms, field, expected[0]) == dfs[0]
    assert doc_frequency(reader._terms, field, "\x00none") == 0
    return len(expected)


@pytest.fixture(scope="module")
def sample_segment(tmp_path_factory, sample_records):
    from indexer.records import to_article

    docs = _prepare([to_article(r) for r in sample_records])
    reader, seg = _write(tmp_path_factory.mktemp("codec") / "index", docs)
    yield reader, _oracle(docs)
    reader.close()


def test_every_term_of_every_field_of_the_sample_round_trips(sample_segment):
    reader, oracle = sample_segment
    fields = sorted(oracle)
    assert set(fields) == {"id", *FACETS, "tags", "title_w", "body_w", "title_g", "body_g", "title_c", "body_c"}
    checked = sum(_check_field(reader, field, oracle[field]) for field in fields)
    assert checked > 100_000  # every term: ids, words, characters and bigrams of 2,000 articles


def test_stock_whoosh_matchers_decode_the_same(sample_segment):
    """Whoosh's own block decoder agrees with ours (a sample of terms of
    every field, common ones included: several blocks each)."""
    reader, oracle = sample_segment
    for field, terms in oracle.items():
        by_df = sorted(terms, key=lambda t: (-len(terms[t].docs), t))
        for term in by_df[:20] + by_df[-5:]:
            m = reader.postings(field, term.encode("utf-8"))
            stock_ids, stock_w, stock_pos = [], [], []
            while m.is_active():
                stock_ids.append(m.id())
                stock_w.append(m.weight())
                if field.endswith("_g"):
                    stock_pos.append(list(m.value_as("positions")))
                m.next()
            ids, tfs, _ = _read(reader, field, term)
            assert (stock_ids, stock_w) == (ids.tolist(), tfs.tolist()), (field, term)
            if field.endswith("_g"):
                assert stock_pos == _positions(reader, field, term), (field, term)


def test_the_edges_inlined_terms_position_zero_blocks_and_the_largest_tf(tmp_path):
    """Synthetic documents whose postings sit on the format's edges."""
    from search.backends.whoosh.codec import BLOCK
    from search.models import Article

    n = 2 * BLOCK + 1  # 257: a term in every document spans three blocks
    articles = []
    for i in range(n):
        words = ["香港"]  # in every document (the first bigram: position 0)
        if i < BLOCK:
            words.append("北京")  # exactly one block
        if i < BLOCK + 1:
            words.append("上海")  # one posting past the boundary
        if i < BLOCK - 1:
            words.append("广州")  # one short of it
        if i == 7:
            words.append("澳门")  # one document: inlined in its term record
        articles.append(Article(id=f"e-{i}", title="".join(words), body="。".join(words) + "。"))
    # The largest tf, with positions past 65,535 characters (4-byte payloads).
    long_body = "香港" * 40_000
    articles.append(Article(id="long", title="长文", body=long_body))
    docs = _prepare(articles)
    reader, seg = _write(tmp_path / "index", docs)
    try:
        oracle = _oracle(docs)
        for field in ("title_g", "body_g", "title_w", "body_w", "title_c", "body_c", "id"):
            _check_field(reader, field, oracle[field])
        terms = reader._terms
        # document frequencies across block boundaries
        assert {t: len(oracle["title_g"][t].docs) for t in ("香港", "北京", "上海", "广州", "澳门")} == {
            "香港": n, "北京": BLOCK, "上海": BLOCK + 1, "广州": BLOCK - 1, "澳门": 1}
        assert terms.term_info("title_g", "澳门".encode()).is_inlined()
        assert not terms.term_info("title_g", "北京".encode()).is_inlined()
        # position 0 in every document's title
        assert all(p[0] == 0 for p in _positions(reader, "title_g", "香港"))
        # the largest tf: 40,000 occurrences of the bigram in one body, the
        # last at character 79,998 (past what two bytes hold)
        ids, tfs, _ = _read(reader, "body_g", "香港")
        positions = _positions(reader, "body_g", "香港")
        assert ids[-1] == n and tfs[-1] == 40_000 == max(tfs)
        assert positions[-1][0] == 0 and positions[-1][-1] == 79_998
        assert reader.postings("body_g", "香港".encode()).supports("positions")
    finally:
        reader.close()


def test_position_payloads_encode_and_decode_alike_one_by_one_and_in_batch():
    from search.backends.whoosh.codec import (decode_char_positions, encode_char_positions,
                                              encode_char_positions_batch)

    runs = [[0], [3, 9, 65535], [1, 2, 3, 4], [70_000, 70_001]]
    for run in runs:
        payload = encode_char_positions(run)
        assert payload[0] == (2 if max(run) < 65536 else 4)
        assert decode_char_positions(payload).tolist() == run
    short = runs[:3]
    flat = np.array([p for r in short for p in r], np.int64)
    tfs = np.array([len(r) for r in short], np.int64)
    batch = encode_char_positions_batch(flat, np.cumsum(tfs) - tfs, tfs)
    assert batch == [encode_char_positions(r) for r in short]
