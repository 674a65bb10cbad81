"""The execution layer: runs one plan step as a tool loop.

The model (with the tools bound) either calls tools or answers. A reply may hold several calls:
each is checked against its tool's schema before anything runs, then the valid ones run
concurrently, each in its own worker thread with its own timeout, and their results go back in
the order the model wrote the calls. Output is serialised to text, truncated if long, and handed
back as a `ToolMessage`. A bad call (unknown tool, invalid arguments, exception, timeout, a call
the user refused) goes back to the model as a tool message built from one template, and counts
against a retry budget; an identical call that already failed is not run again. The loop ends
on a final answer, on `max_tool_calls` successful calls, on the retry budget, or when the model
repeats a call it already made (the earlier result is reused). Every attempt, failed or not, is
in the trace, so a run never ends silently on a bad call.

**Approval.** A tool marked `requires_approval` (`@tool(requires_approval=True)`) pauses the run
with LangGraph's `interrupt()` before it runs; the interrupt's value is an
:class:`ApprovalRequest` as a dict. Resuming with `Command(resume=True)` (or
`{"approved": True}`) runs the call; `False` turns it into a "refused" tool message. A resumed
node starts again from its beginning, so model replies and tool results are LangGraph tasks
inside a graph run: they are checkpointed and replayed on resume, never computed (or, for a
tool, executed) twice. Outside a graph (the node called directly) they simply run.

**Crashes.** A task's result is saved only when the whole batch finishes; a process killed in
the middle of a batch would run its finished calls again on resume. So each call that finishes is
also written (fsynced) to the context's :class:`~lamina.agents.ledger.ToolLedger` under its
`tool_call_id`, which with a ledger is made from the thread, turn, step, position, tool and
arguments (the same on every resume), and a call found there is replayed from it
(`replayed` in the trace) instead of run. The agent runs with `durability="sync"`, so the
checkpoint of every finished step is on disk before the next step starts.

**Small models.** For a step of a multi-step plan the tools are shortlisted by name (a step
saying "close" and "ticket" is offered `close_ticket` alone when no other tool matches as well);
with the context's tool relevance (:mod:`lamina.layers.tool_relevance`), when a tool fits the
step by meaning the tools far from it leave the first move's prompt and that move must be a
call (no `final_answer` until a call has succeeded);
a string argument copied from the tool's own description but absent from the task is sent back;
after a successful call the model is asked whether that answers the step (so it answers, or
repeats the call, which ends the step, instead of calling on with invented numbers); and a final
text that only restates the tool instructions gives way to the last tool result.

Graph contract: reads `task`, `model`, `memories`, `plan`, `step_index`, `step_results`,
`steps_taken`; returns `step_results` (one more entry), `step_index` + 1, `steps_taken` + 1 and
one `execution` trace event. Without a plan (user-built graphs) the task is the one step.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, StrictBool, ValidationError
from typing_extensions import TypedDict

from lamina import errors
from lamina.errors import ConfigError, InputError, ModelError, ModelOutputError, ToolError
from lamina.graphs.nodes import LayerNode
from lamina.layers.context_text import render_memories, render_step_results, resolve_references
from lamina.layers.escalation import fallback_chain, run_with_escalation
from lamina.layers.planning import named_tools, shortlist_tools
from lamina.tools.decorator import tool_timeout

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

    from lamina.graphs.context import AgentContext
    from lamina.graphs.state import AgentState
    from lamina.layers.tool_relevance import ToolFit

__all__ = [
    "APPROVAL_REQUEST",
    "FAILURE_TEMPLATE",
    "ApprovalRequest",
    "ToolCallRecord",
    "make_execution_node",
    "requires_approval",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

FAILURE_TEMPLATE = "Tool call failed: {what}.\nError: {error}\nFix: {fix}"
"""The one template every failed tool call is reported to the model with."""

APPROVAL_REQUEST = "tool_approval"
"""The `type` of the interrupt value the execution layer raises for a call needing approval."""

FailureKind = Literal[
    "unknown_tool",
    "invalid_arguments",
    "copied_example",
    "exception",
    "timeout",
    "model_output",
    "refused",
]
EndReason = Literal["final_answer", "max_tool_calls", "max_retries", "repeated_call"]

_SYSTEM_PROMPT = (
    "You complete one step of a task, using tools when the step needs them. "
    "Call a tool with the arguments it asks for; its result comes back to you. "
    "Copy numbers and names exactly from tool results. When you have what the step asks for, "
    "reply with a short final answer that states the result."
)

_AFTER_RESULT = 'The tool returned {result}. If that answers "{step}", give the final answer.'


def make_execution_node(
    *,
    max_tool_calls: int = 4,
    max_tool_calls_per_plan_step: int = 1,
    max_retries: int = 2,
    tool_timeout: float = 30.0,
    max_output_chars: int = 4000,
    parallel_tool_calls: bool | None = None,
    concurrent_tool_calls: bool = True,
) -> LayerNode:
    """Build the execution layer's node.

    Args:
        max_tool_calls: Successful tool calls allowed per step; reaching it ends the step with
            the last tool result. Calls of one reply beyond it are not run.
        max_tool_calls_per_plan_step: the same bound for a step of a plan of several steps,
            where each step is meant to be one action.
        max_retries: Failed tool calls tolerated per step; one more failure ends the step.
        tool_timeout: Seconds a tool may run, unless it sets its own (`@tool(timeout=...)`).
            A synchronous tool cannot be killed: after its timeout it is abandoned in a daemon
            thread and the run moves on.
        max_output_chars: Longer tool output is cut to this many characters, with a marker.
        parallel_tool_calls: Passed to the model's `bind_tools`: whether one reply may hold
            several calls (None: the model's default; lamina's llama.cpp model makes one call
            per reply unless asked). Whatever a reply holds is run.
        concurrent_tool_calls: Run the calls of one reply concurrently (False: one after
            another, for tools that must not overlap). Results reach the model in call order
            either way.

    Returns:
        `node(state, runtime) -> dict`, a partial state update.

    Raises:
        ConfigError: A limit is out of range.
    """
    _check_int("max_tool_calls", max_tool_calls, 1)
    _check_int("max_tool_calls_per_plan_step", max_tool_calls_per_plan_step, 1)
    _check_int("max_retries", max_retries, 0)
    _check_int("max_output_chars", max_output_chars, 100)
    if isinstance(tool_timeout, bool) or not isinstance(tool_timeout, int | float):
        raise ConfigError(f"tool_timeout must be a number of seconds, found {tool_timeout!r}.")
    if not tool_timeout > 0:
        raise ConfigError(f"tool_timeout must be > 0 seconds, found {tool_timeout!r}.")
    limits = _Limits(
        max_tool_calls,
        max_retries,
        float(tool_timeout),
        max_output_chars,
        max_tool_calls_per_plan_step,
        bool(concurrent_tool_calls),
        parallel_tool_calls,
    )

    def execution(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        return _StepRun(state, runtime.context, limits).run()

    return execution


def requires_approval(t: BaseTool) -> bool:
    """Whether calls of `t` wait for a human's approval (`@tool(requires_approval=True)`)."""
    return bool((t.metadata or {}).get("requires_approval"))


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, found {value!r}.")


@dataclass(frozen=True)
class _Limits:
    max_tool_calls: int
    max_retries: int
    tool_timeout: float
    max_output_chars: int
    max_tool_calls_per_plan_step: int
    concurrent: bool = True
    parallel_tool_calls: bool | None = None


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
            "args": _json_safe(self.args),
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: `result` for a success, `error` and `kind` for a failure."""
        data: dict[str, Any] = {
            "name": self.name,
            "args": _json_safe(self.args),
            "seconds": round(self.seconds, 4),
            "attempt": self.attempt,
        }
        if self.error is not None:
            data["error"] = self.error
            data["kind"] = self.kind
        else:
            data["result"] = self.result
        if self.repeated:
            data["repeated"] = True
        if self.approval:
            data["approval"] = self.approval
        if self.replayed:
            data["replayed"] = True
        return data


class _CallError(Exception):
    """A failed tool call, already phrased for the model."""

    def __init__(self, kind: FailureKind, what: str, error: str, fix: str) -> None:
        super().__init__(error)
        self.kind: FailureKind = kind
        self.what = what
        self.error = error
        self.fix = fix

    def message(self) -> str:
        return FAILURE_TEMPLATE.format(what=self.what, error=self.error, fix=self.fix)

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "what": self.what, "error": self.error, "fix": self.fix}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> _CallError:
        return cls(data["kind"], str(data["what"]), str(data["error"]), str(data["fix"]))


@dataclass
class _Planned:
    """What happens to one call of a reply: a ready outcome, or a job to run."""

    name: str
    args: Any
    call_id: str
    key: str
    failure: _CallError | None = None
    reused: str | None = None  # the result of an earlier identical call
    job: int | None = None  # index into the batch of calls to run
    approval: str = ""
    skipped: bool = False


@dataclass(frozen=True)
class _Job:
    """One valid, approved call to run (with the ledger that records it when it finishes)."""

    tool: BaseTool
    args: dict[str, Any]
    timeout: float
    call_id: str = ""
    thread_id: str = ""
    ledger: Any = None


@dataclass(frozen=True)
class _Opening:
    """A step's first move, until a call succeeds: the tools offered and the `tool_choice`
    (``"required"`` when a tool fits the step; None: the model's default)."""

    tools: Mapping[str, BaseTool]
    tool_choice: str | None = None


@dataclass
class _StepRun:
    """The tool loop of one step (state for one call of the node)."""

    state: AgentState
    context: AgentContext
    limits: _Limits
    records: list[ToolCallRecord] = field(default_factory=list)
    failures: int = 0
    tokens: int = 0
    skipped: int = 0
    last_success: str | None = None
    last_error: str | None = None
    seen: dict[str, str] = field(default_factory=dict)
    failed: dict[str, _CallError] = field(default_factory=dict)
    model_name: str = ""
    echoed: str = ""  # a final text that only restated the tool instructions

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        index, instruction = self._current_step()
        tools = self._tools()
        offered = len(tools)
        if len(self.state.get("plan") or []) > 1:
            # One action per step: a 135M model picks the first tool it sees unless the step's
            # words single one out, so a clear winner by name is the only tool it is offered.
            tools = {n: tools[n] for n in shortlist_tools(instruction, list(tools))}
        fit = self._fit(instruction, tools)
        opening = _Opening(tools)
        if fit is not None:
            # Offered several tools, a small model often starts with the wrong one: its first
            # move sees the tools that fit the step (and those it names); later moves see all.
            keep = fit.shortlist(named=named_tools(instruction, list(tools)))
            opening = _Opening({n: tools[n] for n in keep}, fit.tool_choice())
        first, route = self._step_model(index)
        chain = fallback_chain(self.context, self.state, first, route)

        def attempt(name: str) -> tuple[EndReason, str]:
            self.failures = 0
            self.model_name = name
            return self._attempt(name, tools, opening, instruction, index)

        (ended_by, final_text), model_name, escalations = run_with_escalation(
            chain,
            attempt,
            layer="execution",
            failed=lambda outcome: (
                f"its tool calls still failed after {self.limits.max_retries} retries "
                f"(last error: {self.last_error})"
                if outcome[0] == "max_retries" and self.last_success is None
                else None
            ),
        )

        if final_text and self.last_success is not None and _echoes_instructions(final_text, tools):
            # A 135M model sometimes "answers" with its tool list or an argument's description;
            # that is not an answer, so the step falls back to its last tool result.
            logger.info("execution step %d: final text echoes the tool instructions", index)
            self.echoed = final_text
            final_text = ""
        result, source = self._result(ended_by, final_text, index)
        seconds = time.perf_counter() - started
        calls = [r.to_dict() for r in self.records]
        step_result = {
            "index": index,
            "instruction": instruction,
            "result": result,
            "model": model_name,
            "cached": False,
            "tool_calls": calls,
            "status": "failed" if source == "none" else "ok",
        }
        data: dict[str, Any] = {
            "step": index,
            "model": model_name,
            "tool_calls": calls,
            "retries": sum(1 for r in self.records if r.error is not None),
            "tokens": self.tokens,
            "ended_by": ended_by,
            "result_source": source,
        }
        if len(tools) < offered:
            data["tools_offered"] = list(tools)
        if fit is not None:
            data["tool_fit"] = fit.to_dict()
        if self.skipped:
            data["skipped_calls"] = self.skipped
        if escalations:
            data["escalations"] = escalations
        if source == "last_tool_result":
            data["note"] = (
                "the model's final text restated its tool instructions"
                if self.echoed
                else "the model gave no final answer"
                if ended_by == "final_answer"
                else f"the loop ended by {ended_by}"
            ) + "; the step's result is the last successful tool result"
        logger.info(
            "execution step %d: %d tool call(s), %d failure(s), ended by %s (%.2fs)",
            index,
            len(self.records),
            self.failures,
            ended_by,
            seconds,
        )
        return {
            "step_results": [*self.state.get("step_results", []), step_result],
            "step_index": self.state.get("step_index", 0) + 1,
            "steps_taken": self.state.get("steps_taken", 0) + 1,
            "trace": [{"layer": "execution", "seconds": round(seconds, 4), "data": data}],
        }

    def _fit(self, instruction: str, tools: Mapping[str, BaseTool]) -> ToolFit | None:
        """How well each tool fits the step, when the context weighs tools by meaning."""
        relevance = self.context.tool_relevance
        if relevance is None or not tools:
            return None
        fit: ToolFit = relevance.assess(instruction, tools)
        return fit

    def _step_model(self, index: int) -> tuple[str, str | None]:
        """The model the reasoning layer routed this step to, else the run's model."""
        plan = self.state.get("plan") or []
        step = plan[index] if 0 <= index < len(plan) else {}
        routed = step.get("model") if isinstance(step, dict) else None
        if routed:
            route = step.get("route")
            return str(routed), None if route is None else str(route)
        return str(self.state.get("model") or self.context.default_model), None

    def _attempt(
        self,
        model_name: str,
        tools: Mapping[str, BaseTool],
        opening: _Opening,
        instruction: str,
        index: int,
    ) -> tuple[EndReason, str]:
        """The tool loop with one model: returns why it ended and the model's final text."""
        chat_model = self.context.models.chat_model(model_name)
        options: dict[str, Any] = {}
        if self.limits.parallel_tool_calls is not None:
            options["parallel_tool_calls"] = self.limits.parallel_tool_calls
        first_tools = opening.tools
        try:
            bound = chat_model.bind_tools(list(tools.values()), **options)
            first = bound
            if opening.tool_choice == "required" or len(first_tools) < len(tools):
                # A tool fits the step: the first move is a call to one of those that fit, not
                # a prose answer. Once a call has succeeded, every tool and the answer are open.
                first = chat_model.bind_tools(
                    list(first_tools.values()), tool_choice=opening.tool_choice, **options
                )
        except NotImplementedError:
            raise ConfigError(
                f"Model {model_name!r} ({type(chat_model).__name__}) cannot call tools: its "
                "bind_tools is not implemented. Fix: route tool steps to a model that supports "
                "tools (lamina's LlamaChatModel does)."
            ) from None
        messages: list[BaseMessage] = [
            SystemMessage(self._system_prompt(tools)),
            HumanMessage(self._step_prompt(instruction)),
        ]
        while True:
            try:
                opens = self.last_success is None
                reply = _invoke_model(first if opens else bound, messages)
            except ModelOutputError as exc:
                # An unreadable reply is a failed attempt like a bad call: say so, then retry.
                failure = _CallError(
                    "model_output",
                    "your reply could not be read as a tool call or an answer",
                    str(exc),
                    "call one of the tools with valid arguments, or give the final answer",
                )
                self._record_failure("", {}, 0.0, failure)
                if self.failures > self.limits.max_retries:
                    return "max_retries", ""
                messages.append(HumanMessage(failure.message()))
                continue
            if not isinstance(reply, AIMessage):
                raise ModelOutputError(
                    f"Model {model_name!r} returned {type(reply).__name__}; expected an AIMessage."
                )
            self._count_tokens(reply)
            if not reply.tool_calls:
                return "final_answer", _text(reply).strip()
            reply = self._ledger_ids(_with_call_ids(reply), index)
            messages.append(reply)
            succeeded = self._successes()
            stop = self._run_calls(reply, first_tools if opens else tools, messages, index)
            if stop is not None:
                return stop, ""
            if self._successes() > succeeded and self.last_success is not None:
                # Small models keep calling tools on numbers of their own after the answer is
                # in; asked this, they answer or repeat the call (which ends the step).
                messages.append(
                    HumanMessage(
                        _AFTER_RESULT.format(
                            result=_truncate(self.last_success, 200), step=instruction
                        )
                    )
                )

    # -- one reply's calls ------------------------------------------------------------------
    def _run_calls(
        self,
        reply: AIMessage,
        tools: Mapping[str, BaseTool],
        messages: list[BaseMessage],
        index: int,
    ) -> EndReason | None:
        """Check, approve and run the reply's calls; return why the loop must end, or None."""
        planned: list[_Planned] = []
        jobs: list[_Job] = []
        in_batch: dict[str, int] = {}
        repeated = False
        budget = self._call_limit() - self._successes()
        for call in reply.tool_calls:
            name = str(call.get("name", ""))
            args = call.get("args")
            key = _call_key(name, args)
            item = _Planned(name=name, args=args, call_id=str(call["id"]), key=key)
            planned.append(item)
            if key in self.seen:
                # An identical call gives the identical answer; asking again means the model is
                # looping, so the step ends with the result it already has.
                item.reused = self.seen[key]
                repeated = True
                continue
            if key in self.failed:
                # At temperature 0 a model may send the same bad call again; running it again
                # would fail the same way, so it gets the same error and a stronger hint.
                earlier = self.failed[key]
                item.failure = _CallError(
                    earlier.kind,
                    earlier.what,
                    earlier.error,
                    "this exact call already failed; change the arguments, call another tool, "
                    "or give the final answer",
                )
                continue
            if key in in_batch:
                item.job = planned[in_batch[key]].job  # the same call twice in one reply
                continue
            try:
                t = _checked_tool(name, args, tools)
                _check_grounded(t, args, messages)
            except _CallError as failure:
                item.failure = failure
                continue
            if len(jobs) >= budget:
                item.skipped = True
                continue
            if requires_approval(t):
                approved = self._ask_approval(t, item, index)
                item.approval = "approved" if approved else "refused"
                if not approved:
                    item.failure = _CallError(
                        "refused",
                        f"the user did not approve calling {name!r}",
                        "the call was refused, so the tool did not run",
                        "do not call it again with these arguments; answer without it, or tell "
                        "the user what you would need",
                    )
                    continue
            in_batch[key] = len(planned) - 1
            item.job = len(jobs)
            jobs.append(
                _Job(
                    t,
                    dict(args),
                    tool_timeout(t, self.limits.tool_timeout),
                    item.call_id if self.context.ledger is not None else "",
                    self._thread_id(),
                    self.context.ledger,
                )
            )

        outcomes: list[dict[str, Any]] = (
            _durable(
                "execution_tools",
                execution_tools,
                jobs,
                self.limits.max_output_chars,
                self.limits.concurrent,
            )
            if jobs
            else []
        )
        for item in planned:
            self._settle(item, outcomes, messages)
        if self.failures > self.limits.max_retries:
            return "max_retries"
        if repeated:
            return "repeated_call"
        if self._successes() >= self._call_limit():
            return "max_tool_calls"
        return None

    def _settle(
        self, item: _Planned, outcomes: list[dict[str, Any]], messages: list[BaseMessage]
    ) -> None:
        """Record one call's outcome and give the model its tool message (in call order)."""
        args = item.args if isinstance(item.args, dict) else {"value": _json_safe(item.args)}
        attempt = len(self.records) + 1
        if item.skipped:
            self.skipped += 1
            messages.append(
                ToolMessage(
                    f"Tool call not run: this step allows {self._call_limit()} tool call(s).",
                    tool_call_id=item.call_id,
                    name=item.name,
                    status="error",
                )
            )
            return
        if item.reused is not None and item.job is None:
            self.records.append(
                ToolCallRecord(item.name, dict(args), 0.0, attempt, item.reused, repeated=True)
            )
            self.last_success = item.reused
            messages.append(ToolMessage(item.reused, tool_call_id=item.call_id, name=item.name))
            return
        failure = item.failure
        seconds = 0.0
        text = ""
        replayed = False
        if failure is None and item.job is not None:
            outcome = outcomes[item.job]
            seconds = float(outcome["seconds"])
            replayed = bool(outcome.get("replayed", False))
            if outcome["ok"]:
                text = str(outcome["text"])
            else:
                failure = _CallError.from_dict(outcome)
        if failure is not None:
            self._record_failure(item.name, item.args, seconds, failure, item.approval)
            self.failed.setdefault(item.key, failure)
            messages.append(
                ToolMessage(
                    failure.message(),
                    tool_call_id=item.call_id,
                    name=item.name or None,
                    status="error",
                )
            )
            return
        repeat = item.key in self.seen
        self.records.append(
            ToolCallRecord(
                item.name,
                dict(args),
                seconds,
                attempt,
                result=text,
                repeated=repeat,
                approval=item.approval,
                replayed=replayed,
            )
        )
        self.seen[item.key] = text
        self.last_success = text
        messages.append(ToolMessage(text, tool_call_id=item.call_id, name=item.name))

    def _thread_id(self) -> str:
        return str(self.state.get("thread_id") or "")

    def _ledger_ids(self, reply: AIMessage, step: int) -> AIMessage:
        """With a ledger, the reply's `tool_call_id`s become deterministic: the same each time
        a resumed run reaches the same call (thread, turn, step, position, tool, arguments), so
        the ledger is keyed by them."""
        if self.context.ledger is None:
            return reply
        from lamina.agents.ledger import call_id_for

        turn = sum(1 for m in self.state.get("messages", []) if isinstance(m, HumanMessage)) - 1
        first = len(self.records)
        calls = [
            {
                **call,
                "id": call_id_for(
                    self._thread_id(),
                    turn,
                    step,
                    first + i,
                    str(call.get("name", "")),
                    _json_safe(call.get("args")),
                ),
            }
            for i, call in enumerate(reply.tool_calls)
        ]
        return reply.model_copy(update={"tool_calls": calls})

    def _ask_approval(self, t: BaseTool, item: _Planned, index: int) -> bool:
        """Pause the run until a human approves or refuses the call (LangGraph `interrupt`)."""
        request = ApprovalRequest(
            tool=item.name,
            args=dict(item.args),
            call_id=item.call_id,
            step=index,
            model=self.model_name,
            description=" ".join((t.description or "").split()),
        )
        try:
            from langgraph.config import get_config

            get_config()
        except RuntimeError:
            raise ConfigError(
                f"Tool {item.name!r} requires approval, which pauses the run with LangGraph's "
                "interrupt(); that needs the execution node to run inside a compiled graph with "
                "a checkpointer, found a direct call. Fix: run it through lamina.Agent (it has "
                "a checkpointer), or graph.compile(checkpointer=...)."
            ) from None
        from langgraph.types import interrupt

        logger.info("tool call %r waits for approval", item.name)
        try:
            # The schema is checked before LangGraph saves the answer, so a bad resume value
            # leaves the question open instead of being replayed on every later resume.
            answer = interrupt(request.to_dict(), response_schema=_approval_schema())
        except ValidationError as exc:
            raise InputError(
                f"The run was resumed with an answer that is not an approval for tool "
                f"{item.name!r}; expected True, False or {{'approved': True/False}} "
                f"({_summarise_validation(exc)}). Fix: agent.resume(thread_id, approve=True) or "
                "Command(resume=True)."
            ) from exc
        return answer if isinstance(answer, bool) else bool(answer["approved"])

    def _record_failure(
        self, name: str, args: Any, seconds: float, failure: _CallError, approval: str = ""
    ) -> None:
        self.failures += 1
        self.last_error = failure.error
        self.records.append(
            ToolCallRecord(
                name=name,
                args=dict(args) if isinstance(args, dict) else {"value": _json_safe(args)},
                seconds=seconds,
                attempt=len(self.records) + 1,
                error=failure.error,
                kind=failure.kind,
                approval=approval,
            )
        )
        logger.info("tool call %r failed (%s): %s", name, failure.kind, failure.error)

    def _successes(self) -> int:
        return sum(1 for r in self.records if r.error is None and not r.repeated)

    def _result(self, ended_by: EndReason, final_text: str, index: int) -> tuple[str, str]:
        """The step's result and where it came from (`final_answer`, `last_tool_result`, `none`)."""
        if ended_by == "final_answer" and final_text:
            return final_text, "final_answer"
        if self.last_success is not None:
            return self.last_success, "last_tool_result"
        if self.failures:
            return (
                f"Step {index + 1} could not be completed: {self.failures} tool call(s) failed "
                f"(retry limit {self.limits.max_retries}). Last error: {self.last_error}",
                "none",
            )
        return f"Step {index + 1} produced no answer: the model replied with empty text.", "none"

    # -- inputs -----------------------------------------------------------------------------
    def _current_step(self) -> tuple[int, str]:
        plan = self.state.get("plan") or []
        if not plan:
            return 0, self._task()
        index = self.state.get("step_index", 0)
        if not 0 <= index < len(plan):
            raise ConfigError(
                f"The execution layer was asked for step {index}, but the plan has {len(plan)} "
                "step(s). Fix: route to execution only while step_index < len(plan)."
            )
        return index, str(plan[index]["instruction"])

    def _task(self) -> str:
        task = self.state.get("task")
        if task:
            return task
        for message in reversed(self.state.get("messages", [])):
            if isinstance(message, HumanMessage):
                text = _text(message).strip()
                if text:
                    return text
        raise InputError(
            "The execution layer found no task: expected state['task'] or a human message. "
            "Fix: put the input layer before execution, or pass messages=[HumanMessage(...)]."
        )

    def _tools(self) -> dict[str, BaseTool]:
        if not self.context.tools:
            raise ConfigError(
                "The execution layer has no tools to call: AgentContext.tools is empty. "
                "Fix: pass tools (e.g. lamina.tools.calculator.default_tools()) to the agent."
            )
        return dict(self.context.tools)

    def _system_prompt(self, tools: Mapping[str, BaseTool]) -> str:
        parts = [_SYSTEM_PROMPT, "Tools:"]
        for t in tools.values():
            summary = (t.description or "").strip().splitlines()
            parts.append(f"- {t.name}: {summary[0]}" if summary else f"- {t.name}")
        text = "\n".join(parts)
        memories = render_memories(self.state.get("memories", []))
        return f"{text}\n\n{memories}" if memories else text

    def _call_limit(self) -> int:
        """Successful calls allowed in this step.

        A step of a plan of several steps is one action by construction (the reasoning layer
        split the task that way), so it ends after `max_tool_calls_per_plan_step` calls: small
        models otherwise keep calling tools on numbers of their own invention.
        """
        if len(self.state.get("plan") or []) > 1:
            return min(self.limits.max_tool_calls, self.limits.max_tool_calls_per_plan_step)
        return self.limits.max_tool_calls

    def _step_prompt(self, instruction: str) -> str:
        # The step alone, with the results it may build on, and not the whole task: given the
        # whole task, small models redo all of it in the first step.
        earlier = self.state.get("step_results", [])
        resolved = resolve_references(instruction, earlier)
        if resolved != instruction:
            return resolved  # the value it needs is written in; the rest would only distract
        results = render_step_results(earlier)
        return f"{results}\n\n{instruction}" if results else instruction

    def _count_tokens(self, reply: AIMessage) -> None:
        usage = reply.usage_metadata
        if usage:
            self.tokens += int(usage.get("total_tokens", 0))


class _ApprovalAnswer(TypedDict):
    approved: StrictBool


@lru_cache(maxsize=1)
def _approval_schema() -> Any:
    """What a resume value may be: True/False, or {"approved": True/False}."""
    return StrictBool | _ApprovalAnswer


def _checked_tool(name: str, args: Any, tools: Mapping[str, BaseTool]) -> BaseTool:
    """The tool a call names, after checking its arguments against the tool's schema."""
    t = tools.get(name)
    if t is None:
        known = ", ".join(tools)
        raise _CallError(
            "unknown_tool",
            f"there is no tool named {name!r}",
            f"unknown tool {name!r}; the tools are: {known}",
            f"call one of: {known}; or give the final answer",
        )
    if not isinstance(args, dict):
        raise _CallError(
            "invalid_arguments",
            f"invalid arguments for {name!r}",
            f"expected a JSON object of arguments, found {type(args).__name__}",
            f"call {_signature(t)} with its arguments as an object",
        )
    error = _validation_error(t, args)
    if error is not None:
        raise _CallError(
            "invalid_arguments",
            f"invalid arguments for {name!r}",
            error,
            f"call {_signature(t)} again with arguments that match",
        )
    return t


def _check_grounded(t: BaseTool, args: dict[str, Any], messages: Sequence[BaseMessage]) -> None:
    """Refuse a string argument copied from the tool's own description instead of the task.

    Small models copy the example in an argument's description (`"e.g. 'Lyon'"`) in place of
    the value the task names; the call is valid and runs, and the wrong value flows on. A value
    that appears in the tool's description or argument descriptions, while neither it nor any of
    its words appears in what the model was given (the task, the step, earlier results), is sent
    back as a failed call.
    """
    described = _description_text(t).lower()
    if not described:
        return
    given = "\n".join(_text(m) for m in messages if not isinstance(m, AIMessage)).lower()
    for key, value in args.items():
        if not isinstance(value, str):
            continue
        lowered = value.strip().lower()
        if len(lowered) < 2 or lowered in given or lowered not in described:
            continue
        if any(re.search(rf"\b{re.escape(w)}\b", given) for w in re.findall(r"\w+", lowered)):
            continue  # built from the task's own words or numbers ("12 * 7" for "12 times 7")
        raise _CallError(
            "copied_example",
            f"the argument {key!r} of {t.name!r} is copied from the tool's description",
            f"{value!r} is the example in the tool's description; the task does not mention it",
            f"call {t.name!r} again with the {key} the task names",
        )


def _echoes_instructions(text: str, tools: Mapping[str, BaseTool]) -> bool:
    """Is this "final answer" only the model's instructions played back?

    True for a JSON object (a tool's argument schema, or a call written as the answer) and for
    text holding a tool's description or an argument's description word for word.
    """
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            if isinstance(json.loads(stripped), dict):
                return True
        except json.JSONDecodeError:
            pass
    lowered = " ".join(stripped.lower().split())
    for t in tools.values():
        for part in _description_text(t).split("\n"):
            part = " ".join(part.lower().split())
            if len(part) >= 20 and part in lowered:
                return True
    return False


def _description_text(t: BaseTool) -> str:
    """The tool's description and its arguments' descriptions (not enums or defaults)."""
    parts = [t.description or ""]
    schema = t.tool_call_schema
    properties: Mapping[str, Any] = {}
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        properties = schema.model_json_schema().get("properties", {})
    elif isinstance(schema, dict):
        properties = schema.get("properties", {})
    for prop in properties.values():
        if isinstance(prop, dict):
            parts.append(str(prop.get("description", "")))
    return "\n".join(parts)


# -- durable steps: LangGraph tasks inside a graph run, plain calls outside -----------------
def _durable(name: str, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)`, as a LangGraph task when inside a graph run.

    A task's result is checkpointed: when a run interrupted for an approval resumes, the node
    starts again and its earlier tasks return their saved results instead of calling the model
    or running a tool a second time. The result must therefore be serialisable.
    """
    try:
        from langgraph.config import get_config

        configurable = get_config().get("configurable", {})
    except RuntimeError:  # not inside a graph run: the node was called directly
        return fn(*args)
    if _CONFIG_KEY_CALL not in configurable:
        return fn(*args)
    future = _task(name, fn)(*args)
    result: T = future.result()
    return result


_CONFIG_KEY_CALL = "__pregel_call"  # where LangGraph puts the task scheduler in a node's config


@lru_cache(maxsize=8)
def _task(name: str, fn: Callable[..., Any]) -> Callable[..., Future[Any]]:
    from langgraph.func import task

    made: Callable[..., Future[Any]] = task(name=name)(fn)
    return made


def execution_model(bound: Any, messages: list[BaseMessage]) -> tuple[str, Any, str]:
    """One model reply (a durable step): `("ok", reply, "")` or `("error", class, message)`.

    A model failure is returned, not raised: a failed task would be run again on resume.
    """
    try:
        reply = bound.invoke(messages)
    except ModelError as exc:
        return "error", type(exc).__name__, str(exc)
    huge = _huge_int(getattr(reply, "tool_calls", None) or [])
    if huge is not None:
        # Checkpoints are msgpack, which stops at 64 bits: such a reply cannot be saved. No tool
        # takes integers that large, so it is an unusable call like any other.
        return (
            "error",
            "ModelOutputError",
            (
                f"the model wrote the integer {huge} in a tool call; expected integers within 64 "
                "bits. Fix: write the number as a string or a float."
            ),
        )
    return "ok", reply, ""


def _huge_int(value: Any) -> int | None:
    """The first integer in `value` (nested) that msgpack cannot store, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if -(2**63) <= value < 2**64 else value
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, list | tuple):
        for item in value:
            found = _huge_int(item)
            if found is not None:
                return found
    return None


def _invoke_model(bound: Any, messages: list[BaseMessage]) -> Any:
    status, value, message = _durable("execution_model", execution_model, bound, list(messages))
    if status == "ok":
        return value
    cls = getattr(errors, str(value), ModelError)
    if not (isinstance(cls, type) and issubclass(cls, ModelError)):
        cls = ModelError
    raise cls(message)


def execution_tools(jobs: Sequence[_Job], max_chars: int, concurrent: bool) -> list[dict[str, Any]]:
    """Run valid, approved calls (a durable step); one outcome dict per job, in order.

    Each call runs in its own daemon thread with its own timeout; with `concurrent` they all
    start at once, so the batch takes about as long as its slowest call. Daemon threads rather
    than a `ThreadPoolExecutor`: a hung tool is abandoned, and an executor would wait for it at
    exit.
    """
    replayed = [_replayed(job, max_chars) for job in jobs]
    if not concurrent:
        return [
            done or _finish(job, _start(job), max_chars)
            for job, done in zip(jobs, replayed, strict=True)
        ]
    started = [None if done else _start(job) for job, done in zip(jobs, replayed, strict=True)]
    return [
        done or _finish(job, run, max_chars)  # type: ignore[arg-type]
        for job, run, done in zip(jobs, started, replayed, strict=True)
    ]


def _replayed(job: _Job, max_chars: int) -> dict[str, Any] | None:
    """The outcome the ledger holds for this call (it finished before a crash), or None."""
    if job.ledger is None or not job.call_id:
        return None
    entry = job.ledger.get(job.call_id)
    if entry is None:
        return None
    logger.info(
        "tool call %s (%s) finished before; replaying its result", job.call_id, job.tool.name
    )
    return {
        "ok": True,
        "seconds": 0.0,
        "text": _truncate(entry.result, max_chars),
        "replayed": True,
    }


def _record(job: _Job, value: Any) -> None:
    """Write a finished call to the ledger, durably, before the next call can start."""
    if job.ledger is None or not job.call_id:
        return
    try:
        job.ledger.record(
            job.call_id,
            thread_id=job.thread_id,
            name=job.tool.name,
            args=_json_safe(job.args),
            result=_serialise(value),
        )
    except Exception as exc:  # the call itself succeeded; a resumed run may repeat it
        logger.warning("could not record tool call %s in the ledger: %s", job.call_id, exc)


@dataclass
class _Running:
    done: threading.Event
    box: dict[str, Any]
    started: float


def _start(job: _Job) -> _Running:
    box: dict[str, Any] = {}
    done = threading.Event()
    # Callbacks and tracing live in context variables; carry them into the worker.
    ctx = contextvars.copy_context()

    def target() -> None:
        try:
            box["value"] = ctx.run(_invoke_tool, job.tool, job.args)
            _record(job, box["value"])
        except Exception as exc:
            box["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=target, name=f"lamina-tool-{job.tool.name}", daemon=True)
    running = _Running(done, box, time.perf_counter())
    worker.start()
    return running


def _finish(job: _Job, run: _Running, max_chars: int) -> dict[str, Any]:
    """Wait for one call until its own deadline; its outcome as a serialisable dict."""
    remaining = job.timeout - (time.perf_counter() - run.started)
    finished = run.done.wait(max(remaining, 0.0))
    seconds = time.perf_counter() - run.started
    try:
        if not finished:
            raise TimeoutError
        if "error" in run.box:
            raise run.box["error"]
        if "value" not in run.box:
            raise ToolError(f"Tool {job.tool.name!r} stopped without a result or an exception.")
        text = _truncate(_serialise(run.box["value"]), max_chars)
    except Exception as exc:
        failure = _tool_failure(job, exc)
        return {"ok": False, "seconds": seconds, **failure.to_dict()}
    return {"ok": True, "seconds": seconds, "text": text}


def _tool_failure(job: _Job, exc: Exception) -> _CallError:
    name = job.tool.name
    if isinstance(exc, TimeoutError):
        return _CallError(
            "timeout",
            f"{name!r} did not finish",
            f"timed out after {job.timeout:g} s",
            "try simpler arguments, another tool, or answer without this tool",
        )
    if isinstance(exc, ValidationError):
        return _CallError(
            "invalid_arguments",
            f"invalid arguments for {name!r}",
            _summarise_validation(exc),
            f"call {_signature(job.tool)} again with arguments that match",
        )
    logger.info("tool %s raised %s: %s", name, type(exc).__name__, exc)
    detail = str(exc) if isinstance(exc, ToolError) else f"{type(exc).__name__}: {exc}"
    return _CallError(
        "exception",
        f"{name!r} raised an error",
        detail,
        "read the error, correct the arguments and call again, or answer without it",
    )


def _invoke_tool(t: BaseTool, args: dict[str, Any]) -> Any:
    if isinstance(t, StructuredTool) and t.func is None and t.coroutine is not None:
        # An async-only tool: this worker thread has no running loop, so it may start one.
        return asyncio.run(t.ainvoke(args))
    return t.invoke(args)


def _validation_error(t: BaseTool, args: dict[str, Any]) -> str | None:
    """Why `args` do not fit the tool's schema, or None when they do."""
    schema = t.tool_call_schema
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        try:
            schema.model_validate(args)
        except ValidationError as exc:
            return _summarise_validation(exc)
        return None
    if isinstance(schema, dict):
        import jsonschema

        try:
            jsonschema.validate(args, schema)
        except jsonschema.ValidationError as exc:
            where = ".".join(str(p) for p in exc.absolute_path) or "arguments"
            return f"{where}: {exc.message}"
    return None


def _summarise_validation(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        lines.append(f"{where}: {err['msg']}")
    return "; ".join(lines)


def _signature(t: BaseTool) -> str:
    """`name(arg: type, ...)` from the tool's schema, to show the model what to send."""
    schema = t.tool_call_schema
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        json_schema = schema.model_json_schema()
    elif isinstance(schema, dict):
        json_schema = schema
    else:
        return t.name
    props = json_schema.get("properties", {})
    required = set(json_schema.get("required", []))
    parts = []
    for arg, spec in props.items():
        kind = spec.get("type", "value") if isinstance(spec, dict) else "value"
        parts.append(f"{arg}: {kind}" + ("" if arg in required else " (optional)"))
    return f"{t.name}({', '.join(parts)})"


# -- text helpers ---------------------------------------------------------------------------
def _serialise(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, BaseMessage):
        return _text(value)
    return json.dumps(_json_safe(value), ensure_ascii=False)


def _json_safe(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _json_safe(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        # checkpoints are msgpack, which stops at 64 bits; a model can write any integer
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... output truncated: showing {limit} of {len(text)} characters]"


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(_block_text(block) for block in content)


def _block_text(block: str | dict[str, Any]) -> str:
    if isinstance(block, str):
        return block
    if block.get("type") == "text":
        return str(block.get("text", ""))
    return ""


def _call_key(name: str, args: Any) -> str:
    return name + "\x00" + json.dumps(_json_safe(args), sort_keys=True)


def _with_call_ids(reply: AIMessage) -> AIMessage:
    """The reply with an id on every tool call (ToolMessages must point at one)."""
    if all(call.get("id") for call in reply.tool_calls):
        return reply
    calls = [
        {**call, "id": call.get("id") or f"call_{uuid.uuid4().hex[:12]}"}
        for call in reply.tool_calls
    ]
    return reply.model_copy(update={"tool_calls": calls})
