"""A period's start and end as a request writes them (lamina/guards/dates.py's `date_roles`),
the date each argument then takes (`dates_for`, used by grounding), and a call that swaps them
(`dates_swapped`, a failed call)."""

from __future__ import annotations

from typing import Any

import pytest

from lamina.guards.dates import date_roles, dates_for, dates_swapped
from lamina.guards.grounding import Grounding

START = {"type": "string", "description": "the first date as YYYY-MM-DD"}
END = {"type": "string", "description": "the second date as YYYY-MM-DD"}
PROPERTIES = {"start": START, "end": END}
UNTIL_FROM = "How many days until 2026-12-25 from 2026-12-07?"


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        (UNTIL_FROM, {"2026-12-07"}, {"2026-12-25"}),
        ("from 2026-03-01 to 2026-06-01", {"2026-03-01"}, {"2026-06-01"}),
        ("between June 1st 2025 and December 25th 2025", {"2025-06-01"}, {"2025-12-25"}),
        ("What date is 90 days after 2026-01-15?", set(), set()),  # no period
    ],
)
def test_the_dates_that_start_and_end_a_period(text: str, start: set[str], end: set[str]) -> None:
    assert date_roles(text) == {"start": start, "end": end}


def test_each_date_argument_takes_the_date_of_its_role() -> None:
    dates = ("2026-12-07", "2026-12-25")
    roles = date_roles(UNTIL_FROM)
    assert dates_for("start", START, dates, roles) == ["2026-12-07"]
    assert dates_for("end", END, dates, roles) == ["2026-12-25"]
    assert dates_for("date", {"type": "string"}, dates, roles) == list(dates)  # no role
    assert dates_for("start", START, dates, {}) == list(dates)  # the request says none


def test_grounding_offers_each_date_argument_its_own_date() -> None:
    schema: dict[str, Any] = {"type": "object", "properties": dict(PROPERTIES)}
    narrowed = Grounding.from_texts([UNTIL_FROM]).narrow(schema)
    assert narrowed is not None
    assert narrowed["properties"]["start"]["enum"] == ["2026-12-07"]
    assert narrowed["properties"]["end"]["enum"] == ["2026-12-25"]


def test_a_call_that_swaps_the_period_is_a_finding() -> None:
    swapped = {"start": "2026-12-25", "end": "2026-12-07"}
    finding = dates_swapped(swapped, PROPERTIES, [UNTIL_FROM])
    assert finding == "the request gives 2026-12-25 as the end date; start takes the start date"
    right = {"start": "2026-12-07", "end": "2026-12-25"}
    assert dates_swapped(right, PROPERTIES, [UNTIL_FROM]) is None
