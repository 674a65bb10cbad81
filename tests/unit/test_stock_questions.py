"""A question how many of a thing we have (lamina/guards/tool_shortlist.py's
`asks_about_our_stock`), planned as one count per thing (lamina/layers/reasoning/
lookup_answers.py's `planned_stock`); what is left without a count that goes is no remainder
(lamina/guards/comparisons.py); a value of marks alone is no text anyone gave
(lamina/guards/ungrounded.py)."""

from __future__ import annotations

import pytest
from langchain_core.tools import tool

from lamina.guards.comparisons import asked_comparison
from lamina.guards.tool_relevance import ToolFit
from lamina.guards.tool_shortlist import asks_about_our_stock, step_needs_tool
from lamina.guards.ungrounded import ungrounded_strings
from lamina.layers.reasoning.lookup_answers import ADDED_FOR_STOCK, planned_stock
from tests.unit.shop_stubs import product_price, stock_level


@tool
def word_count(text: str) -> int:
    """Count the words in a piece of text."""
    return 1


TOOLS = {t.name: t for t in (word_count, product_price, stock_level)}


@pytest.mark.parametrize(
    ("request_text", "ours"),
    [
        ("How many webcams do we have?", True),
        ("How many monitors are left in the warehouse?", True),
        ("Do we still have water bottles?", True),
        ("How many desk lamps are in stock?", True),
        ("How many legs does a spider have?", False),
        ("How many days do I have left until Christmas?", False),
        ("how many mechanical keyboards are left", True),
        ("How many wireless mice are still available?", True),
        ("How many days are left until Christmas?", False),  # a count of a unit
        ("How many people live in Paris?", False),
    ],
)
def test_a_question_about_our_stock(request_text: str, ours: bool) -> None:
    assert asks_about_our_stock(request_text) is ours


def weak(_: str) -> ToolFit:
    # "How many webcams do we have?": 0.21 from stock_level, no tool close by meaning
    return ToolFit(scores={"word_count": 0.06, "product_price": 0.11, "stock_level": 0.21})


def test_a_stock_question_needs_a_tool_that_counts() -> None:
    step = "How many webcams do we have?"
    assert step_needs_tool(step, TOOLS, fit=weak(step))
    assert not step_needs_tool(step, {"product_price": product_price}, fit=weak(step))


@pytest.mark.parametrize(
    ("request_text", "things"),
    [
        ("How many webcams do we have?", ["webcams"]),
        ("Do we still have water bottles? How many?", ["water bottles"]),
        ("How many desk lamps and backpacks do we have in stock?", ["desk lamps", "backpacks"]),
        ("how many mechanical keyboards are left", ["mechanical keyboards"]),
    ],
)
def test_one_count_per_thing_asked(request_text: str, things: list[str]) -> None:
    steps = planned_stock(request_text, TOOLS, weak)
    # the counting tool that takes a name: word_count counts too, but takes a text
    assert [s.call for s in steps] == [("stock_level", "product", t) for t in things]
    assert {s.added_for for s in steps} == {ADDED_FOR_STOCK}
    assert [s.index for s in steps] == list(range(len(things)))


@pytest.mark.parametrize(
    "request_text",
    [
        "We sold 40 webcams. How many do we have now?",  # a figure: arithmetic to do
        "How many legs does a spider have?",
    ],
)
def test_no_stock_plan(request_text: str) -> None:
    assert planned_stock(request_text, TOOLS, weak) == ()


def test_no_stock_plan_without_a_tool_that_counts_names() -> None:
    tools = {"word_count": word_count, "product_price": product_price}
    assert planned_stock("How many webcams do we have?", tools, weak) == ()


def test_what_is_left_is_a_remainder_only_when_a_count_goes() -> None:
    assert asked_comparison("How many monitors are left in the warehouse?") is None
    found = asked_comparison("We sold two monitors. How many are left?")
    assert found is not None
    assert found.kind == "remainder"


def test_marks_alone_are_no_text_anyone_gave() -> None:
    properties = {"text": {"type": "string"}}
    given = ["How many webcams do we have?"]
    assert ungrounded_strings(properties, {"text": "]["}, given) == [("text", "][", ["]["])]
    assert ungrounded_strings(properties, {"text": ":-)"}, ["Reply :-) to him"]) == []
