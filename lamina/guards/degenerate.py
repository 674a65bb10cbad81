"""Guard: output of a small model that no refinement should keep (:func:`degenerate`): empty,
echoing the prompt's scaffolding, or looping (a line repeated three times or more)."""

from __future__ import annotations

import re
from collections import Counter

__all__ = ["degenerate", "empty"]


_SCAFFOLD = re.compile(
    r"(my (latest|earlier) (attempt|summary)|the (new|original) summary|summary of my earlier)",
    re.IGNORECASE,
)


def empty(text: str) -> bool:
    """True for output with nothing in it: what the reasoning layer checks with the
    `degenerate_output` guard off (an empty text can never be an answer)."""
    return not text.strip()


def degenerate(text: str) -> bool:
    """True for output no refinement should keep: empty, echoing the prompt, or looping.

    A loop is a line (of some substance) repeated three times or more.
    """
    stripped = text.strip()
    if not stripped or stripped.lower() in {"(none)", "none"}:
        return True
    if len(_SCAFFOLD.findall(stripped)) >= 2:
        return True
    lines = [line.strip().lower() for line in stripped.splitlines() if len(line.strip()) > 3]
    return any(count >= 3 for count in Counter(lines).values())
