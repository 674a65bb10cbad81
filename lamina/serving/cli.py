"""Deprecated: `lamina serve` moved to `lamina.cli.serve`."""

import warnings

from lamina.cli.serve import serve_command

__all__ = ["serve_command"]

warnings.warn(
    "lamina.serving.cli is deprecated; import from lamina.cli.serve",
    DeprecationWarning,
    stacklevel=2,
)
