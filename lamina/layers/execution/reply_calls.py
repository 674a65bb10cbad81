"""The calls of one model reply (:func:`run_reply_calls`): each checked, approved, run in a
batch (in parallel when allowed), and settled into the step's :class:`CallLog` with a tool
message for the model, in call order."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool

from lamina.core.records import ToolCallRecord
from lamina.core.serialise import json_safe
from lamina.layers.execution.approval import requires_approval
from lamina.layers.execution.call_log import CallLog
from lamina.layers.execution.calls import CallError, call_key, checked_tool
from lamina.layers.execution.durable import durable
from lamina.layers.execution.limits import EndReason, Limits
from lamina.layers.execution.runner import ToolJob, execution_tools
from lamina.stores.ledger import call_id_for
from lamina.tools.decorator import tool_timeout

if TYPE_CHECKING:
    from lamina.core.context import ToolCallLedger
    from lamina.core.state import AgentState

__all__ = ["Planned", "run_reply_calls", "with_ledger_ids"]


@dataclass
class Planned:
    """What happens to one call of a reply: a ready outcome, or a job to run."""

    name: str
    args: Any
    call_id: str
    key: str
    failure: CallError | None = None
    reused: str | None = None  # the result of an earlier identical call
    job: int | None = None  # index into the batch of calls to run
    approval: str = ""
    skipped: bool = False


def run_reply_calls(
    reply: AIMessage,
    tools: Mapping[str, BaseTool],
    messages: list[BaseMessage],
    log: CallLog,
    limits: Limits,
    call_limit: int,
    check: Callable[[BaseTool, Any], None],
    approve: Callable[[BaseTool, Planned], bool],
    ledger: ToolCallLedger | None,
    thread_id: str,
) -> EndReason | None:
    """Check, approve and run the reply's calls; return why the loop must end, or None.

    `check` raises a :class:`CallError` for a call the guards refuse; `approve` asks a human
    about a tool that needs approval; with a `ledger`, each call that runs is kept in it under
    its `tool_call_id` (in thread `thread_id`).
    """
    planned: list[Planned] = []
    jobs: list[ToolJob] = []
    in_batch: dict[str, int] = {}
    repeated = False
    budget = call_limit - log.successes()
    for call in reply.tool_calls:
        name = str(call.get("name", ""))
        args = call.get("args")
        key = call_key(name, args)
        item = Planned(name=name, args=args, call_id=str(call["id"]), key=key)
        planned.append(item)
        if key in log.seen:
            # An identical call gives the identical answer; asking again means the model is
            # looping, so the step ends with the result it already has.
            item.reused = log.seen[key]
            repeated = True
            continue
        if key in log.failed:
            # At temperature 0 a model may send the same bad call again; running it again
            # would fail the same way, so it gets the same error and a stronger hint.
            earlier = log.failed[key]
            item.failure = CallError(
                earlier.kind,
                earlier.what,
                earlier.error,
                "this exact call already failed; change the arguments, call another tool, "
                "or give the final answer",
                earlier.error_id,
            )
            continue
        if key in in_batch:
            item.job = planned[in_batch[key]].job  # the same call twice in one reply
            continue
        try:
            t = checked_tool(name, args, tools)
            check(t, args)
        except CallError as failure:
            item.failure = failure
            continue
        if len(jobs) >= budget:
            item.skipped = True
            continue
        if requires_approval(t):
            approved = approve(t, item)
            item.approval = "approved" if approved else "refused"
            if not approved:
                item.failure = CallError(
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
            ToolJob(
                t,
                dict(args),
                tool_timeout(t, limits.tool_timeout),
                item.call_id if ledger is not None else "",
                thread_id,
                ledger,
            )
        )

    outcomes: list[dict[str, Any]] = (
        durable(
            "execution_tools", execution_tools, jobs, limits.max_output_chars, limits.concurrent
        )
        if jobs
        else []
    )
    for item in planned:
        _settle(item, outcomes, messages, log, call_limit)
    if log.failures > limits.max_retries:
        return "max_retries"
    if repeated:
        return "repeated_call"
    if log.successes() >= call_limit:
        return "max_tool_calls"
    return None


def with_ledger_ids(reply: AIMessage, state: AgentState, step: int, first: int) -> AIMessage:
    """The reply with deterministic `tool_call_id`s, for a ledger: the same each time a resumed
    run reaches the same call (thread, turn, step, position from `first`, tool, arguments), so
    the ledger is keyed by them."""
    thread = str(state.get("thread_id") or "")
    turn = sum(1 for m in state.get("messages", []) if isinstance(m, HumanMessage)) - 1
    calls = [
        {
            **call,
            "id": call_id_for(
                thread,
                turn,
                step,
                first + i,
                str(call.get("name", "")),
                json_safe(call.get("args")),
            ),
        }
        for i, call in enumerate(reply.tool_calls)
    ]
    return reply.model_copy(update={"tool_calls": calls})


def _settle(
    item: Planned,
    outcomes: list[dict[str, Any]],
    messages: list[BaseMessage],
    log: CallLog,
    call_limit: int,
) -> None:
    """Record one call's outcome and give the model its tool message (in call order)."""
    args = item.args if isinstance(item.args, dict) else {"value": json_safe(item.args)}
    attempt = len(log.records) + 1
    if item.skipped:
        log.skipped += 1
        messages.append(
            ToolMessage(
                f"Tool call not run: this step allows {call_limit} tool call(s).",
                tool_call_id=item.call_id,
                name=item.name,
                status="error",
            )
        )
        return
    if item.reused is not None and item.job is None:
        log.records.append(
            ToolCallRecord(item.name, dict(args), 0.0, attempt, item.reused, repeated=True)
        )
        log.last_success = item.reused
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
            failure = CallError.from_dict(outcome)
    if failure is not None:
        log.record_failure(item.name, item.args, seconds, failure, item.approval)
        log.failed.setdefault(item.key, failure)
        log.exclude(item.name, item.args, failure)
        messages.append(
            ToolMessage(
                failure.message(),
                tool_call_id=item.call_id,
                name=item.name or None,
                status="error",
            )
        )
        return
    repeat = item.key in log.seen
    log.records.append(
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
    log.seen[item.key] = text
    log.last_success = text
    messages.append(ToolMessage(text, tool_call_id=item.call_id, name=item.name))
