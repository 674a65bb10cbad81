"""Deprecated: the `lamina models` commands moved to :mod:`lamina.cli.models`."""

from __future__ import annotations

import warnings

from lamina.cli.models import app

__all__ = ["app"]

warnings.warn(
    "lamina.models.cli is deprecated; import from lamina.cli.models",
    DeprecationWarning,
    stacklevel=2,
)
