"""Deprecated: llama.cpp's log routing moved to :mod:`lamina.models.llama.logs`."""

from __future__ import annotations

import warnings

from lamina.models.llama.logs import LLAMA_LOGGER_NAME, route_llama_logs

__all__ = ["LLAMA_LOGGER_NAME", "route_llama_logs"]

warnings.warn(
    "lamina.models.llama_logging is deprecated; import from lamina.models.llama.logs",
    DeprecationWarning,
    stacklevel=2,
)
