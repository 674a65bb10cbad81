"""Dates as requests write them (:func:`written_dates`), so a date argument is grounded by a
date that was given, not by its year alone.

Asked "How many days are there between June 1st 2025 and Christmas Day 2025?", SmolLM2-135M
called `days_between(start="2025-06-01", end="2025-06-22")` and answered 21, with a tool
behind it; the ungrounded-string check of :mod:`lamina.guards.ungrounded` let "2025-06-22"
through because 2025 was given. An ISO date in a free string argument now has to be one of the
dates the run was given, in any of the forms people write them ("2025-06-01", "June 1st 2025",
"1 June 2025", "1st of June", "06/01/2025"); a day and month written without a year count with
any year that was given. A holiday on a fixed day of the year is that date ("Christmas Day
2025" is 2025-12-25; :data:`FIXED_HOLIDAYS`); a movable one (Easter, Thanksgiving) is no date:
the model cannot ground it, and the run says so instead of guessing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lamina.core.text import answer_line
from lamina.guards.numbers import written_numbers

__all__ = [
    "CALENDAR_WORDS",
    "FIXED_HOLIDAYS",
    "GivenDates",
    "date_roles",
    "dates_for",
    "dates_swapped",
    "only_in_dates",
    "repeated_date",
    "takes_a_date",
    "written_dates",
    "wrong_way_in_time",
]

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
CALENDAR_WORDS = frozenset(_MONTHS) | frozenset(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
)
"""The names of months and weekdays, lower-case: words of a date, not names of things."""
_MONTH = "(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(?P<year>\d{4}))?"
_FORMS = [
    re.compile(r"(?<!\d)(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})(?!\d)"),
    re.compile(rf"\b{_DAY}(?:\s+of)?\s+{_MONTH}{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b{_MONTH}\s+(?:the\s+)?{_DAY}\b{_YEAR}", re.IGNORECASE),
]
FIXED_HOLIDAYS: dict[str, tuple[int, int]] = {
    "christmas eve": (12, 24),
    "christmas day": (12, 25),
    "christmas": (12, 25),
    "new year's eve": (12, 31),
    "new year's day": (1, 1),
    "halloween": (10, 31),
    "valentine's day": (2, 14),
    "st patrick's day": (3, 17),
}
"""Holidays on the same day of every year, as (month, day): a name for a date."""
_BY_PLAIN_NAME = {name.replace("'", ""): date for name, date in FIXED_HOLIDAYS.items()}
_HOLIDAY = re.compile(
    r"\b(?P<name>"
    + "|".join(
        re.escape(name).replace("'", "['’]?")
        for name in sorted(FIXED_HOLIDAYS, key=len, reverse=True)
    )
    + rf")\b{_YEAR}",
    re.IGNORECASE,
)
_NUMERIC = re.compile(r"(?<!\d)(\d{1,2})[/.](\d{1,2})[/.](\d{4})(?!\d)")


@dataclass
class GivenDates:
    """The dates written in what was given: how often each is written (a day of a month with
    no year under year 0), and the years written."""

    times: Counter[tuple[int, int, int]] = field(default_factory=Counter)
    years: set[int] = field(default_factory=set)

    @property
    def full(self) -> set[tuple[int, int, int]]:
        """The dates written with a year, as (year, month, day)."""
        return {date for date in self.times if date[0]}

    @property
    def yearless(self) -> set[tuple[int, int]]:
        """The days of a month written without a year, as (month, day)."""
        return {(month, day) for year, month, day in self.times if not year}

    def times_given(self, year: int, month: int, day: int) -> int:
        """How often the date is written (without a year too, when its year was given)."""
        yearless = self.times[(0, month, day)] if year in self.years else 0
        return self.times[(year, month, day)] + yearless

    def iso(self) -> list[str]:
        """The full dates as YYYY-MM-DD, in date order (and a day of a month written without a
        year, when a single year was given)."""
        dates = self.full
        if len(self.years) == 1:
            (year,) = self.years
            dates |= {(year, month, day) for month, day in self.yearless}
        return [_iso(date) for date in sorted(dates)]

    def grounds(self, year: int, month: int, day: int) -> bool:
        """Was this date given (a day and month without a year: with a year that was)?"""
        return self.times_given(year, month, day) > 0


def _iso(date: tuple[int, int, int]) -> str:
    year, month, day = date
    return f"{year:04d}-{month:02d}-{day:02d}"


def written_dates(texts: Iterable[str]) -> GivenDates:
    """The dates `texts` write, in the forms of the module docstring."""
    given = GivenDates()
    for text in texts:
        given.years.update(int(y) for y in re.findall(r"(?<!\d)(\d{4})(?!\d)", text))
        for form in _FORMS:
            for match in form.finditer(text):
                month_text = match.group("month").lower().rstrip(".")
                month = _MONTHS.get(month_text) or int(month_text)
                day = int(match.group("day"))
                if not (1 <= month <= 12 and 1 <= day <= 31):
                    continue
                given.times[(int(match.group("year") or 0), month, day)] += 1
        for match in _HOLIDAY.finditer(text):
            month, day = _BY_PLAIN_NAME[re.sub(r"['’]", "", match.group("name").lower())]
            given.times[(int(match.group("year") or 0), month, day)] += 1
        for first, second, year in _NUMERIC.findall(text):
            # day first or month first: both were given, "03/03/2025" once
            for month, day in {(int(first), int(second)), (int(second), int(first))}:
                if 1 <= month <= 12 and 1 <= day <= 31:
                    given.times[(int(year), month, day)] += 1
    return given


def repeated_date(args: Mapping[str, Any], texts: Iterable[str]) -> str | None:
    """A date that fills more arguments of one call than `texts` write it, as a finding, or
    None. Asked for the days "between June 1st 2025 and Christmas Day 2025" (a holiday is no
    written date), SmolLM2-135M called `days_between("2025-06-01", "2025-06-01")` and
    answered 0."""
    used = Counter(
        (int(m.group("year")), int(m.group("month")), int(m.group("day")))
        for value in args.values()
        if isinstance(value, str) and (m := _FORMS[0].fullmatch(value.strip()))
    )
    given = written_dates(texts)
    for date, count in used.items():
        if count > 1 and count > given.times_given(*date):
            return f"{_iso(date)} fills {count} arguments, but the request gives that date once"
    return None


_OPENS = re.compile(r"\b(?:from|since|starting(?:\s+on)?|beginning|between)\s+(?:the\s+)?$", re.I)
_CLOSES = re.compile(r"\b(?:until|till|til|to|through|by|before|and)\s+(?:the\s+)?$", re.I)


def date_roles(text: str) -> dict[str, set[str]]:
    """The full dates `text` writes as a period's start ("from 2026-12-07", "between ... and")
    or end ("until 2026-12-25"), as YYYY-MM-DD, by role."""
    roles: dict[str, set[str]] = {"start": set(), "end": set()}
    for form in _FORMS:
        for match in form.finditer(text):
            if not match.group("year"):
                continue
            month_text = match.group("month").lower().rstrip(".")
            month = _MONTHS.get(month_text) or int(month_text)
            date = _iso((int(match.group("year")), month, int(match.group("day"))))
            before = text[: match.start()]
            if _OPENS.search(before):
                roles["start"].add(date)
            elif _CLOSES.search(before):
                roles["end"].add(date)
    return roles


def dates_for(
    name: str, prop: Mapping[str, Any], dates: Sequence[str], roles: Mapping[str, set[str]]
) -> list[str]:
    """The dates a date argument may take: those the step gives for its role (a `start` takes
    "from 2026-12-07"), else all of `dates`."""
    role = _argument_role(name, prop)
    own = [d for d in dates if role is not None and d in roles.get(role, set())]
    return own or list(dates)


def _argument_role(name: str, prop: Mapping[str, Any]) -> str | None:
    words = set(re.findall(r"[a-z]+", f"{name} {prop.get('description', '')}".lower()))
    if words & {"start", "from", "begin", "beginning", "first", "since"}:
        return "start"
    if words & {"end", "until", "last", "second", "to"}:
        return "end"
    return None


def dates_swapped(
    args: Mapping[str, Any], properties: Mapping[str, Any], texts: Iterable[str]
) -> str | None:
    """A date that goes to a period's start while `texts` write it as its end, or the other
    way, as a finding; else None. "How many days until 2026-12-25 from 2026-12-07?":
    SmolLM2-135M called `days_between(start="2026-12-25", end="2026-12-07")` and answered -18,
    ok."""
    roles: dict[str, set[str]] = {"start": set(), "end": set()}
    for text in texts:
        for role, dates in date_roles(text).items():
            roles[role] |= dates
    for name, value in args.items():
        prop = properties.get(name)
        if not isinstance(value, str) or not isinstance(prop, Mapping):
            continue
        wanted = _argument_role(name, prop) if takes_a_date(name, prop) else None
        other = {"start": "end", "end": "start"}.get(wanted or "")
        date = value.strip()
        if wanted and other and date in roles[other] and date not in roles[wanted]:
            return f"the request gives {date} as the {other} date; {name} takes the {wanted} date"
    return None


def takes_a_date(name: str, prop: Mapping[str, Any]) -> bool:
    """Is a string argument a calendar date (`date`, `start_date`; "the first date as
    YYYY-MM-DD")? Offered any span, SmolLM2-135M filled `days_between` with 2025-06-01 twice for
    "between June 1st 2025 and Christmas Day 2025"."""
    described = f"{name} {prop.get('description', '')} {prop.get('format', '')}".lower()
    return bool(re.search(r"\bdate\b|yyyy", described.replace("_", " ")))


_COUNT = r"(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_SPAN_OF_TIME = rf"\b{_COUNT}\s+(?:days?|weeks?|months?|years?)\s+"
_BACK = re.compile(
    rf"{_SPAN_OF_TIME}(?:before|earlier\s+than|prior\s+to)\s+(?P<date>[^?!;]+)", re.I
)
_FORWARD = re.compile(rf"{_SPAN_OF_TIME}(?:after|later\s+than|from)\s+(?P<date>[^?!;]+)", re.I)


def wrong_way_in_time(request: str, answer: str) -> str | None:
    """A finding when the answer's date lies on the wrong side of the date the request counts
    from ("10 days before 2026-01-05" answered 2026-01-15), else None: the answer's date is the
    one date its last line writes that the request does not.

    SmolLM2-135M called `add_days("2026-01-05", 10)` for "What's the date 10 days before
    2026-01-05?" and, for "3 weeks prior to 2026-04-01", converted 3 weeks to 21 days and
    added them; both answers were a tool's result, ok."""
    found = [(m, -1) for m in _BACK.finditer(request)]
    found += [(m, 1) for m in _FORWARD.finditer(request)]
    if len(found) != 1:
        return None
    match, way = found[0]
    counted_from = written_dates([match["date"]]).full
    answered = written_dates([answer_line(answer)]).full - written_dates([request]).full
    if len(counted_from) != 1 or len(answered) != 1:
        return None
    (start,), (end,) = counted_from, answered
    if (end > start) == (way > 0) and end != start:
        return None
    side = "before" if way < 0 else "after"
    return (
        f"The request asks for a date {side} {_iso(start)}, but the answer's date {_iso(end)} "
        f"is not {side} it"
    )


_ISO_DATE = re.compile(r"(?<![\d.])(\d{4})-(\d{1,2})-(\d{1,2})(?!\d|\.\d)")


def only_in_dates(texts: Iterable[str]) -> frozenset[float]:
    """The values `texts` write only as the year, month or day of a date written YYYY-MM-DD
    ("2026-05-20": 2026, 5 and 20, unless a text writes one of them elsewhere)."""
    texts = list(texts)
    parts = {float(p) for text in texts for m in _ISO_DATE.finditer(text) for p in m.groups()}
    elsewhere = {value for text in texts for _, value in written_numbers(_ISO_DATE.sub(" ", text))}
    return frozenset(parts - elsewhere)
