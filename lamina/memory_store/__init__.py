"""Deprecated: `lamina.memory_store` moved to `lamina.stores`.

This shim keeps the old import path working for one release.
"""

import warnings

warnings.warn(
    "lamina.memory_store is deprecated; import from lamina.stores", DeprecationWarning, stacklevel=2
)
