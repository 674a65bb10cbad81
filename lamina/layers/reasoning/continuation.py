"""Conversion steps written from units, not by a model: the step an answer in another unit still
owes (:func:`conversion_step`), the step before a tool that takes another unit
(:func:`input_conversion_step`), and a request that is only a conversion
(:func:`requested_conversion`).

A small model stops a chain after its first call that works. Asked "What does the desk lamp
cost in dollars?", SmolLM2-135M called `product_price("desk lamp")` and answered 34.9, a price
in euros; the `unfinished_request` guard (:mod:`lamina.guards.unfinished`) sees the answer's
figure is in another unit than the one asked for, and the run used to end there, honestly not
ok. The missing move is fully known by then: the figure, its unit and the unit asked for. So the
plan gets one more tool step, "Convert 34.9 EUR to USD.", written from those three facts (not
by a model), and the execution layer runs it with the usual grounding: 34.9 is a tool's result,
EUR the unit written at it, USD the unit the step asks for. The step may call only the tools
that convert (an argument names the unit converted to). Units in a fixed ratio (days and
weeks) need no converter: the step is the arithmetic, "Calculate 168 / 7.", for lamina's
`calculator` (without it, no step is added).

The mirror case comes before a call (:func:`input_conversion_step`): "Got a 9 lb box to send
within the EU. What's the shipping?" gives the weight in pounds, and the tool that fits,
`shipping_cost(weight_kg, zone)`, declares kilograms. Grounding rightly refuses 9 for
`weight_kg` (pounds are not kilograms), which left the model a wrong tool to call
(`product_price("the shipping")`, three times). The plan then starts with "Convert 9 lbs to
kilograms." and the request follows as its second step, with the converted figure to use.

A request that is a conversion and nothing else ("I weigh 172 lbs, what's that in kilos?") is
planned as that conversion (:func:`requested_conversion`).

One conversion step after the answer per run (a step added for a conversion is never followed
by another); within the step budget (`max_steps`). If the step fails, the run fails as any
failed step does, with what was tried. Both are the `finish_conversions` guard
(`Guards(finish_conversions=False)` leaves the answer unfinished, and the quantity as given).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lamina.guards.grounding import grounded_numbers
from lamina.guards.numbers import NUMBER_BODY, canonical, same_figure, written_numbers
from lamina.guards.tool_shortlist import asks_for_arithmetic
from lamina.guards.units import (
    Unit,
    asked_unit,
    declared_unit,
    quantities,
    ratio,
    spelled_out,
    unit_called,
    unit_role,
    units_mentioned,
)
from lamina.layers.reasoning.plan import PlanStep
from lamina.tools.calculator import CALCULATOR_NAME

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = [
    "arithmetic_on_the_last_answer",
    "conversion_step",
    "converters",
    "converting_step",
    "follow_up_step",
    "input_conversion_step",
    "requested_conversion",
]

ADDED_FOR_CONVERSION = "conversion"
"""`PlanStep.added_for` of a step added to convert an answer into the unit asked for."""

ADDED_FOR_REFERENCE = "reference"
"""`PlanStep.added_for` of a step that works on the thread's last figure ("and that plus 10?")."""

ADDED_FOR_INPUT = "input_conversion"
"""`PlanStep.added_for` of a step that converts a given quantity into the unit a tool takes."""


def conversion_step(
    found: Sequence[Mapping[str, Any]],
    plan: Sequence[PlanStep],
    tools: Mapping[str, BaseTool],
) -> PlanStep | None:
    """The tool step that converts the answer's figure into the unit the request asks for, or
    None (nothing to convert, or the plan already holds such a step).

    Args:
        found: what `unfinished_request` found; an entry with "answered" (the unit of the
            answer's `figure`) and "asked" names a missing conversion.
        plan: the plan so far.
        tools: the agent's tools. The step may call only those that convert (an argument
            names the unit converted to: `to_currency`, `target_unit`), or, when none does,
            any of them; units in a fixed ratio go to the `calculator`.
    """
    if any(step.added_for == ADDED_FOR_CONVERSION for step in plan):
        return None
    missing = next((f for f in found if "answered" in f), None)
    if missing is None:
        return None
    return converting_step(
        missing["figure"],
        unit_called(missing["answered"]),
        unit_called(missing["asked"]),
        tools,
        ADDED_FOR_CONVERSION,
        len(plan),
    )


def input_conversion_step(
    task: str, tool: BaseTool | None, tools: Mapping[str, BaseTool]
) -> PlanStep | None:
    """The step that converts a quantity the request gives into the unit `tool` takes, or None.

    `tool` is the one that fits the request best. A number argument of it that declares a unit
    (`weight_kg`; "the weight in kilograms") with no quantity given in that unit, and a
    quantity given in another unit of the same dimension ("9 lb"), make the step "Convert 9
    lbs to kilograms." (for the tools that convert; a fixed ratio, for the `calculator`). The
    step's `unit` is the declared one, so its result is written with it.
    """
    if tool is None:
        return None
    given = quantities(task)
    for arg, schema in (tool.args or {}).items():
        if not isinstance(schema, Mapping) or schema.get("type") not in ("number", "integer"):
            continue
        declared = declared_unit(arg, schema)
        if declared is None or any(declared in units for _, units in given):
            continue
        for value, units in given:
            other = [u for u in units if u.dimension == declared.dimension and u != declared]
            if other:
                return converting_step(
                    canonical(value), other[0], declared, tools, ADDED_FOR_INPUT, 0
                )
    return None


_RATE = re.compile(r"\b(?:per|each|every)\b", re.IGNORECASE)
"""A rate or a repeat ("0.35 USD per word", "every day"): the request asks for more than a
conversion."""


def requested_conversion(task: str, tools: Mapping[str, BaseTool]) -> PlanStep | None:
    """A request that is a conversion and nothing else, as its conversion step, or None.

    It gives one number, written with a unit ("13.1 miles"), asks for another unit of the same
    dimension ("how many km"), and names no unit of another dimension ("5 km every day ... in a
    week" asks for more than a conversion, as does a rate, "0.35 USD per word", or arithmetic,
    "30 dollars in euros plus 5"). Asked "I weigh 172 lbs, what's that in kilos?",
    SmolLM2-135M answered "172 * 100 = 1720 kilograms" without a tool, and "What's 250 euros
    in US dollars?" went to `product_price` three times.
    """
    given = quantities(task)
    if len(given) != 1 or not given[0][1] or _RATE.search(task) or asks_for_arithmetic(task):
        return None
    value, units = given[0]
    pairs = [(s, t) for t in asked_unit(task) for s in units if s.dimension == t.dimension]
    if not pairs or pairs[0][0] == pairs[0][1]:
        return None
    source, target = pairs[0]
    if any(all(u.dimension != source.dimension for u in found) for found in units_mentioned(task)):
        return None
    return converting_step(canonical(value), source, target, tools, None, 0)


def converting_step(
    figure: str,
    source: Unit,
    target: Unit,
    tools: Mapping[str, BaseTool],
    added_for: str | None,
    index: int,
) -> PlanStep | None:
    """The step that converts `figure` from `source` into `target` (None: no tool can)."""
    factor = ratio(source.name, target.name)
    if factor is not None:
        # a fixed ratio (days into weeks) is arithmetic: lamina's calculator does it
        if CALCULATOR_NAME not in tools:
            return None
        operation = f"* {factor:g}" if factor >= 1 else f"/ {1 / factor:g}"
        instruction = f"Calculate {figure} {operation}."
        offered: tuple[str, ...] | None = (CALCULATOR_NAME,)
    else:
        instruction = f"Convert {figure} {spelled_out(source.name)} to {spelled_out(target.name)}."
        offered = tuple(converters(tools)) or None
    return PlanStep(
        index=index,
        instruction=instruction,
        needs_tool=True,
        added_for=added_for,
        tools=offered,
        unit=spelled_out(target.name),
    )


def converters(tools: Mapping[str, BaseTool]) -> list[str]:
    """The tools with an argument that names the unit they convert into."""
    return [
        name
        for name, tool in tools.items()
        if any(
            isinstance(schema, Mapping) and unit_role(arg, schema) == "target"
            for arg, schema in (tool.args or {}).items()
        )
    ]


def follow_up_step(
    task: str, earlier_answer: str | None, tools: Mapping[str, BaseTool]
) -> PlanStep | None:
    """A follow-up that asks for the thread's last figure in another unit ("and how much is
    that in yen?" after "277.78 EUR"), as the conversion step it refers to, or arithmetic on
    that figure (:func:`arithmetic_on_the_last_answer`), or None.

    The request must give no number of its own and ask for a unit ("in yen"); the figure is
    the last one of the earlier answer written with a unit of the same dimension (lamina writes
    the unit a conversion returned into its answers). SmolLM2-135M, asked the follow-up as it
    stands, called `add_tip(277.78, 277.78)`.
    """
    if not earlier_answer:
        return None
    on_it = arithmetic_on_the_last_answer(task, earlier_answer, tools)
    if on_it is not None or grounded_numbers([task])[0]:
        return on_it
    asked = asked_unit(task)
    dimensions = {unit.dimension for unit in asked}
    for value, units in reversed(quantities(earlier_answer)):
        same = [u for u in units if u.dimension in dimensions]
        if not same or set(same) & set(asked):
            continue
        wanted = next(u for u in asked if u.dimension == same[0].dimension)
        found = {"figure": canonical(value), "answered": same[0].name, "asked": wanted.name}
        return conversion_step([found], [], tools)
    return None


_OPERATIONS = {"plus": "+", "minus": "-", "times": "*", "multiplied by": "*", "divided by": "/"}
_ON_IT = re.compile(
    rf"\b(?:that|it)\s+(?P<op>plus|minus|times|multiplied\s+by|divided\s+by)\s+"
    rf"(?P<number>{NUMBER_BODY})(?![\w.,])",
    re.IGNORECASE,
)


_OF_THEM = re.compile(
    rf"(?:^|\b(?:and|about|for|would|do|are|is)\s+)(?P<op>)(?P<number>{NUMBER_BODY})\s+of\s+"
    r"(?:them|those|these)\b(?=\s*[?.!]?\s*$|\s+(?:cost|come\s+to|be|would|will)\b)",
    re.IGNORECASE,
)
"""A count of the things the last answer priced ("And 4 of them?" after "34.9"): times."""


def arithmetic_on_the_last_answer(
    task: str, earlier_answer: str, tools: Mapping[str, BaseTool]
) -> PlanStep | None:
    """ "and what is that plus 10?" after "18.75": the step "Calculate 18.75 + 10.", in the
    earlier figure's unit, or None; "And 4 of them?" after "34.9" is "Calculate 34.9 * 4.".
    The figure is the last one of the earlier answer's last line that holds one; the request
    gives one number, right after the operation.

    SmolLM2-135M, asked the follow-up as it stands, called `add_tip(10, 10)` and answered
    "The tip was 1.00, total: 11.00." (the thread's 18.75 went into nothing).
    """
    match = _ON_IT.search(task) or _OF_THEM.search(task)
    lines = [line for line in earlier_answer.splitlines() if written_numbers(line)]
    if match is None or not lines or CALCULATOR_NAME not in tools:
        return None
    if len(written_numbers(task)) != 1:
        return None
    text, number = written_numbers(lines[-1])[-1]
    figure = canonical(number)  # "42.0" → 42
    given = quantities(lines[-1])
    units = [u for value, found in given for u in found if same_figure(text, value)]
    operation = _OPERATIONS[" ".join((match["op"] or "times").lower().split())]
    return PlanStep(
        index=0,
        instruction=f"Calculate {figure} {operation} {match['number'].replace(',', '')}.",
        needs_tool=True,
        added_for=ADDED_FOR_REFERENCE,
        tools=(CALCULATOR_NAME,),
        unit=spelled_out(units[0].name) if len(units) == 1 else None,
    )
