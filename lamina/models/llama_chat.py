"""Deprecated: the llama.cpp chat model moved to :mod:`lamina.models.llama.chat`."""

from __future__ import annotations

import warnings

from lamina.models.llama.chat import PARALLEL_TOOL_CALLS, LlamaChatModel

__all__ = ["PARALLEL_TOOL_CALLS", "LlamaChatModel"]

warnings.warn(
    "lamina.models.llama_chat is deprecated; import from lamina.models.llama.chat",
    DeprecationWarning,
    stacklevel=2,
)
