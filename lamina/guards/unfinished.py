"""Guard: a request that also asks for something no successful call handled (:func:`unhandled`).

A small model stops a chain after its first call that works, and the result reads like an
answer: asked "What does the desk lamp cost in dollars?", SmolLM2-135M called
`product_price("desk lamp")` and answered 34.9 (euros); asked to ship "a suitcase that weighs 50
pounds", it passed 50 as `weight_kg`. Both runs had a tool result behind every figure, so no
other check saw anything wrong.

What gives them away is a word of the request that nothing done accounts for and that points to
a tool nobody called. The words accounted for are those of the successful calls: their tool
names, argument names and values, and the called tools' descriptions (`mentioned` forms count:
"km" for "kilometres"). Each remaining word (three letters or more) is scored against every tool
with the encoder of :mod:`lamina.guards.tool_relevance`; a word whose closest tool was *not*
called, at least `supports_above` from it (the similarity from which a word counts as evidence
for a tool, 0.30), means the request asked for more than was done: "dollars" is 0.41 from
`convert_currency`, "kelvin" 0.38 from `convert_units`. A word closest to a tool that was called
is accounted for: "cost" (0.38 from `product_price`, 0.38 from `shipping_cost`) in "What does
the desk lamp cost in dollars?" once the price was looked up and converted. A word that asks for
an amount of money ("what do I pay?") is accounted for by a call that returned money: "pay" is
0.44 from `add_tip`.

Measured with `bench/agent_tasks.py` (SmolLM2-135M, after tool ranking): the check would flag 6
of the 10 silently wrong `dev` answers and 2 of the 3 held-out ones, and none of the right
answers (their largest remaining similarity was 0.15: "dinner" for a tip). The threshold is the
existing `supports_above`; nothing was fitted to these tasks.

The reasoning layer records what this finds as the state's `unhandled` list, and the run's
verdict is then `unfinished`. The same guard also compares units
(:func:`answered_in_another_unit`): asked "how many weeks", an answer of "168 days" from
`days_between` is unfinished too, and so is a bare 34.9 from a tool that says it returns
"price in euros" when the request asked "in dollars" (see :mod:`lamina.guards.units`).

It is the `unfinished_request` guard (`Guards(unfinished_request=
False)` switches it off, e.g. for a model that chains reliably).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lamina.core.context import ToolWeigher
from lamina.core.records import call_args, successful_calls
from lamina.guards.comparisons import asked_comparison, percent_change
from lamina.guards.numbers import (
    NUMBER_BODY,
    POWER,
    SHARE_OF,
    WORD_OPERATION,
    canonical,
    is_figure,
    is_number,
    plain,
    same_figure,
    written_numbers,
)
from lamina.guards.parts_left_out import (
    comparison_left_undone,
    names_left_out,
    rates_left_unapplied,
)
from lamina.guards.quantities import ASKS_AN_AMOUNT, figures_returned, ignored_values
from lamina.guards.request_quantities import STATING_VERBS, request_quantities
from lamina.guards.result_units import result_text
from lamina.guards.shares import sharers_phrases
from lamina.guards.tool_calls import description_text
from lamina.guards.ungrounded import mentioned
from lamina.guards.units import (
    Unit,
    units_named,
    wrong_unit,
)
from lamina.tools.calculator import CALCULATOR_NAME

__all__ = [
    "answered_in_another_unit",
    "left_out_values",
    "still_wanted",
    "unfinished_findings",
    "unhandled",
]

_WORD = re.compile(r"[^\W\d_]{3,}")
_LETTERS = re.compile(r"[^\W\d_]+")
_NUMBER_THEN_WORD = re.compile(rf"({NUMBER_BODY})\s*-?\s*([^\W\d_]{{3,}})")
_NUMBER_UNIT_WORD = re.compile(rf"({NUMBER_BODY})\s*-?\s*([^\W\d_]+)\s+([^\W\d_]{{3,}})")
_ARITHMETIC = re.compile(r"[\d\s.,+\-*/×÷^%()]*\d[\d\s.,()]*[+\-*/×÷^][\d\s.,+\-*/×÷^%()]*")
"""A string argument that is arithmetic ("8.5 * 4"), not a name or a date's text."""
_DATE = re.compile(r"\d{1,4}[/-]\d{1,2}[/-]\d{1,4}")
_GROUPING = str.maketrans("{}[]", "()()")
_CLAUSE = re.compile(r"[.;,!?](?!\d)|\n|\band\b|\bbut\b", re.IGNORECASE)
_STATED_AS = re.compile(rf"\b({STATING_VERBS})\s+({NUMBER_BODY})", re.IGNORECASE)


def unhandled(
    request: str,
    calls: Iterable[Mapping[str, Any]],
    tools: Mapping[str, Any],
    relevance: ToolWeigher,
    *,
    in_values: bool = False,
) -> list[dict[str, Any]]:
    """The words of `request` that point to a tool no successful call used, closest first.

    Args:
        request: the turn's request.
        calls: the run's tool-call records (dicts with `name`, `args` and `error`).
        tools: the tools the run could call, by name.
        relevance: scores words against tools.
        in_values: also judge the words that only a string argument's value accounts for: such
            a word counts as unhandled when a tool not called fits it on meaning alone
            (`ToolFit.fits`). "If we sold all the monitors in the warehouse at list price, how
            much money would that bring in?" was answered 219, one monitor's price, by
            `product_price("the monitors in the warehouse")`, a value a lenient tool accepted;
            "warehouse" fits `stock_level` (0.47). A text a tool works on ("Count the words
            in this: ...") holds words that fit other tools only loosely ("bank": 0.37).

    Returns:
        `[{"word", "tool", "similarity"}]`; empty when no call succeeded (other checks judge
        such a run) or when every word is accounted for.
    """
    done = successful_calls(calls, tools)
    if not done:
        return []
    number_units = _units_of_used_numbers(request, done)
    accounted = _vocabulary(done, tools) | number_units
    if any(f[1].dimension == "money" for c in done for f in figures_returned(c, tools)):
        accounted |= ASKS_AN_AMOUNT  # "15% off a backpack, what do I pay?": not add_tip (0.44)
    words = [w for w in dict.fromkeys(w.lower() for w in _WORD.findall(request))]
    left = [w for w in words if not _accounted(w, accounted)]
    valued: list[str] = []
    if in_values:
        named = _vocabulary(done, tools, values=False) | number_units
        valued = [w for w in words if w not in left and not _accounted(w, named)]
    # a unit the calls wrote as a value ("C" for "celsius"; single letters are not in the
    # vocabulary, where they would stand for too much)
    written = {u for c in done for v in (c.get("args") or {}).values() for u in _units_of(v)}
    left = [w for w in left if not set(units_named(w)) & written]
    called = {c["name"] for c in done}
    if not (left or valued) or not set(tools) - called:
        return []
    found: list[dict[str, Any]] = []
    judged = [*left, *valued]
    for word, fit in zip(judged, relevance.assess_each(judged, tools), strict=True):
        # the word points to the tool it is closest to; a called one accounts for it ("cost"
        # is closer to the product_price that was called than to shipping_cost)
        tool, score = max(fit.scores.items(), key=lambda item: float(item[1]))
        enough = fit.fits if word in valued else score >= relevance.supports_above
        if tool not in called and enough:
            found.append({"word": word, "tool": tool, "similarity": round(score, 4)})
    return sorted(found, key=lambda f: -float(f["similarity"]))


def still_wanted(
    request: str,
    calls: Iterable[Mapping[str, Any]],
    tools: Mapping[str, Any],
    relevance: ToolWeigher,
) -> list[str]:
    """After calls that worked, the tools a next move may still need: first those a word of
    `request` that no call accounts for points to (see :func:`unhandled`), closest first, then
    those already called (the same lookup for a second city). Counting the words of a text,
    SmolLM2 went on to `add_tip(14, 14)` and answered with the tip; nothing asked for a tip."""
    done = successful_calls(calls, tools)
    pointed = [str(f["tool"]) for f in unhandled(request, done, tools, relevance)]
    return list(dict.fromkeys([*pointed, *(str(c["name"]) for c in done)]))


def answered_in_another_unit(
    request: str, answer: str, calls: Iterable[Mapping[str, Any]], tools: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """`[{"word", "answered", "figure"}]` when the request asks for its answer in one unit
    (`word`: "week") and the answer's figure is in another of the same dimension ("day"),
    else []. A bare figure takes its unit from the tool result that holds it."""
    sources = [
        (
            str(getattr(tools.get(c["name"]), "description", "") or ""),
            result_text(c, tools, request),
        )
        for c in calls
        if c.get("error") is None and c.get("result") is not None
    ]
    found = wrong_unit(request, answer, sources)
    return [] if found is None else [{"word": found["asked"], **found}]


def unfinished_findings(
    request: str,
    answer: str,
    calls: Sequence[Mapping[str, Any]],
    tools: Mapping[str, Any],
    relevance: ToolWeigher | None,
) -> list[dict[str, Any]]:
    """What the answer still lacks: a conversion into the unit asked for
    (:func:`answered_in_another_unit`), then the words that point to a tool no call used
    (:func:`unhandled`, judging string values too; only with `relevance`)."""
    found = answered_in_another_unit(request, answer, calls, tools)
    if relevance is not None:
        found += unhandled(request, calls, tools, relevance, in_values=True)
        found += names_left_out(request, calls, tools, relevance)
    return (
        found
        + comparison_left_undone(request, calls, tools)
        + rates_left_unapplied(request, calls, tools)
    )


def left_out_values(
    request: str, answer: str, calls: Sequence[Mapping[str, Any]], tools: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """`[{"left_out", "tool"}]` for each value of one thing a call returned ("6.25 EUR" from
    `unit_price("mug")`) that nothing after it used and that is not the answer's figure (see
    :func:`lamina.guards.quantities.ignored_values`), else []."""
    found = [
        {"left_out": f"{canonical(q.value)} {q.unit.name if q.unit else ''}".strip(), "tool": tool}
        for q, tool in ignored_values(request, calls, tools, answer)
    ]
    return found + calculations_left_out(calls, tools, answer)


def calculations_left_out(
    calls: Sequence[Mapping[str, Any]], tools: Mapping[str, Any], answer: str
) -> list[dict[str, Any]]:
    """`[{"left_out", "tool"}]` for the result of a calculator call that no later call used and
    that the answer does not end with: the answer was worked out past it. "Dinner for four
    came to 120 CHF. Turn that into euros, add a 15% tip, and tell me what each of us owes.":
    138 CHF / 4 = 34.5 was worked out, then 120 CHF converted, and 126.32 EUR answered, ok."""
    done = successful_calls(calls, tools)
    lines = [line for line in answer.splitlines() if written_numbers(line)]
    last = written_numbers(lines[-1]) if lines else []
    found = []
    for index, call in enumerate(done):
        result = str(call.get("result", "")).strip()
        if call.get("name") != CALCULATOR_NAME or not is_figure(result):
            continue
        value = float(plain(result))
        later = [str(v) for c in done[index + 1 :] for v in call_args(c).values()]
        used = any(same_figure(n, value) for v in later for n in re.findall(NUMBER_BODY, v))
        if not used and not any(same_figure(text, value) for text, _ in last):
            found.append({"left_out": canonical(value), "tool": CALCULATOR_NAME})
    return found


def _units_of(value: Any) -> set[Unit]:
    return set(units_named(value)) if isinstance(value, str) else set()


def _accounted(word: str, vocabulary: set[str]) -> bool:
    """`word` is one of `vocabulary`, a form of one, one of them is a form of it ("km" of
    "kilometres"), or it names a unit one of them names ("pounds" for a call's "GBP")."""
    if mentioned(word, vocabulary) or any(len(v) >= 2 and mentioned(v, {word}) for v in vocabulary):
        return True
    named = set(units_named(word))
    return bool(named) and any(named & set(units_named(v)) for v in vocabulary if len(v) >= 2)


def _units_of_used_numbers(request: str, calls: Sequence[Mapping[str, Any]]) -> set[str]:
    """The word right after each number of the request that went into a call ("euro" in "a 60
    euro bill" once 60 was an argument, or a number of `calculator("8.5 * 4")`), and the verb
    that states it ("costs" in "Each ticket costs 12 EUR"): they say what the number is, which
    the call took."""
    values = [v for c in calls for v in (c.get("args") or {}).values()]
    used = {plain(v) for v in values if is_number(v)}
    # braces and brackets group like parentheses ("{15 - 27}", as the calculator reads it)
    grouped = [v.translate(_GROUPING).strip() for v in values if isinstance(v, str)]
    arithmetic = [
        v
        for v in grouped
        if (_ARITHMETIC.fullmatch(v) or SHARE_OF.fullmatch(v)) and not _DATE.search(v)
    ]
    used |= {plain(n) for v in arithmetic for n in re.findall(NUMBER_BODY, v)}
    after = {m.group(2) for m in _NUMBER_THEN_WORD.finditer(request) if plain(m.group(1)) in used}
    # and the thing after its unit: "bill" in "a 120 euro bill"
    after |= {
        m.group(3)
        for m in _NUMBER_UNIT_WORD.finditer(request)
        if plain(m.group(1)) in used and units_named(m.group(2))
    }
    # the verb that states the number ("Each ticket costs 12 EUR"): it says what the number is
    stated = {m.group(1) for m in _STATED_AS.finditer(request) if plain(m.group(2)) in used}
    # the clause that states a rate or a value of one thing the calls used says what it is:
    # "I'm paid 3,200 USD a month", "I run 5 km every day"
    stating = {
        clause
        for clause in _CLAUSE.split(request)
        if any(
            q.unit is not None and q.per and plain(canonical(q.value)) in used
            for q in request_quantities(clause)
        )
    }
    # "split between 3 of us" once 3 divided the total
    sharing = {text for value, text in sharers_phrases(request) if plain(canonical(value)) in used}
    # "with 20% tax on top" once 20 went into the arithmetic
    change = percent_change(request)
    if change is not None and plain(canonical(change.percent)) in used:
        sharing.add(change.text)
    # the money a request gives and a call used answers what it asks things cost ("0.35 USD
    # per word. What does '...' cost me in EUR?": "cost" pointed to `product_price`)
    if any(
        q.unit is not None and q.unit.dimension == "money" and plain(canonical(q.value)) in used
        for q in request_quantities(request)
    ):
        sharing |= _MONEY_QUESTION
    # "how many will be left in stock once it ships?" once the difference was worked out
    compared = asked_comparison(request)
    operator = "/" if compared is not None and compared.kind == "ratio" else "-"
    if compared is not None and any(operator in v for v in arithmetic):
        sharing.add(compared.text)
    # "7 squared minus 9" once a call computed 7 ** 2 - 9: its words are the operators
    sharing |= {
        m.group()
        for pattern in (WORD_OPERATION, POWER)
        for m in pattern.finditer(request)
        if arithmetic and all(plain(n) in used for n in re.findall(NUMBER_BODY, m.group()))
    }
    phrases = after | stated | stating | sharing
    return {w.lower() for phrase in phrases for w in _WORD.findall(phrase)}


_MONEY_QUESTION = {"cost", "costs", "price", "pay", "charge", "spend"}
"""The words that ask what something costs."""


def _vocabulary(
    calls: Sequence[Mapping[str, Any]], tools: Mapping[str, Any], *, values: bool = True
) -> set[str]:
    """The words of what the calls did: names, arguments, values (unless `values` is False)
    and the tools' descriptions."""
    parts: list[str] = []
    for call in calls:
        tool = tools[call["name"]]
        parts.append(str(call["name"]).replace("_", " "))
        parts.append(description_text(tool) if hasattr(tool, "tool_call_schema") else "")
        for key, value in (call.get("args") or {}).items():
            shown = value if values or not isinstance(value, str) else ""
            parts.append(f"{str(key).replace('_', ' ')} {shown}")
    # Every letter run, short ones too: "km" accounts for "kilometres".
    return {w.lower() for part in parts for w in _LETTERS.findall(part)}
