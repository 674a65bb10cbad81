"""A step that does arithmetic on what the step before it gave: the request's clauses are the
plan when one refers back (lamina/layers/reasoning/task_split.py's `refers_back`), and such a
step is written as a calculation of that figure (lamina/layers/reasoning/references.py)."""

from __future__ import annotations

from typing import Any

import pytest

from lamina.layers.reasoning.plan import PlanStep
from lamina.layers.reasoning.references import ADDED_FOR_REFERENCE, referenced_step
from lamina.layers.reasoning.task_split import refers_back, split_task
from lamina.tools.calculator import calculator

TOOLS: dict[str, Any] = {calculator.name: calculator}


@pytest.mark.parametrize(
    ("request_text", "back"),
    [
        ("Convert 10 miles to kilometres and then double it", True),
        ("Convert 5 miles to km, then multiply that by 3", True),
        ("What's 250 USD in euros? Then add 20% to the result.", True),
        ("Convert 10 miles to km, then convert 3 kg to pounds", False),
        ("What is 12 times 7?", False),
    ],
)
def test_a_clause_that_refers_back(request_text: str, back: bool) -> None:
    assert refers_back(split_task(request_text)) is back


@pytest.mark.parametrize(
    ("instruction", "earlier", "calculation", "unit"),
    [
        ("Double it", "16.093 km", "Calculate 16.093 * 2.", "kilometres"),
        ("then triple that", "12", "Calculate 12 * 3.", None),
        ("Halve it.", "64.5 EUR", "Calculate 64.5 / 2.", "EUR"),
        ("Multiply that by 3", "8.047 km", "Calculate 8.047 * 3.", "kilometres"),
        ("Divide the result by 4", "100", "Calculate 100 / 4.", None),
        ("Add 15 to it", "12", "Calculate 12 + 15.", None),
        ("Subtract 2.5 from that", "10", "Calculate 10 - 2.5.", None),
        ("Add 20% to it.", "231.48 EUR", "Calculate 231.48 * (1 + 20 / 100).", "EUR"),
        ("Take 15% off it", "59.9", "Calculate 59.9 * (1 - 15 / 100).", None),
        # no object: the figure before is all there is to work on
        ("Add 2", "1.361 kg", "Calculate 1.361 + 2.", "kilograms"),
        ("Multiply by 4", "1.524 m", "Calculate 1.524 * 4.", "metres"),
        ("then double", "12", "Calculate 12 * 2.", None),
        # the calculator computes round() as written (lamina/guards/written_arithmetic.py)
        ("then round it", "22.222 Celsius", "Calculate round(22.222).", "degrees celsius"),
        ("Round it to 1 decimal place", "22.222", "Calculate round(22.222, 1).", None),
    ],
)
def test_a_step_on_the_earlier_figure_is_a_calculation_of_it(
    instruction: str, earlier: str, calculation: str, unit: str | None
) -> None:
    step = referenced_step(PlanStep(1, instruction, False), [{"result": earlier}], TOOLS)
    assert step is not None
    assert (step.index, step.instruction, step.unit) == (1, calculation, unit)
    assert step.added_for == ADDED_FOR_REFERENCE
    assert step.needs_tool


@pytest.mark.parametrize(
    ("instruction", "earlier"),
    [
        ("Double it", "tip: 46.30, total: 277.78"),  # two figures: which one?
        ("Double it", "no figure here"),
        ("Tell me about it", "16.093 km"),  # no arithmetic form
        ("Double 10 miles", "16.093 km"),  # no reference
    ],
)
def test_no_calculation_without_one_figure_and_one_form(instruction: str, earlier: str) -> None:
    assert referenced_step(PlanStep(1, instruction, False), [{"result": earlier}], TOOLS) is None


def test_no_calculation_after_a_failed_step_without_a_calculator_or_twice() -> None:
    step = PlanStep(1, "Double it", False)
    assert referenced_step(step, [{"result": "12", "status": "failed"}], TOOLS) is None
    assert referenced_step(step, [{"result": "12"}], {}) is None
    assert referenced_step(step, [], TOOLS) is None
    done = referenced_step(step, [{"result": "12"}], TOOLS)
    assert done is not None
    assert referenced_step(done, [{"result": "12"}], TOOLS) is None


class _NoModel:
    """A model no test should call."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the model was used ({name})")


@pytest.mark.parametrize(
    ("request_text", "clauses"),
    [
        (
            "Convert 10 miles to kilometres and then double it",
            ["Convert 10 miles to kilometres", "Double it"],
        ),
        (
            "Convert 3 pounds to kilograms and then add 2",
            ["Convert 3 pounds to kilograms", "Add 2"],
        ),
    ],
)
def test_the_clauses_are_the_plan_when_one_refers_back(
    request_text: str, clauses: list[str]
) -> None:
    from lamina.layers.reasoning.planning import make_plan

    outcome = make_plan(_NoModel(), request_text)  # type: ignore[arg-type]
    assert outcome.source == "clauses"
    assert [s.instruction for s in outcome.steps] == clauses


def test_the_unit_is_the_one_the_earlier_call_returned_its_figure_in() -> None:
    from langchain_core.tools import tool

    @tool
    def convert_units(value: float, from_unit: str, to_unit: str) -> float:
        """Convert a value between units."""
        return value

    tools = {**TOOLS, convert_units.name: convert_units}
    call = {
        "name": "convert_units",
        "args": {"value": 20, "from_unit": "km", "to_unit": "mi"},
        "result": "12.427",
        "error": None,
    }
    step = referenced_step(
        PlanStep(1, "then double it", False), [{"result": "12.427", "tool_calls": [call]}], tools
    )
    assert step is not None
    assert (step.instruction, step.unit) == ("Calculate 12.427 * 2.", "miles")
