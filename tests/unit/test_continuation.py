"""Re-planning from an unfinished answer (lamina/layers/reasoning/continuation.py): the step a
run still owes is written from the figure and the two units, never by a model."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tools import tool

from lamina.guards.tool_relevance import ToolFit
from lamina.guards.unfinished import answered_in_another_unit
from lamina.guards.units import converted_to, ratio, spelled_out
from lamina.layers.reasoning.answer import final_answer
from lamina.layers.reasoning.continuation import (
    conversion_step,
    converters,
    follow_up_step,
    input_conversion_step,
    requested_conversion,
)
from lamina.layers.reasoning.plan import PlanStep
from lamina.layers.reasoning.planning import make_plan
from lamina.layers.reasoning.prompts import load_prompts
from lamina.layers.reasoning.rc_loop import Tally
from lamina.models.testing import FakeChatModel
from lamina.tools.calculator import calculator


@tool
def unit_price(product: str) -> float:
    """Look up the unit price in euros of a product in our shop."""
    return 34.9


@tool
def change_money(amount: float, from_currency: str, to_currency: str) -> float:
    """Convert money between currencies."""
    return round(amount * 1.08, 2)


@tool
def measure(value: float, source_unit: str, target_unit: str) -> float:
    """Convert a length, weight or temperature."""
    return value


@tool
def days_apart(start: str, end: str) -> int:
    """The number of days between two dates."""
    return 168


TOOLS = {t.name: t for t in (unit_price, change_money, measure, days_apart, calculator)}
LOOKUP = PlanStep(0, "What does the desk lamp cost in dollars?", True)
IN_EUROS = [{"word": "USD", "asked": "USD", "answered": "EUR", "figure": "34.9"}]


def test_a_missing_currency_conversion_is_a_step_for_the_tools_that_convert() -> None:
    step = conversion_step(IN_EUROS, [LOOKUP], TOOLS)
    assert step is not None
    assert step.instruction == "Convert 34.9 EUR to USD."
    assert step.index == 1
    assert step.needs_tool
    assert step.tools == ("change_money", "measure")  # a target-unit argument, by its name
    assert step.unit == "USD"
    assert PlanStep.from_dict(step.to_dict(), 1) == step


def test_units_in_a_fixed_ratio_are_arithmetic_for_the_calculator() -> None:
    weeks = [{"word": "week", "asked": "week", "answered": "day", "figure": "168"}]
    step = conversion_step(weeks, [LOOKUP], TOOLS)
    assert step is not None
    assert step.instruction == "Calculate 168 / 7."
    assert step.tools == ("calculator",)
    assert step.unit == "weeks"
    hours = [{"word": "h", "asked": "h", "answered": "day", "figure": "2"}]
    step = conversion_step(hours, [LOOKUP], TOOLS)
    assert step is not None
    assert step.instruction == "Calculate 2 * 24."
    without_calculator = {n: t for n, t in TOOLS.items() if n != "calculator"}
    assert conversion_step(weeks, [LOOKUP], without_calculator) is None


def test_one_conversion_per_run_and_none_without_a_wrong_unit() -> None:
    added = conversion_step(IN_EUROS, [LOOKUP], TOOLS)
    assert added is not None
    assert conversion_step(IN_EUROS, [LOOKUP, added], TOOLS) is None
    word_only = [{"word": "stock", "tool": "stock_level", "similarity": 0.5}]
    assert conversion_step(word_only, [LOOKUP], TOOLS) is None
    assert conversion_step([], [LOOKUP], TOOLS) is None


def test_without_a_converter_every_tool_may_be_used() -> None:
    step = conversion_step(IN_EUROS, [LOOKUP], {"unit_price": unit_price})
    assert step is not None
    assert step.tools is None
    assert converters(TOOLS) == ["change_money", "measure"]


def test_units_are_spelled_as_requests_write_them() -> None:
    assert [spelled_out(u) for u in ("USD", "C", "week", "km", "lb")] == [
        "USD",
        "degrees celsius",
        "weeks",
        "kilometres",
        "lbs",  # "pounds" would also name GBP
    ]
    assert ratio("day", "week") == 1 / 7
    assert ratio("EUR", "USD") is None
    assert ratio("month", "day") is None


def test_a_converted_figure_is_in_the_unit_converted_to() -> None:
    args = {"amount": 34.9, "from_currency": "EUR", "to_currency": "USD"}
    assert converted_to(args, change_money.args).name == "USD"
    assert converted_to({"product": "lamp"}, unit_price.args) is None
    calls = [
        {"name": "unit_price", "args": {"product": "desk lamp"}, "result": "34.9", "error": None},
        {"name": "change_money", "args": args, "result": "37.69", "error": None},
    ]
    request = "What does the desk lamp cost in dollars?"
    answer = "- Step 1: 34.9\n- Step 2: 37.69\nAnswer: 37.69"
    assert answered_in_another_unit(request, answer, calls, TOOLS) == []
    assert answered_in_another_unit(request, "34.9", calls[:1], TOOLS)[0]["answered"] == "EUR"


def test_the_answer_of_a_conversion_says_its_unit() -> None:
    plan = [
        PlanStep(0, "How many weeks from 3 March to 18 August?", True),
        PlanStep(1, "Calculate 168 / 7.", True, unit="weeks"),
    ]
    results: list[dict[str, Any]] = [
        {"index": i, "instruction": s.instruction, "result": r, "tool_calls": [{"name": n}]}
        for i, (s, r, n) in enumerate(
            zip(plan, ["168", "24"], ["days_apart", "calculator"], strict=True)
        )
    ]
    text = final_answer(
        "How many weeks?", plan, results, FakeChatModel(responses=[]), None, Tally(), {},
        load_prompts(),
    )  # fmt: skip
    assert text.endswith("Answer: 24 weeks")


def test_a_word_naming_two_units_asks_for_the_one_of_the_answers_dimension() -> None:
    calls = [{"name": "unit_price", "args": {"product": "toaster"}, "result": "39.5"}]
    found = answered_in_another_unit("How much is the toaster in pounds?", "39.5", calls, TOOLS)
    assert [(f["asked"], f["answered"]) for f in found] == [("GBP", "EUR")]
    step = conversion_step(found, [LOOKUP], TOOLS)
    assert step is not None
    assert step.instruction == "Convert 39.5 EUR to GBP."


CONVERTED = {
    "name": "change_money",
    "args": {"amount": 300, "from_currency": "USD", "to_currency": "EUR"},
    "result": "277.78",
    "error": None,
}


def test_an_answer_says_the_unit_a_conversion_returned() -> None:
    from lamina.guards.result_units import with_result_units

    assert with_result_units("The tool returned 277.78.", [CONVERTED], TOOLS) == (
        "The tool returned 277.78 EUR."
    )
    assert with_result_units("It is 277.78 euros.", [CONVERTED], TOOLS) == "It is 277.78 euros."
    assert with_result_units("1277.78 or 277.789", [CONVERTED], TOOLS) == "1277.78 or 277.789"
    lookup = {"name": "unit_price", "args": {"product": "lamp"}, "result": "34.9", "error": None}
    assert with_result_units("34.9", [lookup], TOOLS) == "34.9"  # no conversion: no unit added


def test_a_follow_up_asking_for_another_unit_is_the_conversion_of_the_last_figure() -> None:
    from lamina.layers.reasoning.continuation import follow_up_step

    step = follow_up_step("and how much is that in yen?", "The tool returned 277.78 EUR.", TOOLS)
    assert step is not None
    assert step.instruction == "Convert 277.78 EUR to JPY."
    assert step.tools == ("change_money", "measure")
    # nothing to refer to, a number of its own, no unit asked, or the unit it already is in
    assert follow_up_step("and how much is that in yen?", None, TOOLS) is None
    assert follow_up_step("and 40 euros in yen?", "277.78 EUR", TOOLS) is None
    assert follow_up_step("and in euros?", "277.78 EUR", TOOLS) is None
    assert follow_up_step("and in yen?", "The answer is 277.78.", TOOLS) is None


@tool
def ship_parcel(weight_kg: float, zone: str) -> float:
    """Price in euros of shipping one parcel."""
    return 18.3


class FixedFit:
    """Tool relevance with fixed scores (a tool missing from `scores` gets 0.1)."""

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores

    def assess(self, text: str, tools: Any) -> ToolFit:
        names = list(tools) if isinstance(tools, dict) else [t.name for t in tools]
        return ToolFit({n: self.scores.get(n, 0.1) for n in names})


SHIPPING = {**TOOLS, "ship_parcel": ship_parcel}


def test_a_quantity_in_another_unit_than_the_tool_takes_is_converted_first() -> None:
    task = "Got a 9 lb box to send within the EU. What's the shipping?"
    step = input_conversion_step(task, ship_parcel, SHIPPING)
    assert step is not None
    assert step.instruction == "Convert 9 lbs to kilograms."
    assert (step.index, step.unit, step.added_for) == (0, "kilograms", "input_conversion")
    assert step.tools == ("change_money", "measure")
    outcome = make_plan(
        FakeChatModel(responses=[]), task, SHIPPING, relevance=FixedFit({"ship_parcel": 0.6})
    )
    assert outcome.source == "conversion"
    assert [s.instruction for s in outcome.steps] == [step.instruction, task]
    assert [s.index for s in outcome.steps] == [0, 1]
    assert all(s.needs_tool for s in outcome.steps)
    off = make_plan(
        FakeChatModel(responses=[]),
        task,
        SHIPPING,
        relevance=FixedFit({"ship_parcel": 0.6}),
        convert_inputs=False,
    )
    assert (off.source, len(off.steps)) == ("single", 1)


def test_no_conversion_when_the_tool_s_unit_is_given_or_another_tool_fits() -> None:
    assert input_conversion_step("Ship a 4 kg box to the EU.", ship_parcel, SHIPPING) is None
    assert input_conversion_step("Ship a box of 9 lb and 2 kg.", ship_parcel, SHIPPING) is None
    assert input_conversion_step("Ship the box to the EU.", ship_parcel, SHIPPING) is None
    assert input_conversion_step("Price of 9 lb of apples?", unit_price, SHIPPING) is None
    # the tool that fits best decides: here the price lookup, whose argument has no unit
    outcome = make_plan(
        FakeChatModel(responses=[]),
        "What does a 9 lb desk lamp cost?",
        SHIPPING,
        relevance=FixedFit({"unit_price": 0.6, "ship_parcel": 0.4}),
    )
    assert outcome.source == "single"


def test_a_request_that_is_only_a_conversion_is_planned_as_that_conversion() -> None:
    step = requested_conversion("I weigh 172 lbs, what's that in kilos?", TOOLS)
    assert step is not None
    assert (step.instruction, step.index, step.added_for) == (
        "Convert 172 lbs to kilograms.",
        0,
        None,
    )
    assert step.tools == ("change_money", "measure")
    money = requested_conversion("What's 250 euros in US dollars?", TOOLS)
    assert money is not None
    assert money.instruction == "Convert 250 EUR to USD."
    hours = requested_conversion("How many hours is 3 days?", TOOLS)
    assert hours is not None
    assert (hours.instruction, hours.tools) == ("Calculate 3 * 24.", ("calculator",))
    outcome = make_plan(FakeChatModel(responses=[]), "how many km is 13.1 miles?", TOOLS)
    assert outcome.source == "conversion"
    assert [s.instruction for s in outcome.steps] == ["Convert 13.1 miles to kilometres."]


def test_a_request_that_asks_more_than_a_conversion_is_not_one() -> None:
    for task in (
        "I run 5 km every day. How many miles is that in a week?",  # a unit of time too
        "Classifieds charge 0.35 USD per word. How much is this ad in euros?",  # a rate
        "A bag is 12 oz. How many grams are in 4 bags?",  # two numbers
        "How many km is a marathon?",  # no number
        "What is 13.1 miles in miles?",  # the same unit
        "What is 30 kg in dollars?",  # another dimension
        "What's 30 dollars in euros plus 5?",  # arithmetic too
        "How many pounds is 2 * 20 kg?",
    ):
        assert requested_conversion(task, TOOLS) is None, task


def test_a_count_of_them_that_says_something_else_is_no_product() -> None:
    assert follow_up_step("4 of them are broken, what now?", "34.9 EUR", TOOLS) is None


@pytest.mark.parametrize(
    ("task", "earlier", "instruction", "unit"),
    [
        ("And 4 of them?", "34.9 EUR", "Calculate 34.9 * 4.", "EUR"),
        ("what would 3 of those cost", "Answer: 18.75", "Calculate 18.75 * 3.", None),
    ],
)
def test_a_count_of_them_multiplies_the_last_figure(
    task: str, earlier: str, instruction: str, unit: str | None
) -> None:
    step = follow_up_step(task, earlier, TOOLS)
    assert step is not None
    assert (step.instruction, step.unit) == (instruction, unit)


@pytest.mark.parametrize(
    ("task", "earlier", "instruction", "unit"),
    [
        ("and what is that plus 10?", "18.75", "Calculate 18.75 + 10.", None),
        ("and what is that plus 1?", "277.78 EUR", "Calculate 277.78 + 1.", "EUR"),
        ("and what is it divided by 4?", "Answer: 283.2 EUR", "Calculate 283.2 / 4.", "EUR"),
        ("What's that times 3?", "Step 1: 2 kg\nAnswer: 4.5 kg", "Calculate 4.5 * 3.", "kilograms"),
    ],
)
def test_arithmetic_on_the_thread_s_last_figure_is_written_out(
    task: str, earlier: str, instruction: str, unit: str | None
) -> None:
    step = follow_up_step(task, earlier, TOOLS)
    assert step is not None
    assert (step.instruction, step.unit, step.tools) == (instruction, unit, ("calculator",))


def test_no_arithmetic_on_the_last_figure_without_a_reference_or_with_other_numbers() -> None:
    assert follow_up_step("what is 5 plus 10?", "18.75", TOOLS) is None
    assert follow_up_step("and that plus 10 plus 2?", "18.75", TOOLS) is None
    assert follow_up_step("and what is that plus 10?", "no figure here", TOOLS) is None
