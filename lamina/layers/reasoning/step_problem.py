"""The problem text a reasoned plan step is solved from (:func:`step_problem`)."""

from __future__ import annotations

from typing import Any

from lamina.core.state import AgentState
from lamina.core.text import render_memories, render_step_results
from lamina.layers.reasoning.plan import PlanStep
from lamina.layers.reasoning.prompts import PromptSet
from lamina.layers.reasoning.task_split import explicit_steps, task_preamble

__all__ = ["step_problem"]


def step_problem(
    task: str,
    step: PlanStep,
    total: int,
    state: AgentState,
    results: list[dict[str, Any]],
    p: PromptSet,
) -> str:
    """The problem a step of a plan of `total` steps is solved from: the memories recalled, the
    earlier steps' results, and the goal (the request itself for a plan of one step; the
    step's item and the text around the user's own list; else the step within the request)."""
    blocks = [render_memories(state.get("memories") or []), render_step_results(results)]
    context = "".join(f"{b}\n\n" for b in blocks if b)
    if total == 1:
        goal = p.render("solve", "goal_single", task=task)
    elif explicit_steps(task):
        # The user's own list: the step depends on the text around the list and the earlier
        # results, not on the other items, so the same step of another task is the same prompt
        # (and a step-cache hit).
        preamble = task_preamble(task)
        given = p.render("solve", "given", preamble=preamble) if preamble else ""
        goal = p.render("solve", "goal_list_step", given=given, instruction=step.instruction)
    else:
        goal = p.render(
            "solve",
            "goal_step",
            task=task,
            number=step.index + 1,
            total=total,
            instruction=step.instruction,
        )
    return p.render("solve", "problem", context=context, goal=goal)
