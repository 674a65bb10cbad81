"""Deprecated: moved to lamina.graph.

This shim goes away in the next release."""

import warnings

from lamina.graph import insert_after, replace_node

warnings.warn(
    "lamina.graphs.editing is deprecated; import from lamina.graph",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["insert_after", "replace_node"]
