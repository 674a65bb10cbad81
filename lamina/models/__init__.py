"""Models: the catalog, provisioning, the llama.cpp chat model and the model pool.

Heavy modules (llama_cpp) load only when a model is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lamina.models.catalog import CATALOG, DEFAULT_MODELS, ModelSpec, WheelPart, resolve_spec

if TYPE_CHECKING:
    from lamina.models.llama_chat import LlamaChatModel
    from lamina.models.pool import ModelPool

__all__ = [
    "CATALOG",
    "DEFAULT_MODELS",
    "ModelSpec",
    "WheelPart",
    "chat_model",
    "default_pool",
    "resolve_spec",
]


def default_pool() -> ModelPool:
    """The process-wide model pool (created on first use with the current settings)."""
    from lamina.models.pool import default_pool as _default_pool

    return _default_pool()


def chat_model(name_or_spec: str | ModelSpec, **settings: Any) -> LlamaChatModel:
    """A LangChain chat model over a local GGUF model, loaded lazily through the default pool.

    Args:
        name_or_spec: a catalog name (`"smollm2-135m-instruct"`), a `.gguf` path or a `ModelSpec`.
        **settings: sampling settings (`temperature`, `max_tokens`, `seed`, `stop`, ...).

    Raises:
        UnknownModelError: the name is not in the catalog (the message lists the known ones).
    """
    from lamina.models.llama_chat import LlamaChatModel

    spec = resolve_spec(name_or_spec)
    pool = default_pool()
    pool.register(spec)
    return LlamaChatModel(pool=pool, model_name=spec.name, **settings)
