"""Grounding: tool arguments hold only numbers the run was given.

A small model that calls a tool invents numbers: asked "compute that result plus 15" after a step
that returned 84, SmolLM2-135M sent `calculator("{12.5} * {7}")` on one CPU and the right call on
another. Rather than catch such calls afterwards, lamina takes the choice away: before each model
move, every tool's JSON schema is narrowed so that its arguments can only be built from the
numbers that occur in what the run was given (the request, the plan step, the memories recalled,
the thread's earlier messages, the results of tools already called), and the decoding grammar is
made from that narrowed schema. So an invented number cannot be decoded at all, on any CPU.

* A `number`/`integer` property becomes an `enum` of the grounded values that fit its type and
  bounds (`minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`); a required one with no
  such value makes the tool uncallable for that move, an optional one is left out.
* A free `string` property (no `enum`, `const` or `format` of its own) gets a `pattern` under
  which digits occur only as a grounded literal (`86.40`, `2025`, `02`), never glued to another
  digit or a decimal point, so `12` and `7` cannot become `127` or `12.7`. A pattern of the
  tool's own of the form `^[CLASS]+$` (the calculator's) is combined with it: the characters
  between the numbers come from CLASS; any other pattern of its own is left as it is.

What counts as given: every number written with digits (thousands separators read, a sign kept
when attached), the cardinal number words (`four`, `a dozen`, `twice`, `half`), and, when a
percentage is written (`17.5%`), its fraction (0.175) and 100. Tool descriptions are never a
source: their examples are what small models copy.

:class:`Grounding` is switchable in the execution layer. Measured on `bench/agent_tasks.py`
(see the execution layer's docs for the figures).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lamina.models.tool_calls import HIDDEN_KEY

__all__ = ["Grounding", "grounded_numbers", "written_numbers"]

_NUMBER = re.compile(
    r"(?<![\w.])(?P<sign>[-−])?(?P<body>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?P<pct>\s?%)?"
)
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
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
_NUMERIC = frozenset({"number", "integer"})
_OWN_SHAPE = frozenset({"enum", "const", "pattern", "format"})
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_CHAR_CLASS_PATTERN = re.compile(r"\^\[(.+)\][+*]\$")


def _canonical(value: float) -> str:
    """The shortest decimal text of a value: 84.0 -> "84", 86.40 -> "86.4"."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def grounded_numbers(texts: Iterable[str]) -> tuple[list[float], list[str]]:
    """The numbers given in `texts` (in order of first appearance) and their literal forms."""
    values: dict[str, float] = {}
    literals: dict[str, None] = {}

    def add(value: float, *forms: str) -> None:
        values.setdefault(_canonical(value), value)
        for form in (*forms, _canonical(abs(value))):
            literals.setdefault(form, None)

    for text in texts:
        for match in _NUMBER.finditer(text):
            body = match.group("body")
            value = float(body.replace(",", ""))
            if match.group("sign"):
                add(-value, body, body.replace(",", ""))
            add(value, body, body.replace(",", ""))
            if match.group("pct"):
                add(value / 100.0)
                add(100.0)
        for match in _DIGITS.finditer(text):  # digit runs inside dates, codes, times: "02"
            literals.setdefault(match.group(), None)
        for match in _WORD.finditer(text):
            add(float(_WORDS[match.group(1).lower()]))
    return list(values.values()), list(literals)


def written_numbers(text: str) -> list[tuple[str, float]]:
    """The numbers written with digits in `text`, as `(as written, value)`."""
    found = []
    for match in _NUMBER.finditer(text):
        body = match.group("body")
        value = float(body.replace(",", ""))
        found.append((body, -value if match.group("sign") else value))
    return found


def _fits(value: float, schema: Mapping[str, Any]) -> bool:
    if schema.get("type") == "integer" and value != int(value):
        return False
    bound = {k: schema.get(k) for k in _BOUNDS}
    low, high = bound["minimum"], bound["maximum"]
    above, below = bound["exclusiveMinimum"], bound["exclusiveMaximum"]
    return (
        (not isinstance(low, int | float) or value >= low)
        and (not isinstance(high, int | float) or value <= high)
        and (not isinstance(above, int | float) or value > above)
        and (not isinstance(below, int | float) or value < below)
    )


def _as_json_number(value: float, integer: bool) -> int | float:
    return int(value) if integer or value == int(value) else value


@dataclass(frozen=True)
class Grounding:
    """The numbers a run was given, and tool schemas narrowed to them.

    Attributes:
        numbers: the grounded values, in order of first appearance.
        literals: their literal forms, as written and in canonical form.
    """

    numbers: tuple[float, ...]
    literals: tuple[str, ...]

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Grounding:
        """The grounding of everything in `texts` (never a tool's description)."""
        numbers, literals = grounded_numbers(texts)
        return cls(tuple(numbers), tuple(literals))

    def string_pattern(self, own: str | None = None) -> str | None:
        """A regex for strings whose digits occur only as grounded literals.

        Args:
            own: the property's own `pattern`. One of the form `^[CLASS]+$` (or `*`) is kept:
                the characters between the numbers come from CLASS. Any other own pattern
                cannot be combined, so None is returned and the property keeps its own.
        """
        filler, after = r'[^0-9"\\\x00-\x1f]', r'[^0-9."\\\x00-\x1f]'
        if own is not None:
            match = _CHAR_CLASS_PATTERN.fullmatch(own)
            if match is None or match.group(1).startswith("^"):
                return None
            chars = match.group(1).replace("0-9", "").replace("\\d", "")
            if re.search(r"\d", chars.replace("\\", "")):
                return None  # single digits in the class: numbers could be spelled around us
            filler, after = f"[{chars}]", f"[{chars.replace('.', '')}]"
        if not self.literals:
            return f"^{filler}*$"
        # Longer literals first, so "86.40" is not read as "86" then ".40".
        forms = "|".join(re.escape(f) for f in sorted(self.literals, key=len, reverse=True))
        return f"^({filler}|({forms}){after})*({forms})?$"

    def narrow(self, parameters: Mapping[str, Any]) -> dict[str, Any] | None:
        """`parameters` (a tool's JSON schema) with every argument grounded, or None when a
        required number has no grounded value that fits it (the tool cannot be called)."""
        schema = copy.deepcopy(dict(parameters))
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return schema
        required = set(schema.get("required") or [])
        for name in list(properties):
            prop = properties[name]
            if not isinstance(prop, dict):
                continue
            kind = prop.get("type")
            if kind in _NUMERIC and not _OWN_SHAPE & prop.keys():
                fitting = [v for v in self.numbers if _fits(v, prop)]
                if not fitting:
                    if name in required:
                        return None
                    del properties[name]
                    continue
                integer = kind == "integer"
                prop["enum"] = list(dict.fromkeys(_as_json_number(v, integer) for v in fitting))
                prop[HIDDEN_KEY] = ["enum"]
            elif kind == "string" and not (_OWN_SHAPE - {"pattern"}) & prop.keys():
                own = prop.get("pattern")
                pattern = self.string_pattern(own if isinstance(own, str) else None)
                if pattern is not None:
                    if own is None:
                        prop[HIDDEN_KEY] = ["pattern"]
                    prop["pattern"] = pattern
        return schema

    def ungrounded(self, args: Mapping[str, Any]) -> list[str]:
        """The numbers in `args` that were not given (a finding; empty when all are)."""
        given = {_canonical(v) for v in self.numbers}
        found: list[str] = []

        def visit(value: Any) -> None:
            if isinstance(value, bool):
                return
            if isinstance(value, int | float):
                if _canonical(float(value)) not in given:
                    found.append(_canonical(float(value)))
            elif isinstance(value, str):
                for match in _NUMBER.finditer(value):
                    number = float(match.group("body").replace(",", ""))
                    if _canonical(number) not in given and match.group("body") not in set(
                        self.literals
                    ):
                        found.append(match.group("body"))
            elif isinstance(value, Mapping):
                for item in value.values():
                    visit(item)
            elif isinstance(value, list | tuple):
                for item in value:
                    visit(item)

        visit(dict(args))
        return found
