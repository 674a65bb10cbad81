"""Answers made of the same lookup for several names, written from the results, never by a
model: each result listed with its name (:func:`lookups_listed`), or the pick a request asks
for between the things it names (:func:`choice_answer`), planned as one lookup per thing
(:func:`planned_choice`).

"How much are a backpack and a phone case?": lamina priced the phone case, then the backpack
(a thing coordinated with one a call took is owed the same call:
:func:`lamina.guards.parts_left_out.coordinated_with`), and the answer was the backpack's
price alone, which reads as the answer to the whole question. It is now "phone case: 15.0;
backpack: 59.9".

"Is it warmer in Lisbon or in Berlin?": lamina looked up both cities, and the answer's last
line was Berlin's weather, which reads as "Berlin". The question names a comparative and says
"or" (:func:`lamina.guards.comparisons.asked_choice`); each lookup of one name returned one
figure in the comparative's dimension (a temperature for "warmer": 21 °C from Lisbon's
weather, not its 14 km/h of wind); the answer names the thing whose figure wins, with every
figure beside it, its own last (a follow-up such as "and in dollars?" takes an answer's last
figure): "Lisbon is warmer than Berlin (11 degrees celsius): 21 degrees celsius." A
yes-or-no question ("Is Berlin warmer than Oslo?") is answered "Yes: " or "No: " first.
Figures in different units, a tie, or a thing whose figure is not known leave the answer as
it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lamina.core.records import call_args
from lamina.guards.comparisons import Choice, asked_choice
from lamina.guards.noun_phrases import noun_phrase, without_article
from lamina.guards.numbers import NUMBER_BODY, canonical, plain, written_numbers
from lamina.guards.quantities import figures_returned, returns_figure, says_it_counts
from lamina.guards.tool_shortlist import asks_about_our_stock
from lamina.guards.units import spelled_out
from lamina.layers.reasoning.final_arithmetic import (
    ADDED_FOR_NAME,
    takes_one_name,
    written_lookups,
)
from lamina.layers.reasoning.plan import PlanStep
from lamina.tools.calculator import CALCULATOR_NAME

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from lamina.guards.tool_relevance import ToolFit

__all__ = [
    "ADDED_FOR_CHOICE",
    "ADDED_FOR_STOCK",
    "choice_answer",
    "counting_tool",
    "lookups_listed",
    "planned_choice",
    "planned_stock",
]

ADDED_FOR_CHOICE = "choice"
"""`PlanStep.added_for` of a lookup planned for one of the things a request picks from."""

ADDED_FOR_STOCK = "stock"
"""`PlanStep.added_for` of a count planned for a thing a request asks how many we have of."""

_NOUNS = {
    "money": "price",
    "temperature": "temperature",
    "mass": "weight",
    "length": "length",
    "time": "date",
}
"""What a dimension's figure of a thing is called ("the price of a monitor")."""

_LOOKUPS = (ADDED_FOR_NAME, ADDED_FOR_CHOICE, ADDED_FOR_STOCK)


def choice_answer(
    task: str, results: Sequence[Mapping[str, Any]], tools: Mapping[str, BaseTool]
) -> str | None:
    """The thing the request asks to pick, with the figures that pick it (see the module
    docstring), from the tool calls of the steps' `results`; else None."""
    asked = asked_choice(task)
    if asked is None:
        return None
    things = {thing.lower() for thing in asked.things}
    figures: dict[str, tuple[float, str]] = {}
    counters: set[str] = set()  # the tools whose bare counts are compared
    for result in results:
        for call in result.get("tool_calls") or []:
            name = _name_of(call, tools)
            if not name or (asked.things and name.lower() not in things):
                continue  # a lookup of something else than what the question picks from
            figure = _compared_figure(call, tools, asked)
            if figure is not None:
                figures[name] = figure
                counters |= {str(call["name"])} if not figure[1] else set()
    if len(figures) < 2 or len({unit for _, unit in figures.values()}) != 1 or len(counters) > 1:
        return None
    ranked = sorted(figures.items(), key=lambda item: item[1][0], reverse=asked.larger)
    (first, (best, written)), (_, (runner_up, _)) = ranked[0], ranked[1]
    if best == runner_up:
        return None
    others = " and ".join(f"{name} ({_amount(value, written)})" for name, (value, _) in ranked[1:])
    # the pick's own figure last: a follow-up ("and in dollars?") takes the last one
    if not written:  # "Do we have more monitors or standing desks?"
        return f"{asked.word.capitalize()} {first} than {others}: {_amount(best, written)}."
    verb = asked.word if asked.word.startswith("cost") else f"is {asked.word}"
    verb = re.sub(r"^cost\b", "costs", verb)  # "costs more"; "is cheaper"
    winner = f"{first[:1].upper()}{first[1:]}"
    picked = f"{winner} {verb} than {others}: {_amount(best, written)}."
    if asked.claimed is None:
        return picked
    # "Is Berlin warmer than Oslo?": yes or no, then the pick
    return f"{'Yes' if first.lower() == asked.claimed.lower() else 'No'}: {picked}"


def _compared_figure(
    call: Mapping[str, Any], tools: Mapping[str, BaseTool], asked: Choice
) -> tuple[float, str] | None:
    """The one figure of a lookup that a choice compares, with its unit as the answer writes
    it: the figure labelled by the comparative's word ("windier": of "8 °C, windy, wind 32
    km/h, humidity 30 %", 32 km/h), else the one figure of the dimension it names."""
    if asked.label is not None:
        labelled = _labelled(str(call["result"]), asked.label)
        if len(labelled) == 1:
            return labelled[0]
    found = [
        f
        for f in figures_returned(call, tools)
        if asked.dimension is None or f[1].dimension == asked.dimension
    ]
    if len(found) == 1:
        return found[0][0], spelled_out(found[0][1].name)
    if asked.word in _COUNTED and not found and returns_figure(call):
        return float(plain(str(call["result"]))), ""  # a count: stock_level("monitors") = 18
    return None


_COUNTED = frozenset({"more", "fewer", "less"})
"""Comparatives alone, which compare how many of the things there are ("Do we have more
monitors or standing desks in stock?")."""


def _amount(value: float, written: str) -> str:
    return f"{canonical(value)} {written}".strip()


_UNIT_WRITTEN = r"(?P<unit>%|°?[^\W\d_]+(?:/[^\W\d_]+)?)?"


def _labelled(text: str, label: str) -> list[tuple[float, str]]:
    """The figures `text` writes right after a word that starts with `label`, with the unit
    written after them ("wind 32 km/h": (32, "km/h"); "humidity: 30 %" for "humid"; not
    "windy, wind 32", where "windy" is not followed by a figure)."""
    found = re.finditer(
        rf"\b{re.escape(label)}\w*\s*:?\s*(?P<figure>{NUMBER_BODY})\s*{_UNIT_WRITTEN}",
        text,
        re.IGNORECASE,
    )
    return [(float(plain(m["figure"])), m["unit"] or "") for m in found]


def _name_of(call: Mapping[str, Any], tools: Mapping[str, BaseTool]) -> str:
    """The name a lookup that worked was asked about: its one string argument, without an
    article ("Lisbon", "webcam"); "" for the calculator, a failed call, or another call."""
    if call.get("error") is not None or call.get("result") is None:
        return ""
    if call.get("name") == CALCULATOR_NAME or call.get("name") not in tools:
        return ""
    names = [v for v in call_args(call).values() if isinstance(v, str)]
    if len(names) != 1 or len(call_args(call)) != 1:
        return ""
    return without_article(names[0])


def lookups_listed(plan: Sequence[PlanStep], results: Sequence[Mapping[str, Any]]) -> str | None:
    """Each result of the lookup the plan ended by making for another name, named, when the
    plan's last step is such a lookup (`ADDED_FOR_NAME`); else None. A result that names its
    thing ("Oslo: -3 °C") is listed as it is."""
    last = plan[-1] if plan else None
    if last is None or last.added_for not in _LOOKUPS or last.call is None:
        return None
    tool = last.call[0]
    listed: list[str] = []
    for result in results:
        worked = [
            c
            for c in result.get("tool_calls") or []
            if c.get("name") == tool and c.get("error") is None and c.get("result") is not None
        ]
        if not worked:
            continue
        names = [v for v in call_args(worked[-1]).values() if isinstance(v, str)]
        figure = str(worked[-1]["result"]).strip()
        name = without_article(names[0]) if len(names) == 1 else ""
        listed.append(figure if name.lower() in figure.lower() else f"{name}: {figure}")
    listed = list(dict.fromkeys(listed))
    return "; ".join(listed) if len(listed) > 1 else None


def planned_choice(
    task: str, tools: Mapping[str, BaseTool], fit_of: Callable[[str], ToolFit | None]
) -> tuple[PlanStep, ...]:
    """One lookup per thing a request picks from, or () (see the module docstring).

    "Which is cheaper, a monitor or a webcam?" scores 0.25 against `product_price`, too little
    to need a tool, and SmolLM2-135M answered from its own knowledge. The question asks for a
    figure of each thing: "the price of monitor" is closest to `product_price` (`fit_of`: its
    description at least `supports_above`, or else its name, as for a step that asks for a
    figure), a tool that takes one string, so the plan calls it for each thing. "More" or
    "fewer" alone asks how many there are of each: the tool that counts them."""
    asked = asked_choice(task)
    if asked is not None and asked.word in _COUNTED and len(asked.things) == 2:
        # "Which has more in stock, usb-c cables or phone cases?": a count of each
        tool = counting_tool(asked.things[0], tools, fit_of)
        return written_lookups(tool, tools, asked.things, ADDED_FOR_CHOICE)
    if asked is None or asked.dimension not in _NOUNS or len(asked.things) != 2:
        return ()
    fits = [fit_of(f"the {_NOUNS[asked.dimension]} of {thing}") for thing in asked.things]
    ranked = {
        fit.shortlist()[0]
        if fit is not None and (fit.supports or fit.best_name >= fit.supports_above)
        else None
        for fit in fits
    }
    tool = next(iter(ranked)) if len(ranked) == 1 else None
    if tool not in tools:
        return ()
    return written_lookups(tool, tools, asked.things, ADDED_FOR_CHOICE)


_ASKED_OF = re.compile(r"\bhow\s+many\s+|\b(?:have|got)\s+(?:any\s+)?", re.IGNORECASE)


def planned_stock(
    task: str, tools: Mapping[str, BaseTool], fit_of: Callable[[str], ToolFit | None]
) -> tuple[PlanStep, ...]:
    """One count per thing a request asks how many we have of, or ().

    "How many webcams do we have?" scores 0.21 against `stock_level`; SmolLM2-135M called
    `word_count("How")` and answered 1, ok. The question asks for the user's own count
    (:func:`lamina.guards.tool_shortlist.asks_about_our_stock`) and gives no figure; the
    things are the noun phrases after "how many" or "have" ("webcams"; "desk lamps and
    backpacks": two). The tool is the one that says it counts, takes one string that is no
    text to work on, and is closest to "how many webcams are in stock" (`fit_of`)."""
    if not asks_about_our_stock(task) or written_numbers(task):
        return ()
    things = _things_asked(task)
    tool = counting_tool(things[0], tools, fit_of) if things else None
    return written_lookups(tool, tools, things, ADDED_FOR_STOCK)


def counting_tool(
    thing: str, tools: Mapping[str, BaseTool], fit_of: Callable[[str], ToolFit | None]
) -> str | None:
    """The tool that counts our stock of `thing`: of those that say they count and take one
    string that is no text to work on, the closest to "how many <thing> are in stock"."""
    counters = [
        name
        for name, t in tools.items()
        if says_it_counts(str(t.description or "")) and takes_one_name(t)
    ]
    fit = fit_of(f"how many {thing} are in stock") if counters else None
    if fit is None:
        return None
    return max(counters, key=lambda name: float(fit.scores.get(name, -1.0)))


def _things_asked(task: str) -> list[str]:
    """The noun phrases after the first "how many" or "have" ("desk lamps", "backpacks"), at
    most two joined by "and"."""
    found = _ASKED_OF.search(task)
    if found is None:
        return []
    words = re.findall(r"[^\W\d_][\w'-]*", task[found.end() :].lower())
    first = noun_phrase(words, 0, plural=True)
    if not first:
        return []
    things = [" ".join(first)]
    after = words.index(first[-1]) + 1
    if words[after : after + 1] == ["and"]:
        second = noun_phrase(words, after + 1, plural=True)
        things += [" ".join(second)] if second else []
    return things
