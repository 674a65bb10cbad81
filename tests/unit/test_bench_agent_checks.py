"""bench/agent_tasks_suite.py's checker fails an answer that ends on a wrong claim or repeats the
pasted text back, though either holds the expected figure."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def suite():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCH))
    try:
        import agent_tasks_suite

        yield agent_tasks_suite
    finally:
        sys.path.remove(str(BENCH))


def test_a_no_tool_answer_must_end_on_the_expected_figure(suite) -> None:  # type: ignore[no-untyped-def]
    turn = suite.Turn("At what temperature does water freeze?", numbers=(0,), no_tool=True)
    wrong = "Water is 0 °C at first, so it freezes at about 100.0 Celsius."
    assert suite.check_turn(turn, wrong, []) == [
        "the answer ends on 100, not on the expected figure"
    ]
    assert suite.check_turn(turn, "Water freezes at 0 °C.", []) == []


def test_an_answer_about_a_pasted_text_must_be_shorter_than_it(suite) -> None:  # type: ignore[no-untyped-def]
    text = "The race drew 1,240 runners, up from 980. The winner finished in 1:09:42."
    turn = suite.Turn(f"How many runners?\n\n{text}", numbers=(1240.0,), source=text)
    (reason,) = suite.check_turn(turn, text, [])
    assert reason.endswith("not shorter than the pasted text")
    assert suite.check_turn(turn, "1,240 runners.", []) == []
