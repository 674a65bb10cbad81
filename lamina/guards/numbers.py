"""How the guards read numbers, in one place: a number as written (:data:`NUMBER_BODY`, with
thousands separators), a run of digits (:data:`DIGITS`) and one canonical text for comparing
them (:func:`plain`: "02", "2" and 2.0 are one number)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from lamina.tools.calculator import normalise_expression

__all__ = [
    "DIGITS",
    "NUMBER_BODY",
    "NUMBER_IDIOMS",
    "PACKS_OF",
    "POWER",
    "SHARE_OF",
    "WORD_OPERATION",
    "canonical",
    "grounded_numbers",
    "in_symbols",
    "is_figure",
    "is_number",
    "number_words",
    "percentages",
    "plain",
    "same_figure",
    "written_numbers",
]

NUMBER_BODY = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
"""A number as people write it: 1,416.00 (thousands separators), 84, 0.175."""

SHARE_OF = re.compile(
    rf"(?P<share>(?:{NUMBER_BODY})\s*(?:%|percent\b|per\s?cent\b)"
    r"|\b(?:(?:a|one)\s+)?half|\b(?:a|one)\s+(?:third|quarter))"
    rf"\s+of\s+[$€£]?(?P<figure>{NUMBER_BODY})",
    re.IGNORECASE,
)
"""A share of a figure, which is arithmetic: "17.5% of 2,340", "15 percent of $80", "a third of
96" (the built-in calculator reads these)."""

PACKS_OF = re.compile(
    r"(?<![\w.,])(?P<count>\d+)\s+[^\W\d_]+s\s+of\s+(?P<each>\d+)\s+[^\W\d_]", re.IGNORECASE
)
"""Packs of things, a product: "3 boxes of 24 eggs" is 3 * 24 eggs."""

POWER = re.compile(
    rf"(?<![\w.,])(?:{NUMBER_BODY})\s+(?:squared|cubed|to\s+the\s+power\s+of\s+(?:{NUMBER_BODY}))\b"
    rf"|\bsquare\s+root\s+of\s+(?:{NUMBER_BODY})(?![\w%]|[.,]\d)",
    re.IGNORECASE,
)
"""A power written in words: "7 squared", "2 to the power of 10", "the square root of 196"."""

_OPERATOR_WORD = r"(?:times|multiplied\s+by|divided\s+by|plus|minus)"
_OPERAND = (
    rf"(?:{NUMBER_BODY})(?:\s*(?:%|percent\b|per\s?cent\b)\s+of\s+(?:{NUMBER_BODY}))?"
    r"(?:\s+(?:squared|cubed)\b)?"
)
WORD_OPERATION = re.compile(
    rf"(?<![\w.,]){_OPERAND}"
    rf"(?:,?\s+{_OPERATOR_WORD}\s+{_OPERAND})+"
    r"(?![\w%]|[.,]\d)",
    re.IGNORECASE,
)
"""Arithmetic written with operator words between figures: "19 times 21", "144 divided by 12",
"7 plus 5 minus 2", "1200 divided by 16, times 3", "7 squared minus 9", "15 percent of 80,
plus 4" (not "5 times a day")."""
_THEN = re.compile(rf",\s*(?={_OPERATOR_WORD}\b)", re.IGNORECASE)


def in_symbols(operation: str) -> str:
    """A `WORD_OPERATION` in symbols, without thousands separators, as lamina's calculator
    reads it: "1,200 times 3" → "1200 * 3". A comma before an operator word closes what comes
    before it: "2 plus 3, times 4" → "(2 + 3) * 4"."""
    pieces = _THEN.split(operation)
    text = pieces[0]
    for piece in pieces[1:]:
        text = f"({text}) {piece}"
    return " ".join(normalise_expression(text).split())


DIGITS = re.compile(r"\d+(?:\.\d+)?")
"""A run of digits, with a decimal part: the pieces of dates, codes and times too ("02")."""

_NUMBER = re.compile(rf"(?<![\w.])(?P<sign>[-−])?(?P<body>{NUMBER_BODY})(?P<pct>\s?%)?")
_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1000,
    "dozen": 12,
    "twice": 2,
    "double": 2,
    "triple": 3,
    "half": 0.5,
}
"""Numbers written as words: reading them is parsing, like reading digits."""
_WORD = re.compile(r"\b(" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")\b", re.I)

NUMBER_IDIOMS = frozenset({"twice", "double", "triple", "hundred", "thousand"})
"""Number words that are seldom a figure given to work with: "double-check", "a hundred
times"."""


def is_number(value: Any) -> bool:
    """A JSON number (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_figure(text: str) -> bool:
    """Is `text` one number and nothing else ("37.69", "1,416.00"): a bare tool result?"""
    return re.fullmatch(NUMBER_BODY, text.strip()) is not None


def plain(value: Any) -> str:
    """A number's canonical text: no thousands separators, no leading zeros, no trailing
    decimal zeros ("02" → "2", "1,416.00" → "1416", 84.0 → "84"); any other value as text."""
    text = str(value).strip().replace(",", "")
    if not DIGITS.fullmatch(text):
        return str(value)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.lstrip("0") or "0"


def canonical(value: float) -> str:
    """The shortest decimal text of a value: 84.0 -> "84", 86.40 -> "86.4"."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def grounded_numbers(texts: Iterable[str]) -> tuple[list[float], list[str]]:
    """The numbers given in `texts` (in order of first appearance) and their literal forms."""
    values: dict[str, float] = {}
    literals: dict[str, None] = {}

    def add(value: float, *forms: str) -> None:
        values.setdefault(canonical(value), value)
        for form in (*forms, canonical(abs(value))):
            literals.setdefault(form, None)

    for text in texts:
        for match in _NUMBER.finditer(text):
            body = match.group("body")
            value = float(body.replace(",", ""))
            # a signed number is only itself: offered 3 as well for "Oslo: -3 °C", SmolLM2
            # converted 3 °C, and the answer was wrong with ok=True (its digits stay literals)
            add(-value if match.group("sign") else value, body, body.replace(",", ""))
            if match.group("pct"):
                add(value / 100.0)
                add(100.0)
        for match in DIGITS.finditer(text):  # digit runs inside dates, codes, times: "02"
            literals.setdefault(match.group(), None)
        for match in _WORD.finditer(text):
            add(float(_WORDS[match.group(1).lower()]))
    return list(values.values()), list(literals)


def percentages(text: str) -> list[float]:
    """The numbers `text` writes as percentages ("20%", "15 percent")."""
    return [
        float(m["body"].replace(",", ""))
        for m in re.finditer(
            rf"(?<![\w.])(?P<body>{NUMBER_BODY})\s?(?:%|percent\b|per\s+cent\b)", text
        )
    ]


def written_numbers(text: str) -> list[tuple[str, float]]:
    """The numbers written with digits in `text`, as `(as written, value)`."""
    found = []
    for match in _NUMBER.finditer(text):
        body = match.group("body")
        value = float(body.replace(",", ""))
        found.append((body, -value if match.group("sign") else value))
    return found


def same_figure(written: str, source: float) -> bool:
    """Is the figure `written` ("37.69", "-5", "1,416") the number `source`, as written at the
    precision it is written with (37.6854 as "37.69", 87.0 as "87"; a sign may be dropped:
    "fell by 5" for -5)? The one rule by which lamina matches a figure of an answer or a text
    with a result or a given number."""
    body = written.strip().lstrip("+-−").replace(",", "")
    try:
        value = float(body)
    except ValueError:
        return False
    decimals = len(body.split(".", 1)[1]) if "." in body else 0
    return abs(source) == value or round(abs(source), decimals) == value


def number_words(text: str) -> list[tuple[str, float]]:
    """The numbers written as words in `text` ("four", "a dozen", "twice"), as `(word, value)`."""
    return [(m.group(1), float(_WORDS[m.group(1).lower()])) for m in _WORD.finditer(text)]
