"""The one signature every layer's node has."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

    from lamina.core.context import AgentContext
    from lamina.core.state import AgentState

__all__ = ["LayerNode", "StateNode"]


class LayerNode(Protocol):
    """A node of the agent graph: reads the state, uses `runtime.context`, returns an update.

    A protocol rather than a `Callable[...]` so that the parameter is called `runtime`: LangGraph
    injects the runtime by that name, and `StateGraph.add_node` type-checks against it.
    """

    def __call__(self, state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        """One visit of the node: the partial state update."""
        ...


class StateNode(Protocol):
    """A node that needs only the state (no runtime context)."""

    def __call__(self, state: AgentState) -> dict[str, Any]:
        """One visit of the node: the partial state update."""
        ...
