"""Units of measure in requests, tool schemas and answers (:func:`quantities`,
:func:`declared_unit`, :func:`asked_unit`, :func:`wrong_unit`).

A number is given with a unit ("a 9 lb box", "120 CHF") and a tool's argument declares one
(`weight_kg`, "the parcel's weight in kilograms"): a small model that passes the 9 to
`weight_kg` gets a valid call, a result, and a wrong answer with a tool behind it. So grounding
does not offer a number to an argument whose declared unit is another unit of the same
dimension (lb is a mass, but not kg): the model has to convert first. And an answer is not
finished while the request asks for one unit ("how many weeks", "in dollars") and the answer's
figure is in another of the same dimension (days; euros, as the price tool said).

The table below is general knowledge (lengths, masses, volumes, temperatures, durations and the
common currencies), not fitted to any task set. A word that names units of two dimensions
("pounds": a mass, or money) conflicts only where it cannot be the declared unit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lamina.guards.numbers import NUMBER_BODY, canonical, is_figure, same_figure

__all__ = [
    "TOTAL_FIGURE",
    "Unit",
    "UnitRoles",
    "asked_unit",
    "conflicts",
    "converted_to",
    "declared_unit",
    "names_a_given_unit",
    "quantities",
    "ratio",
    "returned_units",
    "spelled_out",
    "unit_called",
    "unit_role",
    "unit_roles",
    "units_mentioned",
    "units_named",
    "with_returned_unit",
    "wrong_unit",
]


@dataclass(frozen=True)
class Unit:
    """A unit: its short name ("kg") and its dimension ("mass")."""

    name: str
    dimension: str


_TABLE: dict[str, tuple[str, tuple[str, ...]]] = {
    # name: (dimension, words and symbols that name it; lower case)
    "km": ("length", ("km", "kms", "kilometre", "kilometres", "kilometer", "kilometers")),
    "m": ("length", ("m", "metre", "metres", "meter", "meters")),
    "cm": ("length", ("cm", "centimetre", "centimetres", "centimeter", "centimeters")),
    "mm": ("length", ("mm", "millimetre", "millimetres", "millimeter", "millimeters")),
    "mi": ("length", ("mi", "mile", "miles")),
    "ft": ("length", ("ft", "foot", "feet")),
    "in": ("length", ("inch", "inches")),
    "yd": ("length", ("yd", "yard", "yards")),
    "kg": ("mass", ("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms", "kilogramme")),
    "g": ("mass", ("g", "gram", "grams", "gramme", "grammes")),
    "lb": ("mass", ("lb", "lbs", "pound", "pounds")),
    "oz": ("mass", ("oz", "ounce", "ounces")),
    "t": ("mass", ("tonne", "tonnes")),
    "l": ("volume", ("l", "litre", "litres", "liter", "liters")),
    "ml": ("volume", ("ml", "millilitre", "millilitres", "milliliter", "milliliters")),
    "gal": ("volume", ("gal", "gallon", "gallons")),
    "C": ("temperature", ("°c", "c", "celsius", "centigrade", "degrees celsius")),
    "F": ("temperature", ("°f", "f", "fahrenheit", "degrees fahrenheit")),
    "K": ("temperature", ("k", "kelvin", "kelvins")),
    "s": ("time", ("sec", "secs", "second", "seconds")),
    "min": ("time", ("min", "mins", "minute", "minutes")),
    "h": ("time", ("hr", "hrs", "hour", "hours")),
    "day": ("time", ("day", "days")),
    "week": ("time", ("wk", "wks", "week", "weeks")),
    "month": ("time", ("month", "months")),
    "year": ("time", ("yr", "yrs", "year", "years")),
    "USD": ("money", ("usd", "$", "us$", "dollar", "dollars", "us dollar", "us dollars")),
    "EUR": ("money", ("eur", "€", "euro", "euros")),
    "GBP": ("money", ("gbp", "£", "pound", "pounds", "pounds sterling", "sterling", "quid")),
    "CHF": ("money", ("chf", "swiss franc", "swiss francs", "franc", "francs")),
    "JPY": ("money", ("jpy", "¥", "yen")),
    "AUD": ("money", ("aud", "a$", "australian dollar", "australian dollars")),
    "CAD": ("money", ("cad", "c$", "canadian dollar", "canadian dollars")),
}

_BY_WORD: dict[str, list[Unit]] = {}
for _name, (_dimension, _words) in _TABLE.items():
    for _word in (*_words, *([_name.lower()] if _name not in {"in", "t", "s", "h"} else [])):
        units = _BY_WORD.setdefault(_word, [])
        if Unit(_name, _dimension) not in units:
            units.append(Unit(_name, _dimension))

_SHORT = frozenset(w for w in _BY_WORD if len(w) < 2 or w in {"in", "mi", "m", "g", "l", "t"})
"""Words too short or too common to name a unit away from a number ("in", "m", "C")."""

_WORDS_PATTERN = "|".join(
    re.escape(w) for w in sorted(_BY_WORD, key=len, reverse=True) if w not in {"$", "€", "£", "¥"}
)
_AFTER_NUMBER = re.compile(
    r"(?<![\w.])(?P<prefix>US\$|A\$|C\$|[$€£¥])?\s?"
    r"(?P<sign>[-−](?=\d))?(?P<number>" + NUMBER_BODY + ")"
    r"(?:\s?-?\s?(?:degrees?\s+)?(?P<unit>" + _WORDS_PATTERN + r"))?(?![\w°])",
    re.IGNORECASE,
)
_ASKED = re.compile(
    r"\b(?:in|into|to|as|how\s+many)\s+(?:(?:the|a|us)\s+)?(?:degrees\s+)?"
    r"(?P<unit>" + _WORDS_PATTERN + r")(?![\w°])",
    re.IGNORECASE,
)
_DECLARED = re.compile(
    r"\b(?:in|as)\s+(?:degrees\s+)?(?P<unit>" + _WORDS_PATTERN + r")(?![\w°])"
    r"|\((?P<paren>" + _WORDS_PATTERN + r")\)",
    re.IGNORECASE,
)
_RETURNED = re.compile(
    r"\b(?:in|number\s+of)\s+(?:degrees\s+)?(?P<unit>" + _WORDS_PATTERN + r")(?![\w°])",
    re.IGNORECASE,
)


def units_named(word: str) -> list[Unit]:
    """The units a word or symbol names ("pounds": lb and GBP); [] for any other word."""
    return list(_BY_WORD.get(" ".join(word.lower().split()), ()))


_SECONDS = {"s": 1, "min": 60, "h": 3600, "day": 86_400, "week": 604_800}
"""Durations with a fixed length (months and years have none)."""


def ratio(source: str, target: str) -> float | None:
    """How many `target` units one `source` unit is, when that is fixed (days into weeks:
    1/7; years into months: 12), else None (currencies, temperatures, days into months; and
    pairs a converter tool knows)."""
    if source in _SECONDS and target in _SECONDS:
        return _SECONDS[source] / _SECONDS[target]
    return _CALENDAR.get((source, target))


_CALENDAR = {("year", "month"): 12.0, ("month", "year"): 1 / 12}
"""A year is twelve months, whatever their lengths."""


def unit_called(name: str) -> Unit:
    """The unit whose short name is `name` ("kg", "USD"); raises `KeyError` for another."""
    return Unit(name, _TABLE[name][0])


def spelled_out(name: str) -> str:
    """A unit's name as a request would write it: a currency's code ("USD"), else its longest
    plural that names no other unit ("kilometres", "lbs", "degrees celsius", "weeks", "feet")."""
    dimension, words = _TABLE[name]
    if dimension == "money":
        return name
    own = [w for w in words if units_named(w) == [Unit(name, dimension)]]
    plurals = [w for w in own if w.endswith("s") or w == "feet"]
    return max(plurals or own or [name], key=len)


def quantities(text: str) -> list[tuple[float, list[Unit]]]:
    """The numbers of `text` with the units written at them ("9 lb" → (9.0, [lb, GBP]);
    "$30" → (30.0, [USD]); "12" → (12.0, []); "-3 °C" → (-3.0, [C]))."""
    return [(float(written.replace(",", "")), units) for written, units in _written(text)]


def _written(text: str) -> list[tuple[str, list[Unit]]]:
    """:func:`quantities` with each number as written ("1,416.00")."""
    found = []
    for match in _AFTER_NUMBER.finditer(text):
        word = match.group("unit") or match.group("prefix") or ""
        # "Oslo: -3 °C" is -3 (as 3, it was converted to 37.4 F, ok=True)
        sign = "-" if match.group("sign") else ""
        found.append((sign + match.group("number"), units_named(word) if word else []))
    return found


def _long(match: re.Match[str], group: str) -> list[Unit]:
    """The units of a unit word away from a number: a short one ("C") only after "degrees"."""
    word = match.group(group)
    if not word or (word.lower() in _SHORT and "degree" not in match.group(0).lower()):
        return []
    return units_named(word)


_MENTIONED = re.compile(r"(?<![\w°])(?:" + _WORDS_PATTERN + r")(?![\w°])", re.IGNORECASE)


def units_mentioned(text: str) -> list[list[Unit]]:
    """The units each unit word of `text` names, wherever it stands ("every day" → [[day]]);
    a short word ("m", "C") only at a number."""
    found = [units for _, units in quantities(text) if units]
    found += [
        units_named(m.group()) for m in _MENTIONED.finditer(text) if m.group().lower() not in _SHORT
    ]
    return found


def asked_unit(request: str) -> list[Unit]:
    """The unit the request asks its answer in ("… in dollars", "how many weeks"), as the
    units its word names; [] when it names none. The last such phrase wins; "in a week" names
    a period ("How many miles is that in a week?" asks for miles)."""
    asked: list[Unit] = []
    for match in _ASKED.finditer(request):
        units = _long(match, "unit")
        if units and all(u.dimension == "time" for u in units) and _A_PERIOD.match(match[0]):
            continue  # "in a week": a period of time, not the unit of the answer
        asked = units or asked
    return asked


_A_PERIOD = re.compile(r"\w+\s+a\s", re.IGNORECASE)


def declared_unit(name: str, schema: Mapping[str, Any]) -> Unit | None:
    """The unit a tool argument declares: by a suffix of its name (`weight_kg`, `price_usd`),
    by its name when that is a unit's word (`days`, `hours`), or in its description ("weight in
    kilograms", "(kg)"); None when it declares none or the word could name units of two
    dimensions."""
    candidates: list[Unit] = []
    parts = name.lower().split("_")
    if parts[-1] not in _SHORT and (len(parts) > 1 or len(parts[0]) > 3):
        candidates = units_named(parts[-1])  # `weight_kg`; a unit's own word, `days`
    if not candidates:
        for match in _DECLARED.finditer(str(schema.get("description") or "")):
            candidates = _long(match, "unit") or _long(match, "paren")
            if candidates:
                break
    return candidates[0] if len(candidates) == 1 else None


_SOURCE_WORDS = frozenset({"from", "source", "src", "original", "input"})
_TARGET_WORDS = frozenset({"to", "target", "into", "dest", "destination", "wanted", "output"})
_UNIT_WORDS = frozenset({"unit", "units", "currency", "currencies"})


def unit_role(name: str, schema: Mapping[str, Any]) -> str | None:
    """ "source" or "target" for a string argument that names the unit converted from or to
    (`from_unit`, `to_currency`, `target` described as "the unit wanted"), else None."""
    words = set(re.findall(r"[a-z]+", name.lower()))
    described = set(re.findall(r"[a-z]+", str(schema.get("description") or "").lower()))
    if not (words | described) & _UNIT_WORDS:
        return None
    if words & _SOURCE_WORDS:
        return "source"
    if words & _TARGET_WORDS:
        return "target"
    return None


@dataclass(frozen=True)
class UnitRoles:
    """The units a conversion should go from and to, as grounded in what the run was given:
    `target` the unit the request asks for ("… in dollars"), `source` the other units of that
    dimension written at numbers ("300 euros"), most recent last."""

    source: tuple[Unit, ...] = ()
    target: tuple[Unit, ...] = ()


def unit_roles(step: str, found: Iterable[tuple[float, Sequence[Unit]]]) -> UnitRoles:
    """The :class:`UnitRoles` of a step (whose request says what it asks for), given the
    :func:`quantities` `found` in what the run was given."""
    asked = asked_unit(step)
    written: list[Unit] = []
    for _, units in found:
        written += [u for u in units if u not in written]
    if not asked:
        return UnitRoles()
    dimensions = {u.dimension for u in written if u not in asked}
    target = [u for u in asked if u.dimension in dimensions] or asked
    dimension = target[0].dimension
    source = [u for u in written if u.dimension == dimension and u not in target]
    return UnitRoles(tuple(source), tuple(target[:1]))


def with_returned_unit(result: str, description: str) -> str | None:
    """`result` with the unit its tool says it returns, when the result is a bare number
    ("34.9" from "Look up the unit price in euros" → "34.9 EUR"), else None."""
    text = result.strip()
    if not is_figure(text):
        return None
    units = returned_units(description)
    return f"{text} {units[0].name}" if len(units) == 1 else None


def converted_to(args: Mapping[str, Any], properties: Mapping[str, Any]) -> Unit | None:
    """The unit a call converts into: the unit its target argument names (`to_currency="USD"`,
    by :func:`unit_role` over the tool's argument `properties`), else None. A bare result of
    such a call is in that unit, whatever the tool's description says it returns."""
    for name, value in args.items():
        schema = properties.get(name)
        if isinstance(schema, Mapping) and unit_role(name, schema) == "target":
            named = units_named(str(value))
            if len(named) == 1:
                return named[0]
    return None


def names_a_given_unit(value: str, texts: Iterable[str]) -> bool:
    """Does `value` ("USD") name a unit that `texts` give, at a number ("300 dollars") or as
    the unit asked for ("to euros")? Then it is grounded, though not written the same way."""
    named = set(units_named(value))
    if not named:
        return False
    for text in texts:
        if named & set(asked_unit(text)):
            return True
        if any(named & set(units) for _, units in quantities(text)):
            return True
    return False


def conflicts(declared: Unit, written: Sequence[Unit]) -> bool:
    """A number written with `written` cannot go to an argument declared in `declared`: one of
    the units the word names is another unit of the same dimension, and none is `declared`."""
    return declared not in written and any(
        u.dimension == declared.dimension and u != declared for u in written
    )


def returned_units(description: str) -> list[Unit]:
    """The units a tool says it returns ("Price in euros of ...", "The number of days ...")."""
    for match in _RETURNED.finditer(description):
        found = _long(match, "unit")
        if found:
            return found
    return []


def wrong_unit(
    request: str,
    answer: str,
    results: Iterable[tuple[str, str]],
) -> dict[str, str] | None:
    """The request asks for one unit and the answer's figure is in another of the same
    dimension: `{"asked", "answered", "figure"}`, or None.

    The answer's figure is the first figure of that dimension on the last line that holds
    one (the one labelled "total", when one is): an answer composed from step results ends
    with its own line ("Step 1: 34.9", "Step 2: 139.6", "Answer: 139.6 EUR"), and a line says
    its figure before an aside ("139.6 USD (34.9 USD each)"). When a figure of that line is in
    the unit asked for ("24 weeks (168 days)"), nothing is missing.

    Args:
        request: the turn's request.
        answer: the run's answer.
        results: `(tool description, result text)` of each call that worked; a bare figure of
            the answer that a result holds takes the unit written at it in the result, or else
            the unit the tool's description says it returns ("Price in euros").
    """
    asked = asked_unit(request)
    if not asked:
        return None
    dimensions = {u.dimension for u in asked}
    sources = list(results)
    for line in reversed(answer.splitlines()):
        figures = []
        for written, units in _written(line):
            same = [
                u for u in units or _source_units(written, sources) if u.dimension in dimensions
            ]
            if same:
                figures.append((written, same))
        if not figures:
            continue
        if any(set(same) & set(asked) for _, same in figures):
            return None  # a figure in the unit asked for
        # "tip: 18.00, total: 138.00": the total is the line's figure
        total = TOTAL_FIGURE.search(line)
        labelled = [f for f in figures if total is not None and f[0] == total["figure"]]
        written, same = (labelled or figures)[0]
        # "in pounds" asks for lb or GBP: the one of the answer's dimension
        wanted = next(u for u in asked if u.dimension == same[0].dimension)
        figure = canonical(float(written.replace(",", "")))
        return {"asked": wanted.name, "answered": same[0].name, "figure": figure}
    return None


TOTAL_FIGURE = re.compile(rf"\btotal\b\W{{0,3}}(?P<figure>{NUMBER_BODY})", re.IGNORECASE)
"""A figure labelled "total" ("tip: 18.00, total: 138.00"), in group `figure`."""


def _source_units(written: str, sources: Sequence[tuple[str, str]]) -> list[Unit]:
    for description, result in sources:
        for figure, units in quantities(result):
            if same_figure(written, figure):
                return units or returned_units(description)
    return []
