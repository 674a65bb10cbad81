"""Guard: a free string argument made of words and numbers nobody gave (:func:`ungrounded_strings`).

A small model fills a free string argument from its own head as readily as from the request:
asked for the shipping of "a 12 kg box internationally", SmolLM2-135M called
`convert_units(value=12, from_unit="kilometers", to_unit="meters")`; asked "Is it hot in Cairo
today?", it called `days_between(start="2022-01-01", end="2022-01-15")`. Both calls were valid,
both ran, and their results were presented as the answer. Numbers are grounded by the decoding
grammar (:mod:`lamina.guards.grounding`); this guard does the same for the words and figures in
a free string (one with no `enum`, `const`, `pattern` or `format` of its own):

* each word of the value must be a word of what was given, or a form of one: a prefix
  ("domestic" for "domestically", "F" for "Fahrenheit"), an extension of a word of four letters
  or more ("miles" for "mile"), or a short abbreviation whose letters occur in order in a given
  word with the same first letter ("km" for "kilometres", "EUR" for "euros");
* a value of marks alone ("][", "{") must occur as it is in what was given;
* each number in it must be one that was given (any digit run of the request counts); an ISO
  date must be a date that was given, in any form people write one ("2025-06-01" for "June
  1st 2025"; see :mod:`lamina.guards.dates`), not merely a date in a year that was given.

What counts as given is the caller's choice: the execution layer passes the request, the step,
the memories, the thread's earlier turns and the results of tools already called; never a
tool's description (its examples are what small models copy). A value a tool expects in a form
the request never uses ("USD" for "dollars") is refused too; the model is then offered the
request's own spans, and a tool that wants codes should say so with an `enum`.

The execution layer refuses such a call (failure kind `ungrounded`), which also makes the
argument an `enum` of the request's spans for the next move; it is part of the `grounding`
guard (`Guards(grounding=False)` switches it off).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from lamina.guards.dates import GivenDates, written_dates
from lamina.guards.grounding import grounded_numbers
from lamina.guards.numbers import DIGITS, plain
from lamina.guards.units import names_a_given_unit

__all__ = ["ABBREVIATION_MAX", "mentioned", "ungrounded_strings"]

ABBREVIATION_MAX = 4
"""Longest value word read as an abbreviation of a given word ("km", "EUR", "kWh")."""

_LETTERS = re.compile(r"[^\W\d_]+")
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_CONSTRAINED = ("enum", "const", "pattern", "format")
_MARKS_ONLY = re.compile(r"[^\w]*[^\w\s][^\w]*")
"""A value of marks alone ("][", "{"): no word or figure anyone gave."""


def mentioned(word: str, given_words: Iterable[str]) -> bool:
    """Is `word` one of `given_words` (lower case), or a form of one (see the module doc)?"""
    w = word.lower()
    for g in given_words:
        if g == w or g.startswith(w):
            return True
        if len(g) >= 4 and w.startswith(g):
            return True
        if len(w) <= ABBREVIATION_MAX and w[0] == g[0] and _in_order(w, g):
            return True
    return False


def _in_order(letters: str, word: str) -> bool:
    rest = iter(word)
    return all(c in rest for c in letters)


def ungrounded_strings(
    properties: Mapping[str, Any], args: Mapping[str, Any], given: Iterable[str]
) -> list[tuple[str, str, list[str]]]:
    """The free string arguments holding something nobody gave, as `(argument, value, the
    words or numbers not given)`, in argument order.

    Args:
        properties: the tool's JSON-schema `properties` (a constrained string is not checked).
        args: the call's arguments.
        given: the texts the values may come from.
    """
    texts = list(given)
    words = {w.lower() for text in texts for w in _LETTERS.findall(text)}
    _, literals = grounded_numbers(texts)
    known_digits = {plain(literal) for literal in literals}
    dates = written_dates(texts)
    findings = []
    for name, value in args.items():
        schema = properties.get(name)
        if not isinstance(value, str) or not isinstance(schema, Mapping):
            continue
        if any(key in schema for key in _CONSTRAINED) or schema.get("type") not in (None, "string"):
            continue
        if names_a_given_unit(value, texts):
            continue  # "USD" for "300 dollars": the unit given, by its code
        missing = [w for w in _LETTERS.findall(value) if not mentioned(w, words)]
        missing += _ungiven_figures(value, known_digits, dates)
        if _MARKS_ONLY.fullmatch(value) and not any(value.strip() in text for text in texts):
            # "][" as the text to count: SmolLM2's word_count("][") answered "How many webcams
            # do we have?" with 1, ok
            missing.append(value)
        if missing:
            findings.append((name, value, missing))
    return findings


def _ungiven_figures(value: str, known: set[str], dates: GivenDates) -> list[str]:
    missing = []
    for date in _ISO_DATE.finditer(value):
        year, month, day = (int(part) for part in date.groups())
        if not dates.grounds(year, month, day):
            missing.append(date.group(0))
    rest = _ISO_DATE.sub(" ", value)
    missing += [d for d in DIGITS.findall(rest) if plain(d) not in known]
    return missing
