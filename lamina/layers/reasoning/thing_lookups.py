"""The lookup of one thing's figure that a question's own arithmetic needs, planned before it:
a limit compares the figure (:func:`planned_threshold`), or a percentage changes it
(:func:`planned_percent`). What follows is as for any run: the comparison with the limit and
the yes or no (:func:`lamina.layers.reasoning.final_arithmetic.comparison_step`,
:func:`~lamina.layers.reasoning.final_arithmetic.threshold_answer`), or the percentage on top or
off (:func:`~lamina.layers.reasoning.final_arithmetic.percent_step`).

"Is a standing desk more than 300 euros?": SmolLM2-135M made no call and wrote about posture;
"Do we have enough wireless mice for an order of 150?": no call, "We don't have enough"
(both `unverified`). The question names one thing and a limit
(:func:`lamina.guards.comparisons.asked_comparison`, kind "threshold"). A limit in a currency
asks for the thing's price (the tool :func:`lamina.layers.reasoning.baskets.price_tool`
picks); "enough ... for N" asks for our stock of it
(:func:`lamina.layers.reasoning.lookup_answers.counting_tool`). The thing is the noun phrase
after "enough", or after the question's opening ("Is a", "Does the").

"What's 40% off a monitor?" and "A backpack with a 15% discount, what do I pay?": no call, and
SmolLM2-135M took 40% of 100. The request changes an amount by a percentage
(:func:`lamina.guards.comparisons.percent_change`), gives no figure but the percentage, and
names one thing with "a" or "the" outside the percentage's words: its price is looked up.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from lamina.guards.comparisons import asked_comparison, percent_change
from lamina.guards.noun_phrases import FUNCTION_WORDS, singular
from lamina.guards.numbers import number_words, same_figure, written_numbers
from lamina.guards.totals import QUESTION_WORDS, items_named
from lamina.guards.units import quantities
from lamina.layers.reasoning.baskets import price_tool
from lamina.layers.reasoning.final_arithmetic import written_lookups
from lamina.layers.reasoning.lookup_answers import counting_tool
from lamina.layers.reasoning.plan import PlanStep

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from lamina.guards.tool_relevance import ToolFit

__all__ = ["ADDED_FOR_PERCENT_BASE", "ADDED_FOR_THRESHOLD", "planned_percent", "planned_threshold"]

ADDED_FOR_THRESHOLD = "threshold"
"""`PlanStep.added_for` of the lookup of the figure a threshold question compares."""

ADDED_FOR_PERCENT_BASE = "percent base"
"""`PlanStep.added_for` of the lookup of the price a percentage changes."""

_ENOUGH_OF = re.compile(r"\benough\s+(?P<rest>[^.?!]*)", re.IGNORECASE)
_OPENING = re.compile(
    r"^\s*(?:is|are|was|were|does|do|did|will|would)\s+(?:(?:a|an|the|one)\s+)?(?P<rest>[^.?!]*)",
    re.IGNORECASE | re.MULTILINE,
)
_NOT_OF_A_THING = (
    QUESTION_WORDS
    | {"priced", "sell", "sells", "go", "going", "above", "over"}
    | {
        "below",
        "under",
        "enough",
        "cheaper",
        "dearer",
        "pricier",
        "worth",
        "still",
        "got",
    }
)
"""Words that end a thing's name here: the question's ("cost") and the limit's ("under")."""


def planned_threshold(
    task: str, tools: Mapping[str, BaseTool], fit_of: Callable[[str], ToolFit | None]
) -> tuple[PlanStep, ...]:
    """The lookup of the figure a threshold question compares with its limit, or () (see the
    module docstring)."""
    asked = asked_comparison(task)
    if asked is None or asked.kind != "threshold" or asked.limit is None:
        return ()
    limit = asked.limit
    if len(written_numbers(task)) + len(number_words(task)) != 1:
        return ()  # "Are 3 webcams more than 150 euros?": the figure is no single lookup
    money = any(
        same_figure(str(value), limit) and any(u.dimension == "money" for u in units)
        for value, units in quantities(task)
    )
    enough = _ENOUGH_OF.search(task)
    if money:
        found = _OPENING.search(task)
        thing = _thing(found["rest"]) if found else ""
        tool = price_tool([f"the price of {thing}"], tools, fit_of) if thing else None
    elif enough is not None:
        thing = _thing(enough["rest"])
        tool = counting_tool(thing, tools, fit_of) if thing else None
    else:
        return ()
    return written_lookups(tool, tools, [thing], ADDED_FOR_THRESHOLD)


def planned_percent(
    task: str, tools: Mapping[str, BaseTool], fit_of: Callable[[str], ToolFit | None]
) -> tuple[PlanStep, ...]:
    """The price lookup of the one thing whose price a percentage changes, or () (see the
    module docstring)."""
    change = percent_change(task)
    if change is None or len(written_numbers(task)) + len(number_words(task)) != 1:
        return ()
    rest = task.replace(change.text, " ")
    items = items_named(rest)
    if len(items) != 1 or items[0].count != 1:
        return ()
    thing = _thing(items[0].thing)
    tool = price_tool([f"the price of {thing}"], tools, fit_of) if thing else None
    return written_lookups(tool, tools, [thing], ADDED_FOR_PERCENT_BASE)


def _thing(text: str) -> str:
    """The noun phrase `text` opens with, up to a function word or a word of the question
    ("standing desk more than 300 euros" → standing desk; "wireless mice for an order" →
    wireless mice), at most three words and in the singular; "" when there is none."""
    kept: list[str] = []
    for word in re.findall(r"[^\W\d_][\w'-]*", text.lower()):
        if word in FUNCTION_WORDS or word in _NOT_OF_A_THING or "'" in word:
            break
        kept.append(word)
    if not kept or len(kept) > 3:
        return ""
    return " ".join([*kept[:-1], singular(kept[-1])])
