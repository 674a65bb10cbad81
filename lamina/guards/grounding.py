"""Grounding: tool arguments hold only values the run was given.

A small model invents numbers: after a step that returned 84, SmolLM2-135M sent
`calculator("{12.5} * {7}")`. lamina takes the choice away: before each move, every tool's JSON
schema is narrowed to the numbers of what the run was given (request, plan step, memories, the
thread's earlier messages, tool results), and the decoding grammar is made from that schema:
an invented number cannot be decoded at all, on any CPU.

* A `number`/`integer` property becomes an `enum` of the grounded values that fit its type and
  bounds (`minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`); a required one with no
  such value makes the tool uncallable for that move, an optional one is left out.
* A free `string` property (no `enum`, `const`, `format` or `pattern` of its own) is left free
  until one of its values fails; from then on it is an `enum` of the spans of what was given
  (up to six consecutive words of a clause, or a whole clause) and the dates given as
  YYYY-MM-DD, less the values that failed. Free at first, SmolLM2 copies the request's proper
  nouns well ("Nice"); constrained from the start it picked among spans badly ("the distance
  from"). Constrained after a failure, it stops repeating the example it copied from the tool's
  description ("apple", three times in a row) and picks the request's own word ("melon").
* A string with a pattern of its own of the form `^[CLASS]+$` (the calculator's expression) is
  grounded in the numbers given instead: the characters between numbers come from CLASS, and
  digits occur only as a given literal (`86.40`, `2025`, `02`), never glued to another digit or
  a decimal point, so `12` and `7` cannot become `127` or `12.7`. Any other pattern of its own
  is left as it is.
* A string that takes a date (`start`, "the first date as YYYY-MM-DD") is an `enum` of the
  dates given (a period's start or end, when the request says which: "from 2026-12-07 until
  2026-12-25"), and with none given the tool cannot be called; one that takes a text (`text`,
  "the text to count") is an `enum` of the passages the step gives (after an instruction's
  colon, or quoted), when it gives any.
* A number goes to a conversion only when it is a quantity of the dimension converted into,
  or bare (the wind's "9 km/h" is no temperature to convert into Fahrenheit).
* Values that failed in this step (a call refused, or a tool error that names the value) are
  left out of the next move's enums: an identical failed call cannot be decoded again.

What counts as given: every number written with digits (thousands separators read, a sign kept
when attached: "-3 °C" gives -3 and not 3), the cardinal number words (`four`, `a dozen`,
`twice`, `half`), and, when a percentage is written (`17.5%`), its fraction (0.175) and 100.
Tool descriptions are never a source: their examples are what small models copy.

:class:`Grounding` is switchable in the execution layer. Measured on `bench/agent_tasks.py`
(see the execution layer's docs for the figures).
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lamina.guards.dates import date_roles, dates_for, only_in_dates, takes_a_date, written_dates
from lamina.guards.noun_phrases import singular
from lamina.guards.numbers import (
    canonical,
    grounded_numbers,
    number_words,
    percentages,
    written_numbers,
)
from lamina.guards.passages import given_passages, takes_a_text
from lamina.guards.request_quantities import counted_values
from lamina.guards.spans import MAX_CLAUSE_WORDS, MAX_SPAN_WORDS, MAX_SPANS, grounded_spans
from lamina.guards.string_patterns import grounded_pattern
from lamina.guards.units import (
    Unit,
    UnitRoles,
    conflicts,
    declared_unit,
    quantities,
    unit_role,
    unit_roles,
    units_named,
)
from lamina.models.tool_calls import HIDDEN_KEY

__all__ = [
    "MAX_CLAUSE_WORDS",
    "MAX_SPANS",
    "MAX_SPAN_WORDS",
    "Grounding",
    "grounded_numbers",
    "grounded_spans",
    "number_words",
    "written_numbers",
]

_NUMERIC = frozenset({"number", "integer"})
_A_PERCENTAGE = re.compile(r"\bpercent\w*|%|\bpct\b|\bper\s*cent", re.IGNORECASE)
_A_RATE = re.compile(r"\b(?:rate|fraction|ratio|factor|share)\b", re.IGNORECASE)
_A_COUNT = re.compile(r"\b(?:count|quantity|qty|number\s+of|how\s+many|times)\b", re.I)
_OWN_SHAPE = frozenset({"enum", "const", "pattern", "format"})
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


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


def text_argument(name: str, prop: Mapping[str, Any]) -> bool:
    """A free string argument that takes a text to work on."""
    return not _OWN_SHAPE & prop.keys() and takes_a_text(name, prop)


def _fits_string(value: str, schema: Mapping[str, Any]) -> bool:
    low, high = schema.get("minLength"), schema.get("maxLength")
    return (not isinstance(low, int) or len(value) >= low) and (
        not isinstance(high, int) or len(value) <= high
    )


def _as_json_number(value: float, integer: bool) -> int | float:
    return int(value) if integer or value == int(value) else value


@dataclass(frozen=True)
class Grounding:
    """The numbers a run was given, and tool schemas narrowed to them.

    Attributes:
        numbers: the grounded values, in order of first appearance.
        literals: their literal forms, as written and in canonical form.
        spans: the values a free string may take (:func:`grounded_spans`).
        units: for a value written with digits, the units written at each of its occurrences
            ("9 lb": `{"9": ((lb, GBP),)}`; a bare occurrence is `()`), by canonical value.
        roles: which units are converted from and to.
        counted: the values that count things ("3 webcams"), canonical.
        dates: the dates given, as YYYY-MM-DD ("Christmas Day 2025": 2025-12-25).
        date_roles: the step's dates that start or end a period, by role
            (:func:`~lamina.guards.dates.date_roles`).
        only_in_arithmetic: values grounded only as part of arithmetic, never as an argument
            of their own: the 100 of a percentage ("10%" is 10 / 100) when no 100 is written.
        percentages: values written only as percentages ("20%"): an argument that is no
            percentage does not take them, and one that is does not take their fractions.
        passages: the texts the step gives for a tool to work on (see
            :mod:`lamina.guards.passages`); a result or an earlier answer gives none.
        date_parts: values written only as the year, month or day of a date ("2026-05-20":
            2026, 5, 20): only an argument named for that part takes them. Offered 2026 for
            `add_days(days=...)` after "Calculate 2 * 7." gave 14, SmolLM2-135M took 2026.
    """

    numbers: tuple[float, ...]
    literals: tuple[str, ...]
    spans: tuple[str, ...] = ()
    units: Mapping[str, tuple[tuple[Unit, ...], ...]] = field(default_factory=dict)
    roles: UnitRoles = field(default_factory=UnitRoles)
    counted: frozenset[str] = frozenset()
    dates: tuple[str, ...] = ()
    only_in_arithmetic: frozenset[float] = frozenset()
    percentages: frozenset[float] = frozenset()
    passages: tuple[str, ...] = ()
    date_roles: Mapping[str, set[str]] = field(default_factory=dict)
    date_parts: frozenset[float] = frozenset()

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Grounding:
        """The grounding of everything in `texts` (never a tool's description); the first
        text is the step, whose words say which unit a conversion goes to."""
        texts = list(texts)
        numbers, literals = grounded_numbers(texts)
        found = [q for text in texts for q in quantities(text)]
        units: dict[str, tuple[tuple[Unit, ...], ...]] = {}
        for value, written in found:
            key = canonical(value)
            units[key] = (*units.get(key, ()), tuple(written))
        roles = unit_roles(texts[0], found) if texts else UnitRoles()
        spans = grounded_spans(texts)
        # a date given as "September 1st 2025" is also a value as tools take dates: 2025-09-01
        dates = tuple(written_dates(texts).iso())
        spans += [d for d in dates if d not in spans]
        counted = frozenset(value for text in texts for value in counted_values(text))
        given = {value for text in texts for _, value in written_numbers(text)}
        hundred = frozenset() if 100.0 in given or "hundred" in " ".join(texts) else {100.0}
        return cls(
            tuple(numbers),
            tuple(literals),
            tuple(spans),
            units,
            roles,
            counted,
            dates,
            frozenset(hundred) & frozenset(numbers),
            _only_percentages(texts),
            tuple(given_passages(texts[:1])),  # the step's own: not "tip: 9.60, total: 73.60"
            date_roles(texts[0]) if texts else {},
            only_in_dates(texts),
        )

    def unit_values(self, name: str, prop: Mapping[str, Any]) -> list[Any] | None:
        """The values of a unit argument (`from_unit`, `to_currency`) grounded in what was
        given: the unit asked for as the target, the units written at numbers as the source
        ("Convert 300 dollars to euros": USD → EUR). Each as its short name ("USD", "km"),
        or the `enum` values that name it; None when the argument is no unit argument or
        nothing was given for its role (it stays as it is)."""
        role = unit_role(name, prop)
        if role is None:
            return None
        wanted = self.roles.target if role == "target" else self.roles.source
        if not wanted:
            return None
        enum = prop.get("enum")
        if isinstance(enum, list):
            return [v for v in enum if isinstance(v, str) and set(units_named(v)) & set(wanted)]
        return [u.name for u in wanted]

    def fits_unit(self, value: float, declared: Unit | None, counts: bool = True) -> bool:
        """Can `value` go to an argument declared in `declared`? Not when every occurrence of
        it was written with another unit of the same dimension ("9 lb" for `weight_kg`): the
        model must convert it first. Nor when it only counts things ("40 water bottles") and
        the argument has a unit or does not count (`counts`: an integer, or "the quantity";
        `add_tip(bill=3)` for "3 desk lamps with 20% tax"), or every occurrence is in a unit
        of another dimension ("1,250 ft" for `days`)."""
        written = self.units.get(canonical(value), ())
        if (declared is not None or not counts) and canonical(abs(value)) in self.counted:
            # "an order for 40 water bottles": SmolLM2-135M sent 40 as `weight_kg`
            return any(occurrence for occurrence in written)
        if declared is None or not written:
            return True
        if not self.fits_dimensions(value, {declared.dimension}):
            return False  # "a 1,250 ft skyscraper" for `days`: a quantity of another kind
        return not all(conflicts(declared, occurrence) for occurrence in written)

    def fits_dimensions(self, value: float, dimensions: Collection[str]) -> bool:
        """Can `value` go to a conversion into a unit of `dimensions`? Not when every
        occurrence of it is in a unit of another dimension: "Helsinki: -4 °C, cloudy, wind 9
        km/h" into Fahrenheit, SmolLM2-135M converted 9."""
        written = self.units.get(canonical(value), ())
        return not dimensions or not all(
            occurrence and all(u.dimension not in dimensions for u in occurrence)
            for occurrence in written
        )

    def fits_percent(self, value: float, name: str, prop: Mapping[str, Any]) -> bool:
        """Can `value` go to an argument, as far as percentages go? A value written only as a
        percentage ("20% tax") goes only to an argument that says it is one (`tip_percent`,
        "the rate in %"): `add_tip(bill=20, ...)` for "the desk lamp with 20% tax" was answered,
        ok. Such an argument takes 20, not 0.2, and no figure not written as a percentage
        (`add_tip(bill=96, tip_percent=96)` for "a third of 96"); 0.2 goes only to a rate or a
        fraction."""
        described = f"{name} {prop.get('description', '')}".replace("_", " ")
        if value in self.percentages or _A_PERCENTAGE.search(described):
            return value in self.percentages and _A_PERCENTAGE.search(described) is not None
        if any(abs(value - p / 100) < 1e-9 for p in self.percentages):
            return _A_RATE.search(described) is not None  # 0.2 for "20%": a rate, a fraction
        return True

    def string_pattern(self, own: str) -> str | None:
        """`own` (a string's pattern) with its digits only as grounded literals (see
        :func:`~lamina.guards.string_patterns.grounded_pattern`)."""
        return grounded_pattern(own, self.literals)

    def narrow(
        self,
        parameters: Mapping[str, Any],
        excluded: Mapping[str, Collection[Any]] | None = None,
        shortlist: Callable[[str, list[str]], list[str]] | None = None,
        listed: Mapping[str, Collection[str]] | None = None,
    ) -> dict[str, Any] | None:
        """`parameters` (a tool's JSON schema) with every argument grounded, or None when a
        required argument has no grounded value left (the tool cannot be called).

        Args:
            parameters: the tool's JSON schema.
            excluded: values, by argument, that failed before in this step: they are not
                offered again, so an identical failed call cannot be decoded a second time.
            shortlist: narrows a string argument's spans to those that fit it, given the
                argument's name and description (lamina passes the encoder's closest few:
                offered every span, SmolLM2 took the longest, "the unit price of a melon").
            listed: values, by argument, that the tool's own error listed after a failure
                ("Unknown product 'the'; the catalogue has: kettle, toaster"): the spans equal
                to one of them are the only ones offered, when there are any.
        """
        schema = copy.deepcopy(dict(parameters))
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return schema
        required = set(schema.get("required") or [])
        # a tool that converts into a unit given takes a quantity of that unit's dimension
        targets = any(
            isinstance(p, dict) and unit_role(n, p) == "target" for n, p in properties.items()
        )
        converted = {u.dimension for u in self.roles.target} if targets else set()
        for name in list(properties):
            prop = properties[name]
            if not isinstance(prop, dict):
                continue
            gone = set((excluded or {}).get(name, ()))
            values: list[Any] | None = None
            kind = prop.get("type")
            if kind in _NUMERIC and not _OWN_SHAPE & prop.keys():
                integer = kind == "integer"
                unit = declared_unit(name, prop)
                counts = integer or _A_COUNT.search(f"{name} {prop.get('description', '')}")
                values = [
                    _as_json_number(v, integer)
                    for v in self.numbers
                    if _fits(v, prop)
                    and self.fits_unit(v, unit, bool(counts))
                    and (unit is not None or self.fits_dimensions(v, converted))
                    and v not in self.only_in_arithmetic  # `percent=100` for "a 10% tip"
                    and (v not in self.date_parts or name.lower() in _DATE_PART_NAMES)
                    and self.fits_percent(v, name, prop)
                ]
            elif kind == "string" and (units := self.unit_values(name, prop)):
                values = units
            elif kind == "string" and takes_a_date(name, prop):
                # a date argument takes a date that was given, and none when none was ("how
                # many days are in a week?" had filled `days_between` with "days are in a")
                values = dates_for(name, prop, self.dates, self.date_roles)
            elif kind == "string" and self.passages and text_argument(name, prop):
                values = list(self.passages)  # the text to count, whole: not "jumps"
            elif kind == "string" and not _OWN_SHAPE & prop.keys() and gone:
                values = [span for span in self.spans if _fits_string(span, prop)]
            elif kind == "string" and isinstance(prop.get("pattern"), str):
                pattern = self.string_pattern(prop["pattern"])
                if pattern is not None:
                    prop["pattern"] = pattern
            if values is None:
                continue
            values = [v for v in dict.fromkeys(values) if v not in gone]
            named = {str(v).lower() for v in (listed or {}).get(name, ())}
            echoed = [v for v in values if str(v).lower() in named]
            if named and not echoed and kind == "string":
                echoed = _listed_as_written(named, values)
            if echoed:
                values = echoed
            if values and shortlist is not None and kind == "string":
                values = shortlist(f"{name}: {prop.get('description', '')}", values)
            if not values:
                if name in required:
                    return None
                del properties[name]
                continue
            prop["enum"] = values
            prop[HIDDEN_KEY] = ["enum"]
        return schema


_DATE_PART_NAMES = frozenset({"year", "month", "day", "yyyy", "mm", "dd"})


def _only_percentages(texts: Sequence[str]) -> frozenset[float]:
    """The values `texts` write only as percentages ("20%", not also "20 EUR")."""
    written = Counter(value for text in texts for _, value in written_numbers(text))
    as_percent = Counter(value for text in texts for value in percentages(text))
    return frozenset(value for value, n in as_percent.items() if written[value] <= n)


def _listed_as_written(listed: Collection[str], spans: Iterable[Any]) -> list[str]:
    """The values a tool's error listed that a span writes in another number ("standing desk"
    for "standing desks"): the listed form is offered, since only it is accepted. Offered the
    spans alone after "Unknown product 'that'; the catalogue has: ..., mechanical keyboard",
    SmolLM2-135M called `product_price("altogether")` for "If I buy 3 mechanical keyboards,
    how much is that altogether?"."""
    written = {_singular_words(str(span)) for span in spans}
    return [item for item in listed if _singular_words(item) in written]


def _singular_words(text: str) -> tuple[str, ...]:
    return tuple(singular(word) for word in text.lower().split())
