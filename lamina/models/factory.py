"""Build the chat model for a model spec: in process over llama.cpp, or over HTTP.

A spec with an `endpoint` gives a :class:`~lamina.models.remote.RemoteChatModel` (nothing is
loaded here); any other spec a :class:`~lamina.models.llama.chat.LlamaChatModel` over the model
`host` (a :class:`~lamina.models.pool.ModelPool`) holds. `ModelPool.chat_model(name)` and
`lamina.models.chat_model(name)` both come here. The chat-model classes are imported when a model
is built, so importing the pool stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lamina.models.catalog import ModelSpec
    from lamina.models.host import ModelHost
    from lamina.models.llama.chat import LlamaChatModel
    from lamina.models.remote import RemoteChatModel

__all__ = ["build_chat_model"]


def build_chat_model(
    host: ModelHost, spec: ModelSpec, **settings: Any
) -> LlamaChatModel | RemoteChatModel:
    """The chat model for `spec` (registered with `host` under `spec.name` by the caller).

    Args:
        host: holds the in-process models (unused for a remote spec).
        spec: the model.
        **settings: sampling settings (`temperature`, `max_tokens`, `seed`, `stop`, ...).

    Raises:
        ConfigError: a remote spec's API-key variable is unset.
    """
    if spec.is_remote:
        from lamina.models.remote import RemoteChatModel

        return RemoteChatModel.from_spec(spec, **settings)
    from lamina.models.llama.chat import LlamaChatModel

    return LlamaChatModel(pool=host, model_name=spec.name, **settings)
