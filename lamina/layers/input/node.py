"""Input layer: validate and normalise what the user sends before any model sees it.

Accepts a string, bytes (must be UTF-8) or a list of messages; refuses empty or whitespace-only
tasks, tasks over a size limit and invalid UTF-8 with an `InputError` that says what to do.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AnyMessage, BaseMessage, HumanMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lamina.core.nodes import StateNode
from lamina.core.state import AgentState
from lamina.errors import InputError

__all__ = [
    "DEFAULT_MAX_CHARS",
    "AgentRequest",
    "check_ids",
    "make_input_node",
    "normalise_task",
    "to_messages",
]

DEFAULT_MAX_CHARS = 32_000
DEFAULT_USER = "default"
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:@")


def normalise_task(text: str | bytes, *, max_chars: int | None = DEFAULT_MAX_CHARS) -> str:
    """Return the task as clean text, or raise `InputError` saying what is wrong with it.

    A task longer than `max_chars` characters is refused (None: no limit here).

    Normalisation: bytes decoded as strict UTF-8, Unicode NFC, `\\r\\n` to `\\n`, control characters
    other than newline and tab removed, surrounding white space stripped.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"Expected the task as UTF-8 text; found bytes that are not valid UTF-8 "
                f"(byte {exc.start}: {text[exc.start : exc.start + 1]!r}). "
                "Fix: decode your input with its real encoding and pass a str."
            ) from None
    if not isinstance(text, str):
        raise InputError(
            f"Expected the task as a string or a list of messages; found {type(text).__name__}. "
            "Fix: pass agent.run('your task')."
        )
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise InputError(
            "Expected valid Unicode text; found lone surrogate code points (often bytes decoded "
            "with errors='surrogateescape'). Fix: decode the input as strict UTF-8."
        )
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(
        ch for ch in text if ch in "\n\t" or not unicodedata.category(ch).startswith("C")
    ).strip()
    if not text:
        raise InputError(
            "Expected a task with some text; found an empty or whitespace-only task. "
            "Fix: say what the agent should do, e.g. agent.run('What is 12 * 7?')."
        )
    if max_chars is not None and len(text) > max_chars:
        raise InputError(
            f"Expected a task of at most {max_chars:,} characters; found {len(text):,}. "
            "Fix: shorten it, split it into several runs, or raise max_input_chars."
        )
    return text


class AgentRequest(BaseModel):
    """A validated request at the edge of the graph."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    task: str
    user_id: str = Field(default=DEFAULT_USER, min_length=1, max_length=128)
    thread_id: str | None = Field(default=None, min_length=1, max_length=128)

    @field_validator("user_id", "thread_id")
    @classmethod
    def _id_chars(cls, value: str | None) -> str | None:
        if value is not None and not set(value) <= _ID_CHARS:
            raise ValueError(
                "ids may hold only letters, digits and - _ . : @ (found "
                f"{sorted(set(value) - _ID_CHARS)!r})"
            )
        return value


def _request(task: str, user_id: str, thread_id: str | None) -> AgentRequest:
    try:
        return AgentRequest(task=task, user_id=user_id, thread_id=thread_id)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(
            f"Invalid {'.'.join(str(x) for x in first['loc'])}: {first['msg']}. "
            "Fix: use a short id of letters, digits and - _ . : @"
        ) from None


def check_ids(*, user_id: str = DEFAULT_USER, thread_id: str | None = None) -> None:
    """Refuse a user or thread id that a run would refuse (the rules of :class:`AgentRequest`).

    For front ends that take ids without running the agent (`lamina memory`), so an id is
    accepted or refused the same way everywhere.

    Raises:
        InputError: an empty or over-long id, or one with characters other than letters,
            digits and - _ . : @
    """
    _request(task="-", user_id=user_id, thread_id=thread_id)


def _message_text(message: BaseMessage) -> str | bytes:
    content = message.content
    if isinstance(content, str):
        return content
    parts = [p if isinstance(p, str) else str(p.get("text", "")) for p in content]
    return "".join(parts)


def to_messages(
    task: str | bytes | Sequence[AnyMessage | dict[str, Any]],
    *,
    max_chars: int | None = DEFAULT_MAX_CHARS,
) -> list[AnyMessage]:
    """Turn what a caller passes (text or messages) into a list of LangChain messages.

    Args:
        task: the request text, or a list of messages.
        max_chars: the longest task text accepted (the agent's `max_input_chars`); None leaves
            the size to the graph's input node.
    """
    if isinstance(task, str | bytes):
        return [HumanMessage(content=normalise_task(task, max_chars=max_chars))]
    if not isinstance(task, Sequence) or not task:
        raise InputError(
            f"Expected a task string or a non-empty list of messages; found {task!r:.80}. "
            "Fix: pass agent.run('your task') or a list of messages ending with the user's turn."
        )
    from langchain_core.messages import convert_to_messages

    try:
        return list(convert_to_messages(task))  # type: ignore[arg-type]
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise InputError(
            f"Expected LangChain messages or {{'role', 'content'}} dicts; found {task!r:.80} "
            f"({exc}). Fix: use HumanMessage(...) or {{'role': 'user', 'content': '...'}}."
        ) from None


def make_input_node(*, max_chars: int = DEFAULT_MAX_CHARS) -> StateNode:
    """The input layer's node: validates the last user message and resets per-run fields."""

    def input_node(state: AgentState) -> dict[str, Any]:
        start = time.perf_counter()
        messages = state.get("messages", [])
        last_human = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
        if last_human is None:
            raise InputError(
                "Expected at least one user message; found none. "
                "Fix: pass the task as a string or end the messages with a HumanMessage."
            )
        task = normalise_task(_message_text(last_human), max_chars=max_chars)
        request = _request(
            task=task,
            user_id=state.get("user_id") or DEFAULT_USER,
            thread_id=state.get("thread_id"),
        )
        return {
            "task": request.task,
            "user_id": request.user_id,
            # per-run fields start afresh; the conversation (messages) carries over
            "plan": [],
            "step_index": 0,
            "step_results": [],
            "steps_taken": 0,
            "answer": "",
            "answer_unchecked": False,
            "unhandled": [],
            "memories": [],
            "trace": [
                {
                    "layer": "input",
                    "seconds": time.perf_counter() - start,
                    "data": {"chars": len(request.task), "user_id": request.user_id},
                }
            ],
        }

    return input_node
