"""What a valid router configuration is: the checks behind :class:`IntentRouter`'s arguments.

:func:`check_router_arguments` runs when a router is built (no routes, duplicate names, an unknown
aggregate, a bad `top_k` or affinity margin, an LLM fallback beside a route called "none");
:func:`check_fitted_thresholds` when thresholds are fitted or loaded; :func:`check_route_models`
when an agent knows which models it serves. Each error says what was
expected, what was found and the fix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from lamina.errors import ConfigError
from lamina.layers.router.types import AGGREGATES, Route, check_name, check_threshold

if TYPE_CHECKING:
    from lamina.layers.router.llm_fallback import LLMFallback

__all__ = ["check_fitted_thresholds", "check_route_models", "check_router_arguments"]


def check_router_arguments(
    routes: Sequence[Route],
    aggregate: object,
    top_k: object,
    default_model: str | None,
    affinity_margin: object,
    llm_fallback: LLMFallback | None,
) -> tuple[Route, ...]:
    """The routes as a tuple, once the arguments of :class:`IntentRouter` pass their checks.

    Raises:
        ConfigError: for no routes, a route that is not a :class:`Route`, duplicate route names,
            an unknown aggregate, `top_k` < 1, a blank `default_model`, an affinity margin
            outside [0, 2], an `llm_fallback` that is not an `LLMFallback`, or a route called
            "none" with an LLM fallback (the fallback's word for abstaining).
    """
    routes = list(routes)
    if not routes:
        raise ConfigError(
            "IntentRouter: expected at least one Route, found none. Fix: pass routes, e.g. "
            "lamina.layers.router.defaults.default_routes(), or use no router at all."
        )
    bad = [r for r in routes if not isinstance(r, Route)]
    if bad:
        raise ConfigError(
            f"IntentRouter: expected Route objects, found {bad[0]!r}. "
            "Fix: wrap each route as Route(name, utterances, model)."
        )
    counts = Counter(r.name for r in routes)
    dupes = sorted(name for name, n in counts.items() if n > 1)
    if dupes:
        raise ConfigError(
            f"IntentRouter: expected unique route names, found duplicates: {', '.join(dupes)}. "
            "Fix: rename the routes or merge their utterances into one route."
        )
    if aggregate not in AGGREGATES:
        raise ConfigError(
            f"IntentRouter: expected aggregate to be one of {', '.join(AGGREGATES)}, found "
            f"{aggregate!r}. Fix: pass aggregate='max', 'mean_topk' or 'centroid'."
        )
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ConfigError(
            f"IntentRouter: expected top_k to be an integer ≥ 1, found {top_k!r}. "
            "Fix: pass top_k=3 (or another positive integer)."
        )
    if default_model is not None:
        check_name(default_model, "IntentRouter default_model", "name a model or pass None.")
    if affinity_margin is not None and (
        isinstance(affinity_margin, bool)
        or not isinstance(affinity_margin, int | float)
        or not 0.0 <= affinity_margin <= 2.0
    ):
        raise ConfigError(
            f"IntentRouter: expected affinity_margin to be a similarity margin between 0 and "
            f"2 or None, found {affinity_margin!r}. Fix: pass affinity_margin=0.1 (or None "
            "for no session affinity)."
        )
    if llm_fallback is not None:
        from lamina.layers.router.llm_fallback import NONE_CHOICE, LLMFallback

        if not isinstance(llm_fallback, LLMFallback):
            raise ConfigError(
                f"IntentRouter: expected llm_fallback to be an LLMFallback or None, found "
                f"{llm_fallback!r}. Fix: pass LLMFallback(pool.chat_model(name))."
            )
        if NONE_CHOICE in counts:
            raise ConfigError(
                f"IntentRouter: a route is called {NONE_CHOICE!r}, which the LLM fallback "
                "uses for 'no route'. Fix: rename that route."
            )
    return tuple(routes)


def check_fitted_thresholds(
    thresholds: Mapping[str, object], route_names: Sequence[str]
) -> dict[str, float]:
    """`thresholds` (route name → threshold) checked against the router's routes.

    Raises:
        ConfigError: for an unknown route name or a threshold outside [-1, 1].
    """
    names = set(route_names)
    checked: dict[str, float] = {}
    for name, value in thresholds.items():
        if name not in names:
            raise ConfigError(
                f"Fitted threshold for unknown route {name!r}; known: "
                f"{', '.join(route_names)}. Fix: fit the router on these routes again."
            )
        checked[name] = check_threshold(value, f"Fitted threshold of route {name!r}")
    return checked


def check_route_models(
    routes: Sequence[Route], default_model: str | None, known: Iterable[str]
) -> None:
    """Check that every model the routes (and `default_model`) name is one of `known`.

    Raises:
        ConfigError: listing each unknown name, where it is used, and the known names.
    """
    known_set = set(known)
    problems: list[str] = []
    for r in routes:
        if r.model not in known_set:
            problems.append(f"route {r.name!r} model {r.model!r}")
        problems.extend(
            f"route {r.name!r} fallback {fb!r}" for fb in r.fallbacks if fb not in known_set
        )
    if default_model is not None and default_model not in known_set:
        problems.append(f"router default_model {default_model!r}")
    if problems:
        raise ConfigError(
            f"Unknown model in {'; '.join(problems)}; known: "
            f"{', '.join(sorted(known_set)) or '(none)'}. Fix: use one of the known names or "
            "register the model with the agent."
        )
