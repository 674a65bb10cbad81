"""Planning: split a task into steps, and mark the steps that need a tool.

A task is multi-step when it carries explicit sequencing: a numbered or bulleted list, markers
such as "then", "after that", "next,", "finally", or several sentences that each ask for
something. That test is deterministic (:func:`split_task`); a single-step task becomes a
one-step plan without any model call. A task written as a numbered or bulleted list is already
a plan: its items are the steps, again without a model call (source "list"), since a model can
only rephrase them (and a rephrased step no longer matches the same step of another task in the
step cache). For any other multi-step task the model writes the plan as grammar-constrained JSON
(:class:`Plan`, at least two steps) from a short few-shot prompt; when its plan is unusable the
deterministic split is used instead, and the outcome says so (:attr:`PlanOutcome.source` is
"fallback" with a `note`), so the trace shows it.

Whether a step needs a tool is a heuristic (:func:`step_needs_tool`): only when tools exist,
and the step names a tool, contains arithmetic, or asks to look something up; given the tools'
relevance (:mod:`lamina.guards.tool_relevance`), a tool that fits by meaning makes a tool step
and a lookup or name word counts only near a tool. The model's own
`needs_tool` flag can add a tool step but not remove one, because a small model that skips the
calculator gets arithmetic wrong, while an unneeded tool step only costs one call.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from lamina.core.context import AgentContext, StepCacheLike, ToolWeigher
from lamina.errors import ConfigError
from lamina.guards.tool_shortlist import step_needs_tool, tool_names
from lamina.layers.reasoning.baskets import planned_basket
from lamina.layers.reasoning.combination import awaits_a_tool
from lamina.layers.reasoning.continuation import input_conversion_step, requested_conversion
from lamina.layers.reasoning.counted_text import planned_count
from lamina.layers.reasoning.final_arithmetic import planned_comparison
from lamina.layers.reasoning.given_figures import planned_product
from lamina.layers.reasoning.lookup_answers import planned_choice, planned_stock
from lamina.layers.reasoning.plan import (
    PlanOutcome,
    PlanStep,
    plan_schema,
)
from lamina.layers.reasoning.prompts import PromptSet, load_prompts
from lamina.layers.reasoning.references import operates_on_the_last
from lamina.layers.reasoning.task_split import (
    explicit_steps,
    refers_back,
    split_task,
)
from lamina.layers.reasoning.thing_lookups import planned_percent, planned_threshold
from lamina.stores.step_cache import structured_call

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from lamina.guards.tool_relevance import ToolFit


__all__ = ["make_plan", "plan_task", "with_max_tokens"]

logger = logging.getLogger(__name__)


# -- the plan --------------------------------------------------------------------------------
def with_max_tokens(model: BaseChatModel, max_tokens: int, *, cap_only: bool) -> BaseChatModel:
    """`model` with another `max_tokens` (a copy; models without that field are unchanged).

    With `cap_only` the budget only ever goes down (summaries, synthesis); without it the call
    gets exactly `max_tokens` (a plan's JSON needs room whatever the routed model's budget is).
    The copy's `max_tokens` is a sampling parameter, so the step-cache key follows it.
    """
    if "max_tokens" not in type(model).model_fields:
        return model
    current = getattr(model, "max_tokens", None)
    if current == max_tokens or (cap_only and current is not None and current <= max_tokens):
        return model
    return model.model_copy(update={"max_tokens": max_tokens})


def _plan_messages(
    task: str, tool_names: list[str], max_steps: int, prompts: PromptSet
) -> list[BaseMessage]:
    tools_text = prompts.render("plan", "tools", names=", ".join(tool_names)) if tool_names else ""
    return [
        SystemMessage(prompts.render("plan", "system", max_steps=max_steps, tools=tools_text)),
        HumanMessage(prompts.render("plan", "example_task")),
        AIMessage(prompts.render("plan", "example_plan")),
        HumanMessage(prompts.render("plan", "user", task=task)),
    ]


def _example_instructions(prompts: PromptSet) -> frozenset[str]:
    try:
        example = json.loads(prompts.render("plan", "example_plan"))
    except json.JSONDecodeError:
        return frozenset()
    steps = example.get("steps", []) if isinstance(example, dict) else []
    return frozenset(
        str(s.get("instruction", "")).strip().lower() for s in steps if isinstance(s, dict)
    )


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _usable_steps(
    data: Mapping[str, Any], task: str, copied: frozenset[str]
) -> list[tuple[str, bool]]:
    """Non-empty, grounded steps: not copied from the few-shot example, not several steps in
    one, and with no number the task does not hold.

    Small models often repeat the example's steps, copy the whole task into the first step, or
    invent operands ("Add 15 to 12" for "add 15 to that result"); such a step would be executed
    faithfully and give a wrong result, so it does not count.
    """
    steps = data.get("steps")
    if not isinstance(steps, list):
        return []
    usable: list[tuple[str, bool]] = []
    task_numbers = set(_NUMBER.findall(task))
    for item in steps:
        if not isinstance(item, Mapping):
            continue
        instruction = str(item.get("instruction", "")).strip()
        if not instruction:
            continue
        if instruction.lower() in copied and instruction.lower() not in task.lower():
            continue
        if len(split_task(instruction)) > 1:
            continue
        if not set(_NUMBER.findall(instruction)) <= task_numbers:
            continue
        usable.append((instruction, bool(item.get("needs_tool", False))))
    return usable


def make_plan(
    model: BaseChatModel,
    task: str,
    tools: Sequence[Any] | Mapping[str, Any] = (),
    *,
    max_steps: int = 5,
    cache: StepCacheLike | None = None,
    prompts: PromptSet | None = None,
    relevance: ToolWeigher | None = None,
    convert_inputs: bool = True,
    combine: bool = True,
) -> PlanOutcome:
    """Plan `task`: one step or the task's own list without a model call, else 2..`max_steps`
    steps from the model.

    A one-step task that is a conversion and nothing else ("how many km is 13.1 miles?") is
    planned as that conversion, for the tools that convert; one that gives a quantity in
    another unit than the tool that fits it takes ("9 lb" for `shipping_cost(weight_kg, ...)`)
    becomes two steps: the conversion, then the task (source "conversion"; see
    :mod:`lamina.layers.reasoning.continuation`). One that gives a value of one thing and a
    count of those things ("Tickets are 12 EUR each. What do 5 tickets cost in dollars?") starts
    with their product (source "combination"; :mod:`lamina.layers.reasoning.given_figures`).

    Args:
        model: writes multi-step plans (under a JSON-schema grammar).
        task: the user's request.
        tools: the tools the execution layer may call (names decide `needs_tool`).
        max_steps: the longest plan (at least 2).
        cache: the step cache (plans are cached like steps); None computes every time.
        prompts: the prompt file (default: lamina/prompts/reasoning.toml).
        relevance: scores the tools against each step for `needs_tool` (None: words only).
        convert_inputs: plan the conversion a one-step task's quantity needs first (the
            `finish_conversions` guard).
        combine: plan the arithmetic a one-step task's own figures decide (a value of one
            thing times a count of them, a comparison of two figures) and the count of a quoted
            text a rate is per (the `combine_results` guard).

    Raises:
        ConfigError: `max_steps` < 2.
    """
    if max_steps < 2:
        raise ConfigError(
            f"max_plan_steps must be at least 2; found {max_steps}. Fix: pass 2 or more."
        )
    prompts = prompts or load_prompts()

    def fit_of(text: str) -> ToolFit | None:
        return relevance.assess(text, tools) if relevance is not None and tools else None

    def needs_tool(text: str) -> bool:
        return step_needs_tool(text, tools, fit=fit_of(text))

    split = split_task(task, max_steps)
    if len(split) < 2:
        by_name = dict(tools) if isinstance(tools, Mapping) else AgentContext.tools_by_name(tools)
        conversion = requested_conversion(task, by_name) if convert_inputs and tools else None
        if conversion is not None:
            return PlanOutcome(steps=(conversion,), source="conversion")
        prices = planned_basket(task, by_name, fit_of) if combine and tools else ()
        if prices:  # several things with their counts: a price each, before any product
            return PlanOutcome(steps=prices, source="basket")
        looked_up = planned_threshold(task, by_name, fit_of) if combine and tools else ()
        if looked_up:  # "Is a standing desk more than 300 euros?": its price, then the limit
            return PlanOutcome(steps=looked_up, source="threshold")
        looked_up = planned_percent(task, by_name, fit_of) if combine and tools else ()
        if looked_up:  # "What's 40% off a monitor?": its price, then the percentage
            return PlanOutcome(steps=looked_up, source="percent")
        fit = fit_of(task)
        step = PlanStep(0, task.strip(), step_needs_tool(task, tools, fit=fit))
        product = planned_product(task, fit, by_name) if combine and tools else None
        if product is None and combine and tools and not awaits_a_tool(fit, by_name, []):
            product = planned_comparison(task, by_name)
        if product is None and combine and tools:
            product = planned_count(task, by_name)
        if product is not None:
            return PlanOutcome(steps=(product,), source="combination")
        choice = planned_choice(task, by_name, fit_of) if combine and tools else ()
        if choice:
            return PlanOutcome(steps=choice, source="choice")
        counts = planned_stock(task, by_name, fit_of) if combine and tools else ()
        if counts:
            return PlanOutcome(steps=counts, source="stock")
        if convert_inputs and step.needs_tool and fit is not None and fit.fits:
            first = input_conversion_step(task, by_name.get(fit.ranked()[0]), by_name)
            if first is not None:
                return PlanOutcome(steps=(first, replace(step, index=1)), source="conversion")
        return PlanOutcome(steps=(step,), source="single")
    if explicit_steps(task):
        steps = tuple(PlanStep(i, text, needs_tool(text)) for i, text in enumerate(split))
        return PlanOutcome(steps=steps, source="list")
    if refers_back(split) or operates_on_the_last(split):
        # "Convert 10 miles to kilometres and then double it": SmolLM2-135M planned "Double 10
        # miles." (20), and the answer was the conversion alone, ok. The clauses keep "it"
        # (and "then add 2" its figure before: references.operates_on_the_last).
        steps = tuple(PlanStep(i, text, needs_tool(text)) for i, text in enumerate(split))
        return PlanOutcome(steps=steps, source="clauses")
    names = tool_names(tools)
    messages = _plan_messages(task, names, max_steps, prompts)
    schema = plan_schema(max_steps)
    model = with_max_tokens(model, int(prompts.get("plan", "max_tokens")), cap_only=False)
    if cache is not None:
        reply = cache.cached_structured(model, schema, messages, prompts.template_version("plan"))
    else:
        reply, _ = structured_call(model, schema, messages)
    cached, tokens = reply.hit, reply.tokens
    prompt_tokens, evaluated = reply.prompt_tokens, reply.prompt_tokens_evaluated
    usable = _usable_steps(reply.data or {}, task, _example_instructions(prompts))
    note = ""
    if reply.error:
        note = f"the model's plan could not be read ({reply.error})"[:300]
    elif len(usable) < 2:
        note = (
            f"the model's plan had {len(usable)} usable step(s) (not empty, not copied from "
            "the example, one action each, no invented numbers); expected at least 2"
        )
    if note:
        logger.info("plan for %r: %s; using the deterministic split", task[:60], note)
        steps = tuple(PlanStep(i, text, needs_tool(text)) for i, text in enumerate(split))
        return PlanOutcome(
            steps=steps,
            source="fallback",
            cached=cached,
            tokens=tokens,
            note=note,
            prompt_tokens=prompt_tokens,
            prompt_tokens_evaluated=evaluated,
        )
    if len(usable) > max_steps:
        tail = " ".join(text for text, _ in usable[max_steps - 1 :])
        usable = [*usable[: max_steps - 1], (tail, any(f for _, f in usable[max_steps - 1 :]))]
    steps = tuple(
        PlanStep(i, text, bool(names) and (flag or needs_tool(text)))
        for i, (text, flag) in enumerate(usable)
    )
    return PlanOutcome(
        steps=steps,
        source="model",
        cached=cached,
        tokens=tokens,
        prompt_tokens=prompt_tokens,
        prompt_tokens_evaluated=evaluated,
    )


def plan_task(
    model: BaseChatModel,
    task: str,
    tools: Sequence[Any] | Mapping[str, Any] = (),
    *,
    max_steps: int = 5,
    cache: StepCacheLike | None = None,
) -> list[PlanStep]:
    """The steps of :func:`make_plan` (use `make_plan` to also learn how the plan was made)."""
    return list(make_plan(model, task, tools, max_steps=max_steps, cache=cache).steps)
