"""A step that does arithmetic on what the step before it gave, written as a calculation of
that figure (:func:`referenced_step`) once it is known: "Double it" after 16.093 km becomes
"Calculate 16.093 * 2.", run by the calculator, never by a model.

"Convert 10 miles to kilometres and then double it": SmolLM2-135M's plan wrote "Double 10
miles." (20), and the answer was the conversion alone, ok. The request's own clauses keep the
reference (:func:`lamina.layers.reasoning.task_split.refers_back`); their second clause, "Double
it", was then solved by the model (32.186 once, "8.047" for "Multiply that by 3", unchanged).
The forms read here are the imperative ones a user writes for one operation on "it", "that",
"this" or "the result", or on nothing named ("then add 2"): double, triple, halve; multiply or
divide it by N; add N to it, subtract N from it; add N% to it, take N% off it. The figure is the
one figure of the earlier step's result ("16.093 km"), with its unit (the one its call returned
the figure in, when the text leaves it out); a result of several figures ("tip: 46.30, total:
277.78") leaves the step to the model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lamina.guards.numbers import NUMBER_BODY, canonical, plain
from lamina.guards.quantities import figures_returned, same_value
from lamina.guards.units import quantities
from lamina.layers.reasoning.combination import calculation
from lamina.layers.reasoning.plan import PlanStep
from lamina.tools.calculator import CALCULATOR_NAME

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = ["ADDED_FOR_REFERENCE", "operates_on_the_last", "referenced_step"]

ADDED_FOR_REFERENCE = "reference"
"""`PlanStep.added_for` of a step rewritten as a calculation of the figure it refers to."""

_IT = r"(?:it|that|this|the\s+(?:result|answer|total))"
_N = rf"(?P<n>{NUMBER_BODY})"
_FORMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"^\s*(?:then\s+|and\s+)*{pattern}\s*[.!]?\s*$", re.IGNORECASE), operation)
    for pattern, operation in (
        (rf"double(?:\s+{_IT})?", "{v} * 2"),
        (rf"triple(?:\s+{_IT})?", "{v} * 3"),
        (rf"halve(?:\s+{_IT})?", "{v} / 2"),
        (rf"multiply(?:\s+{_IT})?\s+by\s+{_N}", "{v} * {n}"),
        (rf"divide(?:\s+{_IT})?\s+by\s+{_N}", "{v} / {n}"),
        (rf"add\s+{_N}\s*%(?:\s+to\s+{_IT})?", "{v} * (1 + {n} / 100)"),
        (rf"take\s+{_N}\s*%\s+off(?:\s+{_IT})?", "{v} * (1 - {n} / 100)"),
        (rf"round(?:\s+{_IT})?\s+to\s+{_N}\s+decimals?(?:\s+places?)?", "round({v}, {n})"),
        (rf"round(?:\s+{_IT})?(?:\s+to\s+(?:a|the\s+nearest)\s+whole\s+number)?", "round({v})"),
        (rf"add\s+{_N}(?:\s+to\s+{_IT})?", "{v} + {n}"),
        (rf"subtract\s+{_N}(?:\s+from\s+{_IT})?", "{v} - {n}"),
    )
)
"""The operations on the figure before, with "it" or without an object: a clause that only
says "add 2" ("Convert 3 pounds to kilograms and then add 2") has nothing else to add it to;
SmolLM2-135M's plan made it "Add 2 pounds to kilograms." and converted 1.361 lb again."""


def operates_on_the_last(steps: Sequence[str]) -> bool:
    """Is a step after the first one of the operations on the figure before it ("Add 2",
    "Double it", "Multiply by 4")?"""
    return any(p.match(step) for step in steps[1:] for p, _ in _FORMS)


def referenced_step(
    step: PlanStep, results: Sequence[Mapping[str, Any]], tools: Mapping[str, BaseTool]
) -> PlanStep | None:
    """`step` as a calculation of the figure the step before it gave, when its instruction is
    one of the forms above and that result holds one figure; else None."""
    if CALCULATOR_NAME not in tools or not results or step.added_for == ADDED_FOR_REFERENCE:
        return None
    form = next(((m, op) for p, op in _FORMS if (m := p.match(step.instruction))), None)
    if form is None:
        return None
    match, operation = form
    earlier = results[-1]
    if earlier.get("status") == "failed":
        return None
    figures = quantities(str(earlier.get("result", "")))
    if len(figures) != 1:
        return None
    value, units = figures[0]
    given = canonical(float(plain(match["n"]))) if "n" in match.re.groupindex else ""
    written = operation.format(v=canonical(value), n=given)
    calls = [c for c in earlier.get("tool_calls") or [] if c.get("name") in tools]
    worked = [c for c in calls if c.get("error") is None and c.get("result") is not None]
    # the unit the earlier call returned its figure in (a conversion's target, a price's
    # currency), which its result text may leave out ("12.427" from convert_units(to_unit="mi"))
    returned = figures_returned(worked[-1], tools) if worked else []
    said = [unit for figure, unit in returned if same_value(figure, value)]
    unit = said[0] if said else units[0] if len(units) == 1 else None
    return calculation(step.index, written, unit, added_for=ADDED_FOR_REFERENCE)
