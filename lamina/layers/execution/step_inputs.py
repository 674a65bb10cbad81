"""What one plan step works from, read from the graph state: its index and instruction, the
task, the tools it may call, its prompts, and how many calls it may make."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.messages import HumanMessage
from langchain_core.tools import BaseTool

from lamina.core.records import written_call
from lamina.core.serialise import message_text
from lamina.core.text import render_memories, render_step_results, resolve_references
from lamina.errors import ConfigError, InputError

if TYPE_CHECKING:
    from lamina.core.state import AgentState
    from lamina.layers.execution.limits import Limits

__all__ = [
    "SYSTEM_PROMPT",
    "call_limit",
    "current_step",
    "planned_call",
    "step_model",
    "step_prompt",
    "step_text",
    "step_tools",
    "system_prompt",
    "task_text",
]

SYSTEM_PROMPT = (
    "You complete one step of a task, using tools when the step needs them. "
    "Call a tool with the arguments it asks for; its result comes back to you. "
    "Copy numbers and names exactly from tool results. When you have what the step asks for, "
    "reply with a short final answer that states the result."
)


def current_step(state: AgentState) -> tuple[int, str]:
    """The index and instruction of the step to run (the task itself when there is no plan)."""
    plan = state.get("plan") or []
    if not plan:
        return 0, task_text(state)
    index = state.get("step_index", 0)
    if not 0 <= index < len(plan):
        raise ConfigError(
            f"The execution layer was asked for step {index}, but the plan has {len(plan)} "
            "step(s). Fix: route to execution only while step_index < len(plan)."
        )
    return index, str(plan[index]["instruction"])


def task_text(state: AgentState) -> str:
    """The task: `state["task"]`, else the last human message."""
    task = state.get("task")
    if task:
        return task
    for message in reversed(state.get("messages", [])):
        if isinstance(message, HumanMessage):
            text = message_text(message).strip()
            if text:
                return text
    raise InputError(
        "The execution layer found no task: expected state['task'] or a human message. "
        "Fix: put the input layer before execution, or pass messages=[HumanMessage(...)]."
    )


def step_tools(state: AgentState, tools: Mapping[str, BaseTool]) -> dict[str, BaseTool]:
    """The tools the current step may call: those the plan gave it, else all of `tools`."""
    if not tools:
        raise ConfigError(
            "The execution layer has no tools to call: AgentContext.tools is empty. "
            "Fix: pass tools (e.g. lamina.tools.calculator.default_tools()) to the agent."
        )
    plan = state.get("plan") or []
    index = state.get("step_index", 0)
    named = plan[index].get("tools") if 0 <= index < len(plan) else None
    # a step the plan gave its tools (a conversion added after planning) sees only those
    kept = {n: t for n, t in tools.items() if named is None or n in named}
    return kept or dict(tools)


def step_text(state: AgentState, index: int) -> str:
    """Step `index`'s instruction with the earlier value it refers to written in."""
    plan = state.get("plan") or []
    instruction = str(plan[index]["instruction"]) if 0 <= index < len(plan) else task_text(state)
    return resolve_references(instruction, state.get("step_results", []) or [])


def system_prompt(state: AgentState, tools: Mapping[str, BaseTool]) -> str:
    """The system prompt of a step's loop: how to work, the tools' first lines, the memories."""
    parts = [SYSTEM_PROMPT, "Tools:"]
    for t in tools.values():
        summary = (t.description or "").strip().splitlines()
        parts.append(f"- {t.name}: {summary[0]}" if summary else f"- {t.name}")
    text = "\n".join(parts)
    memories = render_memories(state.get("memories", []))
    return f"{text}\n\n{memories}" if memories else text


def step_prompt(state: AgentState, instruction: str) -> str:
    """The step alone, with the results it may build on, and not the whole task: given the
    whole task, small models redo all of it in the first step."""
    earlier = state.get("step_results", [])
    resolved = resolve_references(instruction, earlier)
    if resolved != instruction:
        return resolved  # the value it needs is written in; the rest would only distract
    results = render_step_results(earlier)
    return f"{results}\n\n{instruction}" if results else instruction


def step_model(state: AgentState, index: int, default_model: str) -> tuple[str, str | None]:
    """The model (and route) the reasoning layer routed step `index` to, else the run's model."""
    plan = state.get("plan") or []
    step = plan[index] if 0 <= index < len(plan) else {}
    routed = step.get("model") if isinstance(step, dict) else None
    if routed:
        route = step.get("route")
        return str(routed), None if route is None else str(route)
    return str(state.get("model") or default_model), None


def call_limit(state: AgentState, limits: Limits) -> int:
    """Successful calls allowed in this step.

    A step of a plan of several steps is one action by construction (the reasoning layer
    split the task that way), and so is a step whose call the plan writes (`PlanStep.call`:
    "How many office chairs are left in the warehouse?"), so it ends after
    `max_tool_calls_per_plan_step` calls: small models otherwise keep calling tools on
    numbers of their own invention, or repeat the call.
    """
    plan = state.get("plan") or []
    if len(plan) > 1 or planned_call(plan, state.get("step_index", 0)) is not None:
        return min(limits.max_tool_calls, limits.max_tool_calls_per_plan_step)
    return limits.max_tool_calls


def planned_call(plan: Sequence[Any], index: int) -> tuple[str, str, str] | None:
    """The call plan step `index` writes itself (`PlanStep.call`), if any."""
    step = plan[index] if 0 <= index < len(plan) else None
    return written_call(step.get("call")) if isinstance(step, Mapping) else None
