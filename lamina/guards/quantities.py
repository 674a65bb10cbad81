"""What a figure of a run is (:func:`quantities_of_run`): a value of one thing, a rate per
thing, or a count of things, read from where the figure stands, never asked of a model.

* a *value of one thing*: a tool result with a unit, from a call that names the thing, of a
  tool whose description says its figure is of one ("Look up the *unit* price in euros of a
  product": `product_price("mechanical keyboard")` → 89 EUR, of one keyboard; "Total sales in
  euros" is not); a converter's result of such a value is a value of the same thing (37.69 USD
  after `convert_currency(34.9, ...)`);
* a *rate*: a figure of the request with a unit *per* a thing ("0.12 euros per word");
* a *count of things*: a whole number of the request written right before the things ("3
  mechanical keyboards"; not "the 2nd keyboard", "#12", "20 percent", "2 keyboard covers" as
  keyboards), or a whole unitless result of a tool whose description says it counts ("How many
  units of a product are in stock": `stock_level("monitor")` → 18 monitors; "Count the words":
  words). A rating from 1 to 5 counts nothing.

A thing is the head of a noun phrase: the last word before the first function word or mark
("the monitors in the warehouse" → monitor; "desk lamps, what's that" → lamp), singular
(:mod:`lamina.guards.noun_phrases`). The request's own figures are read by
:mod:`lamina.guards.request_quantities`. The step that combines such figures is
:mod:`lamina.layers.reasoning.combination`'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lamina.core.records import call_args, successful_calls
from lamina.guards.noun_phrases import head_of, noun_phrase, singular
from lamina.guards.numbers import (
    NUMBER_BODY,
    is_figure,
    is_number,
    plain,
    same_figure,
    written_numbers,
)
from lamina.guards.request_quantities import REQUEST, Quantity, request_quantities
from lamina.guards.units import (
    Unit,
    converted_to,
    quantities,
    returned_units,
    unit_role,
    units_named,
)
from lamina.tools.calculator import CALCULATOR_NAME

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = [
    "ASKS_AN_AMOUNT",
    "REQUEST",
    "Quantity",
    "asks_for_a_part",
    "figures_returned",
    "ignored_values",
    "quantities_of_run",
    "returns_figure",
    "same_value",
    "says_it_counts",
    "thing_named",
    "used_later",
]

_OF_ONE = re.compile(r"\b(?:unit|per|each|one|single)\b", re.IGNORECASE)
"""A tool description that says its figure is of one thing ("the unit price", "one parcel")."""
_COUNTS = re.compile(
    r"\b(?:how\s+many|number\s+of|count(?:s|ing)?(?:\s+the)?)\s+(?P<what>[^\W\d_][\w\s-]*)",
    re.IGNORECASE,
)
"""A tool description that says its figure counts something ("How many units of a product",
"Count the words in a text")."""


def says_it_counts(description: str) -> bool:
    """Does a tool's description say its figure counts something ("How many units of a
    product are in stock", "Count the words in a text")?"""
    return _COUNTS.search(description) is not None


def quantities_of_run(
    task: str, calls: Sequence[Mapping[str, Any]], tools: Mapping[str, BaseTool]
) -> list[Quantity]:
    """The rates and counts the request gives, and the values and counts the calls returned
    (see the module docstring); `calls` are calls that worked, of tools in `tools`."""
    found = request_quantities(task)
    for index, call in enumerate(calls):
        if not returns_figure(call) or call.get("name") not in tools:
            continue
        tool = tools[call["name"]]
        properties = getattr(tool, "args", None) or {}
        args = call_args(call)
        value = float(plain(call["result"]))
        description = str(getattr(tool, "description", "") or "")
        converted = converted_to(args, properties)
        returned = returned_units(description)
        unit = converted or (returned[0] if len(returned) == 1 else None)
        things = frozenset(t for t in (thing_named(args, properties),) if t)
        if converted is not None:
            # a converted value of one thing is a value of that thing
            numbers = [float(v) for v in args.values() if is_number(v)]
            things = frozenset(
                thing
                for q in found
                if q.per and any(same_value(q.value, n) for n in numbers)
                for thing in q.per
            )
        elif unit is not None and not _OF_ONE.search(description):
            things = frozenset()  # a total, a balance: not a value of one thing
        counted = _COUNTS.search(description)
        if unit is not None:
            found.append(Quantity(value, unit, per=things, origin=index))
        elif value == int(value) and counted is not None:
            what = head_of(_WORD.findall(counted.group("what")))
            found.append(Quantity(value, None, counts=things | {what} - {""}, origin=index))
    return found


def ignored_values(
    task: str, calls: Sequence[Mapping[str, Any]], tools: Mapping[str, BaseTool], answer: str
) -> list[tuple[Quantity, str]]:
    """The values of one thing the calls returned that nothing after them used and that are
    not the answer's figure (its last one), each with the tool that returned it.

    "Look up the unit price of the mug: I want 12 mugs.": SmolLM2 looked up 6.25 EUR, then
    the stock (120), called `calculator("12 + 120")` and answered 132 with a tool behind every
    figure. A price looked up and then left out of the arithmetic that answers is a run that
    did not do what it set out to; an answer that is the price itself ("A mug costs 6.25
    EUR.") used it, and so does an answer whose last line lists it among others ("phone case:
    15.0; backpack: 59.9") when no calculation came after it.
    """
    done = successful_calls(calls, tools)
    written = written_numbers(answer)
    last = written[-1][0] if written else None
    lines = [line for line in answer.splitlines() if written_numbers(line)]
    listed = [text for text, _ in written_numbers(lines[-1])] if lines else []
    found: dict[float, tuple[Quantity, str]] = {}
    for quantity in quantities_of_run(task, done, tools):
        if quantity.origin == REQUEST or not quantity.per or quantity.unit is None:
            continue
        if used_later(quantity, done) or (last is not None and same_figure(last, quantity.value)):
            continue
        worked_on = any(c.get("name") == CALCULATOR_NAME for c in done[quantity.origin + 1 :])
        if not worked_on and any(same_figure(text, quantity.value) for text in listed):
            continue  # the answer's line lists it ("phone case: 15.0; backpack: 59.9")
        found.setdefault(quantity.value, (quantity, str(done[quantity.origin]["name"])))
    return list(found.values())


def asks_for_a_part(task: str, thing: str) -> bool:
    """Does the request ask for a value of one `thing` ("the price per keyboard", "what does
    each keyboard cost") or for how many there are ("how many mugs are in stock")? Then the
    value and the count are what it asks for, not their product. A sentence that gives the
    value of one `thing` ("Each ticket costs 12 EUR.") states it; it does not ask."""
    for sentence in _SENTENCE.split(task):
        words = [w.lower() for w in _WORD.findall(sentence)]
        states = any(thing in q.per for q in request_quantities(sentence) if q.unit is not None)
        for i, word in enumerate(words):
            rate = i > 0 and bool(units_named(words[i - 1]))  # "0.12 euros per word": a rate
            each = word in ("per", "each") and not rate and not states
            if each and thing in _phrase(words, i + 1):
                return True
            many = word == "how" and words[i + 1 : i + 2] == ["many"]
            if many and thing in _phrase(words, i + 2):
                return True
    return False


_SENTENCE = re.compile(r"[.!?;\n]+(?:\s|$)")


def _phrase(words: Sequence[str], start: int) -> set[str]:
    """The first words of the noun phrase from `start`, singular (any of them may be its head:
    "each keyboard cost")."""
    return {singular(word) for word in noun_phrase(words, start)[:4]}


_WORD = re.compile(r"[^\W\d_][\w-]*")


def thing_named(args: Mapping[str, Any], properties: Mapping[str, Any]) -> str:
    """The thing a call names: the head of its one short string argument that is a name (no
    digits, up to six words, not a unit: "desk lamps, what's that", as a lenient tool took it,
    names lamps), singular; "" when it names none or several."""
    heads = []
    for name, value in args.items():
        schema = properties.get(name)
        if not isinstance(value, str) or (
            isinstance(schema, Mapping) and unit_role(name, schema) is not None
        ):
            continue
        words = re.findall(r"[^\W\d_][\w'-]*", value.lower())
        if not 1 <= len(words) <= 6 or any(ch.isdigit() for ch in value) or units_named(value):
            continue
        heads.append(head_of(words))
    return heads[0] if len(heads) == 1 else ""


_OPERATION = re.compile(r"[\d)]\s*[-+*/x×]\s*[\d(]")


def used_later(quantity: Quantity, calls: Sequence[Mapping[str, Any]]) -> bool:
    """Did a call after the quantity's own take its figure: as a number argument, as a string
    that is the figure ("3"), or inside an arithmetic expression?"""
    for call in calls[quantity.origin + 1 :]:
        for value in call_args(call).values():
            if is_number(value) and same_value(float(value), quantity.value):
                return True
            if isinstance(value, str) and is_figure(value):
                if same_value(float(plain(value)), quantity.value):
                    return True
            elif isinstance(value, str) and _OPERATION.search(value):
                numbers = re.findall(NUMBER_BODY, value)
                if any(same_value(float(plain(n)), quantity.value) for n in numbers):
                    return True
    return False


ASKS_AN_AMOUNT = frozenset({"pay", "cost", "costs", "spend", "price", "charge", "owe"})
"""Words that ask for an amount of money ("what do I pay?"): a call that returned money
accounts for them."""


def figures_returned(
    call: Mapping[str, Any], tools: Mapping[str, BaseTool]
) -> list[tuple[float, Unit]]:
    """The figures a call returned with their units: a bare figure in the unit it converted
    into or the tool says it returns, else each figure its text writes with a unit."""
    tool = tools[str(call["name"])]
    if returns_figure(call):
        properties = getattr(tool, "args", None) or {}
        returned = returned_units(str(getattr(tool, "description", "") or ""))
        unit = converted_to(call_args(call), properties) or (
            returned[0] if len(returned) == 1 else None
        )
        return [] if unit is None else [(float(str(call["result"]).replace(",", "")), unit)]
    return [(value, units[0]) for value, units in quantities(str(call.get("result"))) if units]


def returns_figure(call: Mapping[str, Any]) -> bool:
    """Did the call return one number and nothing else?"""
    return call.get("result") is not None and is_figure(str(call["result"]))


def same_value(a: float, b: float) -> bool:
    """Are two figures the same number (up to floating-point noise)?"""
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
