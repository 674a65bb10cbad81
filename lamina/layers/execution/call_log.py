"""What the calls of one step did (:class:`CallLog`): their records, the results and failures
by call, and the values grounding may no longer offer."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.tools import BaseTool

from lamina.core.records import ToolCallRecord
from lamina.core.serialise import json_safe
from lamina.layers.execution.approval import requires_approval
from lamina.layers.execution.calls import CallError
from lamina.layers.execution.grounded_moves import failed_values, listed_values

__all__ = ["CallLog"]

logger = logging.getLogger(__name__)


@dataclass
class CallLog:
    """The calls of one step, in order, and what grounding learns from them."""

    records: list[ToolCallRecord] = field(default_factory=list)
    failures: int = 0
    skipped: int = 0
    last_success: str | None = None
    last_error: str | None = None
    # the result of each call that worked, by `call_key`
    seen: dict[str, str] = field(default_factory=dict)
    # the error of each call that failed, by `call_key`
    failed: dict[str, CallError] = field(default_factory=dict)
    # values that failed, by tool and argument: grounding offers them no more in this step
    excluded: dict[str, dict[str, set[Any]]] = field(default_factory=dict)
    # values a tool's error listed, by tool and argument: grounding prefers the spans among them
    listed: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def record_failure(
        self, name: str, args: Any, seconds: float, failure: CallError, approval: str = ""
    ) -> None:
        """Count and record a call that failed (or a reply that could not be read: no name)."""
        self.failures += 1
        self.last_error = failure.error
        self.records.append(
            ToolCallRecord(
                name=name,
                args=dict(args) if isinstance(args, dict) else {"value": json_safe(args)},
                seconds=seconds,
                attempt=len(self.records) + 1,
                error=failure.error,
                kind=failure.kind,
                approval=approval,
                error_id=failure.error_id,
            )
        )
        logger.info("tool call %r failed (%s): %s", name, failure.kind, failure.error)

    def exclude(self, name: str, args: Any, failure: CallError) -> None:
        """Withdraw the values a failed call used, and keep the values its error lists."""
        accepted = listed_values(failure.error) if failure.kind == "exception" else []
        for key, value in failed_values(args, failure).items():
            self.excluded.setdefault(name, {}).setdefault(key, set()).add(value)
            if accepted:
                self.listed.setdefault(name, {})[key] = accepted

    def successes(self) -> int:
        """Calls that worked, not counting repeats."""
        return sum(1 for r in self.records if r.error is None and not r.repeated)

    def results(self, tools: Mapping[str, BaseTool]) -> list[str]:
        """The results of the calls that worked, when every call only read: after an action
        ("sent 50 EUR to Bob") an answer may just acknowledge it ("All done."), so []."""
        done = [r for r in self.records if r.error is None and r.result is not None]
        if any(r.name in tools and requires_approval(tools[r.name]) for r in done):
            return []
        return [str(r.result) for r in done]

    def successful_args(self) -> list[Any]:
        """The arguments of the calls that worked."""
        return [r.args for r in self.records if r.error is None]
