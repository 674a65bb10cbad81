"""The agent graph's state: what flows between the five layers.

State holds only JSON-safe data (strings, numbers, lists, dicts and LangChain messages) so that
checkpoints can store it; long-lived objects (models, stores, tools) travel in the runtime
context instead (:mod:`lamina.core.context`).
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

__all__ = ["AgentInput", "AgentOutput", "AgentState", "TraceEvent", "merge_trace"]


class TraceEvent(TypedDict):
    """One entry of the run's trace: which layer did what, and how long it took."""

    layer: str
    seconds: float
    data: dict[str, Any]


def merge_trace(old: list[TraceEvent], new: list[TraceEvent]) -> list[TraceEvent]:
    """Append trace events; an event of the input layer starts a new run's trace.

    A thread's state outlives one run, but its trace describes the latest run only.
    """
    if new and new[0]["layer"] == "input":
        return list(new)
    return [*old, *new]


class AgentInput(TypedDict):
    """What a caller passes to the compiled graph."""

    messages: Annotated[list[AnyMessage], add_messages]
    user_id: NotRequired[str]
    thread_id: NotRequired[str]


class AgentOutput(TypedDict):
    """What the compiled graph returns."""

    messages: Annotated[list[AnyMessage], add_messages]
    answer: NotRequired[str]
    trace: NotRequired[list[TraceEvent]]


class AgentState(TypedDict):
    """Everything the layers read and write during one run.

    Fields a later layer fills are `NotRequired`. `trace` is appended to
    by each layer and starts afresh with each run (:func:`merge_trace`).
    """

    messages: Annotated[list[AnyMessage], add_messages]
    user_id: NotRequired[str]
    thread_id: NotRequired[str]
    # input layer
    task: NotRequired[str]
    # router layer: RouteDecision.to_dict()
    route: NotRequired[dict[str, Any]]
    model: NotRequired[str]
    # memory layer: retrieved memories, each {"id", "text", "score", "created_at", ...}
    memories: NotRequired[list[dict[str, Any]]]
    # reasoning layer: the plan and where we are in it
    plan: NotRequired[list[dict[str, Any]]]
    step_index: NotRequired[int]
    step_results: NotRequired[list[dict[str, Any]]]
    # execution layer: how many times execution ran in this run (bounded by max_steps)
    steps_taken: NotRequired[int]
    answer: NotRequired[str]
    # reasoning layer: the answer rests on the model alone (no tool result, no check) and the
    # agent does not trust its model's own answers (`trust_model_answers`)
    answer_unchecked: NotRequired[bool]
    # reasoning layer: words of the request that point to a tool no successful call used
    # (lamina.guards.unfinished): the answer covers only part of the request
    unhandled: NotRequired[list[dict[str, Any]]]
    trace: Annotated[list[TraceEvent], merge_trace]
