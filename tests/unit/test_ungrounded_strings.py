"""The `ungrounded` guard: a free string argument holds only words and numbers that were given."""

from __future__ import annotations

from typing import Any

import pytest

from lamina.guards.ungrounded import mentioned, ungrounded_strings

FREE = {"type": "string"}
PROPS: dict[str, Any] = {
    "from_unit": FREE,
    "to_unit": FREE,
    "date": FREE,
    "city": FREE,
    "zone": {"type": "string", "enum": ["domestic", "eu", "world"]},
    "expression": {"type": "string", "pattern": "^[0-9+*/ ().-]+$"},
    "count": {"type": "integer"},
}


@pytest.mark.parametrize(
    ("args", "given", "expected"),
    [
        # seen on SmolLM2-135M: a unit the request never names
        (
            {"from_unit": "kilometers", "to_unit": "meters"},
            "I need to send a 12 kg box internationally",
            [("from_unit", "kilometers", ["kilometers"]), ("to_unit", "meters", ["meters"])],
        ),
        # seen: dates out of nowhere for a weather question
        (
            {"date": "2022-01-01"},
            "Is it hot in Cairo today?",
            [("date", "2022-01-01", ["2022-01-01"])],
        ),
        # seen: a date the request does not give; its year alone does not ground one
        (
            {"date": "2025-06-22"},
            "How many days are there between June 1st 2025 and Christmas Day 2025?",
            [("date", "2025-06-22", ["2025-06-22"])],
        ),
        # a tool's description example, not the request's city
        (
            {"city": "the city's name, e.g. Lisbon"},
            "tokyo weather please",
            [
                (
                    "city",
                    "the city's name, e.g. Lisbon",
                    ["the", "city", "s", "name", "e", "g", "Lisbon"],
                )
            ],
        ),
        ({"from_unit": "GBP"}, "300 dollars to euros", [("from_unit", "GBP", ["GBP"])]),
        ({"city": "Room 12"}, "Book room 7", [("city", "Room 12", ["12"])]),
    ],
)
def test_values_nobody_gave_are_found(args: dict[str, Any], given: str, expected: Any) -> None:
    assert ungrounded_strings(PROPS, args, [given]) == expected


@pytest.mark.parametrize(
    ("args", "given"),
    [
        ({"from_unit": "mi", "to_unit": "km"}, "how many km is 13.1 miles?"),
        ({"from_unit": "F", "to_unit": "C"}, "98.6 °F. What is that in Celsius?"),
        ({"from_unit": "EUR"}, "convert 40 euros"),
        ({"from_unit": "USD", "to_unit": "EUR"}, "300 dollars to euros"),  # units by their codes
        ({"city": "domestic"}, "How much to ship it domestically?"),
        ({"city": "Noise cancelling headphones"}, "our noise-cancelling headphones"),
        ({"date": "2025-06-01"}, "between June 1st 2025 and Christmas 2025"),
        ({"date": "2025-03-03"}, "How many weeks from 3 March 2025 to 18 August 2025?"),
        ({"date": "2025-03-14"}, "on March 14th, 2025"),
        ({"date": "2025-05-05"}, "in 2025, on the 5th of May"),  # a day and month, a year given
        ({"date": "2025-04-03"}, "on 03/04/2025"),  # day/month or month/day: both are given
        (
            {"date": "2025-12-08"},
            "",
        ),  # a result given earlier: see the texts below
        # constrained strings and other types are the grammar's business, not this guard's
        ({"zone": "world", "expression": "12 * 7", "count": 99}, "nothing here"),
    ],
)
def test_values_from_what_was_given_pass(args: dict[str, Any], given: str) -> None:
    texts = [given, "The tool returned 2025-12-08."]
    assert ungrounded_strings(PROPS, args, texts) == []


def test_abbreviations_keep_their_first_letter_and_order() -> None:
    assert mentioned("km", ["kilometres"])
    assert mentioned("kWh", ["kilowatt", "hours"]) is False  # letters of two words: not one word
    assert not mentioned("mk", ["kilometres"])
    assert not mentioned("meters", ["kilometres"])  # not a prefix, not an abbreviation
    assert mentioned("mile", ["miles"])
    assert mentioned("miles", ["mile"])
    assert not mentioned("area", ["are"])  # extending a word needs four letters of it
