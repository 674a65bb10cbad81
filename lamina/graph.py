"""The five-layer agent graph: input → router → memory → reasoning ⇄ execution → respond → remember.

`build_agent_graph` returns the *uncompiled* `StateGraph`, so users can add or replace nodes
before compiling (:func:`insert_after`, :func:`replace_node` make small, checked edits). A variant
of the graph is a new builder, not a flag on this one. The state and context the nodes share are
in :mod:`lamina.core`; each layer's node factory is in `lamina.layers.<layer>.node`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from langchain_core.messages import AIMessage
from langgraph.graph import END, START, StateGraph

from lamina.core.context import AgentContext
from lamina.core.state import AgentInput, AgentOutput, AgentState
from lamina.errors import ConfigError

__all__ = [
    "LAYER_NODES",
    "build_agent_graph",
    "insert_after",
    "recursion_limit_for",
    "replace_node",
]

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
    **options: Any,
) -> StateGraph[AgentState, AgentContext, AgentInput, AgentOutput]:
    """Wire the five layers into an uncompiled LangGraph `StateGraph`.

    Args:
        **options: options of the nodes, validated against :class:`~lamina.config.AgentOptions`
            (the same as `Agent(**options)` and `lamina.toml`): `max_steps` (bound on the
            reasoning ⇄ execution loop), `max_input_chars`, `memory_k`, `memory_min_score`,
            `rc_iterations` (default 1: with the 135M/270M default models a refinement made
            answers worse in our checks; raise it for larger models), `summariser_model`,
            `max_plan_steps`, `prompts`, `verifiers`, `max_tool_calls`, `max_retries`,
            `tool_timeout`, `max_output_chars`, `parallel_tool_calls`, ... Each reaches its
            node through `AgentOptions.NODE_PARAMS`.

    Returns:
        The graph; compile it with `graph.compile(checkpointer=...)` and run it with
        `context=AgentContext(...)`.

    Raises:
        ConfigError: an unknown or mistyped option.
    """
    from lamina.config import AgentOptions
    from lamina.layers.execution.node import make_execution_node
    from lamina.layers.input.node import make_input_node
    from lamina.layers.memory.node import make_memory_node, make_memory_writeback_node
    from lamina.layers.reasoning.node import make_reasoning_node
    from lamina.layers.router.node import make_router_node

    opts = AgentOptions.from_kwargs(options, where="build_agent_graph(...)")
    graph = StateGraph(
        AgentState,
        context_schema=AgentContext,
        input_schema=AgentInput,
        output_schema=AgentOutput,
    )
    graph.add_node("input", make_input_node(**opts.node_kwargs("input")))
    graph.add_node("router", make_router_node(**opts.node_kwargs("router")))
    graph.add_node("memory", make_memory_node(**opts.node_kwargs("memory")))
    graph.add_node("reasoning", make_reasoning_node(**opts.node_kwargs("reasoning")))
    graph.add_node("execution", make_execution_node(**opts.node_kwargs("execution")))
    graph.add_node("respond", _respond)
    graph.add_node("remember", make_memory_writeback_node(**opts.node_kwargs("remember")))

    graph.add_edge(START, "input")
    graph.add_edge("input", "router")
    graph.add_edge("router", "memory")
    graph.add_edge("memory", "reasoning")
    graph.add_conditional_edges("reasoning", _after_reasoning, ["execution", "respond"])
    graph.add_edge("execution", "reasoning")
    graph.add_edge("respond", "remember")
    graph.add_edge("remember", END)
    return graph


# -- editing an uncompiled graph ----------------------------------------------------------
def _require_node(graph: StateGraph[Any, Any, Any, Any], name: str) -> None:
    if name not in graph.nodes:
        raise ConfigError(
            f"The graph has no node {name!r}; nodes: {', '.join(sorted(graph.nodes))}. "
            "Fix: use one of these names."
        )


def insert_after(
    graph: StateGraph[Any, Any, Any, Any],
    after: str,
    name: str,
    node: Callable[..., Any],
) -> StateGraph[Any, Any, Any, Any]:
    """Run `node` (as `name`) right after `after`, before whatever followed it.

    `after` must lead to exactly one next node through a plain edge (e.g. "input", "memory",
    "respond"); the conditional step after "reasoning" cannot be split this way.
    """
    _require_node(graph, after)
    if name in graph.nodes:
        raise ConfigError(f"The graph already has a node {name!r}. Fix: pick another name.")
    outgoing = [edge for edge in graph.edges if edge[0] == after]
    if len(outgoing) != 1 or graph.branches.get(after):
        raise ConfigError(
            f"Expected node {after!r} to have exactly one plain outgoing edge; found "
            f"{len(outgoing)} edge(s) and {len(graph.branches.get(after, {}))} conditional "
            "branch(es). Fix: insert after a node with a single successor."
        )
    (edge,) = outgoing
    graph.edges.discard(edge)
    graph.add_node(name, node)
    graph.add_edge(after, name)
    graph.add_edge(name, edge[1])
    return graph


def replace_node(
    graph: StateGraph[Any, Any, Any, Any], name: str, node: Callable[..., Any]
) -> StateGraph[Any, Any, Any, Any]:
    """Swap the implementation of node `name` (its edges stay as they are)."""
    _require_node(graph, name)
    del graph.nodes[name]
    graph.add_node(name, node)
    return graph
