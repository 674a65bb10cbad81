"""What continues an unfinished run: the answer to its pending approval, or nothing (go on from
the last checkpoint); and the errors that say why a thread cannot be resumed as asked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lamina.agents.result import ApprovalRequest
from lamina.errors import InputError
from lamina.layers.input.node import DEFAULT_USER

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.graph.state import CompiledStateGraph

__all__ = ["resume_input"]


def resume_input(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    recursion_limit: int,
    thread_id: str,
    approve: bool | None,
) -> tuple[Any, RunnableConfig, str]:
    """What continues the thread's unfinished run (a `Command` answering its pending approval,
    or None to go on from the last checkpoint), the run's config and its user.

    Raises:
        InputError: the thread has no unfinished run, or `approve` does not fit its state.
    """
    from langgraph.types import Command

    if approve is not None and not isinstance(approve, bool):
        raise InputError(f"approve must be True, False or None, found {approve!r}.")
    if not isinstance(thread_id, str) or not thread_id:
        raise InputError(f"Expected a thread id (a non-empty string), found {thread_id!r}.")
    config: RunnableConfig = {
        "configurable": {"thread_id": thread_id},
        "recursion_limit": recursion_limit,
    }
    snapshot = graph.get_state(config)
    user = str(snapshot.values.get("user_id") or DEFAULT_USER)
    if snapshot.interrupts:
        if approve is None:
            request = ApprovalRequest.from_value(snapshot.interrupts[0].value)
            what = f"{request.tool}({request.args})" if request else "a tool call"
            raise InputError(
                f"Thread {thread_id!r} is waiting for an approval of {what}; expected "
                "approve=True or False. Fix: agent.resume(thread_id, approve=True) "
                "(`lamina resume THREAD --approve` or `--refuse`)."
            )
        return Command(resume={"approved": approve}), config, user
    if not snapshot.next:
        state = "has no run" if not snapshot.values else "has no unfinished run"
        where = type(graph.checkpointer).__name__
        raise InputError(
            f"Thread {thread_id!r} {state} to resume (checkpoints: {where}); "
            "expected the thread of a run that was interrupted. Fix: check the thread id "
            "and that this agent uses the same checkpointer as the interrupted run."
        )
    if approve is not None:
        raise InputError(
            f"Thread {thread_id!r} was cut off, not paused for an approval; expected "
            "approve=None. Fix: agent.resume(thread_id) (`lamina resume THREAD`)."
        )
    return None, config, user
