"""A rate per thing of a text the request quotes, planned as that text's count first
(:func:`planned_count`): "A translator charges 0.12 euros per word. What would this cost:
'Fresh bread baked every morning in the heart of the old town'" → `word_count` of the quoted
text, whose figure counts words; the product of the rate and the count follows
(:func:`~lamina.layers.reasoning.combination.combination_step`), then a conversion into the
unit asked for. SmolLM2-135M had called `convert_currency(0.12, "USD", "EUR")` and answered the
rate, or failed the step three times over.

Only where the request gives exactly one rate per a kind of thing ("per word"), counts none of
those things, quotes one text, and one tool says it counts them ("Count the words in a piece of
text") and takes one string argument. The step writes that call itself (`PlanStep.call`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from lamina.core.records import single_string_argument
from lamina.guards.noun_phrases import singular
from lamina.guards.passages import quoted_texts
from lamina.guards.request_quantities import request_quantities
from lamina.guards.units import units_named
from lamina.layers.reasoning.plan import PlanStep

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = ["ADDED_FOR_COUNT", "planned_count", "quoted_text"]

ADDED_FOR_COUNT = "count"
"""`PlanStep.added_for` of a step that counts the things of a quoted text a rate is per."""


def quoted_text(request: str) -> str | None:
    """The one text of several words the request quotes ('...', "...", “...”), else None."""
    found = quoted_texts(request)
    return found[0] if len(found) == 1 else None


def planned_count(task: str, tools: Mapping[str, BaseTool]) -> PlanStep | None:
    """The call that counts the things of the quoted text a rate of the request is per, or
    None (see the module docstring)."""
    quantities = request_quantities(task)
    rates = [
        q
        for q in quantities
        if q.unit is not None and len(q.per) == 1 and not units_named(next(iter(q.per)))
    ]
    text = quoted_text(task)
    if len(rates) != 1 or text is None:
        return None
    (thing,) = rates[0].per
    if any(thing in q.counts for q in quantities):
        return None
    counters = [
        (name, argument)
        for name, tool in tools.items()
        if (argument := single_string_argument(tool)) is not None
        and _counts(str(getattr(tool, "description", "") or ""), thing)
    ]
    if len(counters) != 1:
        return None
    name, argument = counters[0]
    return PlanStep(
        index=0,
        instruction=f"Count the {thing}s of: {text}",
        needs_tool=True,
        added_for=ADDED_FOR_COUNT,
        tools=(name,),
        call=(name, argument, text),
    )


def _counts(description: str, thing: str) -> bool:
    """Does a tool's description say it counts `thing`s ("Count the words in a piece of
    text", "The number of words")?"""
    pattern = r"\b(?:counts?|number\s+of|how\s+many)\s+(?:the\s+)?(?P<what>[^\W\d_]+)"
    return any(singular(m["what"]) == thing for m in re.finditer(pattern, description, re.I))
