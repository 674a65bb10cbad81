"""Patterns of a string argument, grounded: the calculator's `expression` may hold only the
numbers that were given (see :mod:`lamina.guards.grounding`)."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["grounded_pattern"]

_CLASS_ESCAPED = frozenset(".$-#&~ ")
_CHAR_CLASS_PATTERN = re.compile(r"\^\[(.+)\]([+*])\$")


def grounded_pattern(own: str, literals: Sequence[str]) -> str | None:
    """A regex for strings that fit `own`, a pattern of the form `^[CLASS]+$` (or `*`), and
    whose digits occur only as the given `literals`: the characters between the numbers come
    from CLASS. Any other pattern cannot be combined: None, and the property keeps its own.
    """
    match = _CHAR_CLASS_PATTERN.fullmatch(own)
    if match is None or match.group(1).startswith("^"):
        return None
    chars = match.group(1).replace("0-9", "").replace("\\d", "")
    if re.search(r"\d", chars.replace("\\", "")):
        return None  # single digits in the class: numbers could be spelled around us
    filler, after = f"[{chars}]", f"[{chars.replace('.', '')}]"
    non_empty = match.group(2) == "+"
    if not literals:
        return f"^{filler}{'+' if non_empty else '*'}$"
    # Longer literals first, so "86.40" is not read as "86" then ".40".
    forms = "|".join(_literal(f) for f in sorted(literals, key=len, reverse=True))
    if non_empty:
        return f"^(({filler}|({forms}){after})+({forms})?|({forms}))$"
    return f"^({filler}|({forms}){after})*({forms})?$"


def _literal(text: str) -> str:
    """`text` as a regex that llama.cpp's converter turns into a valid grammar: it copies some
    backslash escapes (`\\.`, `\\$`, `\\-`) into GBNF literals, where they are errors, so those
    characters go in a class instead."""
    out = []
    for char in text:
        if char in _CLASS_ESCAPED:
            out.append(f"[{char}]")
        elif char == "^":
            out.append("[\\^]")
        else:
            out.append(re.escape(char))
    return "".join(out)
