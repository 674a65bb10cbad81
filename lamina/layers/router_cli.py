"""Deprecated: moved to lamina.cli.route.

This shim goes away in the next release."""

import warnings

from lamina.cli.route import app

warnings.warn(
    "lamina.layers.router_cli is deprecated; import from lamina.cli.route",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["app"]
