"""Value types that several layers and the agent facade share: a tool call as recorded in the
trace (:class:`ToolCallRecord`) and a tool call waiting for a human (:class:`ApprovalRequest`,
the value of the run's interrupt)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lamina.core.serialise import json_safe

__all__ = [
    "APPROVAL_REQUEST",
    "ApprovalRequest",
    "RunError",
    "RunErrorKind",
    "ToolCallRecord",
    "call_args",
    "new_error_id",
    "single_string_argument",
    "successful_calls",
    "written_call",
]

APPROVAL_REQUEST = "tool_approval"
"""The `type` of the interrupt value the execution layer raises for a call needing approval."""


RunErrorKind = Literal[
    "step_failed",
    "unsupported_figure",
    "unused_input",
    "unfinished",
    "unverified",
    "contradicted",
    "awaiting_approval",
    "no_answer",
]


@dataclass(frozen=True)
class RunError:
    """Why a run's answer cannot be trusted as the answer to the task (`RunResult.error`).

    Attributes:
        kind: `step_failed` (a step could not be done: its tool calls failed, or no tool could
            be called with the values given), `unsupported_figure` (the answer holds a number
            that no tool returned and the request, memories and thread never gave: the model
            made it up), `unused_input` (tools were called, but a number the request gives went
            into none of them: the task was only partly done), `unfinished` (a word of the request
            points to a tool no successful call used: "in dollars" after a price lookup in
            euros), `unverified` (no tool result and
            no check supports the answer: the model's own, see `trust_model_answers`),
            `contradicted` (the answer contradicts the request: a date "10 days before
            2026-01-05" that is after it), `awaiting_approval` (the run is
            paused for a human), `no_answer`.
        message: what failed and why, in a sentence.
        step: the plan step (0-based) it concerns, when one does.
        tried: what was tried: the step's tool calls with their outcome, or the figures.
    """

    kind: RunErrorKind
    message: str
    step: int | None = None
    tried: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "kind": self.kind,
            "message": self.message,
            "step": self.step,
            "tried": list(self.tried),
        }


@dataclass(frozen=True)
class ApprovalRequest:
    """A tool call waiting for a human's approval (the value of the run's interrupt).

    Attributes:
        tool: The tool the model wants to call.
        args: The arguments it sent (already checked against the tool's schema).
        call_id: The call's id in the model's reply.
        step: The plan step (0-based) the call belongs to.
        model: The model that made the call.
        description: The tool's description, for the person deciding.
    """

    tool: str
    args: dict[str, Any]
    call_id: str
    step: int
    model: str
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, tagged ``{"type": "tool_approval", ...}``."""
        return {
            "type": APPROVAL_REQUEST,
            "tool": self.tool,
            "args": json_safe(self.args),
            "call_id": self.call_id,
            "step": self.step,
            "model": self.model,
            "description": self.description,
        }

    @classmethod
    def from_value(cls, value: Any) -> ApprovalRequest | None:
        """The request in an interrupt's value, or None when the value is not one."""
        if not isinstance(value, Mapping) or value.get("type") != APPROVAL_REQUEST:
            return None
        return cls(
            tool=str(value.get("tool", "")),
            args=dict(value.get("args") or {}),
            call_id=str(value.get("call_id", "")),
            step=int(value.get("step", 0)),
            model=str(value.get("model", "")),
            description=str(value.get("description", "")),
        )


@dataclass(frozen=True)
class ToolCallRecord:
    """One tool call attempt as it appears in the trace and in the step's result.

    Attributes:
        name: The tool the model asked for.
        args: The arguments it sent.
        seconds: How long the attempt took.
        attempt: 1-based position of this call among the step's tool calls.
        result: The (possibly truncated) output, for a successful call.
        error: What went wrong, for a failed call.
        kind: The failure kind (`unknown_tool`, `invalid_arguments`, `exception`, `timeout`,
            `model_output`, `refused`), or "" for a success.
        repeated: The model repeated an earlier identical call; its result (or its failure)
            was reused instead of running the tool again.
        approval: "approved" or "refused" for a tool that needs approval, else "".
        replayed: The call had finished before the run was interrupted; on resume its result
            came from the tool-call ledger and the tool did not run again.
        error_id: For an exception raised inside the tool (`kind="exception"`): the id under
            which its full text was logged. Its text may hold secrets, so a server sends
            clients only this id (see :mod:`lamina.serving.redaction`).
    """

    name: str
    args: dict[str, Any]
    seconds: float
    attempt: int
    result: str | None = None
    error: str | None = None
    kind: str = ""
    repeated: bool = False
    approval: str = ""
    replayed: bool = False
    error_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: `result` for a success, `error` and `kind` for a failure."""
        data: dict[str, Any] = {
            "name": self.name,
            "args": json_safe(self.args),
            "seconds": round(self.seconds, 4),
            "attempt": self.attempt,
        }
        if self.error is not None:
            data["error"] = self.error
            data["kind"] = self.kind
            if self.error_id:
                data["error_id"] = self.error_id
        else:
            data["result"] = self.result
        if self.repeated:
            data["repeated"] = True
        if self.approval:
            data["approval"] = self.approval
        if self.replayed:
            data["replayed"] = True
        return data


def new_error_id() -> str:
    """A fresh id to find an error's full text in the server log: `err_` and 16 hex digits."""
    return f"err_{uuid.uuid4().hex[:16]}"


def successful_calls(
    calls: Iterable[Mapping[str, Any]], tools: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    """The calls of a trace (`name`, `args`, `result`, `error` dicts) that succeeded, of a tool
    in `tools`, in order."""
    return [c for c in calls if c.get("error") is None and c.get("name") in tools]


def written_call(value: object) -> tuple[str, str, str] | None:
    """A plan step's own call (`PlanStep.call`: tool, argument, value) read from its stored
    form (a list of three), or None."""
    if isinstance(value, list | tuple) and len(value) == 3:
        tool, argument, text = (str(v) for v in value)
        return tool, argument, text
    return None


def call_args(call: Mapping[str, Any]) -> Mapping[str, Any]:
    """The arguments of a trace's call, or an empty mapping when they are not a mapping."""
    args = call.get("args")
    return args if isinstance(args, Mapping) else {}


def single_string_argument(tool: object) -> str | None:
    """The name of a tool's only argument when that is a string (`weather(city)`), else None:
    such a tool can be called with one value a plan writes (`PlanStep.call`)."""
    arguments = list((getattr(tool, "args", None) or {}).items())
    if len(arguments) != 1 or not isinstance(arguments[0][1], Mapping):
        return None
    name, schema = arguments[0]
    return str(name) if schema.get("type") == "string" else None
