"""Arithmetic a step writes out (:func:`written_expressions`): "(1250 - 380) / 6", "17.5% of
2,340", "3 boxes of 24 eggs", "19 times 21", "round(22.222)", each as the string argument of
the tool whose `pattern` takes it, so that the step's own arithmetic is the call and a small
model does not rewrite it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lamina.guards.numbers import PACKS_OF, POWER, SHARE_OF, WORD_OPERATION, in_symbols
from lamina.guards.shares import shared_amount
from lamina.tools.calculator import FUNCTION_NAMES

__all__ = ["written_expressions"]

_CALL = rf"\b(?:{'|'.join(FUNCTION_NAMES)})\s*\("  # "round(", "sqrt (": a function call
_EXPRESSION_RUN = re.compile(rf"(?:{_CALL}|[\d(])(?:{_CALL}|[\d\s.,+\-*/×÷^%()])*[\d)%]")
_OPERATION = re.compile(
    rf"\d\s*(?:[+*/×÷^]|\s-\s)\s*\(?\s*[-−]?\d|{_CALL}"  # "11 - -3" too; "round(22.2)"
)
_DATE_LIKE = re.compile(r"\d{1,4}[/-]\d{1,2}[/-]\d{1,4}")


def written_expressions(instruction: str, tools: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """`(tool, argument, arithmetic)` for each string argument whose own `pattern` takes the
    step's arithmetic as written ("(1250 - 380) / 6" for the calculator's `expression`), in
    the tools' order.

    The step's arithmetic is each run of digits, operators, parentheses and calls of the
    calculator's functions with an operator between two digits (a minus with spaces round it:
    "2025-11-20" is a date, "10-15" a range) or a function call, and no date written with
    slashes in it. A call stays whole: from "Calculate round(22.222)." the run was
    "(22.222)", and a call of `calculator("22.222")` answered a rounding with the unrounded
    figure, with ok=True. Offered every tool for "(1250 - 380) / 6
    = ?" (no tool fits it by meaning), SmolLM2-135M called `add_tip` three times; offered the
    calculator alone, it wrote `{1250} * {380}`.

    A share of a figure is arithmetic too ("17.5% of 2,340", "a third of 96"), written without
    its currency sign; a tool takes it only when its pattern allows the words. Offered the
    calculator among others for "how much is a third of 96?", SmolLM2-135M called
    `product_price("third")`. So are packs of things: "3 boxes of 24 eggs" is "3 * 24" (given
    the calculator, SmolLM2 wrote "24 * 24"). So are operator words between figures: "19
    times 21" is "19 * 21" (offered the bench's nine tools, SmolLM2-135M counted the words of
    "What's 19 times 21", 4).
    """
    placed: list[tuple[re.Match[str], str]] = [
        (m, m.group().strip())
        for m in _EXPRESSION_RUN.finditer(instruction)
        if _OPERATION.search(m.group()) and not _DATE_LIKE.search(m.group())
    ]
    placed += [(m, f"{m['share']} of {m['figure']}") for m in SHARE_OF.finditer(instruction)]
    placed += [(m, f"{m['count']} * {m['each']}") for m in PACKS_OF.finditer(instruction)]
    placed += [(m, m.group()) for m in POWER.finditer(instruction)]  # "7 squared", as written
    placed += [(m, in_symbols(m.group())) for m in WORD_OPERATION.finditer(instruction)]
    # a run inside a longer one is part of it: "7 squared" of "7 squared minus 9"
    runs = [
        run
        for m, run in placed
        if not any(
            o.start() <= m.start() and m.end() <= o.end() and o.end() - o.start() > len(m[0])
            for o, _ in placed
        )
    ]
    shared = shared_amount(instruction)  # "Split a 120 euro bill between 4 people": 120 / 4
    runs += [shared] if shared is not None else []
    found = []
    for name, tool in tools.items() if runs else ():
        for arg, schema in (getattr(tool, "args", None) or {}).items():
            if not isinstance(schema, Mapping) or schema.get("type") != "string":
                continue
            pattern = schema.get("pattern")
            if not isinstance(pattern, str):
                continue
            try:
                found += [(name, arg, run) for run in runs if re.fullmatch(pattern, run)]
            except re.error:
                continue
    return found
