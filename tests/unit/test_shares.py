"""What each of several pays (lamina.guards.shares, and the step that divides in
lamina.layers.reasoning.combination): written out only where the request says how many share
and asks for a share, from the total the run ended with."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tools import tool

from lamina.guards.shares import sharers
from lamina.layers.reasoning.combination import share_step
from lamina.layers.reasoning.owed_steps import step_still_owed
from lamina.layers.reasoning.plan import PlanStep
from lamina.tools.calculator import calculator


@tool
def add_tip(bill: float, tip_percent: float) -> str:
    """Work out the tip on a bill and the total to pay with it."""
    tip = bill * tip_percent / 100
    return f"tip: {tip:.2f}, total: {bill + tip:.2f}"


@tool
def change_money(amount: float, from_currency: str, to_currency: str) -> float:
    """Convert money between currencies."""
    return round(amount / 0.95, 2)


TOOLS = {t.name: t for t in (add_tip, change_money, calculator)}
ONE = [PlanStep(0, "the request", True)]


def call(name: str, result: Any, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "result": result, "error": None}


@pytest.mark.parametrize(
    ("task", "count"),
    [
        ("We're splitting a 240 dollar bill four ways. How much does each of us pay?", 4),
        ("Dinner for four came to 120 CHF. Tell me what each of us owes.", 4),
        ("The 5 of us share a 90 EUR taxi. How much per person?", 5),
        ("Split 120 EUR between 3.", 3),
        ("Split the bill for 4 people, please.", 4),
        ("Split a room for 3 nights between 2 of us.", 2),  # nights are not people
        ("How much does each keyboard cost?", None),  # no share asked
        ("A table for four costs 80 EUR.", None),  # how many, but no share asked
        ("Split it four ways or five ways?", None),  # two numbers of sharers
    ],
)
def test_how_many_share_is_read_only_with_a_share_asked(task: str, count: int | None) -> None:
    assert sharers(task) == count


def test_the_run_s_total_is_divided_by_how_many_share() -> None:
    task = (
        "We're splitting a 240 dollar bill four ways and tipping 18%. How much does each of us pay?"
    )
    calls = [call("add_tip", "tip: 43.20, total: 283.20", bill=240, tip_percent=18)]
    step = share_step(task, calls, ONE, TOOLS)
    assert step is not None
    assert (step.instruction, step.tools, step.index) == (
        "Calculate 283.2 / 4.",
        ("calculator",),
        1,
    )
    # the same from the step that re-plans a run's unfinished answer
    owed = step_still_owed(task, calls, [], ONE, TOOLS)
    assert owed is not None
    assert owed.instruction == "Calculate 283.2 / 4."


def test_the_total_is_the_last_call_s_figure_with_its_unit() -> None:
    task = "Dinner for four came to 120 CHF. Turn that into euros and tell me what each of us owes."
    calls = [call("change_money", 126.32, amount=120, from_currency="CHF", to_currency="EUR")]
    step = share_step(task, calls, ONE, TOOLS)
    assert step is not None
    assert (step.instruction, step.unit) == ("Calculate 126.32 / 4.", "EUR")


def test_no_share_once_the_count_was_used_or_without_a_total() -> None:
    task = "We're splitting a 240 dollar bill four ways. How much does each of us pay?"
    divided = [call("calculator", "60", expression="240 / 4")]
    assert share_step(task, divided, ONE, TOOLS) is None
    assert share_step(task, [], ONE, TOOLS) is None
    words = [call("add_tip", "a fine tip", bill=240, tip_percent=18)]
    assert share_step(task, words, ONE, TOOLS) is None
    no_calculator = {k: v for k, v in TOOLS.items() if k != "calculator"}
    tip = [call("add_tip", "tip: 43.20, total: 283.20", bill=240, tip_percent=18)]
    assert share_step(task, tip, ONE, no_calculator) is None


def test_the_phrase_of_the_sharers_is_accounted_for_once_its_number_divided() -> None:
    from lamina.guards.tool_relevance import ToolFit
    from lamina.guards.unfinished import unhandled

    task = "The taxi was 45 dollars, split between 3 of us with a 20% tip. What does each pay?"

    class Close:
        supports_above = 0.3

        def assess_each(self, texts: Any, tools: Any) -> list[ToolFit]:
            return [
                ToolFit({n: (0.9 if n == "change_money" else 0.0) for n in tools}) for _ in texts
            ]

    def words(expression: str) -> list[str]:
        done = [
            call("add_tip", "tip: 9.00, total: 54.00", bill=45, tip_percent=20),
            call("calculator", "18", expression=expression),
        ]
        return [f["word"] for f in unhandled(task, done, TOOLS, Close())]

    assert "between" not in words("54 / 3")
    assert "between" in words("54 / 2")


def test_no_share_of_a_total_not_yet_in_the_unit_asked_for() -> None:
    task = (
        "Dinner for four came to 120 CHF. Turn that into euros, add a 15% tip, and tell me "
        "what each of us owes."
    )
    tipped = [call("add_tip", "tip: 18.00, total: 138.00", bill=120, tip_percent=15)]
    assert share_step(task, tipped, ONE, TOOLS) is None  # 138 francs, not euros
    converted = [
        call("change_money", 126.32, amount=120, from_currency="CHF", to_currency="EUR"),
        call("add_tip", "tip: 18.95, total: 145.27", bill=126.32, tip_percent=15),
    ]
    step = share_step(task, converted, ONE, TOOLS)
    assert step is not None
    assert step.instruction == "Calculate 145.27 / 4."


def test_a_calculation_the_answer_went_past_is_left_out() -> None:
    from lamina.guards.unfinished import calculations_left_out

    calls = [
        call("add_tip", "tip: 18.00, total: 138.00", bill=120, tip_percent=15),
        call("calculator", "34.5", expression="138 / 4"),
        call("change_money", 126.32, amount=120, from_currency="CHF", to_currency="EUR"),
    ]
    assert calculations_left_out(calls, TOOLS, "Answer: 126.32 EUR") == [
        {"left_out": "34.5", "tool": "calculator"}
    ]
    assert calculations_left_out(calls[:2], TOOLS, "Answer: 34.5") == []


def test_only_a_total_of_money_is_shared() -> None:
    @tool
    def word_count(text: str) -> int:
        """Count the words in a text."""
        return 3

    tools = {**TOOLS, "word_count": word_count}
    task = "Split the total 3 ways for me"
    counted = [call("word_count", 3, text="the total 3")]
    assert share_step(task, counted, ONE, tools) is None
