"""Load a GGUF file into a `llama_cpp.Llama`: the model pool's default loader.

Before llama.cpp sees the file, :func:`check_gguf_file` makes sure it is there and is a GGUF; the
process's OpenMP spinning and malloc arenas are bounded; a build known to crash on this CPU is
refused; llama.cpp's own log lines go to Python logging. The context is sized from the file's
metadata within the memory budget (:mod:`lamina.models.context`). After the load, the model's
last prompt token is always evaluated alone (:func:`evaluate_last_token_alone`) and it gets the
KV prefix cache the settings ask for.

Unit tests set :data:`ALLOW_MODEL_LOADS` to False, so any attempt to load a real model fails loudly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lamina.config import Settings, bounded_malloc, bounded_openmp_spin
from lamina.errors import ModelError, ModelFileError
from lamina.models.catalog import CATALOG, ModelSpec
from lamina.models.context import context_size_for
from lamina.models.llama.kv_cache import attach_kv_cache

__all__ = [
    "ALLOW_MODEL_LOADS",
    "GGUF_MAGIC",
    "attach_kv_cache",
    "check_gguf_file",
    "evaluate_last_token_alone",
    "load_llama",
]

GGUF_MAGIC = b"GGUF"

ALLOW_MODEL_LOADS = True
"""Unit tests set this to False so that any attempt to load a real GGUF fails loudly."""


def check_gguf_file(path: Path, name: str, *, pullable: bool | None = None) -> None:
    """Raise a clear `ModelFileError` unless `path` is a readable GGUF file.

    Args:
        path: where the file should be.
        name: the model's name, for the message.
        pullable: whether `lamina models pull NAME` fetches this file (None: NAME is a catalog
            model). Only then does a missing file's message suggest pulling it.
    """
    if not path.exists():
        if pullable is None:
            pullable = name in CATALOG and bool(CATALOG[name].parts)
        if pullable:
            fix = (
                f"run `lamina models pull {name}`, set LAMINA_MODELS_DIR (models_dir in "
                "lamina.toml) to where it was pulled, or point ModelSpec(path=...) at the file."
            )
        else:
            fix = (
                f"{name!r} is your own model, not one `lamina models pull` can fetch (catalog: "
                f"{', '.join(sorted(CATALOG))}): put its .gguf file at {path}, or point "
                f"ModelSpec(name={name!r}, path='/path/to/model.gguf') (`path` of its [[models]] "
                "entry in lamina.toml) at where the file is."
            )
        raise ModelFileError(
            f"Model {name!r}: expected a GGUF file at {path}, found nothing there. Fix: {fix}"
        )
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelFileError(
            f"Model {name!r}: cannot read {path} ({exc.strerror}). Fix: check its permissions."
        ) from exc
    if magic != GGUF_MAGIC:
        raise ModelFileError(
            f"Model {name!r}: {path} is not a GGUF file (expected the magic bytes 'GGUF', found "
            f"{magic!r}). Fix: point at a real .gguf model, or `lamina models pull` it again."
        )


def _pullable(spec: ModelSpec) -> bool:
    """Whether `lamina models pull` puts `spec`'s file where `spec` looks for it."""
    entry = CATALOG.get(spec.name)
    return (
        spec.path is None
        and entry is not None
        and bool(entry.parts)
        and entry.filename == spec.filename
    )


def load_llama(spec: ModelSpec, path: Path, settings: Settings) -> Any:
    """Load `path` with llama.cpp (the default loader), with the context
    :func:`~lamina.models.context.context_size_for` sizes from the GGUF's metadata."""
    if not ALLOW_MODEL_LOADS:
        raise ModelError(
            "Real model loads are switched off (lamina.models.llama.loader.ALLOW_MODEL_LOADS is "
            f"False), yet {spec.name!r} was about to load from {path}. Fix: in unit tests use "
            "lamina.models.testing.FakeChatModel or pass a fake loader to ModelPool."
        )
    check_gguf_file(path, spec.name, pullable=_pullable(spec))
    context = context_size_for(spec, path, settings)
    bounded_openmp_spin()
    bounded_malloc()
    from lamina.models.llama.build_info import check_amx_safe

    check_amx_safe(settings.allow_amx)
    from lamina.models.llama.logs import route_llama_logs

    route_llama_logs()
    from llama_cpp import Llama

    try:
        llama = Llama(
            model_path=str(path),
            n_ctx=context.tokens,
            n_threads=settings.n_threads,
            n_threads_batch=settings.n_threads,
            seed=settings.seed,
            verbose=False,
        )
    except (ValueError, RuntimeError) as exc:
        raise ModelFileError(
            f"Model {spec.name!r}: llama.cpp could not load {path} ({exc}). Fix: check the file "
            "is a complete GGUF model your llama-cpp-python version supports."
        ) from exc
    evaluate_last_token_alone(llama)
    attach_kv_cache(llama, spec, path, settings)
    return llama


def evaluate_last_token_alone(llama: Any) -> None:
    """Make a greedy answer independent of how much of its prompt was already evaluated.

    llama.cpp's CPU kernels for one token and for a batch of tokens round differently. A prompt
    evaluated from scratch gets the logits of its last token from a batch; the same prompt met
    again (llama.cpp keeps the previous prompt, the prefix cache keeps earlier ones) gets them
    from that token alone, so temperature 0 could answer the same request two ways: measured
    with SmolLM2-135M on an AVX-512 CPU, "Name a colour." gave two different answers over four
    calls. Evaluating a prompt's last token on its own, always, takes the same path either way
    (five identical answers, with prefixes reused in between) at the cost of one more decode
    call per completion. Tokens the model generates are evaluated one at a time anyway.
    """
    evaluate = llama.eval

    def eval_last_alone(tokens: Sequence[int]) -> Any:
        if len(tokens) > 1:
            evaluate(tokens[:-1])
            return evaluate(tokens[-1:])
        return evaluate(tokens)

    llama.eval = eval_last_alone
