"""Small, checked edits of an uncompiled agent graph: put a node of your own into the flow,
or swap a layer for your own implementation, without rewriting the builder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.graph import StateGraph

from lamina.errors import ConfigError

__all__ = ["insert_after", "replace_node"]


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
