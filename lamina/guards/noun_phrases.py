"""Noun phrases of English text, read by their function words: the words of a phrase
(:func:`noun_phrase`), its head (:func:`next_head`, :func:`head_of`: the last word before a
function word, "the monitors in the warehouse" → monitors) and a noun's singular
(:func:`singular`). The quantity guards name the things a figure is of or counts with them."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "ARTICLE",
    "FUNCTION_WORDS",
    "PROPER_NAME",
    "head_of",
    "next_head",
    "noun_phrase",
    "singular",
    "without_article",
]

ARTICLE = r"(?:a|an|the)\s+"
"""An article and the space after it, as a regular expression."""

_LEADING_ARTICLE = re.compile(rf"^{ARTICLE}", re.IGNORECASE)

PROPER_NAME = re.compile(
    r"(?<![.!?:]\s)(?<!^)(?<![\n\"'“])\b(?P<name>[A-Z][a-z]{2,})\b(?=\s+(?P<next>[^\W\d_]+))?"
)
"""A capitalised word that does not start a sentence ("Nairobi"), with the word after it."""

FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "what",
        "which",
        "who",
        "how",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "with",
        "by",
        "and",
        "or",
        "but",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "my",
        "our",
        "your",
        "their",
        "his",
        "her",
        "me",
        "us",
        "you",
        "we",
        "they",
        "i",
        "do",
        "does",
        "did",
        "some",
        "any",
        "all",
        "every",
        "each",
        "much",
        "many",
        "more",
        "less",
        "than",
        "as",
        "if",
        "so",
        "not",
        "no",
        "per",
        "will",
        "would",
        "can",
        "could",
        "should",
        "have",
        "has",
        "had",
        "there",
        "here",
        "then",
    ]
)
"""English function words: a noun phrase ends at one ("the monitors in the warehouse")."""


def noun_phrase(words: Sequence[str], start: int, *, plural: bool = False) -> list[str]:
    """The words of the noun phrase from `start`: after any leading function words, up to the
    next one. With `plural` (after a number of two or more) the phrase ends at its first plural
    word ("four keyboards cost": keyboards; "2 keyboard covers": covers)."""
    phrase: list[str] = []
    for word in words[start:]:
        if word in FUNCTION_WORDS or len(word) < 2 or "'" in word:
            if phrase:
                break
            continue
        phrase.append(word)
        if plural and singular(word) != word:
            break
    return phrase


def next_head(words: Sequence[str], start: int, *, plural: bool = False) -> str:
    """The head of the noun phrase from `start` (its last word), "" when there is none."""
    phrase = noun_phrase(words, start, plural=plural)
    return phrase[-1] if phrase else ""


def head_of(words: Sequence[str]) -> str:
    """The head of the noun phrase `words` start with, singular ("" when there is none)."""
    return singular(next_head([w.lower() for w in words], 0))


def singular(word: str) -> str:
    """A plural noun's singular, lower-case ("keyboards" → keyboard, "batteries" → battery)."""
    word = word.lower()
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us")):
        return word[:-1]
    return word


def without_article(phrase: str) -> str:
    """`phrase` without the article it opens with, stripped ("a webcam" → webcam)."""
    return _LEADING_ARTICLE.sub("", phrase.strip())
