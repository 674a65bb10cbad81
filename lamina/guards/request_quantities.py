"""The figures a request gives, and what each is (:class:`Quantity`): a *count of things*, a
whole number of two or more written right before plural things ("3 mechanical keyboards"; not
"the 2nd keyboard", "#12", "20 percent", "2 keyboard covers" as keyboards); a *rate*, a
figure with a unit per a thing ("0.12 euros per word"); and a *value of one thing*, a figure
with a unit that one of a kind of thing is said to be ("A bag of my coffee is 12 oz", "Each
ticket costs 12 EUR", "Tickets are 12 EUR each"; not "My parcel weighs 3 kg", which is no one
of several). Figures the calls return are read by :mod:`lamina.guards.quantities`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lamina.guards.noun_phrases import FUNCTION_WORDS, next_head, noun_phrase, singular
from lamina.guards.numbers import NUMBER_BODY, NUMBER_IDIOMS, canonical, number_words
from lamina.guards.units import Unit, units_named

__all__ = ["REQUEST", "STATING_VERBS", "Quantity", "counted_values", "request_quantities"]

REQUEST = -1
"""`Quantity.origin` of a figure the request gives."""


@dataclass(frozen=True)
class Quantity:
    """A figure of the run and what it is.

    Attributes:
        value: the figure.
        unit: its unit (EUR, kg), or None.
        per: the things it is a value of one of, or a rate per ("keyboard", "word"), singular.
        counts: the things it counts, singular (empty: not a count).
        origin: the index of the call that returned it, or `REQUEST`.
        kind: the words before the thing's head in the request's phrase ("adult" in "Adult
            tickets cost 12 EUR each"; "small" in "3 small pizzas"); empty for a call's figure.
    """

    value: float
    unit: Unit | None
    per: frozenset[str] = frozenset()
    counts: frozenset[str] = frozenset()
    origin: int = REQUEST
    kind: frozenset[str] = frozenset()


_TOKEN = re.compile(
    rf"(?<![\w.,#$€£¥-])(?P<number>{NUMBER_BODY})(?![\w.,%])|(?P<word>[^\W\d_][\w'-]*)|[^\s]"
)
_RATE_WORDS = frozenset({"per", "a", "an", "each", "every"})
STATING_VERBS = (
    r"(?:is|are|was|were|costs?|weighs?|holds?|takes?|measures?|sells?\s+for|comes?\s+to)"
)
"""The verbs that say what a thing is, costs, weighs or holds (a regular expression)."""
_NOT_COUNTS = NUMBER_IDIOMS | {"one", "half"}
"""Number words that are not a count written before things ("twice", "a hundred times", "one
of them")."""


def request_quantities(task: str) -> list[Quantity]:
    """The request's counts ("3 mechanical keyboards") and rates ("0.12 euros per word")."""
    tokens = list(_TOKEN.finditer(task))
    found: list[Quantity] = []
    for i, token in enumerate(tokens):
        value = _count_value(token)
        if value is None:
            continue
        following = _words_after(tokens, i + 1)
        if (
            following
            and following[0].lower() in ("percent", "pct", "per")
            and (following[0].lower() != "per" or following[1:2] == ["cent"])
        ):
            continue  # "20 percent"
        named = units_named(following[0]) if following else []
        if len(named) > 1:
            continue  # "20 pounds": money or weight, nothing says which
        units = named
        lowered = [w.lower() for w in following]
        one = _one_thing(task[: token.start()], following) if units else None
        if one is not None:
            found.append(Quantity(value, units[0], per=frozenset({one[-1]}), kind=one[0]))
        elif units and (at := _rate_word_at(lowered)) is not None:
            # "0.12 euros per word", "300 g of food every day": a value per one thing
            per = singular(next_head(lowered, at + 1))
            found.append(Quantity(value, units[0], per=frozenset({per} - {""})))
        elif not units and following and value >= 2 and value == int(value):
            phrase = noun_phrase(lowered, 0, plural=True)
            end = lowered.index(phrase[-1]) + 1 if phrase else 0
            rest = lowered[end : end + 1]
            if phrase and not (rest and rest[0] in _RATE_WORDS):  # "3 bags a month": a rate
                found.append(
                    Quantity(
                        value,
                        None,
                        counts=frozenset({singular(phrase[-1])}),
                        kind=frozenset(phrase[:-1]),
                    )
                )
    return found


_CLAUSE_END = re.compile(r"[.!?;:,\n]")
_ONE_OF_SEVERAL = re.compile(
    r"\b(?:a|an|one|each|every)\s+(?P<phrase>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){0,5}?)\s+"
    # "A bag is 12 oz and costs 8 EUR": a second value of the same thing
    rf"(?:{STATING_VERBS}\s+{NUMBER_BODY}\s*[^\W\d_]*\s+and\s+)?{STATING_VERBS}\s*$",
    re.IGNORECASE,
)
_EACH_AFTER = frozenset({"each", "apiece"})
_PLURAL_SUBJECT = re.compile(
    rf"^\s*(?P<phrase>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){{0,5}}?)\s+{STATING_VERBS}\s*$",
    re.IGNORECASE,
)


def _one_thing(before: str, following: Sequence[str]) -> tuple[frozenset[str], str] | None:
    """The thing a figure with a unit is the value of one of, from the clause it ends ("A bag
    of my coffee is 12 oz" → bag; "Tickets are 12 EUR each" → ticket), singular, with the
    words before it in its phrase ("Adult tickets" → adult); else None."""
    clause = _CLAUSE_END.split(before)[-1]
    after = [w.lower() for w in following[1:3]]
    if after[:1] and after[0] in _EACH_AFTER and (len(after) == 1 or after[1] in FUNCTION_WORDS):
        match = _PLURAL_SUBJECT.search(clause)
    else:
        match = _ONE_OF_SEVERAL.search(clause)
    phrase = noun_phrase([w.lower() for w in match.group("phrase").split()], 0) if match else []
    return (frozenset(phrase[:-1]), singular(phrase[-1])) if phrase else None


def _count_value(token: re.Match[str]) -> float | None:
    if token.group("number") is not None:
        return float(token.group("number").replace(",", ""))
    word = (token.group("word") or "").lower()
    if word in _NOT_COUNTS:
        return None
    named = number_words(word)
    return named[0][1] if named and named[0][0].lower() == word else None


def _rate_word_at(words: Sequence[str]) -> int | None:
    """Where the word that makes a figure with a unit (`words[0]`) a rate stands: right after
    the unit ("euros per word", "USD a month"), or after what it is of ("g of food every day");
    None when there is none."""
    if len(words) >= 3 and words[1] in _RATE_WORDS and words[2] not in FUNCTION_WORDS:
        return 1  # not "12 EUR each and kids ...": the rate word is followed by its thing
    if words[1:2] == ["of"]:
        return next((k for k in range(3, len(words) - 1) if _per(words[k], words[k + 1])), None)
    return None


def _per(word: str, following: str) -> bool:
    """Does `word` make what comes before a rate ("every day", "per page", "a week"; an article
    only before a period of time, not in "of a special blend")?"""
    if word in _EVERY:
        return True
    return word in ("a", "an") and any(u.dimension == "time" for u in units_named(following))


_EVERY = frozenset({"per", "each", "every"})


def _words_after(tokens: Sequence[re.Match[str]], start: int) -> list[str]:
    """Up to six words that follow, up to the first number or mark."""
    words: list[str] = []
    for token in tokens[start : start + 6]:
        word = token.group("word")
        if word is None:
            break
        words.append(word)
    return words


def counted_values(text: str) -> list[str]:
    """The numbers of `text` written right before the plural things they count ("40 water
    bottles", "3 mechanical keyboards"; not "in 2020 and of Nice next year", "12 times"), in
    canonical form."""
    found = []
    for match in _COUNTED.finditer(text):
        words = match["words"].lower().split()
        if units_named(words[-1]) or any(w in FUNCTION_WORDS | NUMBER_IDIOMS for w in words):
            continue
        if singular(words[-1]) != words[-1] and words[-1] != "times":
            found.append(canonical(float(match["number"])))
    return found


_COUNTED = re.compile(
    r"(?<![\w.,])(?P<number>\d+)\s+(?P<words>(?:[a-z][\w-]*\s+){0,2}[a-z][\w-]*s)\b"
)
