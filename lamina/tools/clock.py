"""The built-in `current_time` tool: the date and time now, in a time zone the model may name.

    >>> from lamina.tools.clock import current_time
    >>> current_time.invoke({"timezone": "UTC"})  # doctest: +SKIP
    '2025-06-01T14:03:12+00:00 (Sunday, UTC)'

Small models do not know what day it is; they copy a date well. The result is ISO 8601 with the
UTC offset, so it is unambiguous, followed by the weekday and the zone's name. The time zone is
an IANA name (`Europe/Paris`, `America/New_York`, `UTC`); an unknown name is refused with the
closest known names, never silently replaced by another zone.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Annotated

from langchain_core.tools import BaseTool

from lamina.errors import ToolError
from lamina.tools.decorator import tool

__all__ = ["current_time", "current_time_tool", "resolve_timezone"]

Clock = Callable[[], datetime]
"""Returns the current moment as an aware datetime (UTC by default)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@lru_cache(maxsize=1)
def _zone_names() -> tuple[str, ...]:
    import zoneinfo

    return tuple(sorted(zoneinfo.available_timezones()))


def resolve_timezone(name: str) -> tzinfo:
    """The time zone called `name` (an IANA name, any case; `UTC`/`Z` for UTC).

    Raises:
        ToolError: `name` is not a known IANA time zone; the message lists close names.
    """
    import zoneinfo

    key = name.strip()
    if key.upper() in ("UTC", "Z", "GMT"):
        return UTC
    exact = {n.lower(): n for n in _zone_names()}.get(key.lower())
    if exact is not None:
        try:
            return zoneinfo.ZoneInfo(exact)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass  # listed but not loadable: reported below like any unknown name
    close = difflib.get_close_matches(key, _zone_names(), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ToolError(
        f"Unknown time zone {name!r}; expected an IANA name such as 'Europe/Paris', "
        f"'America/New_York' or 'UTC'.{hint} Fix: call current_time again with a known name, "
        "or with no timezone for the local time."
    )


def current_time_tool(clock: Clock = _utc_now, *, local: tzinfo | None = None) -> BaseTool:
    """Build a `current_time` tool.

    Args:
        clock: where "now" comes from (tests pass a fixed moment); must return an aware datetime.
        local: the time zone used when the model names none (default: the machine's).

    Returns:
        The tool; it takes one optional argument, `timezone`.
    """

    @tool(name="current_time")
    def current_time_impl(
        timezone: Annotated[
            str,
            "An IANA time zone name such as 'Europe/Paris' or 'America/New_York'; empty for "
            "the local time zone.",
        ] = "",
    ) -> str:
        """Get the current date and time (ISO 8601 with UTC offset, then weekday and zone)."""
        now = clock()
        if now.tzinfo is None:
            raise ToolError(
                "The clock returned a naive datetime; expected one with a time zone. "
                "Fix: build current_time_tool with a clock returning datetime.now(UTC)."
            )
        if timezone.strip():
            zone = resolve_timezone(timezone)
            label = "UTC" if zone is UTC else str(zone)
        else:
            zone = local if local is not None else now.astimezone().tzinfo or UTC
            label = "local time"
        moment = now.astimezone(zone).replace(microsecond=0)
        return f"{moment.isoformat()} ({moment.strftime('%A')}, {label})"

    return current_time_impl


current_time: BaseTool = current_time_tool()
"""The `current_time` tool on the real clock."""
