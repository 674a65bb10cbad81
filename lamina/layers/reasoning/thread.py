"""What this turn's request has from the thread: the request itself (:func:`task_of`), the
thread's last answer (:func:`earlier_answer`), and the things the last turn counted, when the
request refers to them (:func:`counted_earlier`)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from lamina.core.state import AgentState
from lamina.errors import ConfigError
from lamina.guards.noun_phrases import noun_phrase
from lamina.guards.numbers import canonical, written_numbers

__all__ = ["counted_earlier", "earlier_answer", "task_of"]


def task_of(state: AgentState) -> str:
    """The turn's request (`state["task"]`); raises `ConfigError` when the input layer did not
    put one there."""
    task = state.get("task")
    if not isinstance(task, str) or not task.strip():
        raise ConfigError(
            f"The reasoning node expected state['task'] as non-empty text; found {task!r:.80}. "
            "Fix: put the input layer before reasoning (input → router → memory → reasoning)."
        )
    return task


def earlier_answer(state: AgentState) -> str | None:
    """The thread's last answer before this turn's request, if any."""
    for message in reversed(state.get("messages", [])[:-1]):
        if isinstance(message, AIMessage) and isinstance(message.content, str):
            return message.content
    return None


_THEM = re.compile(
    r"\b(?:all|each|both|every\s+one)\s+of\s+them\b|\bthem\s+(?:all|together)\b"
    r"|\b(?:all\s+)?those\b|\bthat\s+many\b",
    re.IGNORECASE,
)
"""Words that refer to the things the thread counted ("all of them", "those", "that many")."""
_HOW_MANY = re.compile(r"\bhow\s+many\s+(?P<what>[^\W\d_][\w\s'-]*)", re.IGNORECASE)


def counted_earlier(task: str, messages: Sequence[BaseMessage]) -> str | None:
    """ "12 standing desks" when the request refers to the things the thread's last turn asked
    how many of ("How many standing desks do we have in stock?" answered "12"; then "What would
    all of them cost together?"), else None. The figure is the last answer's last one, the
    things the noun phrase after "how many".

    SmolLM2-135M looked up one standing desk's price, 399, and answered it, ok."""
    if _THEM.search(task) is None or written_numbers(task):
        return None
    turns = [m for m in messages if isinstance(m, HumanMessage | AIMessage)]
    if len(turns) < 3 or not isinstance(turns[-2], AIMessage):
        return None
    asked, answered = turns[-3], turns[-2]
    if not isinstance(asked, HumanMessage) or not isinstance(answered.content, str):
        return None
    how_many = _HOW_MANY.search(str(asked.content))
    lines = [line for line in answered.content.splitlines() if written_numbers(line)]
    if how_many is None or not lines:
        return None
    _, value = written_numbers(lines[-1])[-1]
    things = noun_phrase(how_many["what"].lower().split(), 0, plural=True)
    if value != int(value) or value < 2 or not things:
        return None
    return f"{canonical(value)} {' '.join(things)}"
