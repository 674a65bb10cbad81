"""The one step an answer still owes (:func:`step_still_owed`), re-planned from what the run
lacks once the model has answered: each kind written from what the figures and the request's
words are (:mod:`lamina.layers.reasoning.combination`,
:mod:`lamina.layers.reasoning.final_arithmetic`,
:mod:`lamina.layers.reasoning.continuation`), never by the model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lamina.guards.comparisons import asked_comparison
from lamina.layers.reasoning.baskets import basket_step
from lamina.layers.reasoning.combination import (
    awaits_a_tool,
    combination_step,
    looked_up_alone,
    lookup_step,
    share_step,
)
from lamina.layers.reasoning.continuation import conversion_step
from lamina.layers.reasoning.counted_text import ADDED_FOR_COUNT
from lamina.layers.reasoning.final_arithmetic import (
    comparison_step,
    name_lookup_step,
    percent_step,
    total_step,
)

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from lamina.guards.tool_relevance import ToolFit
    from lamina.layers.reasoning.plan import PlanStep

__all__ = ["step_still_owed"]


def step_still_owed(
    task: str,
    calls: Sequence[Mapping[str, Any]],
    found: list[dict[str, Any]],
    plan: Sequence[PlanStep],
    tools: Mapping[str, BaseTool],
    *,
    convert: bool = True,
    combine: bool = True,
    fit: ToolFit | None = None,
    counted_before: str | None = None,
) -> PlanStep | None:
    """The one step an answer still owes, or None, in this order:

    1. the same lookup for a name the request gives too (:func:`name_lookup_step`);
    2. what a basket of things costs, once each is priced (:func:`basket_step`);
    3. the product of a value and a count (:func:`combination_step`; not while a tool that
       takes a number fits the request and was not called, :func:`awaits_a_tool`, unless the
       plan counted the things a rate is per; nor for a request that asks what is left);
    4. the sum of what the lookups returned, when the request asks for a total
       (:func:`total_step`);
    5. the conversion into the unit asked for (:func:`conversion_step`);
    6. the lookup a combination needs (:func:`lookup_step`); when a lookup was not combined,
       `found` (what `unfinished_request` found) gets an entry saying so, and the run is
       unfinished;
    7. a percentage on top or off (:func:`percent_step`);
    8. a share (:func:`share_step`);
    9. a difference or a ratio (:func:`comparison_step`).

    Args:
        convert: the `finish_conversions` guard.
        combine: the `combine_results` guard (every kind but the conversion).
        fit: how the tools fit the request.
        counted_before: the things the thread's last turn counted, when the request refers
            to them ("12 standing desks": :func:`~lamina.layers.reasoning.thread.
            counted_earlier`), as a count the product may use.
    """
    added = name_lookup_step(found, plan, tools) if combine else None
    comparison = asked_comparison(task)
    what_is_left = comparison is not None and comparison.kind == "remainder"
    # a count the plan made for a rate is what the rate multiplies, whatever else fits
    counted = any(s.added_for == ADDED_FOR_COUNT for s in plan)
    awaited = not counted and awaits_a_tool(fit, tools, calls)
    if added is None and combine:
        added = basket_step(task, calls, plan, tools)
    if added is None and combine and not what_is_left and not awaited:
        given = f"{counted_before}. {task}" if counted_before else task
        added = combination_step(given, calls, plan, tools)
    if added is None and combine:
        added = total_step(task, calls, plan, tools)
    if added is None and convert:
        added = conversion_step(found, plan, tools)
    if added is None and combine:
        added = lookup_step(task, found, calls, plan, tools)
        alone = None if added is not None else looked_up_alone(plan)
        if alone is not None:
            found.append(alone)
    if added is None and combine:
        added = percent_step(task, calls, plan, tools)
    if added is None and combine:
        added = share_step(task, calls, plan, tools)
    if added is None and combine and comparison is not None:
        added = comparison_step(task, calls, plan, tools)
    return added
