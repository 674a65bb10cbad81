"""What a basket of things costs: the things and their counts (lamina/guards/totals.py's
`basket`), one price lookup per thing (lamina/layers/reasoning/baskets.py's
`planned_basket`), then each price times its count, added (`basket_step`)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tools import tool

from lamina.guards.tool_relevance import ToolFit
from lamina.guards.totals import basket
from lamina.layers.reasoning.baskets import (
    ADDED_FOR_BASKET,
    ADDED_FOR_PRICE,
    basket_step,
    planned_basket,
)
from lamina.layers.reasoning.plan import PlanStep
from lamina.tools.calculator import calculator
from tests.unit.shop_stubs import product_price


@tool
def shipping_cost(weight_kg: float, zone: str) -> float:
    """Shipping cost in euros of a parcel: its weight and zone."""
    return 1.0


@tool
def word_count(text: str) -> int:
    """Count the words in a piece of text."""
    return 1


TOOLS: dict[str, Any] = {t.name: t for t in (shipping_cost, word_count, product_price)}
WITH_CALCULATOR = {**TOOLS, calculator.name: calculator}


@pytest.mark.parametrize(
    ("request_text", "items"),
    [
        (
            "What do 5 phone cases and 2 water bottles cost altogether?",
            [(5, "phone cases"), (2, "water bottles")],
        ),
        (
            "How much would 10 usb-c cables and a backpack cost?",
            [(10, "usb-c cables"), (1, "backpack")],
        ),
        ("Total for a webcam plus a desk lamp?", [(1, "webcam"), (1, "desk lamp")]),
        (
            "3 monitors, 2 webcams and a keyboard, how much?",
            [(3, "monitors"), (2, "webcams"), (1, "keyboard")],
        ),
        ("two desk lamps and an office chair in dollars", [(2, "desk lamps"), (1, "office chair")]),
    ],
)
def test_the_things_of_a_basket_with_their_counts(
    request_text: str, items: list[tuple[int, str]]
) -> None:
    assert [(i.count, i.thing) for i in basket(request_text)] == items


@pytest.mark.parametrize(
    "request_text",
    [
        "How much are 5 phone cases?",  # one thing
        "Ship 4 kg and 2 kg to Europe",  # amounts, not things
        "Convert 5 miles and 3 km to feet",
        "What is 12 times 7 and 3 times 4?",
        "Is it warmer in Lisbon or in Berlin?",  # no counts or articles
    ],
)
def test_no_basket(request_text: str) -> None:
    assert basket(request_text) == []


def close_to_price(text: str) -> ToolFit:
    # "the price of usb-c cable" is closer to shipping_cost's description (0.45 in the real
    # encoder), a tool of two arguments
    shipping = 0.45 if "cable" in text else 0.2
    return ToolFit(
        scores={"shipping_cost": shipping, "word_count": 0.05, "product_price": 0.4},
        name_scores={"shipping_cost": 0.2, "word_count": 0.0, "product_price": 0.55},
    )


def test_one_price_lookup_per_thing_in_the_singular() -> None:
    steps = planned_basket(
        "How much would 10 usb-c cables and a backpack cost?", TOOLS, close_to_price
    )
    assert [s.call for s in steps] == [
        ("product_price", "product", "usb-c cable"),
        ("product_price", "product", "backpack"),
    ]
    assert {s.added_for for s in steps} == {ADDED_FOR_PRICE}
    assert [s.index for s in steps] == [0, 1]


@pytest.mark.parametrize(
    "request_text",
    [
        "How many days between a Monday and a Friday?",  # asks no price
        "I paid 500 euros for 2 monitors and a webcam, what change?",  # a figure not a count
        "How much are 5 phone cases?",  # one thing: a product, planned elsewhere
        "How many desk lamps and backpacks do we have in stock?",  # our stock
    ],
)
def test_no_basket_planned(request_text: str) -> None:
    assert planned_basket(request_text, TOOLS, close_to_price) == ()


def test_no_basket_planned_without_a_tool_that_prices() -> None:
    task = "What do 5 phone cases and 2 water bottles cost?"
    assert planned_basket(task, {"word_count": word_count}, close_to_price) == ()

    def far(_: str) -> ToolFit:
        return ToolFit(scores={"product_price": 0.1}, name_scores={"product_price": 0.1})

    assert planned_basket(task, TOOLS, far) == ()


def priced(product: str, price: float) -> dict[str, Any]:
    return {
        "name": "product_price",
        "args": {"product": product},
        "result": str(price),
        "error": None,
    }


TASK = "What do 5 phone cases and 2 water bottles cost altogether?"
PLAN = [
    PlanStep(0, "price: phone case", True, added_for=ADDED_FOR_PRICE),
    PlanStep(1, "price: water bottle", True, added_for=ADDED_FOR_PRICE),
]


def test_each_price_times_its_count_added() -> None:
    calls = [priced("phone case", 15.0), priced("water bottle", 18.75)]
    step = basket_step(TASK, calls, PLAN, WITH_CALCULATOR)
    assert step is not None
    assert step.instruction == "Calculate 5 * 15 + 2 * 18.75."
    assert (step.index, step.added_for, step.unit) == (2, ADDED_FOR_BASKET, "EUR")


def test_a_count_of_one_is_the_price_itself() -> None:
    task = "How much would 10 usb-c cables and a backpack cost?"
    calls = [priced("usb-c cable", 9.5), priced("backpack", 59.9)]
    step = basket_step(task, calls, PLAN, WITH_CALCULATOR)
    assert step is not None
    assert step.instruction == "Calculate 10 * 9.5 + 59.9."


def test_no_basket_step_until_each_thing_is_priced_or_once_made() -> None:
    calls = [priced("phone case", 15.0)]
    assert basket_step(TASK, calls, PLAN, WITH_CALCULATOR) is None
    both = [*calls, priced("water bottle", 18.75)]
    done = [*PLAN, PlanStep(2, "Calculate 5 * 15 + 2 * 18.75.", True, added_for=ADDED_FOR_BASKET)]
    assert basket_step(TASK, both, done, WITH_CALCULATOR) is None
    assert basket_step(TASK, both, PLAN, TOOLS) is None  # no calculator
    unplanned = [PlanStep(0, TASK, True)]
    assert basket_step(TASK, both, unplanned, WITH_CALCULATOR) is None
