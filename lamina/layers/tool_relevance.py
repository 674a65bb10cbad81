"""Deprecated: moved to lamina.guards.tool_relevance.

This shim goes away in the next release."""

import warnings

from lamina.guards.tool_relevance import (
    FITS_ABOVE,
    SHORTLIST_MARGIN,
    SUPPORTS_ABOVE,
    ToolFit,
    ToolRelevance,
)

warnings.warn(
    "lamina.layers.tool_relevance is deprecated; import from lamina.guards.tool_relevance",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["FITS_ABOVE", "SHORTLIST_MARGIN", "SUPPORTS_ABOVE", "ToolFit", "ToolRelevance"]
