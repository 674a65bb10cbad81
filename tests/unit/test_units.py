"""Units of measure: read from requests, tool schemas and answers (lamina/guards/units.py), and
used by grounding (a number written in lb never goes to `weight_kg`) and by the verdict (an
answer in days to "how many weeks" is unfinished)."""

from __future__ import annotations

from typing import Any

import pytest

from lamina.agents.verdict import judge_run
from lamina.guards.grounding import Grounding
from lamina.guards.unfinished import answered_in_another_unit
from lamina.guards.units import (
    Unit,
    asked_unit,
    declared_unit,
    quantities,
    unit_called,
    units_mentioned,
    wrong_unit,
)
from lamina.tools.decorator import tool


def names(units: Any) -> list[str]:
    return [u.name for u in units]


def test_quantities_read_units_after_and_before_numbers() -> None:
    found = quantities("a 9 lb box, $30, 8,849 m high, 16 °C, 3.5kg, 12 in the box, 5 million")
    assert [(v, names(u)) for v, u in found] == [
        (9.0, ["lb"]),
        (30.0, ["USD"]),
        (8849.0, ["m"]),
        (16.0, ["C"]),
        (3.5, ["kg"]),
        (12.0, []),  # "in" is not read as inches
        (5.0, []),
    ]
    ((_, units),) = quantities("50 pounds")
    assert names(units) == ["lb", "GBP"]  # both readings kept


def test_a_sign_at_a_number_is_kept_and_a_dash_between_numbers_is_none() -> None:
    found = quantities("Oslo: -3 °C, range 10-15 kg, on 2025-11-20, (1250 - 380) m")
    assert [(v, names(u)) for v, u in found] == [
        (-3.0, ["C"]),  # read as 3, it had been converted to 37.4 F (ok=True)
        (10.0, []),
        (15.0, ["kg"]),
        (2025.0, []),
        (11.0, []),
        (20.0, []),
        (1250.0, []),
        (380.0, []),
    ]


@pytest.mark.parametrize(
    ("request_text", "asked"),
    [
        ("What does the lamp cost in dollars?", ["USD"]),
        ("How many weeks are there between 3 March and 18 August?", ["week"]),
        ("the temperature in Oslo in fahrenheit", ["F"]),
        ("How much colder is it there, in degrees C?", ["C"]),
        ("Send a 2.4 kg parcel to the EU, in pounds sterling?", ["GBP"]),
        ("Convert it to euros and add a tip", ["EUR"]),
        ("What is 12 times 7?", []),
        ("Put it in the box in Berlin", []),
    ],
)
def test_asked_unit(request_text: str, asked: list[str]) -> None:
    assert names(asked_unit(request_text)) == asked


def test_declared_unit_comes_from_the_name_or_the_description() -> None:
    assert getattr(declared_unit("weight_kg", {}), "name", None) == "kg"
    described = {"description": "the parcel's weight in kilograms"}
    assert getattr(declared_unit("weight", described), "name", None) == "kg"
    assert declared_unit("amount", {"description": "the amount to convert"}) is None
    assert declared_unit("tip_percent", {}) is None
    # "pounds" names a mass and a currency: no declared unit from it
    assert declared_unit("cost", {"description": "in pounds"}) is None


SHIPPING = {
    "type": "object",
    "properties": {"weight_kg": {"type": "number"}, "zone": {"type": "string"}},
    "required": ["weight_kg", "zone"],
}


def test_a_number_written_in_another_unit_is_not_offered_to_a_declared_unit() -> None:
    request = "Got a 9 lb box to send within the EU. What's the shipping?"
    assert Grounding.from_texts([request]).narrow(SHIPPING) is None  # convert first
    converted = Grounding.from_texts([request, "4.082"]).narrow(SHIPPING)
    assert converted is not None
    assert converted["properties"]["weight_kg"]["enum"] == [4.082]
    same_unit = Grounding.from_texts(["Ship a 2.4 kg parcel to the EU."]).narrow(SHIPPING)
    assert same_unit is not None
    assert same_unit["properties"]["weight_kg"]["enum"] == [2.4]
    # an argument that declares no unit takes the number as written
    free = {"type": "object", "properties": {"value": {"type": "number"}}}
    narrowed = Grounding.from_texts([request]).narrow(free)
    assert narrowed is not None
    assert narrowed["properties"]["value"]["enum"] == [9]


def test_wrong_unit_compares_the_answer_with_what_was_asked() -> None:
    weeks = "How many weeks are there between 3 March 2025 and 18 August 2025?"
    assert wrong_unit(weeks, "The tool returned 168 days.", []) == {
        "asked": "week",
        "answered": "day",
        "figure": "168",
    }
    assert wrong_unit(weeks, "24 weeks (168 days)", []) is None
    # a bare figure takes the unit its tool says it returns
    price = [("Look up the unit price in euros of a product.", "34.9")]
    found = wrong_unit("What does the desk lamp cost in dollars?", "34.9", price)
    assert found is not None
    assert (found["asked"], found["answered"]) == ("USD", "EUR")
    assert wrong_unit("What does the desk lamp cost in dollars?", "37.69", price) is None
    assert wrong_unit("What does the desk lamp cost?", "34.9", price) is None


@tool
def product_price(product: str) -> float:
    """Look up the unit price in euros of a product in our shop.

    Args:
        product: the product's name.
    """
    return 34.9


def test_an_answer_in_another_unit_is_unfinished() -> None:
    request = "What does the desk lamp cost in dollars?"
    calls = [{"name": "product_price", "args": {"product": "desk lamp"}, "result": "34.9"}]
    found = answered_in_another_unit(request, "34.9", calls, {"product_price": product_price})
    assert [f["word"] for f in found] == ["USD"]
    state = {
        "task": request,
        "answer": "34.9",
        "step_results": [{"index": 0, "result": "34.9", "tool_calls": calls}],
        "unhandled": found,
    }
    error = judge_run(state)
    assert error is not None
    assert error.kind == "unfinished"
    assert "in USD" in error.message
    assert "EUR" in error.message


CONVERT = {
    "type": "object",
    "properties": {
        "amount": {"type": "number"},
        "from_currency": {"type": "string", "description": "its currency code, e.g. EUR"},
        "to_currency": {"type": "string", "description": "the currency code wanted"},
    },
    "required": ["amount", "from_currency", "to_currency"],
}


def enums(narrowed: Any) -> dict[str, Any]:
    return {k: v.get("enum") for k, v in narrowed["properties"].items()}


@pytest.mark.parametrize(
    ("texts", "source", "target"),
    [
        (["Convert 300 dollars to euros"], ["USD"], ["EUR"]),
        (["How much is 40 quid in yen?"], ["GBP"], ["JPY"]),
        # a follow-up: the unit asked for is this turn's, the source an earlier turn's
        (
            ["and in euros?", "Convert 300 dollars to yen", "That is 41,666.67 yen."],
            ["USD", "JPY"],
            ["EUR"],
        ),
    ],
)
def test_unit_arguments_are_grounded_in_the_request(
    texts: list[str], source: list[str], target: list[str]
) -> None:
    narrowed = Grounding.from_texts(texts).narrow(CONVERT)
    assert narrowed is not None
    got = enums(narrowed)
    assert (got["from_currency"], got["to_currency"]) == (source, target)


def test_unit_arguments_stay_free_when_no_unit_is_asked_for() -> None:
    narrowed = Grounding.from_texts(["Convert 300 dollars"]).narrow(CONVERT)
    assert narrowed is not None
    assert enums(narrowed)["to_currency"] is None


def test_an_enum_of_codes_is_narrowed_to_the_codes_named() -> None:
    schema = {
        "type": "object",
        "properties": {
            "to_unit": {"type": "string", "enum": ["km", "mi", "ft"], "description": "unit"},
        },
    }
    narrowed = Grounding.from_texts(["How far is 10 km in miles?"]).narrow(schema)
    assert narrowed is not None
    assert enums(narrowed)["to_unit"] == ["mi"]


def test_a_bare_result_takes_the_unit_its_tool_says_it_returns() -> None:
    from lamina.guards.units import with_returned_unit

    assert with_returned_unit("34.9", "Look up the unit price in euros of a product.") == "34.9 EUR"
    assert with_returned_unit("168", "The number of days from one date to another.") == "168 day"
    assert with_returned_unit("Lisbon: 21 °C", "Current weather in a city.") is None
    assert with_returned_unit("42", "Evaluate an arithmetic expression.") is None
    # the lamp's price converted "in dollars": from the unit the price came in
    texts = ["What does the desk lamp cost in dollars?", "34.9 EUR"]
    narrowed = Grounding.from_texts(texts).narrow(CONVERT)
    assert narrowed is not None
    assert (enums(narrowed)["from_currency"], enums(narrowed)["to_currency"]) == (["EUR"], ["USD"])


@pytest.mark.parametrize(
    ("written", "source", "same"),
    [
        ("37.69", 37.6854, True),  # rounded at the precision written
        ("87", 87.0, True),
        ("1,416.00", 1416, True),
        ("5", -5.0, True),  # "fell by 5"
        ("38", 37.6854, True),
        ("37.7", 37.6854, True),
        ("37.5", 37.6854, False),  # near, but not the figure
        ("409.5", 40950.0, False),
        ("abc", 1.0, False),
    ],
)
def test_one_rule_says_when_a_written_figure_is_a_number(written, source, same) -> None:
    from lamina.guards.numbers import same_figure

    assert same_figure(written, source) is same


def test_units_mentioned_anywhere_and_short_ones_only_at_a_number() -> None:
    found = units_mentioned("I run 5 km every day. How many miles is that in a week?")
    assert {u.name for units in found for u in units} == {"km", "day", "mi", "week"}
    assert units_mentioned("Plan A: m and C are letters here") == []
    assert unit_called("kg") == Unit("kg", "mass")
