"""Parts of a request that no call did, though a call that worked shows how: a name, or a thing
coordinated with one a call took (:func:`coordinated_with`), the same lookup is owed for
(:func:`names_left_out`), a comparison no arithmetic made
(:func:`comparison_left_undone`) and a rate per thing no count multiplied
(:func:`rates_left_unapplied`). Both are findings of the `unfinished_request` guard
(:mod:`lamina.guards.unfinished`), and make the run `unfinished`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from lamina.core.context import ToolWeigher
from lamina.core.records import call_args, successful_calls
from lamina.guards.comparisons import asked_comparison
from lamina.guards.dates import CALENDAR_WORDS
from lamina.guards.noun_phrases import (
    ARTICLE,
    FUNCTION_WORDS,
    PROPER_NAME,
    singular,
    without_article,
)
from lamina.guards.numbers import canonical
from lamina.guards.quantities import REQUEST, asks_for_a_part, quantities_of_run
from lamina.guards.tool_calls import description_text
from lamina.guards.units import units_named
from lamina.tools.calculator import CALCULATOR_NAME

__all__ = [
    "comparison_left_undone",
    "coordinated_with",
    "names_left_out",
    "rates_left_unapplied",
]

_LETTERS = re.compile(r"[^\W\d_]+")


def comparison_left_undone(
    request: str, calls: Sequence[Mapping[str, Any]], tools: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """`[{"compared": kind}]` when the request asks for a difference, a ratio or what is left
    (:func:`lamina.guards.comparisons.asked_comparison`) and no call that worked did that
    arithmetic: no calculator expression with its operator, no tool that says it compares
    ("days between", "difference"). Else [].

    "Everest is 8,849 m high. In feet, how many times taller is it than a 1,250 ft
    skyscraper?": SmolLM2-135M called `add_tip(1250, 8849)` and answered with the tip, ok."""
    asked = asked_comparison(request)
    done = successful_calls(calls, tools)
    if asked is None or not done:
        return []
    operator = "/" if asked.kind == "ratio" else "-"
    for call in done:
        if call["name"] == CALCULATOR_NAME:
            if any(operator in str(v) for v in call_args(call).values()):
                return []
        elif _COMPARING.search(f"{call['name']} {description_text(tools[call['name']])}"):
            return []
    return [{"compared": asked.kind}]


_COMPARING = re.compile(
    r"(?:\b|_)(?:differen\w*|between|compar\w*|ratio|remain\w*|left)(?:\b|_)", re.IGNORECASE
)


def names_left_out(
    request: str,
    calls: Sequence[Mapping[str, Any]],
    tools: Mapping[str, Any],
    relevance: ToolWeigher,
) -> list[dict[str, Any]]:
    """`[{"word", "tool", "similarity"}]` for each name of the request (a capitalised word
    inside a sentence, not a unit, "Nairobi") that no call's argument holds while the tool
    closest to it was called with another name: the same lookup is owed for it.

    "How much colder is it in Reykjavik than in Nairobi right now?": SmolLM2-135M called
    `weather("Reykjavik")` twice and answered with Reykjavik's weather, ok; "Nairobi" points
    to `weather`, which was called, so no word looked unhandled. A name closest to another
    tool is owed the call of the one tool that took a name of the request as a whole argument
    ("Is it warmer in Lisbon or in Berlin?": `weather("Lisbon")`; "Berlin" was closest to
    `product_price`).
    """
    done = successful_calls(calls, tools)
    if not done:
        return []
    values = {
        w.lower() for c in done for v in call_args(c).values() for w in _LETTERS.findall(str(v))
    }
    names = list(
        dict.fromkeys(
            m["name"]
            for m in PROPER_NAME.finditer(request)
            if m["name"].lower() not in values
            and m["name"].lower() not in CALENDAR_WORDS  # "September 1st 2025": a date
            and not units_named(m["name"])
            and not units_named(f"{m['name']} {m['next'] or ''}".strip())  # "Australian dollars"
        )
    )
    # a thing coordinated with one a call took ("A monitor and a webcam together cost how
    # much?": SmolLM2-135M priced the webcam alone, ok) is owed the same call
    named = [v for c in done for v in call_args(c).values() if _a_name(v)]
    pairs = [
        (str(v).strip().lower(), other) for v in named for other in coordinated_with(request, v)
    ]
    said = {singular(v) for v in values}
    names += [o for _, o in pairs if not {singular(w) for w in o.split()} & said and o not in names]
    if not names:
        return []
    called = {str(c["name"]): c for c in done}
    # a tool that was called with a name of the request, alone as an argument ("Lisbon"), is
    # owed the same call for the request's other names: they play the same part
    given = {m["name"].lower() for m in PROPER_NAME.finditer(request)} | {v for v, _ in pairs}
    for_names = [
        str(c["name"])
        for c in done
        if any(isinstance(v, str) and v.strip().lower() in given for v in call_args(c).values())
    ]
    found = []
    for name, fit in zip(names, relevance.assess_each(names, tools), strict=True):
        # a name scores low against any description ("Nairobi" and `weather`): the closest
        # tool decides, whatever its similarity
        tool, score = max(fit.scores.items(), key=lambda item: float(item[1]))
        takes_names = (
            tool in called
            and tool != CALCULATOR_NAME
            and any(_a_name(v) for v in call_args(called[tool]).values())
        )
        if not takes_names and len(set(for_names)) == 1:
            tool, score, takes_names = for_names[0], float(fit.scores.get(for_names[0], 0)), True
        if takes_names:
            found.append({"word": name, "tool": tool, "similarity": round(score, 4), "again": True})
    return found


_AND = r"(?:\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or|&)\s+)"
"""What joins coordinated things: "and", "or", "&", or a list's comma ("a monitor, a webcam and
a backpack")."""
_CONJUNCT = r"(?P<other>[^\W\d_][\w-]*(?:\s+[^\W\d_][\w-]*)?)"


def coordinated_with(request: str, value: str) -> list[str]:
    """The things `request` coordinates with `value`: each with an article as `value` has ("a
    monitor and a webcam": "monitor" for "webcam"; a list's neighbours, "a monitor, a webcam
    and a backpack"), or, without articles, plurals with plurals ("desk lamps and backpacks"),
    without function words at their end."""
    bare = without_article(str(value).lower())
    thing = re.escape(bare)
    plural = _plural_forms(bare)
    text = request.lower()
    found = [
        m["other"]
        for pattern in (
            rf"\b{ARTICLE}{_CONJUNCT}{_AND}{ARTICLE}{thing}\b",
            rf"\b{ARTICLE}{thing}{_AND}{ARTICLE}{_CONJUNCT}",
        )
        for m in re.finditer(pattern, text)
    ]
    found += [
        other
        for pattern in (rf"\b{_CONJUNCT}{_AND}{plural}\b", rf"\b{plural}{_AND}{_CONJUNCT}")
        for m in re.finditer(pattern, text)
        if (other := _to_a_plural(m["other"]))
    ]
    trimmed = [" ".join(w for w in f.split() if w not in FUNCTION_WORDS) for f in found]
    own = {bare, singular(bare)}
    return [t for t in dict.fromkeys(trimmed) if t and t not in own]


def _plural_forms(thing: str) -> str:
    """A pattern of the plural of `thing` ("desk lamp" or "desk lamps": "desk lamps")."""
    words = thing.split()
    if not words:
        return "(?!)"
    head = singular(words[-1])
    forms = {f"{head}s", f"{head}es"} | ({f"{head[:-1]}ies"} if head.endswith("y") else set())
    lead = "".join(rf"{re.escape(w)}\s+" for w in words[:-1])
    return rf"{lead}(?:{'|'.join(re.escape(f) for f in sorted(forms))})"


def _to_a_plural(phrase: str) -> str:
    """The phrase up to its last plural noun ("cables" of "cables left", "desk lamps"), or ""
    when it has none."""
    words = phrase.split()
    ends = [i for i, w in enumerate(words) if w not in FUNCTION_WORDS and singular(w) != w]
    return " ".join(words[: ends[-1] + 1]) if ends else ""


def _a_name(value: Any) -> bool:
    """Is a call's argument a name: words without digits, not a unit ("Reykjavik", "desk
    lamp"; not "1082.677 / 100", "ft")?"""
    return (
        isinstance(value, str)
        and bool(_LETTERS.search(value))
        and not any(ch.isdigit() for ch in value)
        and not units_named(value.strip())
    )


def rates_left_unapplied(
    request: str, calls: Sequence[Mapping[str, Any]], tools: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """`[{"rate": "0.35 USD per word"}]` for each rate per a kind of thing the request gives
    ("per word"; not per a unit of time) when the run counted none of those things and the
    request does not ask for the rate itself ("how much is that per word?"). Else [].

    "Proofreading is 0.35 USD per word. What does '...' cost me in EUR?": SmolLM2-135M
    converted 0.35 USD and answered 0.32 EUR, ok."""
    done = successful_calls(calls, tools)
    if not done:
        return []
    found = quantities_of_run(request, done, tools)
    unapplied = []
    for rate in found:
        if rate.origin != REQUEST or rate.unit is None or len(rate.per) != 1:
            continue
        (thing,) = rate.per
        if units_named(thing) or not re.search(rf"\bper\s+{re.escape(thing)}", request, re.I):
            continue
        if asks_for_a_part(request, thing) or any(thing in q.counts for q in found):
            continue
        questions = re.findall(r"[^.!?]*\?", request)
        if any(re.search(rf"\bper\s+{re.escape(thing)}", q, re.I) for q in questions):
            continue  # "What is 0.35 USD per word in EUR per word?" asks for the rate
        unapplied.append({"rate": f"{canonical(rate.value)} {rate.unit.name} per {thing}"})
    return unapplied
