"""A bill in one currency, tipped, converted and shared, with the real model: the tip tool's
total is in the bill's currency, so it is converted into the one asked for, then divided by how
many share. The answer is asserted."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import tool

_EUR_PER = {"EUR": 1.0, "CHF": 1.05, "USD": 0.92}


@tool
def tip(bill: float, percent: float) -> str:
    """Work out the tip on a bill and the total to pay with it."""
    amount = bill * percent / 100
    return f"tip: {amount:.2f}, total: {bill + amount:.2f}"


@tool
def exchange(amount: float, from_currency: str, to_currency: str) -> float:
    """Convert money between currencies (EUR, CHF, USD)."""
    codes = [c.strip().upper() for c in (from_currency, to_currency)]
    if any(c not in _EUR_PER for c in codes):
        raise ValueError(f"Unknown currency in {codes}; known: {', '.join(_EUR_PER)}.")
    return round(amount * _EUR_PER[codes[0]] / _EUR_PER[codes[1]], 2)


AGENT_TOOLS = [tip, exchange]
"""The tools of `tools_agent` (conftest), which adds lamina's calculator."""


def test_a_tipped_bill_in_another_currency_is_converted_then_shared(
    tools_agent: Any, answer_figures: Any
) -> None:
    result = tools_agent.run(
        "Lunch for three came to 90 CHF. Turn that into euros, add a 10% tip, and tell me what "
        "each of us pays."
    )
    assert result.ok, (result.error, result.answer)
    expected = 90 * 1.05 * 1.1 / 3  # 34.65 EUR, whichever of tip and conversion comes first
    assert abs(answer_figures(result.answer)[-1] - expected) < 0.05, result.answer
    done = [c.name for c in result.tool_calls if c.error is None]
    assert done[-1] == "calculator", result.tool_calls  # the share is worked out, not guessed
