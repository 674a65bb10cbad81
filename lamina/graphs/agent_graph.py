"""Deprecated: moved to lamina.graph.

This shim goes away in the next release."""

import warnings

from lamina.graph import LAYER_NODES, build_agent_graph, recursion_limit_for

warnings.warn(
    "lamina.graphs.agent_graph is deprecated; import from lamina.graph",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["LAYER_NODES", "build_agent_graph", "recursion_limit_for"]
