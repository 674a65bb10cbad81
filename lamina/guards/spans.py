"""The values a free string argument may take (:func:`grounded_spans`): the spans of what the
run was given, so a tool argument holds only words the run was given
(:mod:`lamina.guards.grounding`)."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MAX_CLAUSE_WORDS", "MAX_SPANS", "MAX_SPAN_WORDS", "grounded_spans"]

MAX_SPANS = 800
"""Values a free string may take, at most (the earliest texts' first): enough for a request,
its step and a few results; a bound on the grammar's size."""
MAX_SPAN_WORDS = 6
"""Longest span taken from inside a clause; a whole clause may be longer."""
MAX_CLAUSE_WORDS = 80
"""Longest clause offered whole (a text to count the words of, a message to send)."""

_CLAUSE = re.compile(r"(?<=[.!?;:])\s+|\n+")
_EDGE_PUNCTUATION = ".,;:!?()[]{}'\"“”‘’"


def grounded_spans(texts: Iterable[str]) -> list[str]:
    """The values a free string argument may take: the spans of up to :data:`MAX_SPAN_WORDS`
    words of each clause of `texts` (without the punctuation at their ends), and each clause
    whole, as written and lowercased; at most :data:`MAX_SPANS`, earliest text first."""
    spans: dict[str, None] = {}

    def add(span: str) -> None:
        span = span.strip(_EDGE_PUNCTUATION + " ")
        for form in (span, span.lower()):
            if form and len(spans) < MAX_SPANS:
                spans.setdefault(form, None)

    for text in texts:
        for clause in _CLAUSE.split(text):
            words = clause.split()
            if not words:
                continue
            if len(words) <= MAX_CLAUSE_WORDS:
                add(" ".join(words))
            for start in range(len(words)):
                for length in range(1, MAX_SPAN_WORDS + 1):
                    if start + length <= len(words):
                        add(" ".join(words[start : start + length]))
    return list(spans)
