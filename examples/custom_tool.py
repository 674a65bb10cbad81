"""Plug a custom tool into a lamina agent.

Run: .venv/bin/python examples/custom_tool.py
"""

from __future__ import annotations

from lamina import Agent, tool
from lamina.tools.calculator import calculator


@tool
def unit_price(product: str) -> float:
    """Look up the unit price of a product in euros.

    Args:
        product: the product's name, e.g. "apple".
    """
    prices = {"apple": 0.5, "pear": 0.75, "melon": 2.0}
    return prices.get(product.strip().lower(), 1.0)


def main() -> None:
    with Agent(tools=[unit_price, calculator], memory=False) as agent:
        result = agent.run("What is the unit price of a melon?")
        print("answer:", result.answer)
        for call in result.tool_calls:
            print(f"  {call.name}({call.arguments}) -> {call.result or call.error}")


if __name__ == "__main__":
    main()
