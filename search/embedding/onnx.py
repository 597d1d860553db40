"""A site's own sentence-embedding model: an ONNX file run with onnxruntime,
its Hugging Face ``tokenizer.json`` read with tokenizers.

The model is a directory (``load_embedder(path)``) holding three files:

* ``model.onnx``: inputs ``input_ids`` and ``attention_mask`` (int64 or
  int32, shape ``(batch, tokens)``), optionally ``token_type_ids`` (fed
  zeros); any other input is refused.  Its output (the first, or the one
  named by ``output``) is either token states ``(batch, tokens, hidden)``,
  pooled here, or sentence vectors ``(batch, dim)`` (``"pooling": "none"``);
* ``tokenizer.json``: the tokenizer saved with the model (special tokens
  added by its post-processor, as the model was trained);
* ``embedder.json``: what the two files do not say::

      {"model_id": "multilingual-e5-small-onnx-2024-03",   # required, stable
       "pooling": "mean",             # "mean" (attention-masked), "cls", "none"
       "query_prefix": "query: ",     # default ""
       "passage_prefix": "passage: ", # default ""
       "max_tokens": 512,             # truncation, special tokens included; default 512
       "output": "last_hidden_state", # default: the model's first output
       "pad_token": "<pad>"}          # default: the tokenizer's own padding
                                      # token, else <pad> or [PAD]

  An unknown key is refused (a misspelt key would otherwise be ignored).

Every problem (missing file, unreadable model or tokenizer, bad
configuration, inputs the model does not take, an output of the wrong
shape) raises ``EmbeddingModelError`` when the model is loaded: a probe
text is embedded then, which also gives ``info.dim``.
"""

from __future__ import annotations

import json
import os

import numpy as np

from .base import Embedder, EmbedderInfo, EmbeddingModelError, SemanticUnavailable

CONFIG = "embedder.json"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
POOLINGS = ("mean", "cls", "none")
KEYS = {"model_id", "pooling", "query_prefix", "passage_prefix", "max_tokens", "output", "pad_token"}
_INT_TYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}


def read_config(directory: str) -> dict:
    """``embedder.json`` of ``directory``, checked and with defaults filled
    in (keys as in the module docstring).  Raises ``EmbeddingModelError``."""
    path = os.path.join(directory, CONFIG)
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except FileNotFoundError:
        raise EmbeddingModelError(f"{path} is missing: an ONNX model directory needs {MODEL_FILE}, "
                                  f"{TOKENIZER_FILE} and {CONFIG} (at least {{\"model_id\": ...}})") from None
    except (OSError, ValueError) as exc:
        raise EmbeddingModelError(f"{path} cannot be read as JSON: {exc}") from None
    if not isinstance(config, dict):
        raise EmbeddingModelError(f"{path} must hold a JSON object")
    unknown = sorted(set(config) - KEYS)
    if unknown:
        raise EmbeddingModelError(f"{path}: unknown keys {unknown} (known: {sorted(KEYS)})")
    out = {"pooling": "mean", "query_prefix": "", "passage_prefix": "", "max_tokens": 512,
           "output": None, "pad_token": None, **config}
    if not isinstance(out.get("model_id"), str) or not out["model_id"].strip():
        raise EmbeddingModelError(f"{path}: \"model_id\" (a non-empty string naming the model and its "
                                  "version) is required")
    if out["pooling"] not in POOLINGS:
        raise EmbeddingModelError(f"{path}: \"pooling\" must be one of {list(POOLINGS)}, got {out['pooling']!r}")
    for key in ("query_prefix", "passage_prefix"):
        if not isinstance(out[key], str):
            raise EmbeddingModelError(f"{path}: \"{key}\" must be a string")
    for key in ("output", "pad_token"):
        if out[key] is not None and not isinstance(out[key], str):
            raise EmbeddingModelError(f"{path}: \"{key}\" must be a string")
    if isinstance(out["max_tokens"], bool) or not isinstance(out["max_tokens"], int) or out["max_tokens"] < 2:
        raise EmbeddingModelError(f"{path}: \"max_tokens\" must be an integer >= 2")
    return out


class OnnxEmbedder(Embedder):
    """The ONNX model in ``directory`` (see the module docstring).
    ``threads`` is onnxruntime's intra-op thread count (inter-op: 1).
    Raises ``SemanticUnavailable`` without onnxruntime or tokenizers,
    ``EmbeddingModelError`` for a model that cannot be used."""

    def __init__(self, directory: str, *, batch_size: int = 32, threads: int = 2):
        super().__init__(batch_size=batch_size, threads=threads)
        try:
            import onnxruntime
        except ImportError:
            raise SemanticUnavailable("onnxruntime") from None
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise SemanticUnavailable("tokenizers") from None
        if not os.path.isdir(directory):
            raise EmbeddingModelError(f"{directory!r} is not a directory: give the directory holding "
                                      f"{MODEL_FILE}, {TOKENIZER_FILE} and {CONFIG}")
        config = read_config(directory)
        self.pooling = config["pooling"]
        for name in (MODEL_FILE, TOKENIZER_FILE):
            if not os.path.isfile(os.path.join(directory, name)):
                raise EmbeddingModelError(f"{os.path.join(directory, name)} is missing")
        self._tokenizer = self._load_tokenizer(Tokenizer, os.path.join(directory, TOKENIZER_FILE), config)

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        try:
            self._session = onnxruntime.InferenceSession(os.path.join(directory, MODEL_FILE), options,
                                                         providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own classes (InvalidProtobuf, Fail, ...)
            raise EmbeddingModelError(f"{os.path.join(directory, MODEL_FILE)} cannot be loaded "
                                      f"by onnxruntime: {exc}") from None
        self._inputs = {i.name: _INT_TYPES.get(i.type) for i in self._session.get_inputs()}
        for name in ("input_ids", "attention_mask"):
            if name not in self._inputs:
                raise EmbeddingModelError(f"{MODEL_FILE} has no input {name!r} (inputs: {sorted(self._inputs)})")
        other = sorted(set(self._inputs) - {"input_ids", "attention_mask", "token_type_ids"})
        if other:
            raise EmbeddingModelError(f"{MODEL_FILE} needs inputs this embedder cannot fill: {other}")
        untyped = sorted(name for name, kind in self._inputs.items() if kind is None)
        if untyped:
            raise EmbeddingModelError(f"{MODEL_FILE}: inputs {untyped} are not int64 or int32 tensors")
        outputs = [o.name for o in self._session.get_outputs()]
        self._output = config["output"] or outputs[0]
        if self._output not in outputs:
            raise EmbeddingModelError(f"{MODEL_FILE} has no output {self._output!r} (outputs: {outputs})")

        self._prefixes = (config["query_prefix"], config["passage_prefix"])
        probe = self._run(["probe"])
        self.info = EmbedderInfo(model_id=config["model_id"], dim=int(probe.shape[1]),
                                 query_prefix=config["query_prefix"], passage_prefix=config["passage_prefix"],
                                 max_tokens=config["max_tokens"])

    @staticmethod
    def _load_tokenizer(tokenizer_class, path: str, config: dict):
        try:
            tokenizer = tokenizer_class.from_file(path)
        except Exception as exc:  # tokenizers raises a bare Exception for a malformed file
            raise EmbeddingModelError(f"{path} cannot be read by tokenizers: {exc}") from None
        tokenizer.enable_truncation(max_length=config["max_tokens"])
        pad = config["pad_token"] or (tokenizer.padding or {}).get("pad_token")
        candidates = [pad] if pad else ["<pad>", "[PAD]"]
        for token in candidates:
            pad_id = tokenizer.token_to_id(token)
            if pad_id is not None:
                tokenizer.enable_padding(pad_id=pad_id, pad_token=token)
                return tokenizer
        raise EmbeddingModelError(f"{path}: no padding token {' or '.join(candidates)} in the vocabulary; "
                                  "name it with \"pad_token\" in " + CONFIG)

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings])
        mask = np.array([e.attention_mask for e in encodings])
        feed = {"input_ids": ids.astype(self._inputs["input_ids"]),
                "attention_mask": mask.astype(self._inputs["attention_mask"])}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids, dtype=self._inputs["token_type_ids"])
        try:
            (states,) = self._session.run([self._output], feed)
        except Exception as exc:  # onnxruntime's own error classes
            raise EmbeddingModelError(f"{MODEL_FILE} failed on a batch of {len(texts)}: {exc}") from None
        states = np.asarray(states, dtype=np.float32)
        if self.pooling == "none":
            if states.ndim != 2 or states.shape[0] != len(texts):
                raise EmbeddingModelError(f"output {self._output!r} has shape {states.shape}; "
                                          f"\"pooling\": \"none\" needs (batch, dim)")
            return states
        if states.ndim != 3 or states.shape[:2] != ids.shape:
            raise EmbeddingModelError(f"output {self._output!r} has shape {states.shape}; pooling "
                                      f"{self.pooling!r} needs token states (batch, tokens, hidden) = "
                                      f"({ids.shape[0]}, {ids.shape[1]}, hidden)")
        if self.pooling == "cls":
            return states[:, 0, :]
        weights = mask.astype(np.float32)[:, :, None]
        return (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)

    def _embed_batch(self, texts: list[str], *, query: bool) -> np.ndarray:
        if not texts:
            return np.empty((0, self.info.dim), dtype=np.float32)
        prefix = self._prefixes[0] if query else self._prefixes[1]
        return self._run([prefix + t for t in texts])
