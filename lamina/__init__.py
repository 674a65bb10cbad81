"""lamina: agents on local GGUF models through llama.cpp.

A LangGraph state machine of five layers (input, router, memory, reasoning, execution). The
public names below are imported lazily so that `import lamina` stays fast.
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
    from lamina.layers.router import Route
    from lamina.models.catalog import ModelSpec
    from lamina.tools.decorator import tool

__version__ = "0.1.0"

__all__ = [
    "Agent",
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
    "tool",
]

_LAZY = {
    "Agent": "lamina.agents.agent",
    "RunResult": "lamina.agents.agent",
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
