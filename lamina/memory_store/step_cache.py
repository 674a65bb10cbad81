"""Deprecated: `lamina.memory_store.step_cache` moved to `lamina.stores.step_cache`.

This shim keeps the old import path working for one release.
"""

import warnings

from lamina.stores.step_cache import (
    MIN_SEMANTIC_THRESHOLD,
    SAMPLING_PARAMS,
    CacheStats,
    StepCache,
    StepCall,
    StructuredReply,
    invoke_measured,
    measured_call,
    message_text,
    model_identity,
    prompt_text,
    sampling_params,
    structured_call,
)

__all__ = [
    "MIN_SEMANTIC_THRESHOLD",
    "SAMPLING_PARAMS",
    "CacheStats",
    "StepCache",
    "StepCall",
    "StructuredReply",
    "invoke_measured",
    "measured_call",
    "message_text",
    "model_identity",
    "prompt_text",
    "sampling_params",
    "structured_call",
]

warnings.warn(
    "lamina.memory_store.step_cache is deprecated; import from lamina.stores.step_cache",
    DeprecationWarning,
    stacklevel=2,
)
