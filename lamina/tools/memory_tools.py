"""Deprecated: moved to lamina.layers.memory.tools.

This shim goes away in the next release."""

import warnings

from lamina.layers.memory.tools import MAX_RECALL, make_memory_tools

warnings.warn(
    "lamina.tools.memory_tools is deprecated; import from lamina.layers.memory.tools",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["MAX_RECALL", "make_memory_tools"]
