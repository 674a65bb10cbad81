"""The sum a request asks for of what its lookups returned (lamina/guards/totals.py), the step
that works it out (lamina/layers/reasoning/final_arithmetic.py's `total_step`)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tools import tool

from lamina.guards.totals import addends, asked_total
from lamina.layers.reasoning.final_arithmetic import ADDED_FOR_TOTAL, total_step
from lamina.layers.reasoning.owed_steps import step_still_owed
from lamina.layers.reasoning.plan import PlanStep
from lamina.tools.calculator import calculator
from tests.unit.shop_stubs import product_price, stock_level


@tool
def convert_currency(amount: float, from_currency: str, to_currency: str) -> float:
    """Convert money between currencies at today's fixed exchange rates."""
    return amount


TOOLS = {t.name: t for t in (product_price, stock_level, convert_currency, calculator)}
ONE = [PlanStep(0, "the request", True)]


def call(name: str, result: Any, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "result": result, "error": None}


def price(product: str, euros: float) -> dict[str, Any]:
    return call("product_price", str(euros), product=product)


MONITOR, WEBCAM, BACKPACK = price("monitor", 219.0), price("webcam", 64.5), price("backpack", 59.9)


@pytest.mark.parametrize(
    ("request_text", "words"),
    [
        ("A monitor and a webcam together cost how much?", "together"),
        ("What do a backpack and a lamp cost altogether?", "altogether"),
        ("What's the combined price of a mouse and a keyboard?", "combined"),
        ("How much is that in total?", "in total"),
        ("What's the total?", "total"),
        ("What is the sum of both prices?", "sum of"),
        ("What does a monitor cost?", None),
        ("That is totally fine.", None),
    ],
)
def test_the_words_that_ask_for_a_sum(request_text: str, words: str | None) -> None:
    assert asked_total(request_text) == words


def test_the_lookups_a_total_adds_are_in_call_order() -> None:
    request = "A monitor and a webcam together cost how much?"
    assert [v for v, _ in addends(request, [WEBCAM, MONITOR], TOOLS)] == [64.5, 219.0]


@pytest.mark.parametrize(
    ("request_text", "calls"),
    [
        # no word asks for a sum: both prices are the answer
        ("What do a monitor and a webcam cost?", [MONITOR, WEBCAM]),
        # one figure is no sum
        ("A monitor and a webcam together cost how much?", [MONITOR]),
        # a repeated call is one figure
        ("A monitor and a webcam together cost how much?", [MONITOR, MONITOR]),
        # the request gives a count no call took: the sum of the prices is not what it asks
        ("2 monitors and a webcam: what's the total?", [MONITOR, WEBCAM]),
        # a percentage no call took, the same
        ("A monitor and a webcam with 20% tax, in total?", [MONITOR, WEBCAM]),
        # counts are no values of a thing
        (
            "How many monitors and webcams are there in total?",
            [call("stock_level", "12", product="monitor"), call("stock_level", "3", product="cam")],
        ),
    ],
)
def test_no_addends(request_text: str, calls: list[dict[str, Any]]) -> None:
    assert addends(request_text, calls, TOOLS) == []


def test_a_figure_a_later_call_used_is_no_addend() -> None:
    converted = call(
        "convert_currency", "69.66", amount=64.5, from_currency="EUR", to_currency="USD"
    )
    request = "A monitor and a webcam together cost how much?"
    # the webcam's 64.5 EUR went into the conversion; its 69.66 USD and the monitor's 219 EUR
    # are in two units, so nothing is added
    assert addends(request, [MONITOR, WEBCAM, converted], TOOLS) == []


def test_the_step_adds_the_lookups_once() -> None:
    request = "What do a backpack, a monitor and a webcam cost altogether?"
    calls = [BACKPACK, MONITOR, WEBCAM]
    step = total_step(request, calls, ONE, TOOLS)
    assert step is not None
    assert step.instruction == "Calculate 59.9 + 219 + 64.5."
    assert (step.added_for, step.tools, step.unit) == (ADDED_FOR_TOTAL, ("calculator",), "EUR")
    assert total_step(request, calls, [*ONE, step], TOOLS) is None


def test_the_step_needs_the_calculator() -> None:
    tools = {k: v for k, v in TOOLS.items() if k != "calculator"}
    assert total_step("Together?", [MONITOR, WEBCAM], ONE, tools) is None


def test_the_sum_is_owed_before_a_conversion() -> None:
    request = "How much do a monitor and a webcam cost together in dollars?"
    found: list[dict[str, Any]] = [{"word": "usd", "answered": "eur", "figure": "64.5"}]
    step = step_still_owed(request, [MONITOR, WEBCAM], found, ONE, TOOLS)
    assert step is not None
    assert step.added_for == ADDED_FOR_TOTAL
