"""Plug a custom tool into a lamina agent.

Run: .venv/bin/python examples/custom_tool.py
"""

from __future__ import annotations

from lamina import Agent, tool
from lamina.errors import ToolError
from lamina.tools.calculator import calculator


@tool
def unit_price(product: str) -> float:
    """Look up the unit price of a product in euros.

    Args:
        product: the product's name, e.g. "apple".
    """
    prices = {"apple": 0.5, "pear": 0.75, "melon": 2.0}
    name = product.strip().lower()
    if name not in prices:  # an unknown product is an error, never a made-up price
        raise ToolError(f"Unknown product {product!r}; known: {', '.join(prices)}.")
    return prices[name]


def main() -> None:
    with Agent(tools=[unit_price, calculator], memory=False) as agent:
        result = agent.run("What is the unit price of a melon?")
        print("answer:", result.answer)
        for call in result.tool_calls:
            print(f"  {call.name}({call.arguments}) -> {call.result or call.error}")
        assert result.ok, result.error
        assert any(c.name == "unit_price" and c.result == "2.0" for c in result.tool_calls)
        assert "2" in result.answer, f"expected the melon's price, 2.0, got {result.answer!r}"


if __name__ == "__main__":
    main()
