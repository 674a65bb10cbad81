"""The execution layer: runs one plan step as a tool loop.

The model (with the tools bound) either calls tools or answers. Each call's arguments are checked
against the tool's schema before the tool runs; the tool runs in a worker thread with a timeout;
its output is serialised to text, truncated if long, and handed back as a `ToolMessage`. A bad
call (unknown tool, invalid arguments, exception, timeout) goes back to the model as a tool
message built from one template, and counts against a retry budget. The loop ends on a final
answer, on `max_tool_calls` successful calls, on the retry budget, or when the model repeats a
call it already made (the earlier result is reused). Every attempt, failed or not, is in the
trace, so a run never ends silently on a bad call.

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
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, ValidationError

from lamina.errors import ConfigError, InputError, ModelOutputError, ToolError
from lamina.graphs.nodes import LayerNode
from lamina.layers.context_text import render_memories, render_step_results, resolve_references
from lamina.layers.escalation import fallback_chain, run_with_escalation
from lamina.tools.decorator import tool_timeout

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

    from lamina.graphs.context import AgentContext
    from lamina.graphs.state import AgentState

__all__ = ["FAILURE_TEMPLATE", "ToolCallRecord", "make_execution_node"]

logger = logging.getLogger(__name__)


FAILURE_TEMPLATE = "Tool call failed: {what}.\nError: {error}\nFix: {fix}"
"""The one template every failed tool call is reported to the model with."""

FailureKind = Literal["unknown_tool", "invalid_arguments", "exception", "timeout", "model_output"]
EndReason = Literal["final_answer", "max_tool_calls", "max_retries", "repeated_call"]

_SYSTEM_PROMPT = (
    "You complete one step of a task, using tools when the step needs them. "
    "Call a tool with the arguments it asks for; its result comes back to you. "
    "Copy numbers and names exactly from tool results. When you have what the step asks for, "
    "reply with a short final answer that states the result."
)


def make_execution_node(
    *,
    max_tool_calls: int = 4,
    max_tool_calls_per_plan_step: int = 1,
    max_retries: int = 2,
    tool_timeout: float = 30.0,
    max_output_chars: int = 4000,
) -> LayerNode:
    """Build the execution layer's node.

    Args:
        max_tool_calls: Successful tool calls allowed per step; reaching it ends the step with
            the last tool result.
        max_tool_calls_per_plan_step: the same bound for a step of a plan of several steps,
            where each step is meant to be one action.
        max_retries: Failed tool calls tolerated per step; one more failure ends the step.
        tool_timeout: Seconds a tool may run, unless it sets its own (`@tool(timeout=...)`).
            A synchronous tool cannot be killed: after its timeout it is abandoned in a daemon
            thread and the run moves on.
        max_output_chars: Longer tool output is cut to this many characters, with a marker.

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
    )

    def execution(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        return _StepRun(state, runtime.context, limits).run()

    return execution


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
            `model_output`), or "" for a success.
        repeated: The model repeated an earlier identical call; its result was reused.
    """

    name: str
    args: dict[str, Any]
    seconds: float
    attempt: int
    result: str | None = None
    error: str | None = None
    kind: str = ""
    repeated: bool = False

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
        return data


class _CallError(Exception):
    """A failed tool call, already phrased for the model."""

    def __init__(self, kind: FailureKind, what: str, error: str, fix: str) -> None:
        super().__init__(error)
        self.kind = kind
        self.what = what
        self.error = error
        self.fix = fix

    def message(self) -> str:
        return FAILURE_TEMPLATE.format(what=self.what, error=self.error, fix=self.fix)


class _StepRun:
    """The tool loop of one step (state for one call of the node)."""

    def __init__(self, state: AgentState, context: AgentContext, limits: _Limits) -> None:
        self.state = state
        self.context = context
        self.limits = limits
        self.records: list[ToolCallRecord] = []
        self.failures = 0
        self.tokens = 0
        self.last_success: str | None = None
        self.last_error: str | None = None
        self.seen: dict[str, str] = {}

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        index, instruction = self._current_step()
        tools = self._tools()
        first, route = self._step_model(index)
        chain = fallback_chain(self.context, self.state, first, route)

        def attempt(name: str) -> tuple[EndReason, str]:
            self.failures = 0
            return self._attempt(name, tools, instruction)

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
        if escalations:
            data["escalations"] = escalations
        if source == "last_tool_result":
            data["note"] = (
                "the model gave no final answer"
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
        self, model_name: str, tools: Mapping[str, BaseTool], instruction: str
    ) -> tuple[EndReason, str]:
        """The tool loop with one model: returns why it ended and the model's final text."""
        chat_model = self.context.models.chat_model(model_name)
        try:
            bound = chat_model.bind_tools(list(tools.values()))
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
                reply = bound.invoke(messages)
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
            reply = _with_call_ids(reply)
            messages.append(reply)
            stop = self._run_calls(reply, tools, messages)
            if stop is not None:
                return stop, ""

    def _run_calls(
        self, reply: AIMessage, tools: Mapping[str, BaseTool], messages: list[BaseMessage]
    ) -> EndReason | None:
        """Run the reply's tool calls in order; return why the loop must end, or None."""
        for call in reply.tool_calls:
            name = str(call.get("name", ""))
            args = call.get("args")
            call_id = str(call["id"])
            key = _call_key(name, args)
            if key in self.seen:
                # An identical call gives the identical answer; asking again means the model is
                # looping, so the step ends with the result it already has.
                self.records.append(
                    ToolCallRecord(
                        name=name,
                        args=dict(args) if isinstance(args, dict) else {"value": args},
                        seconds=0.0,
                        attempt=len(self.records) + 1,
                        result=self.seen[key],
                        repeated=True,
                    )
                )
                self.last_success = self.seen[key]
                return "repeated_call"
            started = time.perf_counter()
            try:
                output = self._invoke(name, args, tools)
            except _CallError as failure:
                self._record_failure(name, args, time.perf_counter() - started, failure)
                messages.append(
                    ToolMessage(
                        failure.message(), tool_call_id=call_id, name=name or None, status="error"
                    )
                )
                if self.failures > self.limits.max_retries:
                    return "max_retries"
                continue
            text = _truncate(_serialise(output), self.limits.max_output_chars)
            self.records.append(
                ToolCallRecord(
                    name=name,
                    args=dict(args) if isinstance(args, dict) else {},
                    seconds=time.perf_counter() - started,
                    attempt=len(self.records) + 1,
                    result=text,
                )
            )
            self.seen[key] = text
            self.last_success = text
            messages.append(ToolMessage(text, tool_call_id=call_id, name=name))
            successes = sum(1 for r in self.records if r.error is None and not r.repeated)
            if successes >= self._call_limit():
                return "max_tool_calls"
        return None

    def _invoke(self, name: str, args: Any, tools: Mapping[str, BaseTool]) -> Any:
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
        timeout = tool_timeout(t, self.limits.tool_timeout)
        try:
            return _run_with_timeout(t, args, timeout)
        except TimeoutError:
            raise _CallError(
                "timeout",
                f"{name!r} did not finish",
                f"timed out after {timeout:g} s",
                "try simpler arguments, another tool, or answer without this tool",
            ) from None
        except ValidationError as exc:
            raise _CallError(
                "invalid_arguments",
                f"invalid arguments for {name!r}",
                _summarise_validation(exc),
                f"call {_signature(t)} again with arguments that match",
            ) from None
        except Exception as exc:
            logger.info("tool %s raised %s: %s", name, type(exc).__name__, exc)
            detail = str(exc) if isinstance(exc, ToolError) else f"{type(exc).__name__}: {exc}"
            raise _CallError(
                "exception",
                f"{name!r} raised an error",
                detail,
                "read the error, correct the arguments and call again, or answer without it",
            ) from None

    def _record_failure(self, name: str, args: Any, seconds: float, failure: _CallError) -> None:
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
            )
        )
        logger.info("tool call %r failed (%s): %s", name, failure.kind, failure.error)

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


# -- tool running ---------------------------------------------------------------------------
def _run_with_timeout(t: BaseTool, args: dict[str, Any], timeout: float) -> Any:
    """Run the tool in a daemon thread; raise `TimeoutError` if it takes longer than `timeout`.

    Python cannot stop a thread, so a hung tool keeps running in the background; being a daemon,
    it does not keep the process alive.
    """
    box: dict[str, Any] = {}
    done = threading.Event()
    # Callbacks and tracing live in context variables; carry them into the worker.
    ctx = contextvars.copy_context()

    def target() -> None:
        try:
            box["value"] = ctx.run(_invoke_tool, t, args)
        except Exception as exc:
            box["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=target, name=f"lamina-tool-{t.name}", daemon=True)
    worker.start()
    if not done.wait(timeout):
        raise TimeoutError(f"tool {t.name!r} timed out after {timeout} s")
    if "error" in box:
        raise box["error"]
    if "value" not in box:
        raise ToolError(f"Tool {t.name!r} stopped without a result or an exception.")
    return box["value"]


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
