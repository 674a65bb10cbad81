"""The five-layer agent graph: input → router → memory → reasoning ⇄ execution → respond → remember.

`build_agent_graph` returns the *uncompiled* `StateGraph`, so users can add or replace nodes
before compiling. A variant of the graph is a new builder, not a flag on this one.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from langchain_core.messages import AIMessage
from langgraph.graph import END, START, StateGraph

from lamina.graphs.context import AgentContext
from lamina.graphs.state import AgentInput, AgentOutput, AgentState

__all__ = ["LAYER_NODES", "build_agent_graph", "recursion_limit_for"]

LAYER_NODES = ("input", "router", "memory", "reasoning", "execution", "respond", "remember")
"""Node names of the five-layer graph, in the order a run meets them."""


def _after_reasoning(state: AgentState) -> Literal["execution", "respond"]:
    """Reasoning either hands the current step to execution or has the answer."""
    return "respond" if state.get("answer") else "execution"


def _respond(state: AgentState) -> dict[str, Any]:
    """Put the answer into the conversation as the assistant's turn."""
    start = time.perf_counter()
    answer = state.get("answer", "")
    return {
        "messages": [AIMessage(content=answer)],
        "trace": [
            {"layer": "respond", "seconds": time.perf_counter() - start, "data": {}},
        ],
    }


def recursion_limit_for(max_steps: int) -> int:
    """A LangGraph recursion limit that never cuts a run `max_steps` would allow."""
    return 2 * max_steps + len(LAYER_NODES) + 10


def build_agent_graph(
    *,
    max_steps: int = 8,
    max_input_chars: int | None = None,
    memory_k: int = 3,
    memory_min_score: float = 0.35,
    rc_iterations: int = 1,
    summariser_model: str | None = None,
    max_tool_calls: int = 4,
    max_retries: int = 2,
    tool_timeout: float = 30.0,
) -> StateGraph[AgentState, AgentContext, AgentInput, AgentOutput]:
    """Wire the five layers into an uncompiled LangGraph `StateGraph`.

    Args:
        max_steps: bound on execution visits (the reasoning ⇄ execution loop) in one run.
        max_input_chars: the input layer's size limit (default 32,000).
        memory_k: memories retrieved per run.
        memory_min_score: similarity below which a memory is not retrieved.
        rc_iterations: Reasoning Cache attempts per reasoning step. The default, 1, is one
            attempt: with the 135M/270M default models a refinement made answers worse in our
            checks (it drifts from a correct first answer). Raise it for larger models.
        summariser_model: model that writes the RC summaries (default: the solver).
        max_tool_calls: tool calls per execution step.
        max_retries: failed tool calls fed back to the model before a step gives up.
        tool_timeout: default seconds a tool may run.

    Returns:
        The graph; compile it with `graph.compile(checkpointer=...)` and run it with
        `context=AgentContext(...)`.
    """
    from lamina.layers.execution import make_execution_node
    from lamina.layers.input import DEFAULT_MAX_CHARS, make_input_node
    from lamina.layers.memory import make_memory_node, make_memory_writeback_node
    from lamina.layers.reasoning import make_reasoning_node
    from lamina.layers.router import make_router_node

    graph = StateGraph(
        AgentState,
        context_schema=AgentContext,
        input_schema=AgentInput,
        output_schema=AgentOutput,
    )
    graph.add_node("input", make_input_node(max_chars=max_input_chars or DEFAULT_MAX_CHARS))
    graph.add_node("router", make_router_node())
    graph.add_node("memory", make_memory_node(k=memory_k, min_score=memory_min_score))
    graph.add_node(
        "reasoning",
        make_reasoning_node(
            rc_iterations=rc_iterations, summariser_model=summariser_model, max_steps=max_steps
        ),
    )
    graph.add_node(
        "execution",
        make_execution_node(
            max_tool_calls=max_tool_calls, max_retries=max_retries, tool_timeout=tool_timeout
        ),
    )
    graph.add_node("respond", _respond)
    graph.add_node("remember", make_memory_writeback_node())

    graph.add_edge(START, "input")
    graph.add_edge("input", "router")
    graph.add_edge("router", "memory")
    graph.add_edge("memory", "reasoning")
    graph.add_conditional_edges("reasoning", _after_reasoning, ["execution", "respond"])
    graph.add_edge("execution", "reasoning")
    graph.add_edge("respond", "remember")
    graph.add_edge("remember", END)
    return graph
