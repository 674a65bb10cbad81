"""Durable steps: a model reply or a batch of tool calls runs as a LangGraph task inside a graph
run (checkpointed, so a resumed run replays it instead of calling again), as a plain call
outside one (the node called directly)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future
from functools import lru_cache
from typing import Any, TypeVar

from langchain_core.messages import BaseMessage

from lamina import errors
from lamina.errors import ModelError

__all__ = ["durable", "execution_model", "in_graph_run", "invoke_model"]

T = TypeVar("T")


def durable(name: str, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)`, as a LangGraph task when inside a graph run.

    A task's result is checkpointed: when a run interrupted for an approval resumes, the node
    starts again and its earlier tasks return their saved results instead of calling the model
    or running a tool a second time. The result must therefore be serialisable.
    """
    if not in_graph_run():
        return fn(*args)
    future = _task(name, fn)(*args)
    result: T = future.result()
    return result


def in_graph_run() -> bool:
    """Whether the caller runs inside a LangGraph graph run (so LangGraph tasks can be called).

    LangGraph's public `get_runtime()` answers it: it raises outside any runnable context (the
    node was called directly) and is None inside a runnable that is not a graph run.
    """
    from langgraph.runtime import get_runtime

    try:
        return get_runtime() is not None
    except (RuntimeError, KeyError):
        return False


@lru_cache(maxsize=8)
def _task(name: str, fn: Callable[..., Any]) -> Callable[..., Future[Any]]:
    from langgraph.func import task

    made: Callable[..., Future[Any]] = task(name=name)(fn)
    return made


def execution_model(bound: Any, messages: list[BaseMessage]) -> tuple[str, Any, str]:
    """One model reply (a durable step): `("ok", reply, "")` or `("error", class, message)`.

    A model failure is returned, not raised: a failed task would be run again on resume.
    """
    try:
        reply = bound.invoke(messages)
    except ModelError as exc:
        return "error", type(exc).__name__, str(exc)
    huge = _huge_int(getattr(reply, "tool_calls", None) or [])
    if huge is not None:
        # Checkpoints are msgpack, which stops at 64 bits: such a reply cannot be saved. No tool
        # takes integers that large, so it is an unusable call like any other.
        return (
            "error",
            "ModelOutputError",
            (
                f"the model wrote the integer {huge} in a tool call; expected integers within 64 "
                "bits. Fix: write the number as a string or a float."
            ),
        )
    return "ok", reply, ""


def _huge_int(value: Any) -> int | None:
    """The first integer in `value` (nested) that msgpack cannot store, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if -(2**63) <= value < 2**64 else value
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, list | tuple):
        for item in value:
            found = _huge_int(item)
            if found is not None:
                return found
    return None


def invoke_model(bound: Any, messages: list[BaseMessage]) -> Any:
    """One model reply as a durable step; a model failure is raised again as its own class."""
    status, value, message = durable("execution_model", execution_model, bound, list(messages))
    if status == "ok":
        return value
    cls = getattr(errors, str(value), ModelError)
    if not (isinstance(cls, type) and issubclass(cls, ModelError)):
        cls = ModelError
    raise cls(message)
