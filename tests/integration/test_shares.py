"""What each of several pays, with the real model: the run's total divided by how many share,
a step written from the request, not chosen by the model. The answers are asserted."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import tool


@tool
def tip(bill: float, percent: float) -> str:
    """Work out the tip on a bill and the total to pay with it."""
    amount = bill * percent / 100
    return f"tip: {amount:.2f}, total: {bill + amount:.2f}"


AGENT_TOOLS = [tip]
"""The tools of `tools_agent` (conftest), which adds lamina's calculator."""


def test_the_total_with_the_tip_is_divided_by_how_many_share(
    tools_agent: Any, answer_figures: Any
) -> None:
    result = tools_agent.run(
        "Three of us had dinner for 90 EUR and want to add a 10% tip. How much does each of us pay?"
    )
    assert result.ok, (result.error, result.answer)
    assert answer_figures(result.answer) == [33], result.answer  # (90 + 9) / 3
    done = [(c.name, dict(c.arguments)) for c in result.tool_calls if c.error is None]
    assert ("calculator", {"expression": "99 / 3"}) in done
