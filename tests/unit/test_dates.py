"""`lamina.guards.dates`: the dates a request writes, in the forms people write them."""

from __future__ import annotations

from lamina.guards.dates import written_dates


def test_given_dates_in_iso_form() -> None:
    given = written_dates(["From June 1st 2025 to the 5th of May, and 03/04/2025."])
    # "03/04/2025" is either day first or month first: both were given
    assert given.iso() == ["2025-03-04", "2025-04-03", "2025-05-05", "2025-06-01"]
    assert given.grounds(2025, 5, 5)
    assert not given.grounds(2025, 6, 22)
    assert written_dates(["the 5th of May"]).iso() == []  # no year given
