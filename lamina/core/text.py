"""Text blocks that several layers put into a model's prompt (one rendering, used everywhere)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "answer_line",
    "render_memories",
    "render_step_results",
    "resolve_references",
    "without_step_labels",
]


def render_memories(memories: Sequence[Mapping[str, Any]]) -> str:
    """Retrieved memories as dated lines, or "" when there are none.

    Each memory is a dict with at least `text`. Its date is the day its current wording was
    stored (`updated_at`, else `created_at`), so the model can tell an old statement from a
    newer one that replaced it: `- (2026-01-31) I live in Lyon.`
    """
    if not memories:
        return ""
    lines = ["What you remember about this user (with the date you learned it):"]
    for m in memories:
        date = str(m.get("updated_at") or m.get("created_at") or "")[:10]
        lines.append(f"- ({date}) {m['text']}" if date else f"- {m['text']}")
    return "\n".join(lines)


def render_step_results(results: Sequence[Mapping[str, Any]], *, header: bool = True) -> str:
    """Results of earlier plan steps, so the next step can use them; "" when there are none."""
    if not results:
        return ""
    lines = ["Results so far:"] if header else []
    for r in results:
        lines.append(f"- Step {int(r['index']) + 1} ({r['instruction']}): {r['result']}")
    return "\n".join(lines)


_STEP_LABEL = re.compile(r"^- Step \d+ (?=\()", re.MULTILINE)


def without_step_labels(text: str) -> str:
    """`text` without the "- Step N " labels :func:`render_step_results` writes: their numbers
    count steps, and are no figure a later turn can take ("And in dollars?" after an answer
    listing two steps: SmolLM2 converted 1 USD, from "Step 1", ok)."""
    return _STEP_LABEL.sub("- ", text)


def answer_line(answer: str) -> str:
    """The line `answer` ends on, after its "Answer:" label when it lists its steps first
    ("- Step 1 (...): 8 °C\nAnswer: Denver is windier ..." → "Denver is windier ...")."""
    last = (answer.strip().splitlines() or [""])[-1]
    label = re.match(r"\s*answer:\s*", last, re.IGNORECASE)
    return last[label.end() :] if label else last


_REFERENCE = re.compile(
    r"\b(?:that|the|this|the previous|the last|the above|your) "
    r"(?:result|number|value|answer|total)\b",
    re.IGNORECASE,
)
_SHORT_VALUE = 40


def resolve_references(instruction: str, results: Sequence[Mapping[str, Any]]) -> str:
    """Write the previous step's value into a step that refers to it ("add 15 to that result").

    Small models rarely carry a value from one step to the next on their own; a step whose
    instruction names the value itself is one they execute correctly. Only a short value (a
    number, a name) is written in; a long one stays a reference.
    """
    if not results:
        return instruction
    value = str(results[-1].get("result", "")).strip()
    if not value or len(value) > _SHORT_VALUE or "\n" in value:
        return instruction
    return _REFERENCE.sub(lambda _: value, instruction)
