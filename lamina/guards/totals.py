"""The sum a request asks for of what its lookups returned (:func:`addends`): "A monitor and a
webcam together cost how much?" asks for `product_price("monitor") + product_price("webcam")`.

A word asks for the sum ("together", "altogether", "combined", "in total", "the total", "sum
of", "in all": :func:`asked_total`); the figures decide what is added. They are the values of
one thing each that lookups returned (:func:`lamina.guards.quantities.quantities_of_run`), that
no later call used, all in one unit, at least two. A repeated call is one figure. While the
request gives a figure no call took ("3 desk lamps and a webcam", "with 20% tax"), the sum of
the lookups alone is not what it asks for: no addends, and the verdict's checks judge the run
(a value left out of the answer is :func:`lamina.guards.quantities.ignored_values`').
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lamina.core.records import call_args
from lamina.guards.numbers import is_number, plain, written_numbers
from lamina.guards.quantities import REQUEST, quantities_of_run, same_value, used_later
from lamina.guards.units import Unit

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = ["addends", "asked_total"]

_TOTAL = re.compile(
    r"\b(?:(?:all\s+)?together|altogether|combined|in\s+total|total|sum\s+of|in\s+all|"
    r"all\s+told)\b",
    re.IGNORECASE,
)


def asked_total(request: str) -> str | None:
    """The words that ask for a sum ("together", "the total"), else None.

    >>> asked_total("A monitor and a webcam together cost how much?")
    'together'
    >>> asked_total("What does a monitor cost?") is None
    True
    """
    found = _TOTAL.search(request)
    return found[0] if found else None


def addends(
    request: str, calls: Sequence[Mapping[str, Any]], tools: Mapping[str, BaseTool]
) -> list[tuple[float, Unit]]:
    """The figures the sum the request asks for adds, in call order (see the module
    docstring), else []. `calls` are calls that worked, of tools in `tools`."""
    if asked_total(request) is None:
        return []
    taken = [float(v) for c in calls for v in call_args(c).values() if is_number(v)]
    taken += [
        float(plain(n))
        for c in calls
        for v in call_args(c).values()
        if isinstance(v, str)
        for _, n in written_numbers(v)
    ]
    if any(not any(same_value(value, t) for t in taken) for _, value in written_numbers(request)):
        return []  # the request gives a figure no call took: more than the lookups' sum
    seen: set[str] = set()
    found: list[tuple[float, Unit]] = []
    for quantity in quantities_of_run(request, calls, tools):
        if quantity.origin == REQUEST or quantity.unit is None or not quantity.per:
            continue
        if used_later(quantity, calls):
            continue
        call = calls[quantity.origin]
        key = repr((call.get("name"), sorted(call_args(call).items())))
        if key not in seen:
            seen.add(key)
            found.append((quantity.value, quantity.unit))
    if len(found) < 2 or len({unit for _, unit in found}) != 1:
        return []
    return found
