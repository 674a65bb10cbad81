"""Comparisons and percentages the request's words name, with the real model on the numeric path
the run uses: the same lookup for a second name, a difference or ratio of two figures in one
unit, and a percentage on top of a looked-up price. The answers are asserted: right and ok, or
not ok."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import tool

_CELSIUS = {"madrid": 27, "oslo": 4, "tunis": 30}
_METRES = {"m": 1.0, "ft": 0.3048, "km": 1000.0, "mi": 1609.344}
_ZONES = {"domestic": (4.9, 1.1), "eu": (8.5, 2.4)}


@tool(parse_docstring=True)
def temperature_now(city: str) -> str:
    """The temperature now in a city, in degrees Celsius.

    Args:
        city: the city's name, e.g. Porto.
    """
    key = city.strip().lower()
    if key not in _CELSIUS:
        raise ValueError(f"Unknown city {city!r}; known: {', '.join(_CELSIUS)}.")
    return f"{city.strip()}: {_CELSIUS[key]} °C, clear"


@tool
def convert_length(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a length between units (m, ft, km, mi)."""
    units = [u.strip().lower().rstrip("s") for u in (from_unit, to_unit)]
    units = ["ft" if u in ("feet", "foot") else "m" if u.startswith("met") else u for u in units]
    if any(u not in _METRES for u in units):
        raise ValueError(f"Unknown unit in {from_unit!r}, {to_unit!r}; known: m, ft, km, mi.")
    return round(value * _METRES[units[0]] / _METRES[units[1]], 3)


@tool
def courier_fee(weight_kg: float, zone: str) -> float:
    """Price in euros of sending one parcel by courier, by its weight in kilograms and its zone
    (domestic or eu)."""
    if zone.strip().lower() not in _ZONES:
        raise ValueError(f"Unknown zone {zone!r}; known: {', '.join(_ZONES)}.")
    base, per_kg = _ZONES[zone.strip().lower()]
    return round(base + per_kg * weight_kg, 2)


AGENT_TOOLS = [temperature_now, convert_length, courier_fee]
"""The tools of `tools_agent` (conftest), which adds lamina's calculator."""


def test_two_figures_the_request_gives_in_one_unit_are_subtracted(
    tools_agent: Any, answer_figures: Any
) -> None:
    result = tools_agent.run(
        "My suitcase weighs 23 kg and my backpack 7 kg. How much heavier is the suitcase?"
    )
    assert result.ok, (result.error, result.answer)
    assert answer_figures(result.answer)[-1] == 16, result.answer
    assert [(c.name, dict(c.arguments)) for c in result.tool_calls] == [
        ("calculator", {"expression": "23 - 7"})
    ]


def test_a_ratio_of_two_lengths_in_two_units_converts_one_first(
    tools_agent: Any, answer_figures: Any
) -> None:
    result = tools_agent.run(
        "The Eiffel Tower is 330 m tall. In feet, how many times taller is it than a 100 ft house?"
    )
    assert result.ok, (result.error, result.answer)
    assert abs(answer_figures(result.answer)[-1] - 330 / 0.3048 / 100) < 0.01, result.answer
    done = [c.name for c in result.tool_calls if c.error is None]
    assert done == ["convert_length", "calculator"], result.tool_calls


def test_a_difference_between_two_cities_is_right_or_not_ok(
    tools_agent: Any, answer_figures: Any
) -> None:
    # the model looks up one city, or both; the other city's lookup and the difference are
    # owed steps, so an ok answer ends with 27 - 4
    result = tools_agent.run("How much warmer is it in Madrid than in Oslo right now?")
    if result.ok:
        assert answer_figures(result.answer)[-1] == 23, result.answer
        cities = {str(c.arguments.get("city", "")).lower() for c in result.tool_calls}
        assert {"madrid", "oslo"} <= cities
    else:
        assert result.error is not None


def test_a_percentage_on_top_of_a_fee_is_right_or_not_ok(
    tools_agent: Any, answer_figures: Any
) -> None:
    result = tools_agent.run(
        "What does sending a 2 kg parcel within the EU by courier cost, with 20% VAT on top?"
    )
    if result.ok:
        assert abs(answer_figures(result.answer)[-1] - (8.5 + 2.4 * 2) * 1.2) < 0.01, result.answer
    else:
        assert result.error is not None
        assert result.error.kind in ("unfinished", "unused_input", "step_failed"), result.error
