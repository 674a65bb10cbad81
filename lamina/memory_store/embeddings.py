"""Deprecated: `lamina.memory_store.embeddings` moved to `lamina.models.encoder`.

This shim keeps the old import path working for one release.
"""

import warnings

from lamina.models.encoder import (
    Encoder,
    LaminaEmbeddingFunction,
    TextEncoder,
    default_encoder,
    default_encoder_path,
)

__all__ = [
    "Encoder",
    "LaminaEmbeddingFunction",
    "TextEncoder",
    "default_encoder",
    "default_encoder_path",
]

warnings.warn(
    "lamina.memory_store.embeddings is deprecated; import from lamina.models.encoder",
    DeprecationWarning,
    stacklevel=2,
)
