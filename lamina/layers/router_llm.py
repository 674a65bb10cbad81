"""Deprecated: moved to lamina.layers.router.llm_fallback.

This shim goes away in the next release."""

import warnings

from lamina.layers.router.llm_fallback import (
    NONE_CHOICE,
    ChoiceScorer,
    LlamaChoiceScorer,
    LLMChoice,
    LLMFallback,
    routing_prompt,
)

warnings.warn(
    "lamina.layers.router_llm is deprecated; import from lamina.layers.router.llm_fallback",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "NONE_CHOICE",
    "ChoiceScorer",
    "LLMChoice",
    "LLMFallback",
    "LlamaChoiceScorer",
    "routing_prompt",
]
