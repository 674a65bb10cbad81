"""Deprecated: moved to lamina.core.context.

This shim goes away in the next release."""

import warnings

from lamina.core.context import AgentContext, ChatModelProvider, StaticModels

warnings.warn(
    "lamina.graphs.context is deprecated; import from lamina.core.context",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["AgentContext", "ChatModelProvider", "StaticModels"]
