"""Deprecated: moved to lamina.core.state.

This shim goes away in the next release."""

import warnings

from lamina.core.state import AgentInput, AgentOutput, AgentState, TraceEvent, merge_trace

warnings.warn(
    "lamina.graphs.state is deprecated; import from lamina.core.state",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["AgentInput", "AgentOutput", "AgentState", "TraceEvent", "merge_trace"]
