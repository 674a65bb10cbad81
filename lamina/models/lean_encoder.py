"""A lean path through a BERT sentence encoder (all-MiniLM-L6-v2) for one text: ONNX Runtime.

The router embeds one short request per decision, usually while llama.cpp holds every core.
Through sentence-transformers that costs a torch import (seconds, once per process) and, per
request, a forward pass split over torch's intra-op threads: each of its ~100 small operations
ends at a barrier that waits for every thread, so when other processes hold the cores the pass
waits for the scheduler again and again. Measured on this project's 2-core machine, one 10-word
request, CPU time per embedding: torch through semantic-router's encoder 10.8 ms (one thread), a
plain numpy forward 14 ms, this module 4.4 ms; wall time under load, 2 torch threads: 668 ms
against 28 ms on one thread.

This module builds the ONNX graph of the same arithmetic (BERT layers, mean pooling) in memory
from the model's own `model.safetensors` and `tokenizer.json`, and runs it with ONNX Runtime on
two threads that never spin. It imports neither torch nor transformers, so it loads in well
under a second. Its vectors equal sentence-transformers' to float32 rounding (largest difference
about 2e-7 on the packaged MiniLM; `tests/integration/test_lean_encoder.py` checks it). The
memory layer keeps embedding through sentence-transformers, so stored memories are unchanged.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lamina.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["GRAPH_FORMAT", "LeanBertEncoder"]

GRAPH_FORMAT = "g1"
"""Part of a cached graph's file name; bump it when `_bert_graph` changes what it builds."""

logger = logging.getLogger(__name__)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"Expected a readable JSON file at {path}, found an error: {exc}. Fix: pass a "
            "complete sentence-transformers model directory."
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"Expected a JSON object in {path}, found {type(data).__name__}.")
    return data


def _check_supported(path: Path) -> tuple[dict[str, Any], int]:
    """The BERT config and the maximum sequence length; ConfigError for anything else."""
    config = _read_json(path / "config.json")
    pooling_file = path / "1_Pooling" / "config.json"
    pooling = _read_json(pooling_file) if pooling_file.exists() else {}
    found = (
        config.get("model_type"),
        config.get("hidden_act"),
        config.get("position_embedding_type", "absolute"),
        bool(pooling.get("pooling_mode_mean_tokens")),
        (path / "model.safetensors").exists(),
        (path / "tokenizer.json").exists(),
    )
    if found != ("bert", "gelu", "absolute", True, True, True):
        raise ConfigError(
            f"The lean encoder runs BERT models with GELU, absolute positions, mean pooling, "
            f"model.safetensors and tokenizer.json; {path} has (model_type, hidden_act, "
            f"positions, mean pooling, safetensors, tokenizer.json) = {found}. Fix: use the "
            "sentence-transformers path (Encoder.encode) for this model."
        )
    settings_file = path / "sentence_bert_config.json"
    settings = _read_json(settings_file) if settings_file.exists() else {}
    max_len = int(settings.get("max_seq_length") or config.get("max_position_embeddings", 512))
    return config, max_len


class LeanBertEncoder:
    """A BERT sentence encoder (mean pooling, L2-normalised) run by ONNX Runtime, no spinning.

    The ONNX graph is built in memory from the model's own safetensors weights (no export, no
    file written, no torch), then optimised by ONNX Runtime (fused GELU, layer norms, matmuls).

    Building the graph needs the `onnx` package (about 2 s to import); the built graph is kept in
    `cache_file`, so later processes only read it.

    Args:
        path: a sentence-transformers model directory (`config.json`, `model.safetensors`,
            `tokenizer.json`, `1_Pooling/config.json`).
        cache_file: where the built graph is kept (None: built in every process). A damaged or
            unwritable file is only a lost speed-up.

    Raises:
        ConfigError: when the directory holds another architecture or lacks a file.
    """

    def __init__(self, path: Path, cache_file: Path | None = None) -> None:
        config, max_len = _check_supported(path)
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_len)
        self.dimension = int(config["hidden_size"])
        options = ort.SessionOptions()
        # Two threads that never spin. ONNX Runtime hands out work in small chunks that either
        # thread (or the caller) takes, so a thread the scheduler parks does not stall the pass the
        # way torch's OpenMP barriers do; and on cores other processes hold, a decision with two
        # runnable threads gets two shares of the CPU. Measured on 2 cores with 2 busy processes:
        # 1 thread 267 ms, 2 threads 146 ms, 2 spinning threads 337 ms (and twice the CPU).
        options.intra_op_num_threads = min(2, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self._session = _session(ort, options, path, config, cache_file)

    def embed(self, text: str) -> npt.NDArray[np.float32]:
        """The L2-normalised embedding of one text (a 1-D float32 vector)."""
        import numpy as np

        ids = np.asarray([self._tokenizer.encode(text).ids], dtype=np.int64)
        positions = np.arange(ids.shape[1], dtype=np.int64)[None]
        pooled = self._session.run(None, {"input_ids": ids, "position_ids": positions})[0][0]
        norm = float(np.linalg.norm(pooled))
        out: npt.NDArray[np.float32] = (pooled / norm if norm > 0 else pooled).astype(np.float32)
        return out


def _session(
    ort: Any, options: Any, path: Path, config: dict[str, Any], cache_file: Path | None
) -> Any:
    """An ONNX Runtime session over the cached graph, or over a newly built (and cached) one."""
    providers = ["CPUExecutionProvider"]
    if cache_file is not None and cache_file.exists():
        try:
            return ort.InferenceSession(str(cache_file), options, providers=providers)
        except Exception as exc:  # ORT raises its own exception types, none of them public
            logger.warning("Ignoring unreadable encoder graph %s (%s); rebuilding", cache_file, exc)
    graph = _bert_graph(path, config)
    if cache_file is not None:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename, so a concurrent reader never sees a half-written file.
            fd, tmp = tempfile.mkstemp(dir=cache_file.parent, suffix=".onnx.tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(graph)
            os.replace(tmp, cache_file)
        except OSError as exc:
            logger.warning("Could not keep the encoder graph in %s (%s)", cache_file, exc)
    return ort.InferenceSession(graph, options, providers=providers)


def _bert_graph(path: Path, config: dict[str, Any]) -> bytes:
    """The serialised ONNX graph of a BERT encoder with mean pooling, for one unpadded text."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    raw = load_file(str(path / "model.safetensors"))
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in raw else ""
    w = {k.removeprefix(prefix): v for k, v in raw.items()}
    width, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    eps = float(config.get("layer_norm_eps", 1e-12))
    inits: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, value: Any) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(kind: str, *inputs: str, **attrs: Any) -> str:
        out = f"t{len(nodes)}"
        nodes.append(helper.make_node(kind, list(inputs), [out], **attrs))
        return out

    def dense(x: str, name: str) -> str:
        weight = const(name + ".w", w[name + ".weight"].T.astype(np.float32))
        return op("Add", op("MatMul", x, weight), const(name + ".b", w[name + ".bias"]))

    def norm(x: str, name: str) -> str:
        gain, bias = const(name + ".g", w[name + ".weight"]), const(name + ".b", w[name + ".bias"])
        return op("LayerNormalization", x, gain, bias, axis=-1, epsilon=eps)

    def f32(name: str, value: float) -> str:
        return const(name, np.array(value, dtype=np.float32))

    def i64(name: str, value: list[int]) -> str:
        return const(name, np.array(value, dtype=np.int64))

    words = op("Gather", const("word", w["embeddings.word_embeddings.weight"]), "input_ids")
    places = op("Gather", const("pos", w["embeddings.position_embeddings.weight"]), "position_ids")
    token_type = const("type", w["embeddings.token_type_embeddings.weight"][0])
    x = norm(op("Add", op("Add", words, places), token_type), "embeddings.LayerNorm")
    split, by_head = i64("split", [width] * 3), i64("by_head", [1, -1, heads, width // heads])
    joined, scale = i64("joined", [1, -1, width]), f32("scale", 1.0 / math.sqrt(width // heads))
    half, one, root2 = f32("half", 0.5), f32("one", 1.0), f32("root2", math.sqrt(2.0))
    for i in range(_layers(w)):
        p = f"encoder.layer.{i}."
        qkv_w = np.concatenate(
            [w[f"{p}attention.self.{k}.weight"].T for k in ("query", "key", "value")], axis=1
        )
        qkv_b = np.concatenate(
            [w[f"{p}attention.self.{k}.bias"] for k in ("query", "key", "value")]
        )
        qkv = op("Add", op("MatMul", x, const(p + "qkv.w", qkv_w)), const(p + "qkv.b", qkv_b))
        parts = [f"{p}q", f"{p}k", f"{p}v"]
        nodes.append(helper.make_node("Split", [qkv, split], parts, axis=2))
        q, k, v = (op("Reshape", part, by_head) for part in parts)
        q, v = op("Transpose", q, perm=[0, 2, 1, 3]), op("Transpose", v, perm=[0, 2, 1, 3])
        k = op("Transpose", k, perm=[0, 2, 3, 1])
        attention = op("Softmax", op("Mul", op("MatMul", q, k), scale), axis=-1)
        context = op("Transpose", op("MatMul", attention, v), perm=[0, 2, 1, 3])
        context = op("Reshape", context, joined)
        attended = dense(context, p + "attention.output.dense")
        x = norm(op("Add", attended, x), p + "attention.output.LayerNorm")
        h = dense(x, p + "intermediate.dense")
        # BERT's exact GELU, 0.5·h·(1 + erf(h/√2)); ONNX Runtime fuses it into one kernel.
        h = op("Mul", op("Mul", h, half), op("Add", op("Erf", op("Div", h, root2)), one))
        x = norm(op("Add", dense(h, p + "output.dense"), x), p + "output.LayerNorm")
    pooled = op("ReduceMean", x, axes=[1], keepdims=0)  # mean pooling: no padding, no mask
    ids = [
        helper.make_tensor_value_info(name, TensorProto.INT64, [1, "tokens"])
        for name in ("input_ids", "position_ids")
    ]
    output = helper.make_tensor_value_info(pooled, TensorProto.FLOAT, [1, width])
    graph = helper.make_graph(nodes, "sentence_encoder", ids, [output], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    data: bytes = model.SerializeToString()
    return data


def _layers(w: dict[str, Any]) -> int:
    n = 0
    while f"encoder.layer.{n}.attention.self.query.weight" in w:
        n += 1
    return n
