"""The `unfinished_request` guard with the real encoder: a request word that points to a tool
no successful call used is found; the words of a request a call covered are not."""

from __future__ import annotations

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
