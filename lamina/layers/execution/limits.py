"""The bounds of the execution layer's step loop (:class:`Limits`) and why a loop ended
(:data:`EndReason`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lamina.config import Guards

__all__ = ["EndReason", "Limits"]

EndReason = Literal[
    "final_answer", "max_tool_calls", "max_retries", "repeated_call", "ungrounded", "inputs_used"
]


@dataclass(frozen=True)
class Limits:
    """The execution node's bounds (checked by `make_execution_node`)."""

    max_tool_calls: int
    max_retries: int
    tool_timeout: float
    max_output_chars: int
    max_tool_calls_per_plan_step: int
    concurrent: bool = True
    parallel_tool_calls: bool | None = None
    guards: Guards = field(default_factory=Guards)
