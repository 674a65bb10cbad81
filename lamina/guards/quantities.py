"""What a figure of a run is (:func:`quantities_of_run`): a value of one thing, a rate per
thing, or a count of things, read from where the figure stands, never asked of a model.

* a *value of one thing*: a tool result with a unit, from a call that names the thing
  (`product_price("mechanical keyboard")` → 89 EUR, of one keyboard; the unit from the tool's
  description, "the unit price in euros"); a converter's result of such a value is a value of
  the same thing (37.69 USD after `convert_currency(34.9, ...)`);
* a *rate*: a figure of the request with a unit *per* a thing ("0.12 euros per word");
* a *count of things*: a whole number of the request written before the things ("3 mechanical
  keyboards"), or a whole unitless tool result from a call that names them
  (`stock_level("monitor")` → 18 monitors; `word_count(...)` → words, by the tool's name).

A thing is named by the words of a short string argument, singular, but for English function
words ("the monitors in the warehouse" names monitors and a warehouse). The step that combines
such figures is :mod:`lamina.layers.reasoning.combination`'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lamina.guards.numbers import (
    NUMBER_BODY,
    is_figure,
    is_number,
    number_words,
    plain,
    same_figure,
    written_numbers,
)
from lamina.guards.units import Unit, converted_to, returned_units, unit_role, units_named

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = [
    "REQUEST",
    "Quantity",
    "ignored_values",
    "quantities_of_run",
    "returns_figure",
    "same_value",
    "things_named",
    "used_later",
]

REQUEST = -1
"""`Quantity.origin` of a figure the request gives."""


@dataclass(frozen=True)
class Quantity:
    """A figure of the run and what it is.

    Attributes:
        value: the figure.
        unit: its unit (EUR, kg), or None.
        per: the things it is a value of one of, or a rate per ("keyboard", "word"), singular.
        counts: the things it counts, singular (empty: not a count).
        origin: the index of the call that returned it, or `REQUEST`.
    """

    value: float
    unit: Unit | None
    per: frozenset[str] = frozenset()
    counts: frozenset[str] = frozenset()
    origin: int = REQUEST


def quantities_of_run(
    task: str, calls: Sequence[Mapping[str, Any]], tools: Mapping[str, BaseTool]
) -> list[Quantity]:
    """The rates and counts the request gives, and the values and counts the calls returned
    (see the module docstring)."""
    found = _request_quantities(task)
    for index, call in enumerate(calls):
        if not returns_figure(call):
            continue
        tool = tools[call["name"]]
        properties = getattr(tool, "args", None) or {}
        args = call.get("args") or {}
        value = float(plain(call["result"]))
        converted = converted_to(args, properties)
        returned = returned_units(str(getattr(tool, "description", "") or ""))
        unit = converted or (returned[0] if len(returned) == 1 else None)
        things = things_named(args, properties)
        if converted is not None:
            # a converted value of one thing is a value of that thing
            numbers = [float(v) for v in args.values() if is_number(v)]
            things |= {
                thing
                for q in found
                if q.per and any(same_value(q.value, n) for n in numbers)
                for thing in q.per
            }
        if unit is not None:
            found.append(Quantity(value, unit, per=things, origin=index))
        elif value == int(value):
            named = {_singular(w) for w in str(call["name"]).lower().split("_") if len(w) > 2}
            found.append(Quantity(value, None, counts=things | named, origin=index))
    return found


def ignored_values(
    task: str, calls: Sequence[Mapping[str, Any]], tools: Mapping[str, BaseTool], answer: str
) -> list[Quantity]:
    """The values of one thing the calls returned that nothing after them used and that are
    not the answer's figure (its last one).

    "Look up the unit price of the mug: I want 12 mugs.": SmolLM2 looked up 6.25 EUR, then
    the stock (120), called `calculator("12 + 120")` and answered 132 with a tool behind every
    figure. A price looked up and then left out of the arithmetic that answers is a run that
    did not do what it set out to; an answer that is the price itself ("A mug costs 6.25
    EUR.") used it.
    """
    done = [c for c in calls if c.get("error") is None and c.get("name") in tools]
    written = written_numbers(answer)
    last = written[-1][0] if written else None
    found: dict[float, Quantity] = {}
    for quantity in quantities_of_run(task, done, tools):
        if quantity.origin == REQUEST or not quantity.per or quantity.unit is None:
            continue
        if used_later(quantity, done) or (last is not None and same_figure(last, quantity.value)):
            continue
        found.setdefault(quantity.value, quantity)
    return list(found.values())


_TOKEN = re.compile(rf"(?P<number>{NUMBER_BODY})(?P<pct>\s?%)?|(?P<word>[^\W\d_][\w'-]*)|[^\s]")
_RATE_WORDS = frozenset({"per", "a", "an", "each", "every"})
_IDIOMS = frozenset({"twice", "double", "triple", "half", "hundred", "thousand", "dozen", "one"})
"""Number words that are not a count written before things ("twice", "a hundred times")."""


def _request_quantities(task: str) -> list[Quantity]:
    """The request's counts ("3 mechanical keyboards") and rates ("0.12 euros per word")."""
    tokens = list(_TOKEN.finditer(task))
    found: list[Quantity] = []
    for i, token in enumerate(tokens):
        value = _count_value(token)
        if value is None:
            continue
        following = _words_after(tokens, i + 1)
        units = units_named(following[0]) if following else []
        if units and len(following) >= 3 and following[1].lower() in _RATE_WORDS:
            # "0.12 euros per word": a value per one thing
            found.append(Quantity(value, units[0], per=frozenset({_singular(following[2])})))
        elif not units and following and value >= 1 and value == int(value):
            named = {_singular(w) for w in following if w.lower() not in _FUNCTION_WORDS}
            found.append(Quantity(value, None, counts=frozenset(named)))
    return found


def _count_value(token: re.Match[str]) -> float | None:
    if token.group("number") is not None:
        return None if token.group("pct") else float(token.group("number").replace(",", ""))
    word = token.group("word") or ""
    if word.lower() in _IDIOMS:
        return None
    named = number_words(word)
    return named[0][1] if named else None


def _words_after(tokens: Sequence[re.Match[str]], start: int) -> list[str]:
    """Up to three words that follow, up to the first number or punctuation."""
    words: list[str] = []
    for token in tokens[start : start + 3]:
        word = token.group("word")
        if word is None:
            break
        words.append(word)
    return words


_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "what",
        "which",
        "who",
        "how",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "with",
        "by",
        "and",
        "or",
        "but",
        "is",
        "are",
        "was",
        "were",
        "be",
        "my",
        "our",
        "your",
        "their",
        "his",
        "her",
        "me",
        "us",
        "you",
        "we",
        "they",
        "i",
        "do",
        "does",
        "some",
        "any",
        "all",
        "every",
        "each",
        "much",
        "many",
    ]
)
"""English function words: they name no thing ("the monitors in the warehouse" names monitors
and a warehouse)."""


def things_named(args: Mapping[str, Any], properties: Mapping[str, Any]) -> frozenset[str]:
    """The things a call names: the words of each short string argument that is a name (no
    digits, up to six words, not a unit), singular, but for function words ("desk lamps,
    what's that", as a lenient tool accepted it, names a desk and lamps)."""
    things: set[str] = set()
    for name, value in args.items():
        schema = properties.get(name)
        if not isinstance(value, str) or (
            isinstance(schema, Mapping) and unit_role(name, schema) is not None
        ):
            continue
        words = re.findall(r"[^\W\d_][\w-]*", value.lower())
        if not 1 <= len(words) <= 6 or any(ch.isdigit() for ch in value) or units_named(value):
            continue
        things |= {_singular(w) for w in words if len(w) > 2 and w not in _FUNCTION_WORDS}
    return frozenset(things)


def _singular(word: str) -> str:
    word = word.lower()
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


_OPERATION = re.compile(r"[\d)]\s*[-+*/x×]\s*[\d(]")


def used_later(quantity: Quantity, calls: Sequence[Mapping[str, Any]]) -> bool:
    """Did a call after the quantity's own take its figure: as a number argument, or inside an
    arithmetic expression?"""
    for call in calls[quantity.origin + 1 :]:
        for value in (call.get("args") or {}).values():
            if is_number(value) and same_value(float(value), quantity.value):
                return True
            if isinstance(value, str) and _OPERATION.search(value):
                numbers = re.findall(NUMBER_BODY, value)
                if any(same_value(float(n.replace(",", "")), quantity.value) for n in numbers):
                    return True
    return False


def returns_figure(call: Mapping[str, Any]) -> bool:
    return call.get("result") is not None and is_figure(str(call["result"]))


def same_value(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
