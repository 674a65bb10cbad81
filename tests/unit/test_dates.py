"""`lamina.guards.dates`: the dates a request writes, in the forms people write them."""

from __future__ import annotations

import pytest

from lamina.guards.dates import repeated_date, written_dates, wrong_way_in_time


def test_given_dates_in_iso_form() -> None:
    given = written_dates(["From June 1st 2025 to the 5th of May, and 03/04/2025."])
    # "03/04/2025" is either day first or month first: both were given
    assert given.iso() == ["2025-03-04", "2025-04-03", "2025-05-05", "2025-06-01"]
    assert given.grounds(2025, 5, 5)
    assert not given.grounds(2025, 6, 22)
    assert written_dates(["the 5th of May"]).iso() == []  # no year given


def test_a_date_written_once_fills_one_argument_of_a_call() -> None:
    request = ["How many days are there between June 1st 2025 and Christmas Day 2025?"]
    same = {"start": "2025-06-01", "end": "2025-06-01"}
    finding = repeated_date(same, request)
    assert finding is not None
    assert "2025-06-01" in finding
    assert repeated_date({"start": "2025-06-01", "end": "2025-12-25"}, request) is None
    twice = ["From 2025-06-01 to 2025-06-01: how many days?"]  # written twice: a choice
    assert repeated_date(same, twice) is None
    yearless = ["Valentine's Day 2025 (Feb 14) to Feb 14?"]
    assert repeated_date({"a": "2025-02-14", "b": "2025-02-14"}, yearless) is None


def test_a_holiday_on_a_fixed_day_is_that_date() -> None:
    given = written_dates(["How many days are there between June 1st 2025 and Christmas Day 2025?"])
    assert given.iso() == ["2025-06-01", "2025-12-25"]
    assert written_dates(["From 2025-03-01 until Christmas?"]).iso() == ["2025-03-01", "2025-12-25"]
    assert written_dates(["Halloween 2024 to New Year’s Day 2025"]).iso() == [
        "2024-10-31",
        "2025-01-01",
    ]
    assert written_dates(["valentines day 2025"]).iso() == ["2025-02-14"]
    # a movable holiday is no date; nor is a holiday without any year given
    assert written_dates(["Easter 2025"]).iso() == []
    assert written_dates(["How long until Christmas?"]).iso() == []


@pytest.mark.parametrize(
    ("request_text", "answer", "wrong"),
    [
        ("What's the date 10 days before 2026-01-05?", "The tool returned 2026-01-15.", True),
        ("Which day was 3 weeks prior to 2026-04-01?", "- Step 2: ...\nAnswer: 2026-04-22", True),
        ("What date is 45 days after March 10, 2026?", "2026-01-24", True),
        ("What's the date 10 days before 2026-01-05?", "The tool returned 2025-12-26.", False),
        ("What date is 2 weeks from 2026-03-10?", "2026-03-24", False),
        # no date counted from, or no date answered: nothing to say
        ("How many days between 2026-01-01 and 2026-02-01?", "31", False),
        ("What was the date 3 days ago?", "2026-12-04", False),
    ],
)
def test_a_date_on_the_wrong_side_of_the_one_counted_from(
    request_text: str, answer: str, wrong: bool
) -> None:
    assert (wrong_way_in_time(request_text, answer) is not None) is wrong
