"""What makes two model calls the same call: the model's identity, its sampling parameters and
the prompt's canonical text (the parts of the step cache's key)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lamina.errors import ConfigError

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

__all__ = [
    "SAMPLING_PARAMS",
    "message_text",
    "model_identity",
    "prompt_text",
    "sampling_params",
    "step_key",
]

logger = logging.getLogger(__name__)

SAMPLING_PARAMS: tuple[str, ...] = (
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "repeat_penalty",
    "seed",
    "stop",
    "retry_loops",  # a looping decode retried with a repeat penalty gives another text
)
"""Fields of a chat model that change its output, and therefore belong in the cache key."""


def model_identity(model: Any) -> str:
    """A string naming the model's weights as exactly as we can.

    `model_name` (or the class name), plus the GGUF file's sha256 when the model comes from a
    pool; when the catalog has no sha256 the file's size and modification time stand in for it.
    """
    name = str(getattr(model, "model_name", None) or type(model).__name__)
    pool = getattr(model, "pool", None)
    if pool is None:
        return name
    try:
        spec = pool.spec(name)
    except Exception:  # a pool that does not know its own model: the name is all we have
        logger.debug("model %s: pool has no spec; cache identity is the name", name)
        return name
    sha = getattr(spec, "sha256", None)
    if sha:
        return f"{name}@sha256:{sha}"
    try:
        path = Path(pool.path_of(name))
        st = path.stat()
    except (OSError, AttributeError, ValueError, ConfigError):
        return name
    # No checksum: size and mtime change whenever the file is replaced, which is what matters.
    return f"{name}@{path}:{st.st_size}:{st.st_mtime_ns}"


def sampling_params(model: Any) -> dict[str, Any]:
    """The model's sampling parameters that are set (see :data:`SAMPLING_PARAMS`)."""
    params: dict[str, Any] = {}
    for field in SAMPLING_PARAMS:
        if hasattr(model, field):
            value = getattr(model, field)
            params[field] = (
                value if isinstance(value, int | float | str | bool | None) else repr(value)
            )
    return params


def message_text(message: Any) -> str:
    """The text of a message's content (joining the text parts of multi-part content)."""
    content = getattr(message, "content", message)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in content)
    return str(content)


def prompt_text(messages: Sequence[BaseMessage]) -> str:
    """The full prompt as one canonical string (role and text of every message)."""
    return json.dumps([[m.type, message_text(m)] for m in messages], ensure_ascii=False)


def step_key(
    model_identity: str,
    params: Mapping[str, Any],
    template_version: str,
    prompt: str,
) -> str:
    """The exact cache key: sha256 over identity, sampling params, template version, prompt."""
    payload = json.dumps(
        {
            "model": model_identity,
            "params": dict(sorted(params.items())),
            "template": template_version,
            "prompt": prompt,
        },
        ensure_ascii=False,
        sort_keys=True,
        default=repr,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
