"""Tool calls that outlived their timeout: counted while they go on, and bounded per tool.

Python cannot kill a thread. A synchronous tool still running at its timeout is abandoned in its
daemon thread (the run moves on with a timeout error) and goes on until it returns, or forever.
Left alone, a long-running server piles such threads up, one per call of a tool that hangs.
So each abandoned call is counted here until it ends:

- :func:`hung_tool_calls` reports how many calls of each tool are hung now (`lamina serve`
  shows them in `GET /healthz`), and :func:`refused_tool_calls` how many calls were refused;
- a tool with :func:`max_hung_calls` calls still hung gets no new thread: the call fails at once
  with a clear error to the model (the tool is not answering), so the number of hung threads per
  tool stays bounded (by the limit, plus calls of that tool running at the moment it is reached).

The limit is `DEFAULT_MAX_HUNG_CALLS` per tool, or a tool's own `metadata["max_hung_calls"]`.
Counts are per process and per tool name, since threads are per process.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from lamina.errors import ConfigError

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = [
    "DEFAULT_MAX_HUNG_CALLS",
    "HungCalls",
    "hung_tool_calls",
    "max_hung_calls",
    "refused_tool_calls",
]

DEFAULT_MAX_HUNG_CALLS = 2
"""Hung calls of one tool after which its further calls are refused until one of them ends."""


class HungCalls:
    """The calls of each tool that outlived their timeout and have not ended yet."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hung: dict[str, set[int]] = {}
        self._refused: dict[str, int] = {}

    def admit(self, tool: str, limit: int) -> int | None:
        """None when a new call of `tool` may start; else how many of its calls are hung
        (the call is counted as refused)."""
        with self._lock:
            hung = len(self._hung.get(tool, ()))
            if hung < limit:
                return None
            self._refused[tool] = self._refused.get(tool, 0) + 1
            return hung

    def abandon(self, tool: str, call: int, done: threading.Event) -> None:
        """Count call `call` (any id unique while it runs) as hung, unless it has just ended."""
        with self._lock:
            if not done.is_set():
                self._hung.setdefault(tool, set()).add(call)

    def ended(self, tool: str, call: int) -> None:
        """Call `call` returned (or raised): it no longer counts, if it did."""
        with self._lock:
            calls = self._hung.get(tool)
            if calls is not None:
                calls.discard(call)
                if not calls:
                    del self._hung[tool]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {tool: len(calls) for tool, calls in sorted(self._hung.items())}

    def refused(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._refused.items()))


HUNG = HungCalls()
"""This process's hung tool calls (the runner's threads are the process's)."""


def hung_tool_calls() -> dict[str, int]:
    """How many calls of each tool are still running past their timeout, in this process."""
    return HUNG.counts()


def refused_tool_calls() -> dict[str, int]:
    """How many calls of each tool were refused because too many of its calls were hung."""
    return HUNG.refused()


def max_hung_calls(t: BaseTool) -> int:
    """The hung calls `t` may have before its calls are refused: its own
    `metadata["max_hung_calls"]`, or `DEFAULT_MAX_HUNG_CALLS`.

    Raises:
        ConfigError: the tool's own limit is not an integer >= 1.
    """
    value = (t.metadata or {}).get("max_hung_calls", DEFAULT_MAX_HUNG_CALLS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"Tool {t.name!r}: expected metadata['max_hung_calls'] to be an integer >= 1; found "
            f"{value!r}. Fix: set it to how many hung calls the tool may have, e.g. 2."
        )
    return value
