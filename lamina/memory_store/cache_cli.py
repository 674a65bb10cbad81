"""Deprecated: `lamina.memory_store.cache_cli` moved to `lamina.cli.cache`.

This shim keeps the old import path working for one release.
"""

import warnings

from lamina.cli.cache import (
    app,
    cache_stats,
    clear_cache,
)

__all__ = [
    "app",
    "cache_stats",
    "clear_cache",
]

warnings.warn(
    "lamina.memory_store.cache_cli is deprecated; import from lamina.cli.cache",
    DeprecationWarning,
    stacklevel=2,
)
