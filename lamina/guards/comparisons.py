"""The arithmetic a request's words name once its figures are known: a comparison of two figures
(:func:`asked_comparison`: "how much colder ... than", "how many times taller", "how many will
be left") and a percentage added or taken off (:func:`percent_change`: "with 20% tax on top",
"15% off").

A word decides the operation only where it leaves one: "how much colder is A than B" is the
difference of two temperatures, whichever is larger; "how many times taller" is the larger
length over the smaller; "how many will be left" takes a count given away from the count
there is. Which figures go in is decided elsewhere, from what they are
(:mod:`lamina.layers.reasoning.final_arithmetic`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from lamina.core.text import answer_line
from lamina.guards.noun_phrases import without_article
from lamina.guards.numbers import NUMBER_BODY, number_words, plain, written_numbers

__all__ = [
    "Choice",
    "Comparison",
    "PercentChange",
    "asked_choice",
    "asked_comparison",
    "percent_change",
    "picks_one",
]

ComparisonKind = Literal["difference", "ratio", "remainder", "threshold"]


@dataclass(frozen=True)
class Comparison:
    """What a request compares.

    Attributes:
        kind: "difference" (the larger figure minus the smaller), "ratio" (the larger over the
            smaller), "remainder" (what there is, minus what goes) or "threshold" (is a figure
            above or below a limit the request gives: their difference says).
        dimension: the dimension the comparative names ("colder": temperature, "cheaper":
            money), or None when its word names none ("how much more").
        text: the words that ask it, to the end of their sentence ("How many will be left in
            stock once it ships?").
        above: for a threshold, whether "yes" means above the limit ("Is it above 50 F?") or
            below it ("Is it under 10 kg?"); else None.
        limit: for a threshold, the limit's figure (50.0); else None.
    """

    kind: ComparisonKind
    dimension: str | None = None
    text: str = ""
    above: bool | None = None
    limit: float | None = None


_COMPARATIVES: dict[str, str] = {
    **dict.fromkeys(("colder", "warmer", "hotter", "cooler"), "temperature"),
    **dict.fromkeys(("cheaper", "dearer", "pricier", "costlier"), "money"),
    **dict.fromkeys(("taller", "longer", "shorter", "further", "farther", "wider"), "length"),
    **dict.fromkeys(("heavier", "lighter"), "mass"),
    **dict.fromkeys(("older", "younger", "later", "earlier", "sooner"), "time"),
}
_DIMENSION_NOUNS: dict[str, str] = {
    **dict.fromkeys(("temperature", "temperatures"), "temperature"),
    **dict.fromkeys(("price", "prices", "cost", "costs"), "money"),
    **dict.fromkeys(("height", "length", "distance"), "length"),
    **dict.fromkeys(("weight", "mass"), "mass"),
}
"""Nouns that name what a difference is of ("the temperature difference between")."""
_COMPARATIVE = r"(?:more|less|fewer|bigger|larger|smaller|higher|lower|{})".format(
    "|".join(_COMPARATIVES)
)
_DIFFERENCE = re.compile(
    rf"\bhow\s+(?:much|many|far)\s+(?:\w+\s+)?(?P<word>{_COMPARATIVE})\b"
    r"|\b(?:the\s+)?(?:(?P<noun>\w+)\s+)?difference\s+(?:in\s+(?P<of>\w+)\s+)?between\b"
    r"|\bhow\s+far\s+(?:is\s+(?:that|it|this)\s+)?(?:below|above|under|over|short\s+of)\b"
    # "Is Berlin warmer than Oslo? By how many degrees?"
    rf"|\b(?P<than>{_COMPARATIVE})\s+than\b[^.?!]*[.?!]?\s*by\s+how\s+(?:much|many)\b",
    re.IGNORECASE,
)
_RATIO = re.compile(
    rf"\bhow\s+many\s+times\s+(?:(?P<word>{_COMPARATIVE})|as\s+\w+\s+as)\b", re.IGNORECASE
)
_DOWN = frozenset({"below", "under", "less", "fewer", "lower", "colder", "cooler", "cheaper"})
_THRESHOLD = re.compile(
    r"^\s*(?:is|are|was|were|will|does|do|would)\b[^.?!]*?\b(?P<word>above|over|below|under|"
    rf"(?:more|less|fewer|higher|lower|{'|'.join(_COMPARATIVES)})\s+than)\s+"
    r"(?:the\s+)?"
    rf"(?P<limit>{NUMBER_BODY})(?!\s*%)",
    re.IGNORECASE | re.MULTILINE,
)
"""A yes-or-no question whether a figure is past a limit ("Is it above 50 Fahrenheit in Berlin
right now?"), asked at the start of a sentence."""
_ENOUGH = re.compile(
    r"^\s*(?:is|are|do|does|have|has|will|would|can)\b[^.?!]*?\benough\b[^.?!]*?\bfor\s+"
    rf"(?:(?:an?|the)\s+)?(?:[^\W\d_]+\s+of\s+)?(?P<limit>{NUMBER_BODY})(?!\s*%)",
    re.IGNORECASE | re.MULTILINE,
)
"""A yes-or-no question whether there is enough of something for a figure ("Do we have enough
wireless mice for an order of 150?"): a threshold the figure reaches from above."""
_REMAINDER = re.compile(
    r"\bhow\s+(?:many|much)\b[^.?!]*\b(?:left|remain|remains|remaining|left\s+over)\b",
    re.IGNORECASE,
)


def asked_comparison(request: str) -> Comparison | None:
    """The comparison the request asks for, or None.

    >>> asked_comparison("How much colder is it in Reykjavik than in Nairobi?").kind
    'difference'
    >>> asked_comparison("What's the temperature difference between Mumbai and Oslo?").dimension
    'temperature'
    >>> asked_comparison("Is Berlin warmer than Oslo? By how many degrees?").dimension
    'temperature'
    >>> asked_comparison("How many times a week do I run?") is None
    True
    """
    ratio = _RATIO.search(request)
    if ratio is not None:
        word = _COMPARATIVES.get((ratio["word"] or "").lower())
        return Comparison("ratio", word, _to_sentence_end(request, ratio))
    difference = _DIFFERENCE.search(request)
    if difference is not None:
        word = _COMPARATIVES.get((difference["word"] or difference["than"] or "").lower())
        # "the temperature difference between", "the difference in price between"
        named = (difference["noun"] or difference["of"] or "").lower()
        word = word or _DIMENSION_NOUNS.get(named)
        return Comparison("difference", word, _to_sentence_end(request, difference))
    remainder = _REMAINDER.search(request)
    if remainder is not None and (written_numbers(request) or number_words(request)):
        # what is left once a count goes: "How many monitors are left in the warehouse?"
        # gives no count that goes, and asks for the stock
        return Comparison("remainder", None, _to_sentence_end(request, remainder))
    enough = _ENOUGH.search(request)
    if enough is not None:
        limit = float(plain(enough["limit"]))
        return Comparison("threshold", None, _to_sentence_end(request, enough), True, limit)
    threshold = _THRESHOLD.search(request)
    if threshold is not None:
        word = threshold["word"].lower().split()[0]
        return Comparison(
            "threshold",
            _COMPARATIVES.get(word),
            _to_sentence_end(request, threshold),
            above=word not in _DOWN,
            limit=float(plain(threshold["limit"])),
        )
    return None


@dataclass(frozen=True)
class Choice:
    """Which of the things a request names it asks to pick by a comparative ("Is it warmer in
    Lisbon or in Berlin?", "Which is cheaper, a monitor or a webcam?").

    Attributes:
        word: the comparative as written ("warmer", "more expensive").
        dimension: what it compares ("temperature"), or None when its word names none
            ("bigger").
        larger: whether it picks the larger figure ("warmer") or the smaller ("cheaper").
        things: the two things it picks from, as written without articles or a preposition
            before them (("Lisbon", "Berlin"), ("monitor", "webcam")); () when they are not
            plain: more than four words, or figures.
        claimed: the thing a yes-or-no question says wins ("Berlin" in "Is Berlin warmer than
            Oslo?"), else None.
        label: for a comparative that names no dimension, the start of the word a figure is
            labelled with ("wind" for "windier", which picks "wind 32 km/h" among a weather
            report's figures; "humid" for "more humid"), else None.
    """

    word: str
    dimension: str | None
    larger: bool
    things: tuple[str, ...] = ()
    claimed: str | None = None
    label: str | None = None


_MORE_OR_LESS = r"(?:more|less)\s+(?:expensive|costly)|costs?\s+(?:more|less)"
_OTHER_COMPARATIVE = r"(?<=is\s)[^\W\d_]{2,}ier|(?<=it\s)[^\W\d_]{2,}ier"
"""A comparative in -ier that names no dimension, after "is" or "it" ("is windier", not
"courier")."""
_COMPARED_BY = re.compile(
    r"^\s+(?P<label>[^\W\d_]{3,})(?=\s*,|\s+(?:in|at|on|for|of|between)\b)", re.IGNORECASE
)
"""The word "more" or "less" compares by: one word before a comma or a preposition ("more
humid, Mumbai or Cairo?", "more humid in Mumbai or in Cairo?"; not "more backpacks or
webcams?" nor "more desk lamps or office chairs", where it begins one of the things)."""
_CHOICE = re.compile(
    rf"(?:^|[.!?]\s+)(?:which|what|where|who|is|are|was|were|does|do)\b[^.?!]*?"
    rf"\b(?P<word>{_MORE_OR_LESS}|{_OTHER_COMPARATIVE}|{_COMPARATIVE})\b"
    r"(?![^.?!]*\bthan\b)[^.?!]*?\bor\b[^.?!]*\?",
    re.IGNORECASE,
)
"""A question that picks one of two things by a comparative and says "or" ("Is it warmer in
Lisbon or in Berlin?"); one with "than" compares two figures it gives or asks how much."""
_SMALLER = _DOWN | {"shorter", "lighter", "younger", "earlier", "sooner", "smaller"}


def asked_choice(request: str) -> Choice | None:
    """The choice the request asks for, or None (also when it asks how much the two differ:
    :func:`asked_comparison`).

    >>> asked_choice("Is it warmer in Lisbon or in Berlin?").things
    ('Lisbon', 'Berlin')
    >>> asked_choice("Which is more expensive, a monitor or a webcam?").dimension
    'money'
    >>> asked_choice("Is Berlin warmer than Oslo?").claimed
    'Berlin'
    >>> asked_choice("Is Berlin warmer than 10 C?") is None
    True
    >>> asked_choice("Which city is windier, Denver or Reykjavik?").label
    'wind'
    """
    if asked_comparison(request) is not None:
        return None
    found = _CHOICE.search(request)
    if found is not None:
        after = request[found.end("word") : found.end()]
        by = _COMPARED_BY.match(after) if found["word"].lower() in ("more", "less") else None
        word = f"{found['word']} {by['label']}" if by else found["word"]
        return _choice(word, _alternatives(after[by.end() :] if by else after))
    for pattern in _CHOICES_WRITTEN:
        found = pattern.search(request)
        if found is not None:
            things = tuple(_thing(found[side]) for side in ("a", "b"))
            if not all(things):
                return None
            claimed = things[0] if "than" in found[0].lower() else None
            return _choice(found["word"], things, claimed)
    return None


def picks_one(asked: Choice, answer: str) -> bool:
    """Does `answer` pick one of the things `asked` picks from: does its last line say the
    comparative ("Denver is windier than Reykjavik"), yes or no, or name one of the things
    and not the other? A list of both things' lookups picks none ("Denver: 8 °C, windy, wind
    32 km/h; Reykjavik: 2 °C, ...", which SmolLM2's run gave for "Which city is windier,
    Denver or Reykjavik?", ok)."""
    last = answer_line(answer).lower()
    if len(re.findall(r"[^;:]+:[^;]+", last)) > 1 and ";" in last:
        return False  # "monitors: 18; standing desks: 12": a list of what was found
    if re.search(rf"\b{re.escape(asked.word.split()[-1].lower())}\b", last):
        return True
    if re.match(r"\s*(?:yes|no)\b", last):
        return True
    named = [t for t in asked.things if re.search(rf"\b{re.escape(t.lower())}\b", last)]
    return len(named) == 1


def _choice(written: str, things: tuple[str, ...], claimed: str | None = None) -> Choice:
    word = " ".join(written.lower().split())
    first, last = word.split()[0], word.split()[-1]
    if last in ("expensive", "costly") or first.startswith("cost"):
        more = (last if first.startswith("cost") else first) == "more"
        return Choice(word, "money", larger=more, things=things, claimed=claimed)
    larger = word not in _SMALLER and first not in _DOWN
    dimension = _COMPARATIVES.get(word)
    label = None
    if dimension is None and first in ("more", "less") and len(word.split()) == 2:
        label = last  # "more humid": the figure labelled "humidity"
    elif dimension is None and word.endswith("ier") and word not in _COMPARATIVES:
        label = word[:-3]  # "windier": the figure labelled "wind"
    return Choice(word, dimension, larger=larger, things=things, claimed=claimed, label=label)


_THING = r"[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){0,4}"
_WORD = rf"(?P<word>{_MORE_OR_LESS}|{_COMPARATIVE})"
_CHOICES_WRITTEN = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        # "Is Berlin warmer than Oslo?", "Is a webcam more expensive than a monitor?"
        rf"(?:^|[.!?]\s+)(?:is|are|was|were)\s+(?P<a>{_THING})\s+{_WORD}\s+than\s+"
        rf"(?P<b>{_THING})\s*\?",
        # "Is it warmer in Lisbon than in Berlin?"
        rf"(?:^|[.!?]\s+)is\s+it\s+{_WORD}\s+in\s+(?P<a>{_THING})\s+than\s+in\s+"
        rf"(?P<b>{_THING})\s*\?",
        # "Does a monitor cost more than a webcam?"
        rf"(?:^|[.!?]\s+)(?:does|do)\s+(?P<a>{_THING})\s+(?P<word>cost\s+(?:more|less))\s+"
        rf"than\s+(?P<b>{_THING})\s*\?",
        # "Is a monitor or a webcam cheaper?"
        rf"(?:^|[.!?]\s+)(?:is|are|which\s+is)\s+(?P<a>{_THING})\s+or\s+(?P<b>{_THING})\s+"
        rf"{_WORD}\s*\?",
    )
)
"""Choices written without a comparative before their "or": a yes-or-no "than" between two
things (no figure: that is a threshold), or the comparative after the things."""


def _thing(text: str) -> str:
    """A thing as a lookup takes it: no article, no time words ("a webcam" → webcam)."""
    side = without_article(_LEADING.sub("", text.strip(" ,").strip()))
    return _TRAILING.sub("", side)


_LEADING = re.compile(r"^(?:(?:in|at|for|of|between|is|are|it|right\s+now|now|today)\b\s*)+", re.I)
_TRAILING = re.compile(
    r"(?:\s+(?:right\s+now|now|today|at\s+the\s+moment|in\s+stock|left"
    r"|in\s+(?:the|our)\s+(?:warehouse|shop|store)))+$",
    re.I,
)


def _alternatives(text: str) -> tuple[str, ...]:
    """The two things around the last "or" of the words after a choice's comparative ("in
    Lisbon or in Berlin?" → Lisbon, Berlin; ", a monitor or a webcam?" → monitor, webcam)."""
    left, _, right = text.rstrip(" ?").rpartition(" or ")
    left = re.split(r"[,:;]", left.rstrip(" ,"))[-1]
    things = []
    for side in (left, right):
        side = _thing(side)
        words = side.split()
        if not 1 <= len(words) <= 4 or any(ch.isdigit() for ch in side):
            return ()
        things.append(side)
    return tuple(things)


def _to_sentence_end(request: str, match: re.Match[str]) -> str:
    end = re.search(r"[.!?](?:\s|$)", request[match.start() :])
    return request[match.start() : match.start() + end.end() if end else len(request)].strip()


_PERCENT = rf"(?P<percent>{NUMBER_BODY})\s*(?:%|percent\b|per\s+cent\b)"
_CHARGE = r"(?:tax|vat|sales\s+tax|surcharge|fee|markup|mark-up|service\s+charge)"
_ADDED = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        rf"{_PERCENT}\s+(?:\w+\s+){{0,2}}?(?:on\s+top|extra|added|more)\b",
        rf"\b(?:plus|add|adding|with)\s+(?:an?\s+)?{_PERCENT}\s+{_CHARGE}\b",
    )
)
_TAKEN_OFF = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        rf"{_PERCENT}\s+(?:off|discount|less|cheaper)\b",
        rf"\b(?:discount|reduction|rebate)\s+of\s+{_PERCENT}",
    )
)


@dataclass(frozen=True)
class PercentChange:
    """A percentage the request adds to its figure or takes off it.

    Attributes:
        percent: the percentage (20.0 for "20%").
        factor: what the figure is multiplied by (1.2 for "20% on top", 0.85 for "15% off").
        text: the words that say so ("20% tax on top").
    """

    percent: float
    factor: float
    text: str


def percent_change(request: str) -> PercentChange | None:
    """The percentage the request adds to its figure or takes off it ("with 20% tax on top" →
    20, ×1.2; "15% off" → 15, ×0.85), else None (also when it names more than one). A tip is
    left to a tool that works out tips."""
    found = [(m, 1.0) for pattern in _ADDED for m in pattern.finditer(request)]
    found += [(m, -1.0) for pattern in _TAKEN_OFF for m in pattern.finditer(request)]
    by_place = {match.start("percent"): (match, sign) for match, sign in found}
    if len(by_place) != 1 or len({sign for _, sign in found}) != 1:
        return None
    match, sign = found[0]
    percent = float(plain(match["percent"]))
    factor = 1 + sign * percent / 100
    if not 0 < percent < 1000 or factor <= 0:
        return None
    return PercentChange(percent, round(factor, 10), match[0])
