"""The deterministic split of a task into steps: a numbered or bulleted list, markers such as
"then" and "finally", or several sentences that each ask for something (no model call)."""

from __future__ import annotations

import re

from lamina.guards.noun_phrases import FUNCTION_WORDS
from lamina.guards.units import units_named

__all__ = ["explicit_steps", "is_multi_step", "split_task", "task_preamble"]

_LIST_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s+(\S.*?)\s*$", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
_MARKER = re.compile(
    r",?\s*\b(?:and\s+then|after\s+that|afterwards|then|finally|lastly|followed\s+by)\b,?\s*"
    r"|(?:^|,\s*)\bnext\b,\s*",
    re.IGNORECASE,
)
_LEADING_FILLER = re.compile(
    r"^(?:(?:first(?:ly)?|second(?:ly)?|third(?:ly)?|then|next|finally|lastly|also|and|now|"
    r"please|after\s+that|afterwards)\b[,:]?\s*)+",
    re.IGNORECASE,
)
_IF_CLAUSE = re.compile(r"\b(?:if|when|since|until)\b", re.IGNORECASE)
_REQUEST_VERBS = frozenset(
    [
        "add",
        "answer",
        "calculate",
        "check",
        "choose",
        "compare",
        "compute",
        "convert",
        "count",
        "create",
        "define",
        "describe",
        "divide",
        "draft",
        "estimate",
        "explain",
        "find",
        "give",
        "list",
        "look",
        "make",
        "multiply",
        "name",
        "outline",
        "plan",
        "rewrite",
        "search",
        "show",
        "sort",
        "subtract",
        "suggest",
        "sum",
        "summarise",
        "summarize",
        "tell",
        "translate",
        "write",
    ]
)
_QUESTION_WORDS = frozenset(
    [
        "what",
        "who",
        "whom",
        "whose",
        "which",
        "when",
        "where",
        "why",
        "how",
        "is",
        "are",
        "do",
        "does",
        "can",
    ]
)


def _is_request(sentence: str) -> bool:
    """A sentence that asks for something: a question or an imperative."""
    text = _LEADING_FILLER.sub("", sentence.strip()).strip()
    if not text:
        return False
    if text.endswith("?"):
        return True
    first = re.split(r"\W+", text.lower(), maxsplit=1)[0]
    return first in _REQUEST_VERBS or first in _QUESTION_WORDS


def _split_on_markers(sentence: str) -> list[str]:
    pieces: list[str] = []
    last = 0
    for match in _MARKER.finditer(sentence):
        before = sentence[last : match.start()]
        # "if it rains then ..." is a condition, not a sequence
        if match.group(0).strip(" ,").lower() == "then" and _IF_CLAUSE.search(before):
            continue
        pieces.append(before)
        last = match.end()
    pieces.append(sentence[last:])
    return pieces


def _clean(piece: str) -> str:
    text = _LEADING_FILLER.sub("", piece.strip()).strip(" ,;:\n\t")
    if not text:
        return ""
    return text[0].upper() + text[1:]


def _names_nothing(piece: str) -> bool:
    """Does `piece` name nothing but function words and units ("How many?", "In dollars?")?"""
    words = re.findall(r"[a-z]+", piece.lower())
    return bool(words) and all(w in FUNCTION_WORDS or units_named(w) for w in words)


def split_task(task: str, max_steps: int = 5) -> list[str]:
    """Split a task on its explicit sequencing, deterministically; [task] when it has none.

    List items win; otherwise sentences and "then"/"after that"/"finally"-style markers. A
    piece set off by a marker is always a step; a sentence without one is a step only if it
    asks for something (a question or an imperative), else ("I have 3 apples.") it is kept with
    the step after it; one that names nothing but function words and units ("How many?") is
    kept with the step before it. More than `max_steps` pieces are merged into the last step.
    """
    items = [_clean(m.group(1)) for m in _LIST_ITEM.finditer(task)]
    items = [i for i in items if len(i) > 1]
    if len(items) >= 2:
        merged = items
    else:
        # (text, sequenced): sequenced pieces come from a marker split
        pieces: list[tuple[str, bool]] = []
        for sentence in _SENTENCE_END.split(task):
            parts = _split_on_markers(sentence)
            sequenced = len(parts) > 1
            pieces.extend((_clean(part), sequenced) for part in parts)
        pieces = [(text, seq) for text, seq in pieces if len(text) > 1]
        merged = []
        carry = ""
        for text, sequenced in pieces:
            if merged and not carry and _names_nothing(text):
                # "How many?", "By how many degrees?", "In dollars?": a question about the
                # step before, with nothing of its own to work on (as a step of its own,
                # SmolLM2 looked up the price of "water" for "Do we still have water bottles?
                # How many?")
                merged[-1] = f"{merged[-1]} {text}"
                continue
            if not sequenced and not _is_request(text):
                carry = f"{carry} {text}".strip()
                continue
            merged.append(f"{carry} {text}".strip() if carry else text)
            carry = ""
        if carry:
            if merged:
                merged[-1] = f"{merged[-1]} {carry}"
            else:
                merged.append(carry)
    if len(merged) < 2:
        return [task.strip()]
    if len(merged) > max_steps:
        merged = [*merged[: max_steps - 1], " ".join(merged[max_steps - 1 :])]
    return merged


def explicit_steps(task: str) -> list[str]:
    """The items of the task's numbered or bulleted list when they read as steps, else [].

    Two or more items, each a request or at least two words with a letter in them: "- 10\n- 30"
    or "- apples\n- pears" is data to work on, not a plan.
    """
    items = [_clean(m.group(1)) for m in _LIST_ITEM.finditer(task)]
    items = [i for i in items if len(i) > 1]
    if len(items) < 2:
        return []
    for item in items:
        words = re.findall(r"[A-Za-z]{2,}", item)
        if not words or (len(item.split()) < 2 and not _is_request(item)):
            return []
    return items


def task_preamble(task: str) -> str:
    """The text of a list task outside its items ("Anna buys 4 boxes of 12 eggs."), else ""."""
    if not explicit_steps(task):
        return ""
    return " ".join(_LIST_ITEM.sub("", task).split())


def is_multi_step(task: str) -> bool:
    """True when the task has explicit sequencing (see :func:`split_task`)."""
    return len(split_task(task, max_steps=1_000)) >= 2


_BACK = re.compile(r"\b(?:it|that|this|them|the\s+(?:result|answer|total))\b", re.IGNORECASE)


def refers_back(steps: list[str]) -> bool:
    """Does a step after the first refer to what an earlier one gave ("Double it", "Multiply
    that by 3", "Convert the result to euros")?"""
    return any(_BACK.search(step) for step in steps[1:])
