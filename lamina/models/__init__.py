"""Models: GGUF models found, fetched, loaded and turned into LangChain chat models.

`catalog` names the known GGUF models (`ModelSpec`: source, sha256, chat template, context size);
`provision` pulls them (`lamina models pull`) and `gguf` reads their metadata. `pool` keeps loaded
models resident within a memory budget (lazy loads, LRU eviction, one lock per model); `factory`
builds a chat model for a spec, over the pool (`llama/`) or over HTTP (`remote`). What both chat
models share has a home of its own: `tool_calls` (the two-stage tool-call protocol), `structured`
(schemas in, validated JSON out), `prompting` (messages to one prompt) and `grammar` (GBNF from
JSON schemas). `llama/` holds everything that touches llama.cpp directly (the chat model, the
loader, the KV prefix cache, its log routing, the few internals in `llama/internals.py`, and what
the installed build can do). `encoder` is the sentence-transformers embedding model; `testing`
has scripted fake chat models and a hashing encoder for tests.

Heavy modules (llama_cpp) load only when a model is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lamina.models.catalog import CATALOG, DEFAULT_MODELS, ModelSpec, WheelPart, resolve_spec
from lamina.models.pool import ModelPool
from lamina.models.pool import default_pool as default_pool

if TYPE_CHECKING:
    from lamina.models.llama.chat import LlamaChatModel
    from lamina.models.remote import RemoteChatModel

__all__ = [
    "CATALOG",
    "DEFAULT_MODELS",
    "ModelPool",
    "ModelSpec",
    "WheelPart",
    "chat_model",
    "default_pool",
    "resolve_spec",
]


def chat_model(name_or_spec: str | ModelSpec, **settings: Any) -> LlamaChatModel | RemoteChatModel:
    """A LangChain chat model over a GGUF model, loaded lazily through the default pool.

    Args:
        name_or_spec: a catalog name (`"smollm2-135m-instruct"`), a `.gguf` path or a `ModelSpec`
            (one with an `endpoint` gives a chat model over that OpenAI-compatible server).
        **settings: sampling settings (`temperature`, `max_tokens`, `seed`, `stop`, ...).

    Raises:
        UnknownModelError: the name is not in the catalog (the message lists the known ones).
    """
    from lamina.models.factory import build_chat_model

    spec = resolve_spec(name_or_spec)
    pool = default_pool()
    pool.register(spec)
    return build_chat_model(pool, spec, **settings)
