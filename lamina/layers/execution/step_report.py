"""What a step's loop hands on (:func:`step_update`): the step's result and where it came from,
its record in `step_results`, and the execution layer's trace event."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.tools import BaseTool

from lamina.guards.tool_calls import echoes_instructions, ignores_results
from lamina.layers.execution.grounded_moves import uncallable_text

if TYPE_CHECKING:
    from lamina.config import Guards
    from lamina.core.state import AgentState
    from lamina.guards.tool_relevance import ToolFit
    from lamina.layers.execution.call_log import CallLog
    from lamina.layers.execution.limits import EndReason

__all__ = ["set_aside", "step_result", "step_update"]

logger = logging.getLogger(__name__)


def set_aside(
    final_text: str,
    ended_by: EndReason,
    tools: Mapping[str, BaseTool],
    log: CallLog,
    guards: Guards,
) -> str:
    """Why the model's final text is no answer, so the step keeps its last tool result instead
    ("echoed", "ignored"), or "" when it stands."""
    if not final_text:
        return ""
    if (
        guards.echoed_instructions
        and log.last_success is not None
        and echoes_instructions(final_text, tools)
    ):
        # A 135M model sometimes "answers" with its tool list or an argument's description;
        # that is not an answer, so the step falls back to its last tool result.
        return "echoed"
    if (
        guards.ignored_results
        and ended_by in ("final_answer", "inputs_used")
        and ignores_results(final_text, log.results(tools))
    ):
        # "The answer is not provided." right after a call that returned the figure: the
        # step keeps the result rather than a text that drops it.
        return "ignored"
    return ""


def step_result(
    ended_by: EndReason,
    final_text: str,
    index: int,
    log: CallLog,
    max_retries: int,
    uncallable: Mapping[str, list[str]],
) -> tuple[str, str]:
    """The step's result and where it came from (`final_answer`, `last_tool_result`, `none`)."""
    if ended_by in ("final_answer", "inputs_used", "ungrounded") and final_text:
        return final_text, "final_answer"
    if log.last_success is not None:
        return log.last_success, "last_tool_result"
    if ended_by == "ungrounded":
        return f"Step {index + 1} could not be done: {uncallable_text(uncallable)}.", "none"
    if log.failures:
        return (
            f"Step {index + 1} could not be completed: {log.failures} tool call(s) failed "
            f"(retry limit {max_retries}). Last error: {log.last_error}",
            "none",
        )
    return f"Step {index + 1} produced no answer: the model replied with empty text.", "none"


def step_update(
    state: AgentState,
    *,
    index: int,
    instruction: str,
    ended_by: EndReason,
    final_text: str,
    model_name: str,
    log: CallLog,
    tokens: int,
    max_retries: int,
    tools: Mapping[str, BaseTool],
    offered: int,
    fit: ToolFit | None,
    escalations: list[dict[str, Any]],
    uncallable: Mapping[str, list[str]],
    dropped: str,
    seconds: float,
) -> dict[str, Any]:
    """The graph update of one step: its result appended to `step_results`, the step index
    moved on, and a trace event (`dropped`: why the model's final text was set aside, if it
    was: "echoed" or "ignored")."""
    result, source = step_result(ended_by, final_text, index, log, max_retries, uncallable)
    calls = [r.to_dict() for r in log.records]
    record = {
        "index": index,
        "instruction": instruction,
        "result": result,
        "model": model_name,
        "cached": False,
        "tool_calls": calls,
        "status": "failed" if source == "none" else "ok",
    }
    if uncallable:
        record["uncallable"] = dict(uncallable)
    data: dict[str, Any] = {
        "step": index,
        "model": model_name,
        "tool_calls": calls,
        "retries": sum(1 for r in log.records if r.error is not None),
        "tokens": tokens,
        "ended_by": ended_by,
        "result_source": source,
    }
    if len(tools) < offered:
        data["tools_offered"] = list(tools)
    if fit is not None:
        data["tool_fit"] = fit.to_dict()
    if log.skipped:
        data["skipped_calls"] = log.skipped
    if escalations:
        data["escalations"] = escalations
    if source == "last_tool_result":
        data["note"] = (
            "the model's final text restated its tool instructions"
            if dropped == "echoed"
            else "the model's final text quoted none of the tool results"
            if dropped == "ignored"
            else "the model gave no final answer"
            if ended_by in ("final_answer", "inputs_used")
            else f"the loop ended by {ended_by}"
        ) + "; the step's result is the last successful tool result"
    logger.info(
        "execution step %d: %d tool call(s), %d failure(s), ended by %s (%.2fs)",
        index,
        len(log.records),
        log.failures,
        ended_by,
        seconds,
    )
    return {
        "step_results": [*state.get("step_results", []), record],
        "step_index": state.get("step_index", 0) + 1,
        "steps_taken": state.get("steps_taken", 0) + 1,
        "trace": [{"layer": "execution", "seconds": round(seconds, 4), "data": data}],
    }
