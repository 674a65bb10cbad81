"""The steps a run still owes once its lookups are done, written from the request's words
(lamina/guards/comparisons.py) and what the figures are (lamina/layers/reasoning/
final_arithmetic.py): a name's lookup, a difference or ratio, a percentage on top or off."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tools import tool

from lamina.guards.comparisons import Comparison, asked_comparison, percent_change
from lamina.guards.parts_left_out import comparison_left_undone
from lamina.layers.reasoning.final_arithmetic import (
    comparison_step,
    name_lookup_step,
    percent_step,
    planned_comparison,
)
from lamina.layers.reasoning.owed_steps import step_still_owed
from lamina.layers.reasoning.plan import PlanStep
from lamina.tools.calculator import calculator


@tool
def weather(city: str) -> str:
    """Current weather in a city: temperature in degrees Celsius, conditions, wind, humidity.

    Args:
        city: the city's name, e.g. Lisbon.
    """
    return "Lisbon: 21 °C, sunny"


@tool
def convert_units(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a length, weight, volume or temperature from one unit to another."""
    return value


@tool
def stock_level(product: str) -> int:
    """How many units of a product are in stock in our warehouse."""
    return 254


@tool
def shipping_cost(weight_kg: float, zone: str) -> float:
    """Price in euros of shipping one parcel."""
    return 6.27


@tool
def add_tip(bill: float, tip_percent: float) -> str:
    """Work out the tip on a bill and the total to pay with it."""
    return "tip: 1.00, total: 11.00"


@tool
def word_count(text: str) -> int:
    """Count the words in a piece of text."""
    return 9


TOOLS = {
    t.name: t
    for t in (weather, convert_units, stock_level, shipping_cost, add_tip, word_count, calculator)
}
ONE = [PlanStep(0, "the request", True)]


def call(name: str, result: Any, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "result": result, "error": None}


def weather_in(city: str, celsius: int) -> dict[str, Any]:
    return call("weather", f"{city}: {celsius} °C, rain, wind 27 km/h, humidity 90 %", city=city)


@pytest.mark.parametrize(
    ("request_text", "asked"),
    [
        (
            "How much colder is it in Reykjavik than in Nairobi?",
            Comparison("difference", "temperature"),
        ),
        ("How much heavier is the suitcase?", Comparison("difference", "mass")),
        (
            "What's the difference in price between a monitor and a webcam?",
            Comparison("difference", "money"),
        ),
        ("How far is that below 100 F?", Comparison("difference")),
        (
            "In feet, how many times taller is it than a 1,250 ft tower?",
            Comparison("ratio", "length"),
        ),
        ("How many times as heavy as a cat is it?", Comparison("ratio")),
        ("40 bottles ship today. How many will be left in stock?", Comparison("remainder")),
        (
            "Is Berlin warmer than Oslo? By how many degrees?",
            Comparison("difference", "temperature"),
        ),
        ("Is a webcam cheaper than a monitor, and by how much?", Comparison("difference", "money")),
        ("How many times a week do I run?", None),
        ("How much is a monitor?", None),
        ("Is Berlin warmer than Oslo?", None),  # yes or no
    ],
)
def test_what_a_request_compares(request_text: str, asked: Comparison | None) -> None:
    found = asked_comparison(request_text)
    assert (found and (found.kind, found.dimension)) == (asked and (asked.kind, asked.dimension))


def test_the_words_that_ask_a_comparison_run_to_their_sentence_s_end() -> None:
    found = asked_comparison("An order for 40 bottles. How many will be left once it ships? Thx")
    assert found is not None
    assert found.text == "How many will be left once it ships?"


@pytest.mark.parametrize(
    ("request_text", "change"),
    [
        ("What does it cost to send it, with 20% tax on top?", (20.0, 1.2)),
        ("plus 7.5 % VAT please", (7.5, 1.075)),
        ("The lamp is 15% off. What do I pay?", (15.0, 0.85)),
        ("with a discount of 10 percent", (10.0, 0.9)),
        ("Add a 15% tip", None),  # a tip is a tool's business
        ("20 percent discount and 5% extra", None),  # two: which comes first is open
    ],
)
def test_a_percentage_on_top_or_off(request_text: str, change: tuple[float, float] | None) -> None:
    found = percent_change(request_text)
    assert (None if found is None else (found.percent, found.factor)) == change


def test_the_difference_of_two_lookups_in_the_dimension_the_comparative_names() -> None:
    task = "How much colder is it in Reykjavik than in Nairobi right now, in degrees C?"
    calls = [weather_in("Reykjavik", 2), weather_in("Reykjavik", 2), weather_in("Nairobi", 23)]
    step = comparison_step(task, calls, ONE, TOOLS)
    assert step is not None
    assert step.instruction == "Calculate 23 - 2."  # the temperatures, not the winds
    assert step.unit == "degrees celsius"
    assert step.added_for == "comparison"
    # one city looked up twice is one figure: nothing to compare yet
    assert comparison_step(task, calls[:2], ONE, TOOLS) is None
    # once in the plan, never again; and not without the calculator
    assert comparison_step(task, calls, [*ONE, step], TOOLS) is None
    no_calculator = {k: v for k, v in TOOLS.items() if k != "calculator"}
    assert comparison_step(task, calls, ONE, no_calculator) is None
    # the difference already worked out
    done = [*calls, call("calculator", 21, expression="23 - 2")]
    assert comparison_step(task, done, ONE, TOOLS) is None


def test_a_conversion_s_result_stands_for_the_figure_it_converted() -> None:
    task = "What's Cairo's temperature in Fahrenheit, and how far is that below 100 F?"
    calls = [
        weather_in("Cairo", 31),
        call("convert_units", 87.8, value=31, from_unit="C", to_unit="F"),
    ]
    step = comparison_step(task, calls, ONE, TOOLS)
    assert step is not None
    assert step.instruction == "Calculate 100 - 87.8."
    # before the conversion, 31 °C and 100 F are in two units: 31 °C is converted first
    first = comparison_step(task, calls[:1], ONE, TOOLS)
    assert first is not None
    assert first.instruction == "Convert 31 degrees celsius to degrees fahrenheit."


def test_a_ratio_is_the_larger_over_the_smaller_without_a_unit() -> None:
    task = "Everest is 8,849 m high. In feet, how many times taller is it than a 1,250 ft tower?"
    calls = [call("convert_units", 29032.152, value=8849, from_unit="m", to_unit="ft")]
    step = comparison_step(task, calls, ONE, TOOLS)
    assert step is not None
    assert step.instruction == "Calculate 29032.152 / 1250."
    assert step.unit is None


def test_what_is_left_is_the_count_there_is_minus_the_count_that_goes() -> None:
    task = (
        "We just got an order for 40 water bottles. How many will be left in stock once it ships?"
    )
    calls = [call("stock_level", 254, product="water bottle")]
    step = comparison_step(task, calls, ONE, TOOLS)
    assert step is not None
    assert step.instruction == "Calculate 254 - 40."
    # another product's stock is no count of water bottles
    other = [call("stock_level", 254, product="webcam")]
    assert comparison_step(task, other, ONE, TOOLS) is None


def test_a_comparison_of_the_request_s_own_figures_is_planned_first() -> None:
    same = planned_comparison(
        "My suitcase weighs 23 kg and my backpack 7 kg. How much heavier is the suitcase?", TOOLS
    )
    assert same is not None
    assert same.instruction == "Calculate 23 - 7."
    task = "Everest is 8,849 m high. In feet, how many times taller is it than a 1,250 ft tower?"
    first = planned_comparison(task, TOOLS)
    assert first is not None
    assert first.instruction == "Convert 8849 metres to feet."
    assert first.tools == ("convert_units",)
    # a third figure may change what is compared; no comparison asked; one figure only
    assert (
        planned_comparison(
            "A 23 kg case, a 7 kg bag, a 2 kg box: how much heavier is the case?", TOOLS
        )
        is None
    )
    assert planned_comparison("My case weighs 23 kg and my bag 7 kg.", TOOLS) is None
    assert planned_comparison("How much colder than 5 °C is it in Oslo?", TOOLS) is None


def test_a_percentage_on_top_multiplies_the_run_s_money_total() -> None:
    task = "My package is 44 oz. What does it cost to send it domestic, with 20% tax on top?"
    calls = [
        call("convert_units", 1.247, value=44, from_unit="oz", to_unit="kg"),
        call("shipping_cost", 6.27, weight_kg=1.247, zone="domestic"),
    ]
    step = percent_step(task, calls, ONE, TOOLS)
    assert step is not None
    assert step.instruction == "Calculate 6.27 * (1 + 20 / 100)."  # the 20 is used as given
    assert step.unit == "EUR"
    off = percent_step("The parcel is 15% off. What does it cost?", calls, ONE, TOOLS)
    assert off is not None
    assert off.instruction == "Calculate 6.27 * (1 - 15 / 100)."
    # the percentage already went into a call; or the total is no money (a word count)
    tipped = [*calls, call("add_tip", "tip: 1.25, total: 7.52", bill=6.27, tip_percent=20)]
    assert percent_step(task, tipped, ONE, TOOLS) is None
    counted = [*calls, call("word_count", 9, text="a b")]
    assert percent_step(task, counted, ONE, TOOLS) is None


def test_a_percentage_goes_on_a_calculation_the_plan_wrote_in_money() -> None:
    # "How much are 3 desk lamps with 20% tax?": 34.9 EUR looked up, "Calculate 34.9 * 3."
    # written in EUR; the calculator says no unit of its own, the step does
    task = "How much are 3 desk lamps with 20% tax?"
    product = PlanStep(1, "Calculate 34.9 * 3.", True, added_for="combination", unit="EUR")
    calls = [
        call("shipping_cost", 34.9, weight_kg=1, zone="eu"),
        call("calculator", "104.7", expression="34.9 * 3"),
    ]
    step = percent_step(task, calls, [*ONE, product], TOOLS)
    assert step is not None
    assert step.instruction == "Calculate 104.7 * (1 + 20 / 100)."
    assert step.unit == "EUR"
    # a calculation no step wrote, or one whose step has no unit, is no money total
    assert percent_step(task, calls, ONE, TOOLS) is None
    unitless = PlanStep(1, "Calculate 34.9 * 3.", True, added_for="combination")
    assert percent_step(task, calls, [*ONE, unitless], TOOLS) is None


def test_a_name_left_out_gets_the_same_lookup_once() -> None:
    found = [{"word": "Nairobi", "tool": "weather", "similarity": 0.11, "again": True}]
    step = name_lookup_step(found, ONE, TOOLS)
    assert step is not None
    assert step.call == ("weather", "city", "Nairobi")
    assert step.tools == ("weather",)
    assert step.instruction == "Current weather in a city: Nairobi"
    assert name_lookup_step(found, [*ONE, step], TOOLS) is None
    # a word that points to a tool (not a name owed the same call), or a tool of two arguments
    assert (
        name_lookup_step([{"word": "dollars", "tool": "weather", "similarity": 0.4}], ONE, TOOLS)
        is None
    )
    two = [{"word": "Oslo", "tool": "shipping_cost", "similarity": 0.1, "again": True}]
    assert name_lookup_step(two, ONE, TOOLS) is None


def test_the_owed_steps_come_in_order() -> None:
    task = "How much colder is it in Reykjavik than in Nairobi right now, in degrees C?"
    found = [{"word": "Nairobi", "tool": "weather", "similarity": 0.11, "again": True}]
    first = step_still_owed(task, [weather_in("Reykjavik", 2)], found, ONE, TOOLS)
    assert first is not None
    assert first.call == ("weather", "city", "Nairobi")
    calls = [weather_in("Reykjavik", 2), weather_in("Nairobi", 23)]
    then = step_still_owed(task, calls, [], [*ONE, first], TOOLS)
    assert then is not None
    assert then.instruction == "Calculate 23 - 2."
    # what is left is no product: 18.75 EUR a bottle times 40 bottles is not asked
    left = "We just got an order for 40 water bottles. How many will be left in stock?"
    priced = [call("product_price", 18.75, product="water bottle")]
    assert step_still_owed(left, priced, [], ONE, TOOLS) is None


def test_a_comparison_no_call_worked_out_leaves_the_run_unfinished() -> None:
    task = "Everest is 8,849 m high. In feet, how many times taller is it than a 1,250 ft tower?"
    tipped = [call("add_tip", "tip: 110612.50, total: 111862.50", bill=1250, tip_percent=8849)]
    assert comparison_left_undone(task, tipped, TOOLS) == [{"compared": "ratio"}]
    divided = [call("calculator", 23.2257216, expression="29032.152 / 1250")]
    assert comparison_left_undone(task, divided, TOOLS) == []
    # a subtraction is no ratio; nothing asked, nothing called: nothing found
    subtracted = [call("calculator", 27782.152, expression="29032.152 - 1250")]
    assert comparison_left_undone(task, subtracted, TOOLS) == [{"compared": "ratio"}]
    assert comparison_left_undone("How much is a lamp?", tipped, TOOLS) == []
    assert comparison_left_undone(task, [], TOOLS) == []


def test_a_threshold_question_converts_then_compares_then_says_yes_or_no() -> None:
    from lamina.layers.reasoning.final_arithmetic import threshold_answer

    task = "Is it above 50 Fahrenheit in Berlin right now?"
    asked = asked_comparison(task)
    assert asked is not None
    assert (asked.kind, asked.above, asked.limit) == ("threshold", True, 50.0)
    looked_up = [weather_in("Berlin", 11)]
    first = comparison_step(task, looked_up, ONE, TOOLS)
    assert first is not None
    assert first.instruction == "Convert 11 degrees celsius to degrees fahrenheit."
    assert first.added_for == "matching units"
    converted = [*looked_up, call("convert_units", 51.8, value=11, from_unit="C", to_unit="F")]
    then = comparison_step(task, converted, [*ONE, first], TOOLS)
    assert then is not None
    assert then.instruction == "Calculate 51.8 - 50."
    said = threshold_answer(task, then, "1.8")
    assert said is not None
    assert said.startswith("Yes: 51.8 ")
    assert "above 50" in said
    # below the limit: no; a question that is no threshold: nothing to say
    colder = comparison_step(
        "Is it above 50 F in Oslo?", [call("weather", "Oslo: 4 °C")], ONE, TOOLS
    )
    assert colder is not None
    below = threshold_answer("Is it above 60 F in Oslo?", _calc("60 - 39.2"), "20.8")
    assert below is not None
    assert below.startswith("No: 39.2")
    assert threshold_answer("How much warmer is it?", _calc("60 - 39.2"), "20.8") is None
    under = asked_comparison("Is my 23 kg suitcase under the 20 kg limit?")
    assert under is not None
    assert (under.kind, under.above, under.limit) == ("threshold", False, 20.0)


def _calc(operation: str) -> PlanStep:
    return PlanStep(1, f"Calculate {operation}.", True, added_for="comparison")
