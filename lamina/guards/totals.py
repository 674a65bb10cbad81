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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lamina.core.records import call_args
from lamina.guards.noun_phrases import FUNCTION_WORDS, singular
from lamina.guards.numbers import is_number, number_words, plain, written_numbers
from lamina.guards.quantities import REQUEST, quantities_of_run, same_value, used_later
from lamina.guards.units import Unit, units_named

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = ["QUESTION_WORDS", "Item", "addends", "asked_total", "basket", "items_named"]

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


@dataclass(frozen=True)
class Item:
    """A thing of a basket and how many of it.

    Attributes:
        count: how many ("5 phone cases": 5; "a backpack": 1).
        thing: the thing, without its count or article ("phone cases", "backpack").
        written: the count as the request writes it ("5", "two"; "" for an article).
    """

    count: float
    thing: str
    written: str = ""


_COUNT = r"(?:\d+|[a-z]+)"
_ITEM = re.compile(
    rf"\b(?:(?P<article>an?|the)|(?P<count>{_COUNT}))\s+"
    r"(?P<thing>[^\W\d_][\w-]*(?:\s+[^\W\d_][\w-]*){0,3})",
    re.IGNORECASE,
)
_JOIN = re.compile(r"(?:\s*,\s*(?:and\s+|plus\s+)?|\s+(?:and|plus|&)\s+)", re.IGNORECASE)
QUESTION_WORDS = frozenset(
    {"cost", "costs", "come", "comes", "set", "run", "total", "altogether", "together"}
    | {"combined", "please", "now", "plus", "price", "prices", "amount"}
)
"""Words of the question around a basket, never part of a thing ("what do a webcam and a lamp
cost altogether")."""


def basket(request: str) -> list[Item]:
    """The things a request coordinates, each with its count: "5 phone cases and 2 water
    bottles" → [5 phone cases, 2 water bottles]; "10 usb-c cables and a backpack" and "a webcam
    plus a desk lamp" too; a list ("3 monitors, 2 webcams and a keyboard"). At least two
    things, each with a count or "a", "an" or "the"; else [].

    >>> [(i.count, i.thing) for i in basket("What do 5 phone cases and 2 water bottles cost?")]
    [(5.0, 'phone cases'), (2.0, 'water bottles')]
    >>> basket("How much are 5 phone cases?")
    []
    """
    words = {w.lower(): v for w, v in number_words(request)}
    best: list[Item] = []
    for start in re.finditer(r"\b\w", request):
        items: list[Item] = []
        at = start.start()
        while (found := _ITEM.match(request, at)) is not None:
            item = _item(found, words)
            if item is None:
                break
            items.append(item)
            end = found.start("thing") + len(item.thing)
            join = _JOIN.match(request, end)
            if join is None:
                break
            at = join.end()
        if len(items) >= 2 and len(items) > len(best):
            best = items
    return best


def items_named(request: str) -> list[Item]:
    """Every thing the request names with a count or an article, coordinated or not, in order
    ("What's 40% off a monitor?" → [1 monitor])."""
    words = {w.lower(): v for w, v in number_words(request)}
    found: list[Item] = []
    after = 0
    for start in re.finditer(r"\b\w", request):
        match = _ITEM.match(request, start.start()) if start.start() >= after else None
        item = _item(match, words) if match else None
        if match is not None and item is not None:
            found.append(item)
            after = match.start("thing") + len(item.thing)
    return found


def _item(found: re.Match[str], words: Mapping[str, float]) -> Item | None:
    """The item a match of `_ITEM` reads, its thing cut at a function word, a question's word,
    or (after a count of two or more) its first plural word; None when it is no item."""
    written = found["count"] or ""
    if written:
        value = float(written) if written.isdigit() else words.get(written.lower())
        if value is None or value < 1:
            return None
    else:
        value = 1.0
    kept: list[str] = []
    for word in found["thing"].split():
        if word.lower() in FUNCTION_WORDS or word.lower() in QUESTION_WORDS:
            break
        kept.append(word)
        if value > 1 and singular(word) != word.lower():
            break
    if not kept or units_named(" ".join(kept)):
        return None  # "4 kg and 2 kg": amounts, not things
    return Item(value, " ".join(kept), written)
