"""Approval of tool calls: a tool marked `requires_approval` pauses the run with LangGraph's
`interrupt()` until a human answers `True`/`False` (or `{"approved": ...}`)."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from langchain_core.tools import BaseTool
from pydantic import StrictBool, ValidationError
from typing_extensions import TypedDict

from lamina.core.records import ApprovalRequest
from lamina.errors import ConfigError, InputError
from lamina.layers.execution.calls import summarise_validation

__all__ = ["approval_schema", "ask_approval", "requires_approval"]

logger = logging.getLogger(__name__)


def requires_approval(t: BaseTool) -> bool:
    """Whether calls of `t` wait for a human's approval (`@tool(requires_approval=True)`)."""
    return bool((t.metadata or {}).get("requires_approval"))


class _ApprovalAnswer(TypedDict):
    approved: StrictBool


@lru_cache(maxsize=1)
def approval_schema() -> Any:
    """What a resume value may be: True/False, or {"approved": True/False}."""
    return StrictBool | _ApprovalAnswer


def ask_approval(request: ApprovalRequest) -> bool:
    """Pause the run until a human approves or refuses the call (LangGraph `interrupt`).

    Raises:
        ConfigError: the node runs outside a compiled graph (no interrupt is possible).
        InputError: the run was resumed with a value that is not an approval.
    """
    try:
        from langgraph.config import get_config

        get_config()
    except RuntimeError:
        raise ConfigError(
            f"Tool {request.tool!r} requires approval, which pauses the run with LangGraph's "
            "interrupt(); that needs the execution node to run inside a compiled graph with "
            "a checkpointer, found a direct call. Fix: run it through lamina.Agent (it has "
            "a checkpointer), or graph.compile(checkpointer=...)."
        ) from None
    from langgraph.types import interrupt

    logger.info("tool call %r waits for approval", request.tool)
    try:
        # The schema is checked before LangGraph saves the answer, so a bad resume value
        # leaves the question open instead of being replayed on every later resume.
        answer = interrupt(request.to_dict(), response_schema=approval_schema())
    except ValidationError as exc:
        raise InputError(
            f"The run was resumed with an answer that is not an approval for tool "
            f"{request.tool!r}; expected True, False or {{'approved': True/False}} "
            f"({summarise_validation(exc)}). Fix: agent.resume(thread_id, approve=True) or "
            "Command(resume=True)."
        ) from exc
    return answer if isinstance(answer, bool) else bool(answer["approved"])
