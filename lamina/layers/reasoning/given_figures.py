"""Arithmetic the request's own figures decide, planned before any model call
(:func:`planned_product`): a value of one thing times a count of those things ("Each ticket
costs 12 EUR. What do 5 tickets cost?" → "Calculate 12 * 5."), or a rate per period turned into
the period asked about ("5 km every day ... in a week" → "Calculate 5 * 7."; :func:`period_step`).

SmolLM2-135M answered "A bag of my coffee is 12 oz. How many grams are in 4 bags?" with "4 bags *
12 oz = 56 oz ... 56", without a call, on both numeric paths. The plan's step is instead the
only operation the figures allow, run by lamina's calculator as written, answered in the
value's unit; a conversion into a unit the request asks for follows from the answer
(:mod:`lamina.layers.reasoning.continuation`).

Only a request that is that arithmetic and nothing more is planned so. It holds exactly the
figures the step uses (a discount, a fee or a second price would be left out); no conjunction
or word that carves out an exception ("if", "but", "after", "except", "free", "tax", "off":
"15 USD a month. How much a year if I cancel for the summer?"); the thing valued and the thing
counted are of the same kind ("Adult tickets ... 3 child tickets" is not); the unit asked for,
if any, is of the product's dimension ("An apple weighs 150 g. How much do 6 apples cost?" asks
for money); and no tool that takes a number fits the request (three parcels of 2 kg are not one
parcel of 6 kg: :func:`~lamina.layers.reasoning.combination.awaits_a_tool`). A rate is turned
only where the periods fix the factor and leave no doubt about working time: days into weeks for
what is not money, months into years for anything ("25 USD an hour ... a week" is not 168
hours of pay).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from lamina.guards.numbers import canonical, number_words, written_numbers
from lamina.guards.request_quantities import request_quantities
from lamina.guards.units import asked_unit, ratio, units_named
from lamina.layers.reasoning.combination import awaits_a_tool, calculation, combination_step
from lamina.layers.reasoning.plan import PlanStep
from lamina.tools.calculator import CALCULATOR_NAME

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from lamina.guards.tool_relevance import ToolFit

__all__ = ["period_step", "planned_product"]


def planned_product(
    task: str, fit: ToolFit | None, tools: Mapping[str, BaseTool]
) -> PlanStep | None:
    """The first and only step of a one-step task that is arithmetic on its own figures (see
    the module docstring), or None."""
    if awaits_a_tool(fit, tools, ()) or _EXCEPTION.search(task):
        return None
    numbers = len(written_numbers(task)) + _spelled_numbers(task)
    step = combination_step(task, (), (), tools) if numbers == 2 else None
    step = step or (period_step(task, tools) if numbers == 1 else None)
    if step is None or step.unit is None:
        return None
    dimensions = {u.dimension for u in units_named(step.unit)}
    question = _SENTENCES.split(task.strip())[-1]
    asked = {u.dimension for u in asked_unit(task)} | (
        {"money"} if _MONEY_ASKED.search(question) else set()
    )
    return step if not asked or dimensions & asked else None


_EXCEPTION = re.compile(
    r"\b(?:if|unless|except|excluding|but|after|before|until|till|without|when|while|although|"
    r"though|free|off|tax|taxes|fee|fees|discount|minus|plus|first|last|only|already)\b",
    re.IGNORECASE,
)
"""Conjunctions and words that carve an exception out of the arithmetic."""
_SENTENCES = re.compile(r"(?<=[.!?])\s+")
_MONEY_ASKED = re.compile(r"\b(?:cost|costs|price|prices|pay|spend|charge|charged)\b", re.I)
"""Words of the request's last sentence that ask for an amount of money."""
_NO_RATE = ("time", "temperature")
"""Dimensions of a figure per period that no number of periods multiplies ("20 C every day")."""
_PERIOD = re.compile(
    r"\b(?:in\s+(?:a|an|one)|for\s+(?:a|an|one)|per|a|an|each|every)\s+"
    r"(?P<unit>[^\W\d_]+)(?!['’]s)\b",
    re.IGNORECASE,
)
_TURNS = {("day", "week"), ("week", "day"), ("month", "year"), ("year", "month")}
"""The periods a rate is turned between: their ratio is fixed, and a rate per day or week
(not money) or per month or year is not a rate per working hour."""


def period_step(task: str, tools: Mapping[str, BaseTool]) -> PlanStep | None:
    """The step that turns the one rate per period a request gives into a rate per the other
    period it asks about, or None.

    "I run 5 km every day. How many miles is that in a week?" → "Calculate 5 * 7." (35 km,
    then converted into miles); "I'm paid 3,200 USD a month. What's that per year in euros?"
    → "Calculate 3200 * 12."; a rate per year asked per month is divided by 12.
    """
    if CALCULATOR_NAME not in tools:
        return None
    given = request_quantities(task)
    rates = [q for q in given if q.unit is not None and q.unit.dimension not in _NO_RATE and q.per]
    if len(rates) != 1 or len(rates[0].per) != 1 or rates[0].unit is None:
        return None
    rate, unit = rates[0], rates[0].unit
    own = [u.name for u in units_named(next(iter(rate.per))) if u.dimension == "time"]
    asked = {
        u.name
        for match in _PERIOD.finditer(task)
        for u in units_named(match.group("unit"))
        if u.dimension == "time" and u.name not in own
    }
    if len(own) != 1 or len(asked) != 1:
        return None
    target = asked.pop()
    allowed = (own[0], target) in _TURNS and not (
        unit.dimension == "money" and own[0] in ("day", "week")
    )
    times = ratio(target, own[0]) if allowed else None
    if times is None:
        return None
    if times > 1:
        operation = f"{canonical(rate.value)} * {round(times)}"
    else:
        operation = f"{canonical(rate.value)} / {round(1 / times)}"
    return calculation(0, operation, unit)


def _spelled_numbers(task: str) -> int:
    """How many numbers are written as words, but "one" before a period ("in one week")."""
    periods = {m.start("unit") for m in _PERIOD.finditer(task)}
    ones = [m for m in _ONE.finditer(task) if m.end() in periods]
    return len(number_words(task)) - len(ones)


_ONE = re.compile(r"\bone\s+(?=[^\W\d_])", re.IGNORECASE)
