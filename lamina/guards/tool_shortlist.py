"""Word guards for choosing tools on a small model: which tools a step names or most likely
means (:func:`named_tools`, :func:`shortlist_tools`), and whether a step needs a tool at all
(:func:`step_needs_tool`: arithmetic, a telling word of a tool's name, a lookup word, weighed by
the tools' relevance when the encoder is on, :mod:`lamina.guards.tool_relevance`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lamina.guards.comparisons import asked_choice
from lamina.guards.dates import CALENDAR_WORDS
from lamina.guards.noun_phrases import PROPER_NAME
from lamina.guards.numbers import (
    PACKS_OF,
    POWER,
    SHARE_OF,
    number_words,
    percentages,
)
from lamina.guards.quantities import says_it_counts
from lamina.guards.request_quantities import request_quantities
from lamina.guards.shares import shared_amount
from lamina.guards.totals import asked_total
from lamina.guards.units import asked_unit, returned_units, units_named

if TYPE_CHECKING:
    from lamina.guards.tool_relevance import ToolFit

__all__ = [
    "asks_for_a_figure",
    "asks_for_arithmetic",
    "asks_for_money",
    "by_name_words",
    "name_words_used",
    "named_tools",
    "names_what_a_tool_takes",
    "shortlist_tools",
    "step_needs_tool",
    "tool_arguments",
    "tool_names",
]


_ARITHMETIC = re.compile(r"\d\s*(?:[-+*/×÷^%]|\*\*)\s*\(?\s*\d")
_MATH_WORDS = re.compile(
    r"\b(?:calculate|compute|sum|add|subtract|multiply|divide|product|total|square\s+root|"
    r"percent|percentage|average|plus|minus|times|divided)\b",
    re.IGNORECASE,
)
_LOOKUP_WORDS = re.compile(
    r"\b(?:look\s+up|search|find\s+out|weather|latest|current(?:ly)?|today|price|exchange\s+rate|"
    r"convert)\b",
    re.IGNORECASE,
)


def tool_names(tools: Sequence[Any] | Mapping[str, Any]) -> list[str]:
    """The names of `tools` (tools, tool dicts or names; a mapping: its keys)."""
    if isinstance(tools, Mapping):
        return [str(n) for n in tools]
    return [_name_of(t) for t in tools]


# Verbs and fillers in tool names that say nothing about what the tool is for.
_GENERIC_NAME_WORDS = frozenset(
    {
        "get",
        "set",
        "put",
        "add",
        "make",
        "do",
        "run",
        "use",
        "call",
        "list",
        "read",
        "write",
        "fetch",
        "find",
        "load",
        "save",
        "show",
        "tool",
        "tools",
        "the",
        "for",
        "from",
        "with",
        "and",
        "into",
        "data",
        "info",
        "value",
        "values",
        "item",
        "items",
        "text",
    }
)


def _name_words(name: str) -> list[str]:
    """The telling words of a tool name: `get_distance` → ["distance"], `km_to_miles` →
    ["miles"] ("km" is shorter than three letters), `searchFlights` → ["search", "flights"]."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    words = re.split(r"[^A-Za-z]+", spaced.lower())
    return [w for w in words if len(w) >= 3 and w not in _GENERIC_NAME_WORDS]


def shortlist_tools(instruction: str, names: Sequence[str]) -> list[str]:
    """The tools a one-action step most likely means, by the telling words of their names.

    "Close that ticket" with `open_ticket` and `close_ticket` → `["close_ticket"]` (two words
    match against one). Every tool when no name word matches or the best match is shared: a
    shortlist only ever narrows to one clear winner.
    """
    scores = name_words_used(instruction, names)
    best = max(scores.values(), default=0)
    winners = [name for name, score in scores.items() if score == best]
    return winners if best > 0 and len(winners) == 1 else list(names)


def name_words_used(instruction: str, names: Sequence[str]) -> dict[str, int]:
    """By tool, how many telling words of its name the step uses ("the tip on 45 euros": 1
    for `add_tip`, 0 for `product_price`)."""
    lowered = instruction.lower()
    return {
        name: sum(
            1
            for word in _name_words(name)
            if re.search(rf"\b{re.escape(word)}(?:s|es|d|ed)?\b", lowered)
        )
        for name in names
    }


def by_name_words(instruction: str, names: Sequence[str]) -> list[str]:
    """`names` with the tools whose names the step's words use first, the most words first; the
    order stays otherwise (a ranking by meaning stays a ranking). A small model calls the first
    tool it is shown: for "What's the tip on 45 euros at 20 percent?" `product_price` scored
    0.501 against `add_tip`'s 0.486, and SmolLM2-135M called `product_price("20")` three
    times."""
    used = name_words_used(instruction, names)
    return sorted(names, key=lambda name: -used[name])


def named_tools(instruction: str, names: Sequence[str]) -> list[str]:
    """The tools `instruction` names outright (`get_distance` or "get distance")."""
    lowered = instruction.lower()
    return [
        name
        for name in names
        if re.search(rf"\b{re.escape(name.lower())}\b", lowered)
        or name.lower().replace("_", " ") in lowered
    ]


def step_needs_tool(
    instruction: str, tools: Sequence[Any] | Mapping[str, Any], *, fit: ToolFit | None = None
) -> bool:
    """Heuristic: does this step need a tool? Never without tools.

    True when the step names a tool, contains arithmetic (digits with an operator, or digits
    with a word like "multiply"), holds a telling word of a tool's name ("distance" for
    `get_distance`), asks to look something up ("search", "weather", ...) or asks for an
    amount of money (:func:`asks_for_money`) or asks to pick one of two things by a
    comparative (:func:`lamina.guards.comparisons.asked_choice`). With `fit` (the
    step's :class:`~lamina.guards.tool_relevance.ToolFit`), meaning weighs in: a step that a
    tool fits needs one even without such words, and a name or lookup word counts only when
    some tool is close enough (`fit.supports`): "What is the price of gold?" holds the lookup
    word "price", which is not enough when the only tool is `get_distance`. A step that asks for
    an amount and gives no figure of its own ("How much is the lamp?") needs a tool whose name
    alone is that close (`fit.best_name`): measured on BFCL's tuning cases, a tool step when
    needed stays 0.943, a correct "no tool" goes from 0.742 to 0.721 (4 of 190 near misses,
    "What's the cost of renting an apartment in New York?" for `calculate_construction_cost`).
    """
    names = tool_names(tools)
    if not names:
        return False
    lowered = instruction.lower()
    if named_tools(instruction, names):
        return True
    if asks_for_arithmetic(instruction):
        return True
    if fit is not None and fit.fits:
        return True
    worded = (
        any(
            re.search(rf"\b{re.escape(word)}(?:s|es)?\b", lowered)
            for name in names
            for word in _name_words(name)
        )
        or bool(_LOOKUP_WORDS.search(instruction))
        or asks_for_money(instruction)
        # "Which is cheaper, a monitor or a webcam?": figures a model does not know, compared
        or asked_choice(instruction) is not None
    )
    if worded and (fit is None or fit.supports):
        return True
    if fit is not None and fit.supports and names_what_a_tool_takes(instruction, tools, fit):
        return True
    if asks_about_our_stock(instruction) and only_counts(instruction) and _counts(tools):
        # "How many webcams do we have?": the user's own count, which no model knows (0.22
        # from stock_level); a tool says it counts
        return True
    asks_amount = asks_for_money(instruction) or asked_total(instruction) is not None
    if asks_amount and only_counts(instruction) and _returns_money(tools):
        # "how much would 3 webcams set me back in yen": an amount no figure of the step gives
        # (0.25 from product_price), and a tool says it returns one; a total of things ("A
        # keyboard and a mouse, what's that together?") too
        return True
    # "How much does the standing desk cost?": a figure about something named, which the request
    # does not give and a model cannot know, from a tool whose name is close (0.37); a count of
    # the things ("If I buy 3 mechanical keyboards, how much is that?") gives no such figure
    asked = asks_for_a_figure(instruction) and only_counts(instruction)
    return fit is not None and asked and fit.best_name >= fit.supports_above


def names_what_a_tool_takes(
    instruction: str, tools: Sequence[Any] | Mapping[str, Any], fit: ToolFit
) -> bool:
    """Does the step give a name ("Cairo": a capitalised word inside a sentence, not a unit or
    a month) while the tool that fits it best by meaning takes a name (a string argument whose
    description gives a name as its example: "the city's name, e.g. Lisbon")? "What's Cairo's
    temperature in Fahrenheit?" fits `weather` (0.39, below `fit.fits`) and holds no lookup
    word; SmolLM2-135M answered "32 degrees" without a call."""
    names = [
        m["name"]
        for m in PROPER_NAME.finditer(instruction)
        if m["name"].lower() not in CALENDAR_WORDS and not units_named(m["name"])
    ]
    ranked = fit.ranked()
    if not names or not ranked:
        return False
    return any(
        isinstance(schema, Mapping)
        and schema.get("type") == "string"
        and _NAMED_EXAMPLE.search(str(schema.get("description", "")))
        for schema in tool_arguments(tools, ranked[0]).values()
    )


_NAMED_EXAMPLE = re.compile(
    r"\b(?:e\.g\.|eg\.?|for example|such as|like)\s*,?\s*['\"]?[A-Z][a-z]{2,}"
)
"""An argument described with a name as its example ("the city's name, e.g. Lisbon")."""


def tool_arguments(tools: Sequence[Any] | Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The JSON-schema properties of the tool called `name` among `tools` (tools or OpenAI tool
    dicts; names alone have none: {})."""
    found = tools.get(name) if isinstance(tools, Mapping) else None
    if found is None and not isinstance(tools, Mapping):
        found = next((t for t in tools if _name_of(t) == name), None)
    if isinstance(found, Mapping):
        function = found.get("function", found)
        parameters = function.get("parameters") if isinstance(function, Mapping) else None
        properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
        return properties if isinstance(properties, Mapping) else {}
    args = getattr(found, "args", None)
    return args if isinstance(args, Mapping) else {}


def _name_of(tool: Any) -> str:
    if isinstance(tool, Mapping):
        function = tool.get("function", tool)
        return str(function.get("name", "")) if isinstance(function, Mapping) else ""
    return str(getattr(tool, "name", tool))


def only_counts(instruction: str) -> bool:
    """Is every figure of the step a count of things ("3 webcams") or a percentage ("25%
    off"), so that it gives no value a tool could be asked about? True for a step without
    figures."""
    # a count in words is a figure too ("Two desk lamps - what do they cost together?")
    figures = len(re.findall(r"\d+(?:[.,]\d+)*", instruction)) + len(number_words(instruction))
    counts = [q for q in request_quantities(instruction) if q.counts and q.unit is None]
    return figures == len(counts) + len(percentages(instruction))


_FIGURE_ASKED = re.compile(
    r"\bhow\s+(?:much|many|far|long|old|tall|big|heavy)\b|\b(?:price|prices|cost|costs)\b"
    r"|\bwhat(?:'s|\s+is|\s+are)\s+(?:the\s+)?(?:total|number|amount|value|rate)\b",
    re.IGNORECASE,
)


def asks_for_a_figure(instruction: str) -> bool:
    """Does the step ask for an amount ("how much", "what does it cost", "what is the rate")?"""
    return bool(_FIGURE_ASKED.search(instruction))


def asks_for_arithmetic(instruction: str) -> bool:
    """Does the step hold arithmetic: digits with an operator between them, or digits with a
    word like "plus", "multiply" or "total"?"""
    # and in words: a share of a figure ("17.5% of 2,340"; SmolLM2 answered it with no call),
    # packs of things ("3 boxes of 24 eggs"), a power ("7 squared")
    if any(p.search(instruction) for p in (_ARITHMETIC, SHARE_OF, PACKS_OF, POWER)):
        return True
    if shared_amount(instruction) is not None:
        return True
    return any(ch.isdigit() for ch in instruction) and bool(_MATH_WORDS.search(instruction))


_OUR_STOCK = re.compile(
    r"\bhow\s+many\b[^.?!]*?\b(?:do|did|have|has)\s+we\s+(?:still\s+)?"
    r"(?:have|got|own|hold|keep|stock)\b"
    r"|\bhow\s+many\b[^.?!]*?\b(?:in\s+stock|on\s+hand|in\s+(?:the|our)\s+warehouse)\b"
    r"|\b(?:do|have)\s+we\s+(?:still\s+)?(?:have|got)\s+(?:any\s+)?[^\W\d_]+",
    re.IGNORECASE,
)
_LEFT = re.compile(
    r"\bhow\s+many\s+(?P<what>[^\W\d_][^.?!\d]*?)\s+(?:are|is)\s+(?:still\s+)?"
    r"(?:left|remaining|available)\b",
    re.IGNORECASE,
)
""""how many mechanical keyboards are left" (SmolLM2-135M answered 19 without a call); not
"how many days are left", a count of a unit."""


def asks_about_our_stock(instruction: str) -> bool:
    """Does the step ask how many of something we have in stock ("How many webcams do we
    have?", "How many monitors are left in the warehouse?", "Do we still have water
    bottles?", "How many keyboards are left?")? Such a count is the user's own: only a tool
    knows it. "How many legs does a spider have?" and "How many days do I have left?" ask no
    such thing."""
    if _OUR_STOCK.search(instruction):
        return True
    left = _LEFT.search(instruction)
    return left is not None and not units_named(left["what"])


def _counts(tools: Sequence[Any] | Mapping[str, Any]) -> bool:
    """Does a tool say it counts things ("How many units of a product are in stock")?"""
    found = tools.values() if isinstance(tools, Mapping) else tools
    return any(says_it_counts(_description(t)) for t in found)


def _returns_money(tools: Sequence[Any] | Mapping[str, Any]) -> bool:
    """Does a tool say it returns an amount of money ("Price in euros of ...")?"""
    found = tools.values() if isinstance(tools, Mapping) else tools
    return any(unit.dimension == "money" for t in found for unit in returned_units(_description(t)))


def _description(t: Any) -> str:
    """A tool's own description: a tool's, or a tool dict's (OpenAI's form too); "" for a
    name."""
    if isinstance(t, Mapping):
        inner = t.get("function")
        return str(t.get("description") or (inner or {}).get("description") or "")
    return "" if isinstance(t, str) else str(getattr(t, "description", "") or "")


def asks_for_money(instruction: str) -> bool:
    """Does the step ask for an amount in a currency ("What does the kettle cost in US
    dollars?")? A model knows no prices or rates of its own: such a figure is looked up or
    computed, so a tool that supports the step is needed."""
    return any(unit.dimension == "money" for unit in asked_unit(instruction))
