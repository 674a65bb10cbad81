"""Deprecated: `lamina.memory_store.cli` moved to `lamina.cli.memory`.

This shim keeps the old import path working for one release.
"""

import warnings

from lamina.cli.memory import (
    DEFAULT_USER,
    app,
    open_store,
)

__all__ = [
    "DEFAULT_USER",
    "app",
    "open_store",
]

warnings.warn(
    "lamina.memory_store.cli is deprecated; import from lamina.cli.memory",
    DeprecationWarning,
    stacklevel=2,
)
