"""Deprecated: moved to lamina.layers.router.defaults.

This shim goes away in the next release."""

import warnings

from lamina.layers.router.defaults import DEFAULT_MODEL, default_routes

warnings.warn(
    "lamina.layers.routing_defaults is deprecated; import from lamina.layers.router.defaults",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["DEFAULT_MODEL", "default_routes"]
