"""A request that asks what each of several people pays (:func:`sharers`): "We're splitting a
240 dollar bill four ways ... How much does each of us pay?", "Dinner for four came to 120 CHF
... tell me what each of us owes."

Two things must be written: how many share (a number before "ways", "people", "of us",
"friends", "guests", or after "for", "between", "among" at the end of a phrase) and that a
share is asked for ("each of us", "each person", "per person", "per head", "split", "share",
"divide"). Then the total divided by that number is the only operation that answers: what the
step that divides is (:func:`lamina.layers.reasoning.combination.share_step`) and nothing else.
"""

from __future__ import annotations

import re

from lamina.guards.numbers import NUMBER_BODY, canonical, number_words, percentages
from lamina.guards.units import quantities, units_named

__all__ = ["asks_for_a_share", "shared_amount", "sharers", "sharers_phrases"]

_COUNT = rf"(?:{NUMBER_BODY}|[^\W\d_]+)"
_SHARERS = re.compile(
    rf"\b(?P<n>{_COUNT})\s+(?:ways|people|persons|of\s+us|of\s+them|friends|guests|colleagues)\b"
    rf"|\b(?:for|between|among|amongst)\s+(?P<m>{_COUNT})\b(?:\s+(?P<next>[^\W\d_]+))?",
    re.IGNORECASE,
)
_SHARE_ASKED = re.compile(
    r"\beach\s+(?:of\s+us|of\s+them|person|one)\b|\bper\s+(?:person|head)\b|\beach\s+(?:pay|owe)s?\b"
    r"|\b(?:split|splitting|share|sharing|divide|dividing)\b",
    re.IGNORECASE,
)


def asks_for_a_share(task: str) -> bool:
    """Does the request ask what each one pays or gets ("each of us", "per person", "split")?"""
    return bool(_SHARE_ASKED.search(task))


def sharers(task: str) -> float | None:
    """How many share, when the request says so once ("four ways", "dinner for four", "5 of
    us") and asks for a share; else None."""
    if not asks_for_a_share(task):
        return None
    found: set[float] = set()
    for match in _SHARERS.finditer(task):
        after = (match["next"] or "").lower()
        if match["m"] and (units_named(after) or (len(after) > 3 and after.endswith("s"))):
            continue  # "for 3 nights", "for 4 hours": not people
        value = _number(match["n"] or match["m"])
        if value is not None:
            found.add(value)
    return found.pop() if len(found) == 1 else None


def _number(text: str) -> float | None:
    if re.fullmatch(NUMBER_BODY, text):
        value = float(text.replace(",", ""))
    else:
        named = number_words(text)
        if len(named) != 1 or named[0][0].lower() != text.lower():
            return None
        value = named[0][1]
    return value if value >= 2 and value == int(value) else None


def sharers_phrases(task: str) -> list[tuple[float, str]]:
    """Each phrase that says how many share ("between 3 of us", "four ways"), with its number."""
    found = []
    for match in _SHARERS.finditer(task):
        value = _number(match["n"] or match["m"])
        if value is not None:
            found.append((value, match[0]))
    return found


def shared_amount(task: str) -> str | None:
    """The division a request that shares one given amount asks for ("Split a 120 euro bill
    between 4 people" → "120 / 4"), or None: it must say how many share, give exactly one other
    figure, in a currency, and no percentage (a tip or tax first is another plan). Offered every
    tool, SmolLM2-135M called `convert_currency` for it three times."""
    count = sharers(task)
    if count is None or not asks_for_a_share(task) or percentages(task):
        return None
    phrases = {text for _, text in sharers_phrases(task)}
    figures = [
        (value, units)
        for value, units in quantities(task)
        if not any(
            f"{canonical(value)} " in f"{p} " or p.endswith(canonical(value)) for p in phrases
        )
    ]
    if len(figures) != 1 or not any(u.dimension == "money" for u in figures[0][1]):
        return None
    return f"{canonical(figures[0][0])} / {canonical(count)}"
