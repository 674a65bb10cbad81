"""The texts a request gives for a tool to work on, and the arguments that take such a text.

"Count the words in: the quick brown fox jumps" gives a passage, "the quick brown fox jumps";
so does a request that quotes one ("What would this cost: 'Our new range ships in May'"). A
tool argument that takes a text (`text`, "the text to count") is offered those passages whole.
Offered every span after SmolLM2-135M had copied its description ("the text to count."), it
counted "jumps": 1 word, with ok=True.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["after_instruction", "given_passages", "quoted_texts", "takes_a_text"]

_QUOTED = re.compile(r"(?<!\w)(['\"“‘])(?P<text>[^'\"“”‘’\n]*?\s[^'\"“”‘’\n]*?)['\"”’](?!\w)")
_INSTRUCTION = re.compile(r"^\s*([^.!?\n:]{1,60}):\s*([\"'“A-Z0-9\n].*)$", re.DOTALL)
_ANY_CASE = re.compile(_INSTRUCTION.pattern.replace("A-Z0-9", "A-Za-z0-9"), re.DOTALL)
_A_TEXT = re.compile(
    r"\b(?:text|passage|paragraph|sentence|document|message|content|body|words?)\b",
    re.IGNORECASE,
)
MIN_WORDS = 3
"""A passage has at least this many words (a quoted single word is a name, not a text)."""


def quoted_texts(text: str) -> list[str]:
    """The texts of at least `MIN_WORDS` words that `text` quotes ('...', "...", “...”)."""
    found = [m["text"].strip() for m in _QUOTED.finditer(text)]
    return [f for f in found if len(f.split()) >= MIN_WORDS]


def after_instruction(request: str, any_case: bool = False) -> str | None:
    """The text after a short instruction and a colon (up to 12 words and 60 characters:
    "Summarise this: The ..."), else None. The text starts a sentence or a line ("Rain fell
    on Monday: roads flooded." gives none), or with `any_case`, any word ("Count the words
    in: the quick brown fox")."""
    match = (_ANY_CASE if any_case else _INSTRUCTION).match(request)
    if match and len(match.group(1).split()) <= 12:
        return match.group(2).strip()
    return None


def given_passages(texts: Iterable[str]) -> list[str]:
    """The passages `texts` give: each quoted text, else the text after an instruction's
    colon, each of at least `MIN_WORDS` words, in order, once."""
    found: list[str] = []
    for text in texts:
        quoted = quoted_texts(text)
        after = None if quoted else after_instruction(text, any_case=True)
        found += quoted if after is None else [after]
    return [p for p in dict.fromkeys(found) if len(p.split()) >= MIN_WORDS]


def takes_a_text(name: str, prop: Mapping[str, Any]) -> bool:
    """Does a string argument take a text to work on (`text`, "the passage to summarise")?"""
    return bool(_A_TEXT.search(f"{name} {prop.get('description', '')}".replace("_", " ")))
