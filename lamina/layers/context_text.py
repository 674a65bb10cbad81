"""Deprecated: moved to lamina.core.text.

This shim goes away in the next release."""

import warnings

from lamina.core.text import render_memories, render_step_results, resolve_references

warnings.warn(
    "lamina.layers.context_text is deprecated; import from lamina.core.text",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["render_memories", "render_step_results", "resolve_references"]
