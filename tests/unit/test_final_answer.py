"""The run's answer after several steps (lamina/layers/reasoning/answer.py): a synthesis that
drops every tool result gives way to the results."""

from __future__ import annotations

from typing import Any

import pytest

from lamina.layers.reasoning.answer import final_answer
from lamina.layers.reasoning.plan import PlanStep
from lamina.layers.reasoning.prompts import load_prompts
from lamina.layers.reasoning.rc_loop import Tally
from lamina.models.testing import FakeChatModel

PLAN = [
    PlanStep(0, "Is it hot in Cairo today?", True),
    PlanStep(1, "What's the temperature?", False),
]
RESULTS: list[dict[str, Any]] = [
    {
        "index": 0,
        "instruction": "Is it hot in Cairo today?",
        "result": "Cairo: 31 °C, clear",
        "tool_calls": [{"name": "weather", "args": {"city": "Cairo"}, "result": "Cairo: 31 °C"}],
        "status": "ok",
    },
    {
        "index": 1,
        "instruction": "What's the temperature?",
        "result": "It is warm.",
        "tool_calls": [],
    },
]


def answer(synthesis: str, **options: Any) -> tuple[str, dict[str, Any]]:
    data: dict[str, Any] = {}
    text = final_answer(
        "Is it hot in Cairo today? What's the temperature?",
        PLAN,
        RESULTS,
        FakeChatModel(responses=[synthesis]),
        None,
        Tally(),
        data,
        load_prompts(),
        **options,
    )
    return text, data


def test_a_synthesis_that_drops_the_tool_results_gives_way_to_them() -> None:
    text, data = answer("The answer is not provided.")
    assert "31" in text
    assert "quoted none of the tool results" in data["answer_note"]


@pytest.mark.parametrize("synthesis", ["Yes: it is 31 °C in Cairo.", "It is 31 degrees."])
def test_a_synthesis_that_quotes_a_result_stands(synthesis: str) -> None:
    assert answer(synthesis)[0] == synthesis


def test_the_guard_switches_off() -> None:
    text, _ = answer("The answer is not provided.", keep_results=False)
    assert text == "The answer is not provided."
