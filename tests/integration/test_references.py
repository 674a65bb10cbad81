"""A request whose later clause does arithmetic on what an earlier one gave ("... and then
halve it"), with the real model on the numeric path the run uses: the clauses are the plan, and
the clause on "it" is a calculation of the earlier figure. Right and ok, or not ok."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import tool


@tool(parse_docstring=True)
def unit_price(product: str) -> float:
    """Look up the price in euros of one unit of a product in our shop.

    Args:
        product: the product's name, e.g. kettle.
    """
    prices = {"desk lamp": 34.9, "office chair": 149.0}
    key = product.strip().lower().removeprefix("a ").removeprefix("the ")
    if key not in prices:
        raise ValueError(f"Unknown product {product!r}; the catalogue has: {', '.join(prices)}.")
    return prices[key]


AGENT_TOOLS = [unit_price]
"""The tools of `tools_agent` (conftest), which adds lamina's calculator."""


def test_halve_it_halves_the_price_the_first_clause_looked_up(tools_agent: Any) -> None:
    result = tools_agent.run("Look up the price of a desk lamp and then halve it")
    calls = [(c.name, dict(c.arguments)) for c in result.tool_calls if c.error is None]
    if result.ok:
        assert calls[-1] == ("calculator", {"expression": "34.9 / 2"}), calls
        assert result.answer.endswith("Answer: 17.45 EUR"), result.answer
    else:
        assert result.error is not None


def test_the_plan_keeps_the_reference(tools_agent: Any) -> None:
    result = tools_agent.run("What is 12 times 7? Then add 16 to it.")
    assert result.ok, (result.error, result.answer)
    expressions = [c.arguments.get("expression") for c in result.tool_calls if c.error is None]
    assert expressions[-1] == "84 + 16", expressions
    assert result.answer.endswith("Answer: 100"), result.answer


def test_a_clause_that_only_says_the_operation_works_on_the_figure_before(
    tools_agent: Any,
) -> None:
    result = tools_agent.run("What is 12 times 7? Then add 16.")
    assert result.ok, (result.error, result.answer)
    expressions = [c.arguments.get("expression") for c in result.tool_calls if c.error is None]
    assert expressions[-1] == "84 + 16", expressions
    assert result.answer.endswith("Answer: 100"), result.answer
