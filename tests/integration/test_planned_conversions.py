"""Plans written from structure, with the real model, on the numeric path the run uses: a request
that is only a conversion, a quantity converted before the tool that takes another unit, and
arithmetic the request writes out, called as written. The answers are asserted."""

from __future__ import annotations

import re
from typing import Any

import pytest
from langchain_core.tools import tool

_KG = {"kg": 1.0, "g": 0.001, "lb": 0.45359237, "oz": 0.028349523125}
_ALIASES = {"lbs": "lb", "pound": "lb", "pounds": "lb", "kilograms": "kg", "kilos": "kg"}
_ZONES = {"domestic": (4.9, 1.1), "eu": (8.5, 2.4), "world": (15.0, 4.75)}


def _unit(text: str) -> str:
    key = text.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _KG:
        raise ValueError(f"Unknown unit {text!r}; known: {', '.join(_KG)}.")
    return key


@tool
def convert_weight(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a weight between units (kg, g, lb, oz)."""
    return round(value * _KG[_unit(from_unit)] / _KG[_unit(to_unit)], 3)


@tool
def postage(weight_kg: float, zone: str) -> float:
    """Price in euros of sending one parcel, by its weight in kilograms and its zone (domestic,
    eu or world)."""
    if zone.strip().lower() not in _ZONES:
        raise ValueError(f"Unknown zone {zone!r}; known: {', '.join(_ZONES)}.")
    base, per_kg = _ZONES[zone.strip().lower()]
    return round(base + per_kg * weight_kg, 2)


AGENT_TOOLS = [convert_weight, postage]
"""The tools of `tools_agent` (conftest), which adds lamina's calculator."""


def answer_figures(answer: str) -> list[float]:
    tail = answer.split("Answer:")[-1]
    return [float(x) for x in re.findall(r"\d+(?:\.\d+)?", tail.replace(",", ""))]


def test_a_request_that_is_only_a_conversion_is_that_conversion(tools_agent: Any) -> None:
    result = tools_agent.run("I weigh 172 lbs, what's that in kilos?")
    assert result.ok, (result.error, result.answer)
    assert 78.018 in answer_figures(result.answer), result.answer
    assert [s.instruction for s in result.steps] == ["Convert 172 lbs to kilograms."]
    (call,) = result.tool_calls
    assert (call.name, call.arguments["value"]) == ("convert_weight", 172)


def test_a_quantity_in_another_unit_is_converted_before_the_tool(tools_agent: Any) -> None:
    result = tools_agent.run("Got a 9 lb box to send within the EU. What's the postage?")
    assert result.ok, (result.error, result.answer)
    assert 18.3 in answer_figures(result.answer), result.answer  # 8.5 + 2.4 * 4.082
    assert result.steps[0].instruction == "Convert 9 lbs to kilograms."
    done = [c for c in result.tool_calls if c.error is None]
    assert [c.name for c in done] == ["convert_weight", "postage"]
    assert done[1].arguments["weight_kg"] == pytest.approx(4.082)


def test_arithmetic_the_request_writes_is_called_as_written(tools_agent: Any) -> None:
    result = tools_agent.run("(1250 - 380) / 6 = ?")
    assert result.ok, (result.error, result.answer)
    assert 145 in answer_figures(result.answer), result.answer
    assert [(c.name, dict(c.arguments)) for c in result.tool_calls] == [
        ("calculator", {"expression": "(1250 - 380) / 6"})
    ]
