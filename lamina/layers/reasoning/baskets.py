"""What a basket of things costs: one price lookup per thing (:func:`planned_basket`), then
each price times its count, added (:func:`basket_step`), written from the request and the
results, never by a model.

"What do 5 phone cases and 2 water bottles cost altogether?": SmolLM2-135M priced the water
bottle, doubled it and answered 37.5 EUR (the 5 phone cases never priced: `unused_input`);
"How much would 10 usb-c cables and a backpack cost?" and "Total for a webcam plus a desk
lamp?" ended the same way. The request names the things with their counts
(:func:`lamina.guards.totals.basket`: "5 phone cases", "a backpack"), asks what they cost
("cost", "price", "pay", "how much", "total", or a currency) and gives no figure but the
counts; one tool is closest to "the
price of <thing>" for every thing and says it returns money. The plan prices each thing (its
singular: "phone case"); then the calculator works out `5 * 15 + 2 * 18.75`, and a currency
the request asks for ("in pounds") is converted to after, as for any total.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lamina.core.records import call_args, successful_calls
from lamina.guards.noun_phrases import singular, without_article
from lamina.guards.numbers import canonical
from lamina.guards.quantities import figures_returned
from lamina.guards.tool_shortlist import asks_about_our_stock, asks_for_money, only_counts
from lamina.guards.totals import Item, asked_total, basket
from lamina.guards.units import returned_units
from lamina.layers.reasoning.combination import calculation
from lamina.layers.reasoning.final_arithmetic import takes_one_name, written_lookups
from lamina.layers.reasoning.plan import PlanStep
from lamina.tools.calculator import CALCULATOR_NAME

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from lamina.guards.tool_relevance import ToolFit
    from lamina.guards.units import Unit

__all__ = [
    "ADDED_FOR_BASKET",
    "ADDED_FOR_PRICE",
    "basket_step",
    "planned_basket",
    "price_tool",
]

_COST = re.compile(r"\b(?:costs?|prices?|priced|pay|spend|how\s+much)\b", re.IGNORECASE)
"""Words that ask what something costs."""

ADDED_FOR_PRICE = "basket price"
"""`PlanStep.added_for` of a price lookup planned for a thing of a basket."""

ADDED_FOR_BASKET = "basket"
"""`PlanStep.added_for` of the step that works out what a basket costs."""


def planned_basket(
    task: str, tools: Mapping[str, BaseTool], fit_of: Callable[[str], ToolFit | None]
) -> tuple[PlanStep, ...]:
    """One price lookup per thing of the request's basket, or () (see the module docstring)."""
    items = basket(task)
    if not items or asks_about_our_stock(task) or not only_counts(task):
        return ()
    if not (asks_for_money(task) or asked_total(task) or _COST.search(task)):
        return ()  # "How many days between a Monday and a Friday?" asks no price
    names = [_lookup_name(item) for item in items]
    if len(set(names)) != len(names):
        return ()
    tool = price_tool([f"the price of {name}" for name in names], tools, fit_of)
    return written_lookups(tool, tools, names, ADDED_FOR_PRICE)


def basket_step(
    task: str,
    calls: Sequence[Mapping[str, Any]],
    plan: Sequence[PlanStep],
    tools: Mapping[str, BaseTool],
) -> PlanStep | None:
    """The calculation of what the request's basket costs from the prices its lookups
    returned, once each thing has one (in one unit), or None."""
    if CALCULATOR_NAME not in tools or any(s.added_for == ADDED_FOR_BASKET for s in plan):
        return None
    if not any(s.added_for == ADDED_FOR_PRICE for s in plan):
        return None
    priced: dict[str, tuple[float, Unit]] = {}
    for call in successful_calls(calls, tools):
        names = [v for v in call_args(call).values() if isinstance(v, str)]
        money = [f for f in figures_returned(call, tools) if f[1].dimension == "money"]
        if len(names) == 1 and len(money) == 1 and call.get("name") != CALCULATOR_NAME:
            priced[_key(names[0])] = money[0]
    prices = [priced.get(_key(item.thing)) for item in basket(task)]
    if not prices or None in prices:
        return None
    found = [p for p in prices if p is not None]
    if len({unit for _, unit in found}) != 1:
        return None
    terms = [
        canonical(price) if item.count == 1 else f"{canonical(item.count)} * {canonical(price)}"
        for item, (price, _) in zip(basket(task), found, strict=True)
    ]
    return calculation(len(plan), " + ".join(terms), found[0][1], added_for=ADDED_FOR_BASKET)


def _lookup_name(item: Item) -> str:
    """What a lookup is asked about for an item: its thing in the singular ("phone case")."""
    words = item.thing.lower().split()
    return " ".join([*words[:-1], singular(words[-1])])


def _key(name: str) -> str:
    """A name as lookups are matched to items: no article, each word singular."""
    return " ".join(singular(w) for w in without_article(name).lower().split())


def price_tool(
    phrases: Sequence[str], tools: Mapping[str, BaseTool], fit_of: Callable[[str], ToolFit | None]
) -> str | None:
    """The tool that prices things: of the tools that take one string (no text to work on)
    and say they return money, the closest to the phrases ("the price of phone case") in all,
    by description or name, at least `supports_above` from each; else None. ("the price of
    usb-c cable" is closer to `shipping_cost`'s description, a tool of two arguments.)"""
    candidates = [
        name
        for name, t in tools.items()
        if takes_one_name(t)
        and any(u.dimension == "money" for u in returned_units(str(t.description or "")))
    ]
    fits = [fit for phrase in phrases if (fit := fit_of(phrase)) is not None]
    if not candidates or len(fits) != len(phrases):
        return None
    closeness = {
        name: [
            max(float(f.scores.get(name, -1.0)), float(f.name_scores.get(name, -1.0))) for f in fits
        ]
        for name in candidates
    }
    fitting = [
        name
        for name in candidates
        if all(score >= f.supports_above for score, f in zip(closeness[name], fits, strict=True))
    ]
    return max(fitting, key=lambda name: sum(closeness[name]), default=None)
