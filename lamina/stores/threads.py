"""The conversation threads of a LangGraph checkpointer: list, read and delete them.

Everything goes through the checkpointer's own API (`list`, `get_tuple`, `delete_thread`), so it
works the same for SQLite and PostgreSQL checkpoints and never depends on their tables. Listing
reads every checkpoint once (`list(None)` is the only way the API names all threads); a store of
many thousands of checkpoints takes a few seconds, which is why `prune` exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lamina.errors import InputError

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

__all__ = ["ThreadInfo", "list_threads", "parse_duration", "thread_info", "thread_messages"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class ThreadInfo:
    """One thread, as its newest checkpoint shows it.

    Attributes:
        thread_id: the thread.
        updated_at: when its newest checkpoint was written (UTC).
        messages: messages in its history (a user turn and an answer per exchange).
        user_id: the user of its last run, when recorded.
        checkpoints: how many checkpoints it holds.
    """

    thread_id: str
    updated_at: datetime
    messages: int
    user_id: str | None
    checkpoints: int

    def to_dict(self) -> dict[str, Any]:
        """This thread as JSON-ready data."""
        return {
            "thread_id": self.thread_id,
            "updated_at": self.updated_at.isoformat(),
            "messages": self.messages,
            "user_id": self.user_id,
            "checkpoints": self.checkpoints,
        }


def _info(newest: CheckpointTuple, checkpoints: int) -> ThreadInfo:
    values = newest.checkpoint.get("channel_values") or {}
    updated = datetime.fromisoformat(newest.checkpoint["ts"])
    return ThreadInfo(
        thread_id=str(newest.config["configurable"]["thread_id"]),
        updated_at=updated if updated.tzinfo else updated.replace(tzinfo=UTC),
        messages=len(values.get("messages") or []),
        user_id=values.get("user_id"),
        checkpoints=checkpoints,
    )


def list_threads(saver: BaseCheckpointSaver[Any]) -> list[ThreadInfo]:
    """Every thread of `saver`, most recently updated first."""
    newest: dict[str, CheckpointTuple] = {}
    counts: dict[str, int] = {}
    for item in saver.list(None):
        configurable = item.config["configurable"]
        if configurable.get("checkpoint_ns", ""):
            continue  # a subgraph's checkpoint: part of its parent's thread
        thread_id = str(configurable["thread_id"])
        counts[thread_id] = counts.get(thread_id, 0) + 1
        newest.setdefault(thread_id, item)  # the list is newest first
    threads = [_info(item, counts[t]) for t, item in newest.items()]
    return sorted(threads, key=lambda t: t.updated_at, reverse=True)


def thread_info(saver: BaseCheckpointSaver[Any], thread_id: str) -> ThreadInfo | None:
    """One thread's summary, or None when `saver` holds no checkpoint of it."""
    config: Any = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    newest = saver.get_tuple(config)
    if newest is None:
        return None
    return _info(newest, sum(1 for _ in saver.list(config)))


def thread_messages(saver: BaseCheckpointSaver[Any], thread_id: str) -> list[BaseMessage]:
    """The history of `thread_id` (its newest checkpoint's messages).

    Raises:
        InputError: `saver` holds no thread of that id.
    """
    config: Any = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    newest = saver.get_tuple(config)
    if newest is None:
        raise InputError(
            f"Expected the id of a thread in the checkpoints; found {thread_id!r}, which has "
            "none. Fix: copy an id from `lamina threads list`."
        )
    return list((newest.checkpoint.get("channel_values") or {}).get("messages") or [])


def parse_duration(text: str) -> timedelta:
    """`30d`, `12h`, `90m`, `45s`, `2w` (or several: `1d12h`) as a `timedelta`.

    Raises:
        InputError: anything else.
    """
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhdw])", text.strip().lower())
    rebuilt = "".join(f"{n}{u}" for n, u in parts)
    if not parts or rebuilt != re.sub(r"\s+", "", text.strip().lower()):
        raise InputError(
            f"Expected a duration such as 30d, 12h, 90m, 45s or 2w; found {text!r}. "
            "Fix: a number and a unit (s, m, h, d, w)."
        )
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))
