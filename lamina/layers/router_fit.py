"""Deprecated: moved to the packages named in the imports below.

This shim goes away in the next release."""

import warnings

from lamina.layers.router.fit import (
    ABSTAIN,
    ClassMetrics,
    RouterReport,
    evaluate_router,
    fit_thresholds,
)
from lamina.layers.router.intent_router import load_router
from lamina.layers.router.router_file import save_router

warnings.warn(
    "lamina.layers.router_fit is deprecated; import from lamina.layers.router.fit, "
    "lamina.layers.router.router_file or lamina.layers.router.intent_router",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "ABSTAIN",
    "ClassMetrics",
    "RouterReport",
    "evaluate_router",
    "fit_thresholds",
    "load_router",
    "save_router",
]
