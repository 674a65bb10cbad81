"""Which model serves a step, and what happens when it fails.

Two decisions the reasoning and execution layers share:

- **Step-level routing** (:func:`step_model`): each step of a plan of several steps is routed on
  its own text, so one task can use several models (a summarising step to the summarisation
  model, a tool step to the tool model). A step the router abstains on keeps the run's model.
- **Escalation** (:func:`run_with_escalation`): when a model fails (it cannot be loaded, its
  generation raises, or its output stays invalid after the layer's retries) the layer moves to
  the route's `fallbacks`, in order, and records each move for the trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from lamina.errors import AllModelsFailedError, ModelError

__all__ = [
    "StepModel",
    "fallback_chain",
    "run_with_escalation",
    "step_model",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class StepModel:
    """The model chosen for one plan step and why."""

    model: str
    route: str | None
    score: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for the trace."""
        return {
            "model": self.model,
            "route": self.route,
            "score": round(self.score, 4),
            "reason": self.reason,
        }


def step_model(
    context: Any, state: Mapping[str, Any], instruction: str, *, plan_length: int
) -> StepModel:
    """Route one plan step on its own text.

    A plan of one step is the request itself, already routed: it keeps the run's model. So does a
    step the router abstains on, or any step when the agent has no router.

    Args:
        context: the run's `AgentContext` (its `router` and `default_model` are read).
        state: the graph state (`model` is the run's model, chosen by the router layer).
        instruction: the step's text.
        plan_length: how many steps the plan has.

    Returns:
        The model for the step, with the route and score that chose it.
    """
    run_model = str(state.get("model") or context.default_model)
    router = getattr(context, "router", None)
    if router is None or plan_length < 2:
        return StepModel(run_model, _run_route(state), 0.0, "the run's model")
    decision = router.route(instruction)
    if decision.abstained or decision.route is None or decision.model is None:
        return StepModel(
            run_model, _run_route(state), float(decision.score), "step not routed; run's model"
        )
    return StepModel(str(decision.model), decision.route, float(decision.score), decision.reason)


def fallback_chain(
    context: Any, state: Mapping[str, Any], first: str, route: str | None
) -> list[str]:
    """`first`, then the fallbacks of `route` (the step's, else the run's), without repeats.

    Args:
        context: the run's `AgentContext`.
        state: the graph state (its `route` names the run's route).
        first: the model chosen for the step.
        route: the route that chose `first` (None: the run's route).
    """
    name = route if route is not None else _run_route(state)
    chain = [first]
    router = getattr(context, "router", None)
    if router is not None and name is not None:
        for r in router.routes:
            if r.name == name:
                chain.extend(fb for fb in r.fallbacks if fb not in chain)
                break
    return chain


def run_with_escalation(
    chain: list[str],
    attempt: Callable[[str], T],
    *,
    layer: str,
    escalate_on: tuple[type[BaseException], ...] = (ModelError,),
    failed: Callable[[T], str | None] | None = None,
) -> tuple[T, str, list[dict[str, Any]]]:
    """Run `attempt(model)` on each model of `chain` until one succeeds.

    Args:
        chain: model names in the order to try them.
        attempt: does the layer's work with one model.
        layer: the layer's name, for logs and errors.
        escalate_on: exceptions that move on to the next model.
        failed: given a result, a reason it counts as a failure (None: it is a success). The last
            model's result is returned even when it failed, since there is nothing left to try.

    Returns:
        `(result, model that produced it, escalations)`; each escalation is
        `{"from", "to", "error"}`.

    Raises:
        AllModelsFailedError: every model of a chain of several raised one of `escalate_on`
            (a chain of one re-raises the model's own error).
    """
    escalations: list[dict[str, Any]] = []
    errors: list[str] = []
    for position, name in enumerate(chain):
        last = position == len(chain) - 1
        try:
            result = attempt(name)
        except escalate_on as exc:
            error = f"{type(exc).__name__}: {exc}"
            errors.append(f"{name}: {error}")
            if last and len(chain) == 1:
                raise  # nothing to escalate to: the model's own error says it best
            if last:
                break
            escalations.append({"from": name, "to": chain[position + 1], "error": error[:500]})
            logger.warning(
                "%s: model %r failed (%s); trying %r", layer, name, error, chain[position + 1]
            )
            continue
        reason = failed(result) if failed is not None else None
        if reason is None or last:
            return result, name, escalations
        escalations.append({"from": name, "to": chain[position + 1], "error": reason})
        logger.warning(
            "%s: model %r failed (%s); trying %r", layer, name, reason, chain[position + 1]
        )
    tried = "; ".join(errors)
    raise AllModelsFailedError(
        f"The {layer} layer tried every model it may use ({', '.join(chain)}) and each failed: "
        f"{tried}. Fix: check the models with `lamina models list`, or give the route working "
        "`fallbacks`."
    )


def _run_route(state: Mapping[str, Any]) -> str | None:
    route = state.get("route")
    if isinstance(route, Mapping):
        name = route.get("route")
        return str(name) if name is not None else None
    return None
