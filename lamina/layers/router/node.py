"""The router layer's node: reads the normalised request (`state["task"]`), asks the context's
router, and writes the decision into `state["route"]`, the chosen model into `state["model"]` and
one trace event."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lamina.core.context import LoadsModels
from lamina.core.nodes import LayerNode
from lamina.errors import ConfigError
from lamina.layers.router.types import RouteDecision

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

    from lamina.core.context import AgentContext, RoutingDecision
    from lamina.core.state import AgentState

__all__ = ["make_router_node"]


def _earlier_user_turns(state: AgentState) -> list[str]:
    """Text of the user's earlier messages (the last human message is the current request)."""
    texts = [
        m.content
        for m in state.get("messages", [])
        if getattr(m, "type", None) == "human" and isinstance(m.content, str)
    ]
    return texts[:-1]


def _previous_decision(state: AgentState) -> dict[str, Any] | None:
    """The thread's decision of its previous run, for session affinity.

    `route` lives in the thread's checkpointed state and the input layer does not reset it, so
    before this node writes the new decision it still holds the previous run's.
    """
    previous = state.get("route")
    if not isinstance(previous, dict) or previous.get("method") == "none":
        return None  # no previous run, or a run without a router
    return previous


def make_router_node() -> LayerNode:
    """Build the router layer's graph node.

    The node reads `state["task"]` (set by the input layer) and the router in
    `runtime.context.router`. With no router it picks `runtime.context.default_model`. When the
    router abstains without a default model of its own, the agent's default model is used. The
    earlier user turns go to the router as `history`, and the thread's previous decision (the
    `route` a checkpointed thread kept from its last run) as `previous`, for session affinity.

    The first request of a process also loads the router's encoder: that is traced as a step
    of its own, `{"layer": "loading encoder", ...}`, before the router's event, so that neither
    the router's seconds nor the decision's `latency_ms` count it.

    Returns:
        A node returning `{"route": decision dict, "model": name, "trace": [events]}`.
    """

    # LangGraph injects the runtime by the parameter's name, so Runtime needs no runtime import.
    def router_node(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        started = time.perf_counter()
        ctx = runtime.context
        task = state.get("task")
        if not isinstance(task, str) or not task.strip():
            raise ConfigError(
                f"The router node expected state['task'] (the request text set by the input "
                f"layer), found {task!r}. Fix: run the input node before the router node."
            )
        router = ctx.router
        events: list[dict[str, Any]] = []
        if router is not None and router.load_encoder():
            loaded = time.perf_counter()
            events.append(
                {
                    "layer": "loading encoder",
                    "seconds": loaded - started,
                    "data": {"what": "the router's encoder and utterance embeddings"},
                }
            )
            started = loaded
        decision: RoutingDecision
        if router is None:
            decision = RouteDecision(
                route=None,
                model=ctx.default_model,
                score=0.0,
                candidates=(),
                abstained=True,
                reason="no router configured",
                latency_ms=0.0,
                method="none",
            )
        else:
            decision = router.route(
                task, history=_earlier_user_turns(state), previous=_previous_decision(state)
            )
            if decision.model is None:
                decision = replace(
                    decision,
                    model=ctx.default_model,
                    reason=f"{decision.reason}; the agent's default model answers",
                )
        data = decision.to_dict()
        data["task"] = "answer" if router is None else router.task_of(decision.route)
        events.append({"layer": "router", "seconds": time.perf_counter() - started, "data": data})
        if isinstance(ctx.models, LoadsModels) and decision.model:
            # The chosen model's first load (seconds on a CPU) is a step of its own, not
            # hidden in the reasoning layer's first call.
            loading = time.perf_counter()
            if ctx.models.load(decision.model):
                events.append(
                    {
                        "layer": "loading model",
                        "seconds": time.perf_counter() - loading,
                        "data": {"model": decision.model},
                    }
                )
        return {"route": data, "model": decision.model, "trace": events}

    return router_node
