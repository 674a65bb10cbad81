"""The step that combines a value of one thing with a count of those things, written from what
the figures are, not by a model (:func:`combination_step`).

"If I buy 3 mechanical keyboards, how much is that altogether?": SmolLM2-135M called
`product_price("mechanical keyboard")`, got 89, and stopped; the 3 was never used, and the run
ended honestly not ok. Asked to choose the operation that combines two known figures, the model
was right in 3 of 16 cases (6 of 16 with few-shot examples): it wrote "300 * 4" for "split four
ways" and "179 - 27" for units x price. So no operation is left to it. What the figures are
decides instead (:mod:`lamina.guards.quantities`: a value of one thing, a rate per thing, a
count of things), and only where it leaves one operation.

A value of one X (or a rate per X) and a count of X that no later call used combine in one way
only: their product, in the value's unit (89 EUR × 3 keyboards = 267 EUR). When exactly one such
pair is left unused, the plan gets the step "Calculate 89 * 3.", run by lamina's `calculator`
(the expression is taken as written). Two counts of the same thing (what is in stock and what
was ordered) could be added or subtracted; a price and a count of another thing, or two pairs
that could each be multiplied, leave the operation open: no step is added, and the verdict says
what was not used. A difference or a percentage is not guessed. A share is written out only
where the request says how many share and asks what each pays (:func:`share_step`): the
run's total divided by that number.

When the request gives both the value and the count ("Tickets are 12 EUR each. What do 5
tickets cost?"), the product is the plan's first step; so is a rate per period the request
gives, asked over another period ("5 km every day ... in a week";
:mod:`lamina.layers.reasoning.given_figures`).

One combination per run, within the step budget; the `combine_results` guard.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lamina.core.records import call_args, single_string_argument, successful_calls
from lamina.guards.numbers import canonical, is_figure, plain
from lamina.guards.quantities import (
    REQUEST,
    Quantity,
    asks_for_a_part,
    quantities_of_run,
    returns_figure,
    same_value,
    thing_named,
    used_later,
)
from lamina.guards.shares import sharers
from lamina.guards.units import (
    TOTAL_FIGURE,
    Unit,
    asked_unit,
    converted_to,
    returned_units,
    spelled_out,
    units_named,
)
from lamina.layers.reasoning.continuation import converters
from lamina.layers.reasoning.plan import PlanStep
from lamina.tools.calculator import CALCULATOR_NAME

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from lamina.guards.tool_relevance import ToolFit

__all__ = [
    "ADDED_FOR_COMBINATION",
    "ADDED_FOR_LOOKUP",
    "awaits_a_tool",
    "calculation",
    "combination_step",
    "looked_up_alone",
    "lookup_step",
    "run_total",
    "share_step",
]

ADDED_FOR_COMBINATION = "combination"
"""`PlanStep.added_for` of a step added to multiply a value of one thing by a count of them."""

ADDED_FOR_LOOKUP = "lookup"
"""`PlanStep.added_for` of a step added to look up what a combination still lacks."""


def calculation(
    index: int, operation: str, unit: Unit | None, *, added_for: str = ADDED_FOR_COMBINATION
) -> PlanStep:
    """Plan step `index` that has lamina's calculator work out `operation` ("89 * 3"), whose
    result is written with `unit`; `added_for` says why it was added."""
    return PlanStep(
        index=index,
        instruction=f"Calculate {operation}.",
        needs_tool=True,
        added_for=added_for,
        tools=(CALCULATOR_NAME,),
        unit=spelled_out(unit.name) if unit is not None else None,
    )


def share_step(
    task: str,
    calls: Sequence[Mapping[str, Any]],
    plan: Sequence[PlanStep],
    tools: Mapping[str, BaseTool],
) -> PlanStep | None:
    """The step that divides the run's total by how many share it, when the request asks what
    each pays (:func:`lamina.guards.shares.sharers`) and no call used that number, or None.

    "We're splitting a 240 dollar bill four ways and tipping 18%. How much does each of us
    pay?": SmolLM2-135M called `add_tip(240, 18)` ("tip: 43.20, total: 283.20") and answered
    with it; "four" went into nothing. The total is the last call's figure (its "total" when it
    returns several), so the share is of what the run ended with.
    """
    if CALCULATOR_NAME not in tools or any(s.added_for == ADDED_FOR_COMBINATION for s in plan):
        return None
    count = sharers(task)
    done = successful_calls(calls, tools)
    if count is None or not done or used_later(Quantity(count, None), done):
        return None
    asked = asked_unit(task)
    if asked and not any(
        converted_to(call_args(c), getattr(tools[c["name"]], "args", None) or {}) in asked
        for c in done
    ):
        return None  # "Turn that into euros ... what each of us owes": not a share of francs
    total = run_total(done, tools, plan)
    if total is None:
        return None  # a count of words is no total to share
    figure, unit = total
    return calculation(len(plan), f"{canonical(figure)} / {int(count)}", unit)


def run_total(
    done: Sequence[Mapping[str, Any]],
    tools: Mapping[str, BaseTool],
    plan: Sequence[PlanStep] = (),
) -> tuple[float, Unit | None] | None:
    """What the run ended with, as a total to share or add a percentage to: the last call's
    figure (its "total" when it returns several) with its unit, when it is money or labelled
    "total"; else None (a count of words is no total). A calculation a step of `plan` wrote
    with a unit ("Calculate 34.9 * 3." in EUR) has that unit: "How much are 3 desk lamps with
    20% tax?" adds the tax to 104.7 EUR."""
    if not done:
        return None
    last = done[-1]
    text = str(last.get("result", ""))
    labelled = TOTAL_FIGURE.search(text)
    figure = plain(labelled["figure"]) if labelled else text.strip() if is_figure(text) else None
    description = str(getattr(tools[last["name"]], "description", "") or "")
    properties = getattr(tools[last["name"]], "args", None) or {}
    returned = returned_units(description)
    unit = converted_to(call_args(last), properties) or (
        returned[0] if len(returned) == 1 else None
    )
    if unit is None and last.get("name") == CALCULATOR_NAME:
        unit = _calculated_unit(call_args(last), plan)
    money = unit is not None and unit.dimension == "money"
    if figure is None or not (labelled or money):
        return None
    return float(figure), unit


def _calculated_unit(args: Mapping[str, Any], plan: Sequence[PlanStep]) -> Unit | None:
    """The unit of the calculation step of `plan` that wrote this calculator call's
    expression, else None."""
    for step in plan:
        for expression in args.values():
            if step.unit and step.instruction == f"Calculate {expression}.":
                named = units_named(step.unit)
                return named[0] if len(named) == 1 else None
    return None


def combination_step(
    task: str,
    calls: Sequence[Mapping[str, Any]],
    plan: Sequence[PlanStep],
    tools: Mapping[str, BaseTool],
) -> PlanStep | None:
    """The step that multiplies the one unused value of a thing by the one unused count of
    those things, or None (no such pair, more than one, no calculator, or the plan already
    holds a combination).

    Args:
        task: the turn's request.
        calls: the run's tool calls so far, in order (`name`, `args`, `result`, `error`).
        plan: the plan so far.
        tools: the agent's tools; the step calls lamina's `calculator`.
    """
    if CALCULATOR_NAME not in tools or any(s.added_for == ADDED_FOR_COMBINATION for s in plan):
        return None
    done = successful_calls(calls, tools)
    found = quantities_of_run(task, done, tools)
    unused = [q for q in found if not used_later(q, done)]
    pairs = {
        (canonical(value.value), canonical(count.value)): value.unit
        for value in unused
        if value.per and value.unit is not None
        for count in unused
        if _counted(task, count, value)
        # "Adult tickets cost 12 EUR each ... 3 child tickets": other kinds of the thing
        and not (value.kind and count.kind and value.kind != count.kind)
        # a call's own figures are not its value and its count; the request's may be
        and (count.origin != value.origin or value.origin == REQUEST)
        # "the price per keyboard", "how many mugs are in stock": the parts are asked for
        and not any(asks_for_a_part(task, thing) for thing in value.per)
    }
    if len(pairs) != 1 or any(u is None or u.dimension == "temperature" for u in pairs.values()):
        return None  # a temperature of one thing times a count is no quantity
    ((figure, times), unit) = next(iter(pairs.items()))
    product = float(figure) * float(times)
    if unit is None or any(
        same_value(float(plain(c["result"])), product) for c in done if returns_figure(c)
    ):
        return None  # (no unit: cannot happen) or already worked out
    return calculation(len(plan), f"{figure} * {times}", unit)


def _counted(task: str, count: Quantity, value: Quantity) -> bool:
    """Does `count` count the things `value` is a value of one of? Also when a call was asked
    about a word that the request writes only before the counted thing's head, and took it:
    `product_price("espresso")` for "2 espresso machines" is the price of one of them (not so
    for "I have 2 keyboard covers. What does a keyboard cost?")."""
    if count.counts & value.per:
        return True
    if value.origin == REQUEST or not value.per or not value.per <= count.kind:
        return False
    heads = "|".join(re.escape(head) for head in count.counts)
    return not any(
        re.search(rf"\b{re.escape(thing)}s?\b(?!\s+(?:{heads})\w*)", task, re.IGNORECASE)
        for thing in value.per
    )


def awaits_a_tool(
    fit: ToolFit | None, tools: Mapping[str, BaseTool], calls: Sequence[Mapping[str, Any]]
) -> bool:
    """Does a tool that fits the request best (on meaning alone; or within the fit's margin of
    it) take a number, while it is neither the calculator nor a converter and no call of it
    worked? Then a product of the
    request's figures is no answer: it may not be what that tool wants. "Each parcel weighs 2
    kg. What does sending 3 parcels to the EU cost?" (`postage(weight_kg, zone)` fits, 0.71):
    SmolLM2-135M converted 2 kg to kg, and the product 2 * 3 made "6 kilograms", ok."""
    if fit is None or not fit.fits:
        return False
    called = {c.get("name") for c in successful_calls(calls, tools)}
    close = [n for n in fit.ranked() if fit.scores[n] >= fit.best - fit.margin]
    return any(
        name != CALCULATOR_NAME
        and name not in converters(tools)
        and name not in called
        and any(
            isinstance(a, Mapping) and a.get("type") in ("number", "integer")
            for a in (getattr(tools.get(name), "args", None) or {}).values()
        )
        for name in close
    )


def lookup_step(
    task: str,
    found: Sequence[Mapping[str, Any]],
    calls: Sequence[Mapping[str, Any]],
    plan: Sequence[PlanStep],
    tools: Mapping[str, BaseTool],
) -> PlanStep | None:
    """The step that asks the tool a word of the request still points to about the thing an
    earlier call returned a value of, or a count of, or None.

    "If we sold all the monitors in the warehouse at list price, how much money would that
    bring in?": SmolLM2-135M called `product_price("the monitors in the warehouse")` (219 EUR,
    one monitor) and stopped; "warehouse" points to `stock_level`, which nobody called. The
    step calls that tool with the very value the price was looked up with
    (`stock_level("the monitors in the warehouse")`: `PlanStep.call`, written here, not by the
    model, which was offered the step's words and chose "a product"); its instruction is the
    tool's description and that value. It is added only where a combination could follow: the
    tool takes one argument, a string; exactly one value of a thing was returned; the request
    counts nothing of it. If no combination follows, the answer stays unfinished
    (:func:`looked_up_alone`).

    Args:
        task: the turn's request.
        found: what `unhandled` found (`{"word", "tool", ...}`, closest first).
        calls: the run's tool calls so far.
        plan: the plan so far; one lookup per run, none after a combination.
        tools: the agent's tools.
    """
    if CALCULATOR_NAME not in tools or any(
        s.added_for in (ADDED_FOR_LOOKUP, ADDED_FOR_COMBINATION) for s in plan
    ):
        return None
    pointed = next(
        (str(f["tool"]) for f in found if f.get("tool") in tools and not f.get("again")), None
    )
    if pointed is None:
        return None
    tool = tools[pointed]
    argument = single_string_argument(tool)
    if argument is None:
        return None
    done = successful_calls(calls, tools)
    found_here = quantities_of_run(task, done, tools)
    values = [q for q in found_here if q.per and q.unit is not None and q.origin != REQUEST]
    counted = [q for q in found_here if q.counts and q.unit is None and q.origin != REQUEST]
    if values:
        things = values[0].per  # a value of one: the count is owed (none may be given)
        combined = any(q.counts & things for q in found_here)
    elif counted:
        # a count a lookup returned ("27 in stock"): the value of one of them is owed (none may
        # be given, nor counted by the request)
        values, things = counted, counted[0].counts
        combined = any(
            (q.per and q.per & things) or (q.origin == REQUEST and q.counts & things)
            for q in found_here
        )
    else:
        return None
    # the same lookup twice (a model repeats a call that worked) returned one figure
    kinds = {(q.value, q.unit, q.per, q.counts) for q in values}
    if len(kinds) != 1 or combined or any(asks_for_a_part(task, thing) for thing in things):
        return None
    call = done[values[0].origin]
    properties = getattr(tools[call["name"]], "args", None) or {}
    args = call.get("args") or {}
    named = [str(v) for k, v in args.items() if thing_named({k: v}, properties)]
    if len(named) != 1:
        return None
    asks = str(tool.description or pointed).strip().split("\n")[0].rstrip(". ")
    return PlanStep(
        index=len(plan),
        instruction=f"{asks}: {named[0]}",
        needs_tool=True,
        added_for=ADDED_FOR_LOOKUP,
        tools=(pointed,),
        call=(pointed, argument, named[0]),
    )


def looked_up_alone(plan: Sequence[PlanStep]) -> dict[str, Any] | None:
    """An `unhandled` entry when the plan looked something up for a combination that did not
    follow (`{"looked_up": tool}`), else None: the answer is then a lookup's bare result."""
    lookup = next((s for s in plan if s.added_for == ADDED_FOR_LOOKUP), None)
    if lookup is None or any(s.added_for == ADDED_FOR_COMBINATION for s in plan):
        return None
    return {"looked_up": (lookup.tools or ("a tool",))[0], "step": lookup.index}
