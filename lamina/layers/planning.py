"""Deprecated: moved to the packages named in the imports below.

This shim goes away in the next release."""

import warnings

from lamina.guards.tool_shortlist import named_tools, shortlist_tools, step_needs_tool
from lamina.layers.reasoning.plan import Plan, PlanOutcome, PlanStep, PlanStepModel, plan_schema
from lamina.layers.reasoning.planning import make_plan, plan_task, with_max_tokens
from lamina.layers.reasoning.prompts import PromptSet, load_prompts
from lamina.layers.reasoning.task_split import (
    explicit_steps,
    is_multi_step,
    split_task,
    task_preamble,
)

warnings.warn(
    "lamina.layers.planning is deprecated; import from lamina.layers.reasoning.planning, "
    "plan, prompts or task_split, or lamina.guards.tool_shortlist",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "Plan",
    "PlanOutcome",
    "PlanStep",
    "PlanStepModel",
    "PromptSet",
    "explicit_steps",
    "is_multi_step",
    "load_prompts",
    "make_plan",
    "named_tools",
    "plan_schema",
    "plan_task",
    "shortlist_tools",
    "split_task",
    "step_needs_tool",
    "task_preamble",
    "with_max_tokens",
]
