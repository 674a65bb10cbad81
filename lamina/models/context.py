"""How many tokens a model's context holds: its trained length, within a memory budget.

A llama.cpp context keeps a key and a value vector per layer and per KV head for every token it
can hold (the KV cache, f16 by default), and allocates all of it when the model loads. So the
cost of a context follows from the GGUF's metadata, read without loading the weights::

    bytes per token = n_layer × n_head_kv × (key_length + value_length) × 2   (f16)

with `n_layer` = `<arch>.block_count`, `n_head_kv` = `<arch>.attention.head_count_kv` (default:
`head_count`; a list of per-layer counts is summed), and `key_length`/`value_length` =
`<arch>.attention.key_length`/`value_length` (default: `embedding_length / head_count`, the
head dimension). SmolLM2-135M: 30 × 3 × (64 + 64) × 2 = 23,040 bytes (22.5 KiB) per token;
Gemma 3 270M: 18 × 1 × (256 + 256) × 2 = 18,432 bytes (18 KiB). It is an upper bound: models
with sliding-window layers may need less.

A model's context (:func:`context_size_for`) is its own `ModelSpec.context_size` when that is
set; otherwise the most tokens that fit in `Settings.context_memory_bytes` (128 MiB by default),
rounded down to a multiple of 256, and never more than the model was trained for
(`<arch>.context_length`). With the default budget SmolLM2-135M gets 5,632 tokens of its 8,192
and Gemma 3 270M 7,168 of its 32,768.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lamina.config import Settings
from lamina.errors import ConfigError
from lamina.models.catalog import ModelSpec
from lamina.models.gguf import GGUFInfo, read_gguf_metadata

__all__ = [
    "CONTEXT_STEP",
    "FALLBACK_CONTEXT",
    "KV_BYTES_PER_ELEMENT",
    "MIN_CONTEXT",
    "ContextSize",
    "context_size_for",
    "kv_bytes_per_token",
]

logger = logging.getLogger(__name__)

KV_BYTES_PER_ELEMENT = 2
"""llama.cpp's default KV cache type is f16."""

CONTEXT_STEP = 256
"""Contexts sized from the budget are a multiple of this (llama.cpp pads contexts up to one)."""

MIN_CONTEXT = 512
"""A budget that leaves a model fewer tokens than this is a configuration mistake."""

FALLBACK_CONTEXT = 2048
"""The context of a GGUF whose metadata does not say what it needs (a warning names the fix)."""


@dataclass(frozen=True)
class ContextSize:
    """A model's context and where it came from.

    Attributes:
        tokens: the context llama.cpp is given (`n_ctx`).
        source: "spec" (`ModelSpec.context_size`), "trained" (the model's whole trained length
            fits the budget), "budget" (the budget cut it short) or "fallback" (the metadata
            lacks the fields needed).
        trained: the model's trained context length (`<arch>.context_length`), if known.
        bytes_per_token: the KV cache's bytes per token, if the metadata gives them.
    """

    tokens: int
    source: Literal["spec", "trained", "budget", "fallback"]
    trained: int | None = None
    bytes_per_token: int | None = None

    @property
    def kv_bytes(self) -> int:
        """The KV cache's size at this context (0 when unknown)."""
        return self.tokens * (self.bytes_per_token or 0)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def kv_bytes_per_token(info: GGUFInfo) -> int | None:
    """The KV cache's bytes per token of context (see the module's formula); None when the
    metadata lacks the layer count, the head count or the head size."""
    arch = info.architecture
    if arch is None:
        return None
    n_layer = info.block_count
    n_head = _int(info.get(f"{arch}.attention.head_count"))
    raw_kv = info.get(f"{arch}.attention.head_count_kv", n_head)
    if n_layer is None:
        return None
    if isinstance(raw_kv, list):  # per-layer counts (some architectures vary them)
        heads_kv_total = sum(int(n) for n in raw_kv if isinstance(n, int))
    elif _int(raw_kv) is not None:
        heads_kv_total = int(raw_kv) * n_layer
    else:
        return None
    embedding = info.embedding_length
    head_dim = embedding // n_head if embedding is not None and n_head else None
    key = _int(info.get(f"{arch}.attention.key_length")) or head_dim
    value = _int(info.get(f"{arch}.attention.value_length")) or head_dim
    if key is None or value is None:
        return None
    return heads_kv_total * (key + value) * KV_BYTES_PER_ELEMENT


def context_size_for(spec: ModelSpec, path: Path, settings: Settings) -> ContextSize:
    """The context to load `spec` (from `path`) with, within `settings.context_memory_bytes`.

    Raises:
        ModelFileError: the file is missing or not a GGUF (from reading its header).
        ConfigError: the budget leaves the model fewer than :data:`MIN_CONTEXT` tokens.
    """
    info = read_gguf_metadata(path, read_tensors=False)
    trained = info.context_length
    per_token = kv_bytes_per_token(info)
    if spec.context_size is not None:
        return ContextSize(spec.context_size, "spec", trained, per_token)
    if trained is None or per_token is None:
        logger.warning(
            "model %r: the GGUF metadata of %s lacks what sizes its context (context_length, "
            "block_count, head counts); using %d tokens. Fix: give ModelSpec(context_size=...).",
            spec.name,
            path,
            FALLBACK_CONTEXT,
        )
        return ContextSize(FALLBACK_CONTEXT, "fallback", trained, per_token)
    budget = settings.context_memory_bytes
    fits = budget // per_token // CONTEXT_STEP * CONTEXT_STEP
    if fits >= trained:
        return ContextSize(trained, "trained", trained, per_token)
    if fits < MIN_CONTEXT:
        need = MIN_CONTEXT * per_token
        raise ConfigError(
            f"Model {spec.name!r}: expected a context memory budget of at least {need:,} bytes "
            f"({MIN_CONTEXT} tokens at {per_token:,} bytes each); found context_memory_bytes = "
            f"{budget:,}. Fix: raise context_memory_bytes (LAMINA_CONTEXT_MEMORY_BYTES), or give "
            "ModelSpec(context_size=...)."
        )
    return ContextSize(fits, "budget", trained, per_token)
