"""The steps a run still owes once its lookups are done, written from what the request's words
ask (:mod:`lamina.guards.comparisons`) and what the figures are, not by a model.

- *A name the request asks about too* (:func:`name_lookup_step`): "How much colder is it in
  Reykjavik than in Nairobi?" — SmolLM2-135M called `weather("Reykjavik")` twice and answered
  with it. The tool already called for one name is called for the other
  (`PlanStep.call`), when it takes that one string.
- *A comparison* (:func:`comparison_step`): the difference of exactly two figures in the same
  unit ("how much colder", "how far below 100 F", "how many will be left"), or their ratio
  ("how many times taller"), the larger first. The figures are the last figure each lookup
  returned in the dimension the comparative names (a temperature for "colder"), a figure the
  request gives in that unit, or, for what is left, two counts of the same thing. A
  conversion's result stands for the figure it converted; a looked-up figure in another unit
  than the request's own is converted into that unit first. Any other number of figures
  leaves the operation open: no step, and the run stays as the verdict finds it.
- *A threshold* ("Is it above 50 Fahrenheit in Berlin?"): the same difference, and the answer
  says yes or no with both figures (:func:`threshold_answer`).
- *A sum* (:func:`total_step`): "A monitor and a webcam together cost how much?" adds the
  prices the lookups returned (:func:`lamina.guards.totals.addends`). SmolLM2-135M priced the
  webcam alone and answered with it, ok.
- *A percentage on top or off* (:func:`percent_step`): "with 20% tax on top" multiplies the
  run's total by 1 + 20/100 (written so, so the 20 is used), when no call used that figure.

Each at most once per run, within the step budget; the `combine_results` guard. Measured with
`bench/agent_tasks.py` (76 tasks, SmolLM2-135M), these steps together with the counts, dates
and percentages grounding learned alongside them took accuracy from 0.592 to 0.803 (two-step
tasks 12 → 21 of 22, three-step 4 → 9 of 13); answers wrong but marked ok stayed at 2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lamina.core.records import call_args, single_string_argument, successful_calls
from lamina.guards.comparisons import asked_comparison, percent_change
from lamina.guards.numbers import NUMBER_BODY, canonical, is_number, plain
from lamina.guards.passages import takes_a_text
from lamina.guards.quantities import (
    REQUEST,
    Quantity,
    figures_returned,
    quantities_of_run,
    returns_figure,
    same_value,
    used_later,
)
from lamina.guards.totals import addends
from lamina.guards.units import Unit, asked_unit, quantities
from lamina.layers.reasoning.combination import calculation, run_total
from lamina.layers.reasoning.continuation import converting_step
from lamina.layers.reasoning.plan import PlanStep
from lamina.tools.calculator import CALCULATOR_NAME

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = [
    "ADDED_FOR_COMPARISON",
    "ADDED_FOR_MATCHING",
    "ADDED_FOR_NAME",
    "ADDED_FOR_PERCENT",
    "ADDED_FOR_TOTAL",
    "comparison_step",
    "name_lookup_step",
    "percent_step",
    "planned_comparison",
    "threshold_answer",
    "total_step",
    "written_lookup",
]

ADDED_FOR_NAME = "name"
"""`PlanStep.added_for` of a step that asks a tool about a name the request gives too."""

ADDED_FOR_COMPARISON = "comparison"
"""`PlanStep.added_for` of a step that works out a difference or a ratio."""

ADDED_FOR_PERCENT = "percent"
"""`PlanStep.added_for` of a step that adds a percentage to a total, or takes it off."""

ADDED_FOR_TOTAL = "total"
"""`PlanStep.added_for` of a step that adds up what the lookups returned."""

ADDED_FOR_MATCHING = "matching units"
"""`PlanStep.added_for` of a step that converts a looked-up figure into the unit of the figure
the request compares it with."""


def name_lookup_step(
    found: Sequence[Mapping[str, Any]], plan: Sequence[PlanStep], tools: Mapping[str, BaseTool]
) -> PlanStep | None:
    """The call of the tool already asked about one name, for a name the request gives too
    (`found`'s entries `{"word", "tool", "again": True}` from
    :func:`lamina.guards.parts_left_out.names_left_out`), or None: only for a tool that takes one
    argument, a string, and only once per name."""
    for entry in found:
        name, word = entry.get("tool"), entry.get("word")
        if not entry.get("again") or name not in tools or not isinstance(word, str):
            continue
        tool = tools[str(name)]
        argument = single_string_argument(tool)
        if argument is None or any(s.call == (name, argument, word) for s in plan):
            continue
        return written_lookup(len(plan), str(name), tool, argument, word, ADDED_FOR_NAME)
    return None


def written_lookup(
    index: int, name: str, tool: BaseTool, argument: str, value: str, added_for: str
) -> PlanStep:
    """Plan step `index` that calls tool `name` with `value` as its one string `argument`
    (`PlanStep.call`), worded as the tool's description ("Current weather in a city:
    Nairobi")."""
    asks = str(tool.description or name).strip().split("\n")[0].split(":")[0].rstrip(". ")
    return PlanStep(
        index=index,
        instruction=f"{asks}: {value}",
        needs_tool=True,
        added_for=added_for,
        tools=(name,),
        call=(name, argument, value),
    )


def takes_one_name(tool: BaseTool) -> bool:
    """Does `tool` take one string that is a name, not a text to work on (`product`, not
    `word_count`'s `text`)?"""
    argument = single_string_argument(tool)
    return argument is not None and not takes_a_text(
        argument, (tool.args or {}).get(argument) or {}
    )


def written_lookups(
    tool: str | None, tools: Mapping[str, BaseTool], values: Sequence[str], added_for: str
) -> tuple[PlanStep, ...]:
    """One step per value (:func:`written_lookup`) calling `tool` with it as its one string
    argument; () when there is no tool or it takes no one string."""
    argument = single_string_argument(tools[tool]) if tool else None
    if tool is None or argument is None:
        return ()
    return tuple(
        written_lookup(i, tool, tools[tool], argument, value, added_for)
        for i, value in enumerate(values)
    )


def comparison_step(
    task: str,
    calls: Sequence[Mapping[str, Any]],
    plan: Sequence[PlanStep],
    tools: Mapping[str, BaseTool],
) -> PlanStep | None:
    """The difference or ratio the request asks for, of the run's two figures to compare, or
    None (see the module docstring)."""
    if CALCULATOR_NAME not in tools or any(s.added_for == ADDED_FOR_COMPARISON for s in plan):
        return None
    asked = asked_comparison(task)
    if asked is None:
        return None
    done = successful_calls(calls, tools)
    operands = _measures(task, done, tools, asked.dimension)
    if len(operands) != 2 and asked.kind in ("remainder", "threshold"):
        operands = _counts_of_one_thing(task, done, tools)
    if len(operands) != 2 and asked.kind == "threshold" and asked.limit is not None:
        operands = _count_and_limit(task, done, tools, asked.limit)
    if len(operands) != 2:
        return None
    (small, unit), (big, other) = sorted(operands, key=lambda operand: operand[0])
    if unit != other:
        return _into_the_given_unit(task, operands, plan, tools)
    if small == big or (asked.kind == "ratio" and small <= 0):
        return None
    if asked.kind == "ratio":
        operation, outcome, unit = f"{canonical(big)} / {canonical(small)}", big / small, None
    else:
        operation, outcome = f"{canonical(big)} - {canonical(small)}", big - small
    if any(same_value(float(plain(c["result"])), outcome) for c in done if returns_figure(c)):
        return None  # already worked out
    return calculation(len(plan), operation, unit, added_for=ADDED_FOR_COMPARISON)


Operand = tuple[float, "Unit | None"]


def _into_the_given_unit(
    task: str, operands: Sequence[Operand], plan: Sequence[PlanStep], tools: Mapping[str, BaseTool]
) -> PlanStep | None:
    """The conversion of the looked-up figure into the unit of the request's own figure it is
    compared with ("Is it above 50 Fahrenheit in Berlin?" after 11 °C: into F), or None."""
    if any(s.added_for == ADDED_FOR_MATCHING for s in plan):
        return None
    given = quantities(task)
    mine = [o for o in operands if any(same_value(o[0], v) and o[1] in u for v, u in given)]
    looked_up = [o for o in operands if o not in mine]
    if len(mine) != 1 or len(looked_up) != 1:
        return None
    (value, source), (_, target) = looked_up[0], mine[0]
    if source is None or target is None or source.dimension != target.dimension:
        return None
    step = converting_step(canonical(value), source, target, tools, ADDED_FOR_MATCHING, len(plan))
    return step


def _measures(
    task: str,
    done: Sequence[Mapping[str, Any]],
    tools: Mapping[str, BaseTool],
    dimension: str | None,
) -> list[Operand]:
    """The figures to compare: each lookup's figure in `dimension` (the request's own figure's
    dimension when the comparative names none), and the request's figures in it that no call
    took; a conversion's result replaces the figure it converted."""
    given = [(value, units) for value, units in quantities(task) if units]
    if dimension is None:
        dimensions = {u.dimension for _, units in given for u in units[:1]}
        dimension = next(iter(dimensions)) if len(dimensions) == 1 else None
    if dimension is None:
        return []
    found: dict[str, tuple[float, Unit]] = {}
    for call in done:
        if call.get("name") == CALCULATOR_NAME:
            continue
        figures = [f for f in figures_returned(call, tools) if f[1].dimension == dimension]
        if len(figures) != 1:
            continue
        numbers = _numbers_in(call)
        found = {  # a conversion's result replaces the figure it converted
            key: entry
            for key, entry in found.items()
            if not any(same_value(entry[0], n) for n in numbers)
        }
        found[repr(sorted(call_args(call).items()))] = figures[0]  # a repeated call is one
    taken = [n for c in done for n in _numbers_in(c)]
    operands: list[Operand] = list(found.values())
    for value, units in given:
        unit = next((u for u in units if u.dimension == dimension), None)
        if unit is not None and not any(same_value(value, n) for n in taken):
            operands.append((value, unit))
    return operands


def planned_comparison(task: str, tools: Mapping[str, BaseTool]) -> PlanStep | None:
    """The first step of a request that compares the two figures it gives and nothing else, or
    None: their difference or ratio when they are in one unit; else the conversion of one into
    the other's unit (the one asked for, when the request names it), after which
    :func:`comparison_step` compares them. "Everest is 8,849 m high. In feet, how many times
    taller is it than a 1,250 ft skyscraper?" → "Convert 8849 metres to feet.", then "Calculate
    29032.152 / 1250." SmolLM2-135M had called `add_days(date=");{", days=1250)`."""
    asked = asked_comparison(task)
    if asked is None or CALCULATOR_NAME not in tools:
        return None
    given = quantities(task)
    operands = _measures(task, [], tools, asked.dimension)
    if len(given) != 2 or len(operands) != 2:
        return None  # another figure of the request may change what is compared
    (first, unit), (second, other) = operands
    if unit is None or other is None:
        return None
    if unit == other:
        return comparison_step(task, [], [], tools)
    wanted = asked_unit(task)
    source, target, value = (
        (other, unit, second) if unit in wanted and other not in wanted else (unit, other, first)
    )
    return converting_step(canonical(value), source, target, tools, None, 0)


def _numbers_in(call: Mapping[str, Any]) -> list[float]:
    return [float(v) for v in call_args(call).values() if is_number(v)]


def _counts_of_one_thing(
    task: str, done: Sequence[Mapping[str, Any]], tools: Mapping[str, BaseTool]
) -> list[Operand]:
    """A count a lookup returned and a count the request gives of the same thing, when there
    is exactly one of each ("We just got an order for 40 water bottles. How many will be left
    in stock?": the stock of water bottles and the 40)."""
    counts = [q for q in quantities_of_run(task, done, tools) if q.counts and q.unit is None]
    given = [q for q in counts if q.origin == REQUEST]
    returned = [q for q in counts if q.origin != REQUEST and not used_later(q, done)]
    pairs = [(r, g) for r in returned for g in given if r.counts & g.counts]
    if len({(r.value, g.value) for r, g in pairs}) != 1:
        return []
    returned_count, given_count = pairs[0]
    return [(returned_count.value, None), (given_count.value, None)]


def _count_and_limit(
    task: str, done: Sequence[Mapping[str, Any]], tools: Mapping[str, BaseTool], limit: float
) -> list[Operand]:
    """The one count a lookup returned and the threshold's limit, when the run has exactly
    one such count ("Do we have enough wireless mice for an order of 150?": the stock, 150)."""
    counts = [q for q in quantities_of_run(task, done, tools) if q.counts and q.unit is None]
    returned = {q.value for q in counts if q.origin != REQUEST and not used_later(q, done)}
    return [(returned.pop(), None), (limit, None)] if len(returned) == 1 else []


def total_step(
    task: str,
    calls: Sequence[Mapping[str, Any]],
    plan: Sequence[PlanStep],
    tools: Mapping[str, BaseTool],
) -> PlanStep | None:
    """The sum the request asks for of the figures its lookups returned
    (:func:`lamina.guards.totals.addends`), or None."""
    if CALCULATOR_NAME not in tools or any(s.added_for == ADDED_FOR_TOTAL for s in plan):
        return None
    figures = addends(task, successful_calls(calls, tools), tools)
    if not figures:
        return None
    operation = " + ".join(canonical(value) for value, _ in figures)
    return calculation(len(plan), operation, figures[0][1], added_for=ADDED_FOR_TOTAL)


def percent_step(
    task: str,
    calls: Sequence[Mapping[str, Any]],
    plan: Sequence[PlanStep],
    tools: Mapping[str, BaseTool],
) -> PlanStep | None:
    """The run's total with the request's percentage added or taken off, when no call used
    that percentage, or None. The total is what a share would divide (:func:`run_total`):
    money or labelled "total", already in the unit the request asks for."""
    if CALCULATOR_NAME not in tools or any(s.added_for == ADDED_FOR_PERCENT for s in plan):
        return None
    change = percent_change(task)
    done = successful_calls(calls, tools)
    if change is None or not done:
        return None
    percent, factor = change.percent, change.factor
    if used_later(Quantity(percent, None), done):
        return None
    total = run_total(done, tools, plan)
    if total is None:
        return None
    figure, unit = total
    asked = asked_unit(task)
    if asked and unit not in asked:
        return None  # convert first
    sign = "+" if factor > 1 else "-"
    operation = f"{canonical(figure)} * (1 {sign} {canonical(percent)} / 100)"
    return calculation(len(plan), operation, unit, added_for=ADDED_FOR_PERCENT)


_DIFFERENCE_STEP = re.compile(rf"^Calculate (?P<big>{NUMBER_BODY}) - (?P<small>{NUMBER_BODY})\.$")


def threshold_answer(task: str, step: PlanStep, result: str) -> str | None:
    """The yes or no a threshold question asks for, from the comparison step that ended the
    plan ("Is it above 50 Fahrenheit in Berlin?" after "Calculate 51.8 - 50." → "Yes: 51.8
    degrees fahrenheit is 1.8 above 50."), else None."""
    asked = asked_comparison(task)
    written = _DIFFERENCE_STEP.match(step.instruction)
    if asked is None or asked.kind != "threshold" or asked.limit is None or written is None:
        return None
    if step.added_for != ADDED_FOR_COMPARISON:
        return None
    big, small = float(plain(written["big"])), float(plain(written["small"]))
    if not same_value(asked.limit, small) and not same_value(asked.limit, big):
        return None
    figure = big if same_value(asked.limit, small) else small
    unit = f" {step.unit}" if step.unit else ""
    side = "above" if figure > asked.limit else "below"
    yes = (figure > asked.limit) == bool(asked.above)
    return (
        f"{'Yes' if yes else 'No'}: {canonical(figure)}{unit} is {result} {side} "
        f"{canonical(asked.limit)}{unit}."
    )
