"""Deprecated: moved to lamina.core.nodes.

This shim goes away in the next release."""

import warnings

from lamina.core.nodes import LayerNode, StateNode

warnings.warn(
    "lamina.graphs.nodes is deprecated; import from lamina.core.nodes",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["LayerNode", "StateNode"]
