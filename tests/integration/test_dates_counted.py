"""A date counted back or forward from a date the request gives, with the real model on the
numeric path the run uses: right and ok, or not ok. SmolLM2-135M added the days of "10 days
before 2026-01-05" and the answer, 2026-01-15, was ok; a date on the wrong side of the one
counted from is now `contradicted`."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from langchain_core.tools import tool


@tool(parse_docstring=True)
def shift_date(date: str, days: int) -> str:
    """The date a number of days after a date (a negative number: before it).

    Args:
        date: the date as YYYY-MM-DD.
        days: how many days to add; negative to go back.
    """
    return (dt.date.fromisoformat(date) + dt.timedelta(days=days)).isoformat()


AGENT_TOOLS = [shift_date]
"""The tools of `tools_agent` (conftest), which adds lamina's calculator."""


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("What's the date 10 days before 2026-01-05?", "2025-12-26"),
        ("What date is 45 days after 2026-03-10?", "2026-04-24"),
    ],
)
def test_a_date_counted_from_a_date_is_right_or_not_ok(
    tools_agent: Any, request_text: str, expected: str
) -> None:
    result = tools_agent.run(request_text)
    answered = re.findall(r"\d{4}-\d{2}-\d{2}", result.answer.splitlines()[-1])
    if result.ok:
        assert answered[-1:] == [expected], result.answer
    else:
        assert result.error is not None
        assert expected not in answered, result.answer  # a right answer would be ok
