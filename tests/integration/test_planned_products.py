"""The step that multiplies a value of one thing by a count of those things, with the real model
on the numeric path the run uses: the count the request writes, and the count a tool returns
after the lookup a word of the request points to. The answers are asserted."""

from __future__ import annotations

import re
from typing import Any

import pytest
from langchain_core.tools import tool

_SHOP = {"teapot": (27.5, 14), "kettle": (42.0, 8), "mug": (6.25, 120)}


def _item(text: str) -> str:
    words = {w.rstrip("s") for w in re.findall(r"[a-z]+", text.lower())}
    found = [name for name in _SHOP if name in words]
    if len(found) != 1:
        raise ValueError(f"Unknown item {text!r}; the shop sells: {', '.join(_SHOP)}.")
    return found[0]


@tool
def unit_price(item: str) -> float:
    """Look up the unit price in euros of an item in the shop.

    Args:
        item: the item's name.
    """
    return _SHOP[_item(item)][0]


@tool
def units_in_stock(item: str) -> int:
    """How many units of an item are in stock in the warehouse.

    Args:
        item: the item's name.
    """
    return _SHOP[_item(item)][1]


AGENT_TOOLS = [unit_price, units_in_stock]
"""The tools of `tools_agent` (conftest), which adds lamina's calculator."""


def test_a_lookup_the_request_points_to_then_the_product(
    tools_agent: Any, answer_figures: Any
) -> None:
    result = tools_agent.run(
        "How much would every mug we have in the warehouse cost at the unit price?"
    )
    assert result.ok, (result.error, result.answer)
    assert answer_figures(result.answer) == [750], result.answer  # 6.25 EUR x 120 mugs
    done = [(c.name, dict(c.arguments)) for c in result.tool_calls if c.error is None]
    assert ("units_in_stock", {"item": "mug"}) in done
    assert done[-1] == ("calculator", {"expression": "6.25 * 120"})
    assert result.steps[-1].instruction == "Calculate 6.25 * 120."


def test_a_count_left_unused_is_never_an_ok_answer(tools_agent: Any, answer_figures: Any) -> None:
    # SmolLM2 looks up the price, then the stock: two counts of teapots (5 and 14) for one
    # price leave the product open, so no step is added; the answer is right, or not ok
    result = tools_agent.run("I need 5 teapots. Look up the unit price of a teapot.")
    if result.ok:
        assert answer_figures(result.answer) == [137.5], result.answer
    else:
        assert result.error is not None
        assert result.error.kind == "unused_input", result.error
        assert "5" in result.error.tried


def test_a_price_left_out_of_the_arithmetic_is_never_an_ok_answer(
    tools_agent: Any, answer_figures: Any
) -> None:
    # SmolLM2 looked up the price, then the stock, and wrote `calculator("12 + 120")`: 132
    # with a tool behind it; the price nothing used makes the run unfinished
    result = tools_agent.run("Look up the unit price of the mug: I want 12 mugs.")
    if result.ok:
        assert answer_figures(result.answer) == [75], result.answer  # 6.25 EUR x 12
    else:
        assert result.error is not None
        assert result.error.kind in ("unfinished", "unused_input"), result.error


def test_a_value_the_request_gives_times_its_count(tools_agent: Any, answer_figures: Any) -> None:
    result = tools_agent.run("Each ticket costs 12 EUR. What do 5 tickets cost?")
    assert result.ok, (result.error, result.answer)
    assert answer_figures(result.answer) == [60], result.answer
    assert [(c.name, dict(c.arguments)) for c in result.tool_calls] == [
        ("calculator", {"expression": "12 * 5"})
    ]


def test_a_rate_per_month_over_a_year(tools_agent: Any, answer_figures: Any) -> None:
    result = tools_agent.run("I pay 950 EUR a month in rent. How much is that per year?")
    assert result.ok, (result.error, result.answer)
    assert answer_figures(result.answer) == [11400], result.answer
    assert [(c.name, dict(c.arguments)) for c in result.tool_calls] == [
        ("calculator", {"expression": "950 * 12"})
    ]


@pytest.mark.parametrize("request_text", ["How much is a teapot?", "What does a teapot cost?"])
def test_an_amount_asked_of_a_named_thing_is_looked_up(
    tools_agent: Any, request_text: str, answer_figures: Any
) -> None:
    # no word of the description fits (0.2-0.3): the question asks for an amount, the tool's
    # name is close, and a model knows no prices of this shop
    result = tools_agent.run(request_text)
    assert result.ok, (result.error, result.answer)
    assert answer_figures(result.answer) == [27.5], result.answer
    assert "unit_price" in [c.name for c in result.tool_calls if c.error is None]


def test_a_follow_up_works_on_the_last_answer_s_figure(
    tools_agent: Any, answer_figures: Any
) -> None:
    first = tools_agent.run("What does a kettle cost?", thread_id="follow-up")
    assert first.ok, (first.error, first.answer)
    assert answer_figures(first.answer) == [42], first.answer
    second = tools_agent.run("and what is that plus 10?", thread_id="follow-up")
    assert second.ok, (second.error, second.answer)
    assert answer_figures(second.answer) == [52], second.answer
    assert [(c.name, dict(c.arguments)) for c in second.tool_calls] == [
        ("calculator", {"expression": "42 + 10"})
    ]
