"""A rate per thing of a quoted text: the text is counted first by the tool that counts those
things (lamina/layers/reasoning/counted_text.py), and a rate no count multiplied leaves the run
unfinished (lamina/guards/parts_left_out.py)."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import tool

from lamina.agents.verdict import judge_run
from lamina.guards.parts_left_out import rates_left_unapplied
from lamina.guards.tool_relevance import ToolFit
from lamina.layers.reasoning.counted_text import planned_count, quoted_text
from lamina.layers.reasoning.owed_steps import step_still_owed
from lamina.tools.calculator import calculator


@tool
def word_count(text: str) -> int:
    """Count the words in a piece of text."""
    return len(text.split())


@tool
def shipping_cost(weight_kg: float, zone: str) -> float:
    """Price in euros of shipping one parcel."""
    return 6.27


@tool
def convert_currency(amount: float, from_currency: str, to_currency: str) -> float:
    """Convert money between currencies."""
    return round(amount * 0.93, 2)


TOOLS = {t.name: t for t in (word_count, shipping_cost, convert_currency, calculator)}
TASK = (
    "A translator charges 0.12 euros per word. What would this cost: 'Fresh bread baked every "
    "morning in the heart of the old town'"
)
TEXT = "Fresh bread baked every morning in the heart of the old town"


def call(name: str, result: Any, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "result": result, "error": None}


def test_the_quoted_text_is_counted_by_the_tool_that_counts_those_things() -> None:
    assert quoted_text(TASK) == TEXT
    step = planned_count(TASK, TOOLS)
    assert step is not None
    assert step.call == ("word_count", "text", TEXT)
    assert step.tools == ("word_count",)
    assert step.added_for == "count"


def test_no_count_is_planned_without_all_its_parts() -> None:
    # no quoted text; two quoted texts; a rate per a unit of time; the count given already;
    # no tool that counts words
    assert planned_count("A translator charges 0.12 euros per word. Is that cheap?", TOOLS) is None
    two = "0.12 euros per word: 'one two three' and 'four five six'. What do they cost?"
    assert planned_count(two, TOOLS) is None
    assert planned_count("I earn 20 EUR per hour. What is 'a b c' worth?", TOOLS) is None
    given = "0.12 euros per word, 12 words: 'Fresh bread baked every morning'. The cost?"
    assert planned_count(given, TOOLS) is None
    no_counter = {k: v for k, v in TOOLS.items() if k != "word_count"}
    assert planned_count(TASK, no_counter) is None


def test_the_planned_count_is_multiplied_though_another_tool_fits_the_request() -> None:
    plan = [planned_count(TASK, TOOLS)]
    assert plan[0] is not None
    counted = [call("word_count", 12, text=TEXT)]
    fits_shipping = ToolFit({"shipping_cost": 0.47, "word_count": 0.27, "calculator": 0.1})
    step = step_still_owed(TASK, counted, [], plan, TOOLS, fit=fits_shipping)
    assert step is not None
    assert step.instruction == "Calculate 0.12 * 12."


def test_a_rate_no_count_multiplied_leaves_the_run_unfinished() -> None:
    task = "Proofreading is 0.35 USD per word. What does 'Brand new bike, barely used' cost in EUR?"
    converted = [
        call("convert_currency", 0.33, amount=0.35, from_currency="USD", to_currency="EUR")
    ]
    found = rates_left_unapplied(task, converted, TOOLS)
    assert found == [{"rate": "0.35 USD per word"}]
    error = judge_run({"task": task, "answer": "0.33 EUR", "unhandled": found})
    assert error is not None
    assert error.kind == "unfinished"
    assert "0.35 USD per word" in error.message
    # counted: nothing left; the rate itself asked for; a rate per a unit of time
    counted = [call("word_count", 5, text="Brand new bike, barely used")]
    assert rates_left_unapplied(task, counted, TOOLS) == []
    asked = "What is 0.35 USD per word in EUR per word?"
    assert rates_left_unapplied(asked, converted, TOOLS) == []
    monthly = [call("calculator", 11400, expression="950 * 12")]
    assert rates_left_unapplied("I pay 950 EUR per month. Per year?", monthly, TOOLS) == []
