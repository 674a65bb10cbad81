"""The built-in current_time tool, on a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from lamina.errors import ToolError
from lamina.tools.clock import current_time, current_time_tool, resolve_timezone

MOMENT = datetime(2025, 1, 15, 12, 30, 45, 123456, tzinfo=UTC)  # a Wednesday


def fixed() -> datetime:
    return MOMENT


def test_named_zones_give_their_offset_and_weekday() -> None:
    t = current_time_tool(fixed)
    assert t.name == "current_time"
    assert t.invoke({"timezone": "Europe/Paris"}) == (
        "2025-01-15T13:30:45+01:00 (Wednesday, Europe/Paris)"
    )
    assert t.invoke({"timezone": "america/new_york"}).startswith("2025-01-15T07:30:45-05:00")
    assert t.invoke({"timezone": "UTC"}) == "2025-01-15T12:30:45+00:00 (Wednesday, UTC)"
    # across midnight the weekday follows the zone, not UTC
    assert "(Thursday, Pacific/Kiritimati)" in t.invoke({"timezone": "Pacific/Kiritimati"})


def test_no_zone_means_the_local_zone() -> None:
    t = current_time_tool(fixed, local=timezone(timedelta(hours=-3)))
    assert t.invoke({}) == "2025-01-15T09:30:45-03:00 (Wednesday, local time)"


@pytest.mark.parametrize("name", ["Mars/Olympus", "Europe/Pariss", "../etc/passwd", "+01:00"])
def test_unknown_zones_are_refused_clearly(name: str) -> None:
    with pytest.raises(ToolError, match="Unknown time zone") as info:
        current_time_tool(fixed).invoke({"timezone": name})
    assert "IANA" in str(info.value)


def test_close_names_are_suggested() -> None:
    with pytest.raises(ToolError, match="Did you mean 'Europe/Paris'"):
        resolve_timezone("Europe/Pariss")


def test_naive_clock_is_an_error() -> None:
    with pytest.raises(ToolError, match="naive datetime"):
        current_time_tool(lambda: datetime(2025, 1, 1)).invoke({})


def test_default_tool_uses_the_real_clock() -> None:
    text = current_time.invoke({"timezone": "UTC"})
    stamp = datetime.fromisoformat(text.split(" ")[0])
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60
    assert current_time.metadata is not None
    assert current_time.metadata["requires_approval"] is False
