"""The text-answer pseudo-tool never shares its first word with a tool (no model files).

Under the choice grammar a model writes a shared start first and then picks the ending; after
"Action: final" SmolLM2-135M went on with "_answer" for BFCL's `final_velocity` (simple_python_27,
the one case lamina serve answered without a call).
"""

from __future__ import annotations

from typing import Annotated

import pytest

from lamina.models.tool_calls import (
    FINAL_ANSWER,
    plan_tool_choice,
    text_answer_name,
    to_openai_tool,
    tools_instructions,
)
from lamina.tools.decorator import tool
from tests.unit.test_tool_calls import QUESTION, chat


@tool
def final_velocity(
    initial_velocity: Annotated[int, "Metres per second."],
    acceleration: Annotated[int, "Metres per second squared."],
    time: Annotated[int, "Seconds."],
) -> int:
    """Calculate the final velocity of an object."""
    return initial_velocity + acceleration * time


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["get_distance", "km_to_miles"], FINAL_ANSWER),
        (["final_velocity"], "text_answer"),
        (["finalVelocity"], "text_answer"),
        (["finalize_order"], "text_answer"),
        (["fin_report"], "text_answer"),
        (["final_velocity", "text_to_speech"], "plain_answer"),
        (["final_velocity", "text_to_speech", "plainify"], "answer_in_text"),
        (["final_x", "text_x", "plain_x", "answer_x"], FINAL_ANSWER),
    ],
)
def test_the_text_answer_takes_a_name_no_tool_begins_with(names: list[str], expected: str) -> None:
    assert text_answer_name(names) == expected


def test_the_choice_offers_and_the_prompt_shows_that_name() -> None:
    plan = plan_tool_choice("auto", ["final_velocity"])
    assert plan.options == ["final_velocity", "text_answer"]
    assert plan.text_answer == "text_answer"
    prompt = tools_instructions([to_openai_tool(final_velocity)], allow_final_answer=True)
    assert "- text_answer: Answer without a tool" in prompt
    assert FINAL_ANSWER not in prompt


def test_a_tool_called_final_something_is_chosen_or_a_text_answer_given() -> None:
    model, llama = chat([" text_answer", "It is 20 m/s."])
    reply = model.bind_tools([final_velocity]).invoke(QUESTION)
    assert reply.tool_calls == []
    assert reply.content == "It is 20 m/s."
    choice_grammar = llama.grammars[0] or ""
    assert "text_answer" in choice_grammar
    assert FINAL_ANSWER not in choice_grammar

    args = '{"initial_velocity": 10, "acceleration": 2, "time": 5}'
    model, llama = chat([" final_velocity", args])
    reply = model.bind_tools([final_velocity]).invoke(QUESTION)
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [
        ("final_velocity", {"initial_velocity": 10, "acceleration": 2, "time": 5})
    ]
