"""The reasoning layer's step cache: an exact key to a model call's result, persistent in SQLite.

:class:`StepCache` (in `cache.py`) is the cache: `call`, `cached_structured`, `get`/`put`,
`stats`, `clear`, LRU eviction and TTL. The key's parts (model identity, sampling parameters,
canonical prompt text, the sha256 key itself) are in `keys.py`; a measured model call
(`StepCall`, `measured_call`, `StructuredReply`, `structured_call`) in `calls.py`; the SQLite
file (schema, WAL, transactions, rebuilding a corrupted file, `CacheStats` counters) in
`database.py`; opt-in semantic reuse and its guards (same numbers, operators and negations;
threshold at least 0.97) in `semantic.py`.
"""

from lamina.stores.step_cache.cache import StepCache
from lamina.stores.step_cache.calls import (
    StepCall,
    StructuredReply,
    invoke_measured,
    measured_call,
    structured_call,
)
from lamina.stores.step_cache.database import CacheStats
from lamina.stores.step_cache.keys import (
    SAMPLING_PARAMS,
    message_text,
    model_identity,
    prompt_text,
    sampling_params,
)
from lamina.stores.step_cache.semantic import MIN_SEMANTIC_THRESHOLD

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
