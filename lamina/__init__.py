"""lamina: agents on local GGUF models through llama.cpp.

A LangGraph state machine of five layers (input, router, memory, reasoning, execution). This
module is the public face: `Agent` and `RunResult` (`lamina.agents`), `AgentOptions`
(`lamina.config`), `build_agent_graph` (`lamina.graph`), `Route` (`lamina.layers.router`),
`ModelSpec` and `chat_model` (`lamina.models`), `tool` (`lamina.tools`) and the errors
(`lamina.errors`). The names are imported lazily so that `import lamina` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lamina.errors import (
    ConfigError,
    InputError,
    LaminaError,
    MemoryStoreError,
    ModelError,
    ToolError,
    UnknownModelError,
)

if TYPE_CHECKING:
    from lamina.agents.agent import Agent, RunResult
    from lamina.config import AgentOptions
    from lamina.graph import build_agent_graph
    from lamina.layers.router import Route
    from lamina.models import chat_model
    from lamina.models.catalog import ModelSpec
    from lamina.tools.decorator import tool

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AgentOptions",
    "ConfigError",
    "InputError",
    "LaminaError",
    "MemoryStoreError",
    "ModelError",
    "ModelSpec",
    "Route",
    "RunResult",
    "ToolError",
    "UnknownModelError",
    "build_agent_graph",
    "chat_model",
    "tool",
]

_LAZY = {
    "Agent": "lamina.agents.agent",
    "AgentOptions": "lamina.config",
    "RunResult": "lamina.agents.agent",
    "build_agent_graph": "lamina.graph",
    "chat_model": "lamina.models",
    "Route": "lamina.layers.router",
    "ModelSpec": "lamina.models.catalog",
    "tool": "lamina.tools.decorator",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lamina' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
