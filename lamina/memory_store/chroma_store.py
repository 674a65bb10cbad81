"""Deprecated: `lamina.memory_store.chroma_store` moved to `lamina.stores.memory`.

This shim keeps the old import path working for one release.
"""

import warnings

from lamina.stores.memory import (
    DEFAULT_COLLECTION,
    KINDS,
    LOCK_FILE,
    MAX_TEXT_CHARS,
    LaminaEmbeddingFunction,
    Memory,
    MemoryItem,
    MemoryKind,
    MemoryStore,
    TextEncoder,
)

__all__ = [
    "DEFAULT_COLLECTION",
    "KINDS",
    "LOCK_FILE",
    "MAX_TEXT_CHARS",
    "LaminaEmbeddingFunction",
    "Memory",
    "MemoryItem",
    "MemoryKind",
    "MemoryStore",
    "TextEncoder",
]

warnings.warn(
    "lamina.memory_store.chroma_store is deprecated; import from lamina.stores.memory",
    DeprecationWarning,
    stacklevel=2,
)
