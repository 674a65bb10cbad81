"""The units of what calls returned, written where a text leaves them out: after a bare
figure a conversion returned (:func:`with_result_units`), and on a call's result for a check
to read (:func:`result_text`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from lamina.core.records import call_args
from lamina.guards.numbers import NUMBER_BODY, canonical, is_figure, is_number, plain, same_figure
from lamina.guards.units import Unit, converted_to, quantities, returned_units

__all__ = ["result_text", "with_result_units"]


def with_result_units(
    answer: str, calls: Iterable[Mapping[str, Any]], tools: Mapping[str, Any]
) -> str:
    """`answer` with the unit written after each bare figure a conversion returned ("The tool
    returned 277.78." → "The tool returned 277.78 EUR." after `to_currency="EUR"`), so the
    answer says what its figure is, and a follow-up ("and in yen?") knows what it converts.
    A text that writes such a figure in another unit is wrong about it: the converted figure
    with its unit ("69.8 F") answers instead."""
    for call in calls:
        result = str(call.get("result", "")).strip()
        unit = _converted_unit(call, tools)
        if call.get("error") is not None or unit is None or not is_figure(result):
            continue
        annotated = f"{result} {unit.name}"
        figure = float(plain(result))
        written = [units for value, units in quantities(answer) if value == figure]
        if any(units and unit not in units for units in written):
            # "The tool returned 69.8 degrees Celsius." after to_unit="F": the text is wrong
            # about its own figure, so the figure in the unit it was converted to answers
            return annotated
        if any(not units for units in written):
            pattern = rf"(?<![\w.,]){re.escape(result)}(?![\w°])(?![.,]\d)"
            answer = re.sub(pattern, annotated, answer, count=1)
    return answer


def _converted_unit(call: Mapping[str, Any], tools: Mapping[str, Any]) -> Unit | None:
    """The unit a call converted into (its target-unit argument), if any."""
    properties = getattr(tools.get(call["name"]), "args", None) or {}
    return converted_to(call.get("args") or {}, properties)


def result_text(call: Mapping[str, Any], tools: Mapping[str, Any], request: str = "") -> str:
    """A call's result with units: a bare figure with the unit the call converted into
    ("37.69 USD"); each bare figure of a tool that names no unit, with the currency of the
    money the call took ("tip: 18.00 CHF, total: 138.00 CHF" for `add_tip(bill=120)` when the
    request gave 120 CHF)."""
    result = str(call.get("result", "")).strip()
    unit = _converted_unit(call, tools)
    if unit is not None:
        return f"{result} {unit.name}" if is_figure(result) else result
    money = _money_taken(call, tools, request)
    if money is None:
        return result
    return _BARE_FIGURE.sub(lambda m: f"{m[0]} {money.name}", result)


_BARE_FIGURE = re.compile(rf"(?<![\w.,]){NUMBER_BODY}(?![\w.,%°]|\s*(?:%|[^\W\d_]))")


def _money_taken(call: Mapping[str, Any], tools: Mapping[str, Any], request: str) -> Unit | None:
    """The one currency of the money a call took, when the request wrote each number it took
    with that currency or with no unit, and its tool says it returns no unit of its own; else
    None. What such a tool returns (a tip, a total) is in that currency."""
    tool = tools.get(call["name"])
    description = str(getattr(tool, "description", "") or "")
    if not request or tool is None or returned_units(description):
        return None
    given = quantities(request)
    found: set[Unit] = set()
    for value in call_args(call).values():
        if not is_number(value):
            continue
        for figure, units in given:
            if same_figure(canonical(float(value)), figure) and units:
                found |= set(units)
    money = {u for u in found if u.dimension == "money"}
    return next(iter(money)) if len(money) == 1 and found == money else None
