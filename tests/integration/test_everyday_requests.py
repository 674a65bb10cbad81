"""Everyday requests that were answered wrong with ok=True, or made no call, with the real model
on the numeric path the run uses: a share of a figure, packs of things, a count in words, a
negative temperature converted, a passage counted, and a question whose fitting tool cannot
take what was given. The answers are asserted: right and ok, or not ok."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tools import tool

_CELSIUS = {"helsinki": -4.0, "rome": 18.0}
_PRICES = {"desk lamp": 34.9, "office chair": 149.0}


@tool(parse_docstring=True)
def city_weather(city: str) -> str:
    """Current weather in a city: temperature in degrees Celsius, conditions and wind.

    Args:
        city: the city's name, e.g. Porto.
    """
    key = city.strip().lower()
    if key not in _CELSIUS:
        raise ValueError(f"Unknown city {city!r}; known: {', '.join(_CELSIUS)}.")
    return f"{city.strip()}: {_CELSIUS[key]:g} °C, cloudy, wind 9 km/h"


@tool
def convert_temperature(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a temperature between Celsius (C) and Fahrenheit (F)."""
    units = [u.strip().upper()[:1] for u in (from_unit, to_unit)]
    if any(u not in "CF" for u in units):
        raise ValueError(f"Unknown unit in {from_unit!r}, {to_unit!r}; known: C, F.")
    if units[0] == units[1]:
        return value
    return round(value * 9 / 5 + 32, 2) if units[0] == "C" else round((value - 32) * 5 / 9, 2)


@tool(parse_docstring=True)
def unit_price(product: str) -> float:
    """Look up the price in euros of one unit of a product in our shop.

    Args:
        product: the product's name, e.g. kettle.
    """
    key = product.strip().lower().rstrip("s")
    if key not in _PRICES:
        raise ValueError(f"Unknown product {product!r}; the catalogue has: {', '.join(_PRICES)}.")
    return _PRICES[key]


@tool(parse_docstring=True)
def count_words(text: str) -> int:
    """Count the words in a piece of text.

    Args:
        text: the text to count.
    """
    return len(text.split())


@tool(parse_docstring=True)
def days_apart(start: str, end: str) -> int:
    """The number of days from one date to another.

    Args:
        start: the first date as YYYY-MM-DD.
        end: the second date as YYYY-MM-DD.
    """
    import datetime as dt

    return (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days


AGENT_TOOLS = [city_weather, convert_temperature, unit_price, count_words, days_apart]
"""The tools of `tools_agent` (conftest), which adds lamina's calculator."""


def _done(result: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(c.name, dict(c.arguments)) for c in result.tool_calls if c.error is None]


def test_a_share_of_a_figure_is_worked_out_by_the_calculator(
    tools_agent: Any, answer_figures: Any
) -> None:
    result = tools_agent.run("how much is a third of 96?")
    assert result.ok, (result.error, result.answer)
    assert answer_figures(result.answer)[-1] == 32, result.answer
    assert _done(result) == [("calculator", {"expression": "a third of 96"})]


def test_packs_of_things_are_a_product(tools_agent: Any, answer_figures: Any) -> None:
    result = tools_agent.run("I have 3 boxes of 24 eggs. How many eggs is that?")
    assert result.ok, (result.error, result.answer)
    assert answer_figures(result.answer)[-1] == 72, result.answer


def test_a_count_in_words_of_things_a_tool_prices_is_looked_up(
    tools_agent: Any, answer_figures: Any
) -> None:
    result = tools_agent.run("Two desk lamps - what do they cost together?")
    if result.ok:
        assert abs(answer_figures(result.answer)[-1] - 69.8) < 0.01, result.answer
        assert ("unit_price", {"product": "desk lamp"}) in _done(result)
    else:
        assert result.error is not None


def test_a_negative_temperature_is_converted_with_its_sign(
    tools_agent: Any, answer_figures: Any
) -> None:
    result = tools_agent.run("What is the temperature in Helsinki in Fahrenheit?")
    if result.ok:
        # -4 °C is 24.8 °F; converted as 4 (or the wind's 9), it had been answered with ok=True
        assert answer_figures(result.answer)[-1] == 24.8, result.answer
        conversions = [args for name, args in _done(result) if name == "convert_temperature"]
        assert [a["value"] for a in conversions][-1] == -4, conversions
    else:
        assert result.error is not None


def test_the_passage_to_count_is_counted_whole(tools_agent: Any, answer_figures: Any) -> None:
    result = tools_agent.run("Count the words in: the quick brown fox jumps over the dog")
    if result.ok:
        assert answer_figures(result.answer)[-1] == 8, result.answer
        assert ("count_words", {"text": "the quick brown fox jumps over the dog"}) in _done(result)
    else:
        assert result.error is not None


def test_a_question_the_fitting_tool_cannot_take_is_the_model_s_own_and_flagged(
    tools_agent: Any,
) -> None:
    # days_apart fits "days", but no date is given: no call (the words went to the calculator
    # and a date tool before), and the answer is flagged as the model's own
    result = tools_agent.run("how many days are in a week?")
    assert result.tool_calls == [], result.tool_calls
    assert not result.ok
    assert result.error is not None
    assert result.error.kind == "unverified", result.error
    assert "days_apart needs start and end" in result.error.message, result.error


def test_one_amount_shared_is_divided(tools_agent: Any, answer_figures: Any) -> None:
    result = tools_agent.run("Split a 90 euro bill between 3 people")
    assert result.ok, (result.error, result.answer)
    assert answer_figures(result.answer)[-1] == 30, result.answer
    assert _done(result) == [("calculator", {"expression": "90 / 3"})]


def test_a_power_in_words_is_worked_out_by_the_calculator(
    tools_agent: Any, answer_figures: Any
) -> None:
    result = tools_agent.run("What is 2 to the power of 10?")
    assert result.ok, (result.error, result.answer)
    assert answer_figures(result.answer)[-1] == 1024, result.answer


@pytest.mark.parametrize(
    ("request_text", "figure"),
    [
        ("What's 7 squared minus 9?", 40),
        ("What is the square root of 196?", 14),
        ("What's 1200 divided by 16, times 3?", 225),
    ],
)
def test_arithmetic_written_in_words_is_worked_out_as_written(
    tools_agent: Any, answer_figures: Any, request_text: str, figure: float
) -> None:
    result = tools_agent.run(request_text)
    assert result.ok, (result.error, result.answer)
    assert answer_figures(result.answer)[-1] == figure, result.answer


def test_round_it_rounds_the_earlier_figure_with_the_calculator(
    tools_agent: Any, answer_figures: Any
) -> None:
    # the model had done "Round it" alone and answered 22.222, ok; then the calculator
    # dropped round() from "round(22.222)"
    result = tools_agent.run("Convert 72 Fahrenheit to Celsius, then round it")
    assert result.ok, (result.error, result.answer)
    expressions = [c.arguments.get("expression") for c in result.tool_calls if c.error is None]
    assert expressions[-1] == "round(22.22)", expressions
    assert answer_figures(result.answer)[-1] == 22, result.answer


def test_the_identifier_a_pasted_email_gives_is_read_where_it_stands(tools_agent: Any) -> None:
    # SmolLM2 had answered "The order number is 12 Harbour Lane, Cork.": no model decides now
    result = tools_agent.run(
        "Customer email below. What's the order number?\n\nHi team, my order #A-20931 arrived "
        "yesterday but the lamp inside is cracked. I paid 34.90 for it. Please send a "
        "replacement to 12 Harbour Lane, Cork. Thanks, Declan"
    )
    assert result.ok, (result.error, result.answer)
    assert result.answer == "The order number is A-20931."
    assert result.tool_calls == []
    assert [s.source for s in result.steps] == ["extract"]
