"""The `unfinished_request` guard with the real encoder: a request word that points to a tool
no successful call used is found; the words of a request a call covered are not."""

from __future__ import annotations

import re
from typing import Any

import pytest
from langchain_core.tools import BaseTool, tool

from lamina.guards.tool_relevance import ToolRelevance
from lamina.guards.unfinished import unhandled


@tool
def item_price(product: str) -> float:
    """Look up the price of a product in the shop's catalogue, in euros."""
    return 24.99


@tool
def currency_convert(amount: float, from_currency: str, to_currency: str) -> float:
    """Convert an amount of money from one currency to another (codes such as EUR, USD, GBP)."""
    return amount


@tool
def city_weather(city: str) -> str:
    """Current weather in a city: temperature in Celsius, sky, wind."""
    return f"{city}: 14 °C, cloudy"


@tool
def unit_convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a measurement between units of length, weight or temperature."""
    return value


@tool
def parcel_postage(weight_kg: float, zone: str) -> float:
    """Postage in euros for one parcel, by its weight in kilograms and its zone."""
    return 9.5


TOOLS: dict[str, BaseTool] = {
    t.name: t for t in (item_price, currency_convert, city_weather, unit_convert, parcel_postage)
}


def _call(name: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "result": "1", "error": None}


@pytest.fixture(scope="module")
def relevance(encoder: Any) -> ToolRelevance:
    return ToolRelevance(encoder)


@pytest.mark.parametrize(
    ("request_text", "call", "tool"),
    [
        ("What's the kettle's price in US dollars?", _call("item_price", product="kettle"),
         "currency_convert"),
        ("Oslo weather please, temperature in Fahrenheit", _call("city_weather", city="Oslo"),
         "unit_convert"),
    ],
)  # fmt: skip
def test_a_request_cut_short_is_found(
    relevance: ToolRelevance, request_text: str, call: dict[str, Any], tool: str
) -> None:
    found = unhandled(request_text, [call], TOOLS, relevance)
    assert found, f"nothing found for {request_text!r}"
    assert found[0]["tool"] == tool


@pytest.mark.parametrize(
    ("request_text", "call"),
    [
        ("What's the weather in Lisbon at the moment?", _call("city_weather", city="Lisbon")),
        ("Postage for a 3 kg parcel inside the EU?", _call("parcel_postage", weight_kg=3,
                                                           zone="eu")),
        ("Convert 8 miles to kilometres", _call("unit_convert", value=8, from_unit="mi",
                                                to_unit="km")),
        ("How much is the kettle?", _call("item_price", product="kettle")),
    ],
)  # fmt: skip
def test_a_request_a_call_covered_is_not_flagged(
    relevance: ToolRelevance, request_text: str, call: dict[str, Any]
) -> None:
    assert unhandled(request_text, [call], TOOLS, relevance) == []


def test_a_word_closest_to_a_called_tool_is_accounted_for(relevance: ToolRelevance) -> None:
    # "cost" is as close to parcel_postage's "Postage" as to item_price's "price"; once the
    # price was looked up and converted, nothing is left undone
    calls = [
        _call("item_price", product="kettle"),
        _call("currency_convert", amount=24.99, from_currency="EUR", to_currency="USD"),
    ]
    found = unhandled("What does the kettle cost in US dollars?", calls, TOOLS, relevance)
    assert found == []


# -- the agent re-plans from an answer in another unit --------------------------------------------
RATES = {"EUR": 1.0, "USD": 1.08, "GBP": 0.85}


@tool
def product_price(product: str) -> float:
    """Look up the unit price in euros of a product in the shop's catalogue."""
    prices = {"kettle": 24.99, "toaster": 39.5}
    key = product.lower().removeprefix("the ").strip()
    if key not in prices:
        raise ValueError(f"Unknown product {product!r}; the catalogue has: {', '.join(prices)}.")
    return prices[key]


@tool
def exchange(amount: float, from_currency: str, to_currency: str) -> float:
    """Convert an amount of money between currencies (codes: EUR, USD, GBP)."""
    source, target = from_currency.upper(), to_currency.upper()
    if source not in RATES or target not in RATES:
        raise ValueError(f"Unknown currency; known: {', '.join(RATES)}.")
    return round(amount / RATES[source] * RATES[target], 2)


@tool
def days_until(start: str, end: str) -> int:
    """The number of days between two dates written as YYYY-MM-DD."""
    from datetime import date

    return (date.fromisoformat(end) - date.fromisoformat(start)).days


@pytest.fixture(scope="module")
def shop_agent(pool: Any, encoder: Any, tmp_path_factory: Any) -> Any:
    from lamina import Agent
    from lamina.config import get_settings
    from lamina.stores.memory import MemoryStore
    from lamina.tools.calculator import calculator

    home = tmp_path_factory.mktemp("shop_agent")
    agent = Agent(
        pool=pool,
        settings=get_settings(home=home, seed=0),
        memory=MemoryStore(home / "memory", encoder=encoder),
        tools=[product_price, exchange, days_until, calculator],
        checkpointer=":memory:",
        model_settings={"max_tokens": 96},
    )
    yield agent
    agent.context.memory.close()


@pytest.mark.parametrize(
    ("request_text", "expected", "added"),
    [
        ("What does the kettle cost in US dollars?", 26.99, "Convert 24.99 EUR to USD."),
        ("How many weeks are there from 2025-03-03 to 2025-08-18?", 24, "Calculate 168 / 7."),
    ],
)
def test_an_answer_in_another_unit_gets_the_conversion_it_lacked(
    shop_agent: Any, request_text: str, expected: float, added: str
) -> None:
    result = shop_agent.run(request_text)
    figures = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", result.answer.split("Answer:")[-1])]
    assert result.ok, (result.error, result.answer)
    assert expected in figures, result.answer
    last = result.steps[-1]  # the step the plan gained, written from the figure and the units
    assert last.instruction == added
    assert last.source == "tool"
