"""A yes-or-no question whether a thing's price or our stock of it passes a limit, and a
percentage on or off a thing's price: "enough ...
for N" as a threshold (lamina/guards/comparisons.py), the lookup planned for it
(lamina.layers.reasoning.thing_lookups.py) and the comparison of a count with the limit
(lamina/layers/reasoning/final_arithmetic.py's `comparison_step`)."""

from __future__ import annotations

from typing import Any

import pytest

from lamina.guards.comparisons import asked_comparison
from lamina.guards.tool_relevance import ToolFit
from lamina.layers.reasoning.final_arithmetic import comparison_step, threshold_answer
from lamina.layers.reasoning.plan import PlanStep
from lamina.layers.reasoning.thing_lookups import (
    ADDED_FOR_PERCENT_BASE,
    ADDED_FOR_THRESHOLD,
    planned_percent,
    planned_threshold,
)
from lamina.tools.calculator import calculator
from tests.unit.shop_stubs import product_price, stock_level

TOOLS: dict[str, Any] = {t.name: t for t in (product_price, stock_level, calculator)}


def fit(text: str) -> ToolFit:
    price = 0.5 if "price" in text else 0.1
    return ToolFit(
        scores={"product_price": price, "stock_level": 0.6 - price, "calculator": 0.0},
        name_scores={"product_price": price, "stock_level": 0.6 - price, "calculator": 0.0},
    )


@pytest.mark.parametrize(
    ("request_text", "limit"),
    [
        ("Do we have enough wireless mice for an order of 150?", 150.0),
        ("Have we got enough backpacks for 30?", 30.0),
        ("Is there enough coffee for a team of 12?", 12.0),
    ],
)
def test_enough_for_a_figure_is_a_threshold_reached_from_above(
    request_text: str, limit: float
) -> None:
    asked = asked_comparison(request_text)
    assert asked is not None
    assert (asked.kind, asked.above, asked.limit) == ("threshold", True, limit)


@pytest.mark.parametrize(
    ("request_text", "call"),
    [
        ("Is a standing desk more than 300 euros?", ("product_price", "product", "standing desk")),
        ("Does a monitor cost over 200 euros?", ("product_price", "product", "monitor")),
        ("Is the backpack under 50 euros?", ("product_price", "product", "backpack")),
        (
            "Do we have enough wireless mice for an order of 150?",
            ("stock_level", "product", "wireless mice"),
        ),
        ("Do we have enough backpacks for an order of 40?", ("stock_level", "product", "backpack")),
    ],
)
def test_the_figure_a_threshold_compares_is_looked_up(
    request_text: str, call: tuple[str, str, str]
) -> None:
    (step,) = planned_threshold(request_text, TOOLS, fit)
    assert step.call == call
    assert step.added_for == ADDED_FOR_THRESHOLD


@pytest.mark.parametrize(
    "request_text",
    [
        "Are 3 webcams more than 150 euros?",  # a count too: no single lookup
        "Is it above 50 Fahrenheit in Berlin?",  # no price, no stock
        "Is a standing desk more expensive than a monitor?",  # a choice, no limit
        "What does a standing desk cost?",
    ],
)
def test_no_threshold_lookup(request_text: str) -> None:
    assert planned_threshold(request_text, TOOLS, fit) == ()


def test_our_count_is_compared_with_the_limit_and_answered_yes_or_no() -> None:
    task = "Do we have enough wireless mice for an order of 150?"
    calls = [
        {
            "name": "stock_level",
            "args": {"product": "wireless mice"},
            "result": "138",
            "error": None,
        }
    ]
    plan = [PlanStep(0, "count: wireless mice", True, added_for=ADDED_FOR_THRESHOLD)]
    step = comparison_step(task, calls, plan, TOOLS)
    assert step is not None
    assert step.instruction == "Calculate 150 - 138."
    assert threshold_answer(task, step, "12") == "No: 138 is 12 below 150."


@pytest.mark.parametrize(
    ("request_text", "thing"),
    [
        ("What's 40% off a monitor?", "monitor"),
        ("A backpack with a 15% discount, what do I pay?", "backpack"),
        ("How much is the webcam with 20% tax?", "webcam"),
    ],
)
def test_the_price_a_percentage_changes_is_looked_up(request_text: str, thing: str) -> None:
    (step,) = planned_percent(request_text, TOOLS, fit)
    assert step.call == ("product_price", "product", thing)
    assert step.added_for == ADDED_FOR_PERCENT_BASE


@pytest.mark.parametrize(
    "request_text",
    [
        "How much are 3 desk lamps with 20% tax?",  # a count too
        "What's 40% off 250 euros?",  # the amount is given
        "What's 40% off a monitor and a webcam?",  # two things
        "What's 40% of a monitor?",  # a share, not a change
    ],
)
def test_no_price_lookup_for_a_percentage(request_text: str) -> None:
    assert planned_percent(request_text, TOOLS, fit) == ()
