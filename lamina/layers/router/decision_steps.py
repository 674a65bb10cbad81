"""The steps of one routing decision, each explained in the :class:`RouteDecision` it returns.

:meth:`IntentRouter.route <lamina.layers.router.intent_router.IntentRouter.route>` runs them in
order: :func:`decide` turns the routes' similarity scores into a decision (the best route if it
reaches its threshold, else abstain); :func:`ask_llm` lets the LLM fallback settle a decision
whose score lies near its threshold; :func:`apply_affinity` keeps a thread on its previous route
unless the new decision moves away clearly. :func:`similarity_scores`, the input of
:func:`decide`, scores a request on its whole text and on its :func:`instruction_head` (the short
instruction in front of a payload). The steps read the router only through :class:`RouteTable`
(its routes, thresholds and default model).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from lamina.errors import InputError
from lamina.layers.router.types import Aggregate, Route, RouteDecision
from lamina.layers.router.utterance_index import normalise

if TYPE_CHECKING:
    from lamina.layers.router.llm_fallback import LLMFallback
    from lamina.layers.router.utterance_index import UtteranceIndex

__all__ = [
    "RouteTable",
    "apply_affinity",
    "ask_llm",
    "decide",
    "instruction_head",
    "similarity_scores",
]

# An instruction longer than this is not a short command in front of a payload.
_MAX_HEAD_CHARS = 120
_HEAD_SPLIT = re.compile(r"[:?]\s|\n")


class RouteTable(Protocol):
    """What the decision steps read from the router."""

    @property
    def routes(self) -> tuple[Route, ...]:
        """The routes, in the order given."""
        ...

    @property
    def default_model(self) -> str | None:
        """The model used when the router abstains."""
        ...

    def threshold_of(self, route: Route) -> float:
        """The threshold `route` is held to."""
        ...


def instruction_head(text: str) -> str | None:
    """The instruction of "instruction: payload", "question? payload" or "instruction\\npayload".

    Returns None when there is no such split.

    Only a short head followed by a non-empty payload counts; "6:30" has no space after the
    colon and is left alone.
    """
    match = _HEAD_SPLIT.search(text)
    if match is None:
        return None
    head, payload = text[: match.start()].strip(), text[match.end() :].strip()
    if not head or not payload or len(head) > _MAX_HEAD_CHARS:
        return None
    return head


def similarity_scores(
    index: UtteranceIndex, text: str, aggregate: Aggregate, top_k: int, *, use_head: bool
) -> list[tuple[str, float, bool]]:
    """(route, score, whether the score came from the instruction head), best first.

    With `use_head`, a text with an :func:`instruction_head` is also scored on the head alone
    and each route keeps the higher of its two scores. Equal scores keep the routes' order.

    Raises:
        InputError: when `text` is empty or blank.
    """
    import numpy as np

    if not isinstance(text, str) or not text.strip():
        raise InputError(
            f"The router expected non-empty request text, found {text!r}. "
            "Fix: send a request with some text in it."
        )
    head = instruction_head(text) if use_head else None
    queries = normalise(index.encode([text] if head is None else [text, head]))
    full = index.route_scores(queries[0], aggregate, top_k)
    if head is None:
        best, from_head = full, np.zeros(full.shape, dtype=bool)
    else:
        on_head = index.route_scores(queries[1], aggregate, top_k)
        best, from_head = np.maximum(full, on_head), on_head > full
    scored = [(r.name, float(best[i]), bool(from_head[i])) for i, r in enumerate(index.routes)]
    # sorted() is stable, so equal scores keep the order the routes were given in.
    return sorted(scored, key=lambda item: -item[1])


def decide(
    table: RouteTable, scored: list[tuple[str, float, bool]], method: str, started: float
) -> RouteDecision:
    """The best route if its score reaches its threshold, else abstain.

    Args:
        table: the router.
        scored: (route, score, whether the score came from the instruction head), best first.
        method: the decision's `method` ("similarity" or "similarity+history").
        started: `time.perf_counter()` when the decision began (for `latency_ms`).
    """
    by_name = {r.name: r for r in table.routes}
    candidates = tuple((name, value) for name, value, _ in scored)
    best_name, best_score, from_head = scored[0]
    best = by_name[best_name]
    threshold = table.threshold_of(best)
    where = " (on the instruction before the text)" if from_head else ""
    if best_score >= threshold:
        return RouteDecision(
            route=best.name,
            model=best.model,
            score=best_score,
            candidates=candidates,
            abstained=False,
            reason=f"similarity {best_score:.2f} ≥ threshold {threshold:.2f}{where}",
            latency_ms=(time.perf_counter() - started) * 1000.0,
            threshold=threshold,
            method=method,
        )
    return RouteDecision(
        route=None,
        model=table.default_model,
        score=best_score,
        candidates=candidates,
        abstained=True,
        reason=(
            f"no route above threshold: best {best.name!r} similarity {best_score:.2f}"
            f"{where} < threshold {threshold:.2f}"
        ),
        latency_ms=(time.perf_counter() - started) * 1000.0,
        threshold=threshold,
        method=method,
    )


def ask_llm(
    table: RouteTable, fallback: LLMFallback, text: str, decision: RouteDecision
) -> RouteDecision:
    """`decision` settled by the LLM fallback's choice for `text` (a route or abstain).

    Raises:
        ModelError: when the fallback's model fails.
    """
    by_name = {r.name: r for r in table.routes}
    scores = dict(decision.candidates)
    choice = fallback.choose(text, table.routes, decision.candidates)
    band = (
        f"similarity {decision.score:.2f} within {fallback.band:.2f} of threshold "
        f"{decision.threshold:.2f}"
    )
    if choice.route is None:
        return replace(
            decision,
            route=None,
            model=table.default_model,
            abstained=True,
            reason=f"llm fallback p={choice.probability:.2f}: none of the routes ({band})",
            method="llm",
            probabilities=choice.probabilities,
        )
    chosen = by_name[choice.route]
    return replace(
        decision,
        route=chosen.name,
        model=chosen.model,
        score=scores[chosen.name],
        threshold=table.threshold_of(chosen),
        abstained=False,
        reason=f"llm fallback p={choice.probability:.2f}: {chosen.name!r} ({band})",
        method="llm",
        probabilities=choice.probabilities,
    )


def apply_affinity(
    table: RouteTable,
    decision: RouteDecision,
    previous: RouteDecision | Mapping[str, Any],
    margin: float,
) -> RouteDecision:
    """`decision`, or the thread's `previous` route (or abstention) if it moves by < `margin`.

    Moving to another route needs that route's similarity to beat the previous route's by at
    least `margin`; moving to abstention needs the previous route's similarity to fall short of
    its threshold by at least `margin`; leaving a previous abstention needs the new route's
    similarity to clear its threshold by at least `margin`.
    """
    before = previous.route if isinstance(previous, RouteDecision) else previous.get("route")
    if before == decision.route:
        return decision
    by_name = {r.name: r for r in table.routes}
    if before is not None and before not in by_name:
        # The routes changed since the previous run: nothing to stay on.
        return decision
    scores = dict(decision.candidates)
    if before is None:
        # Leaving an abstention: the new route must clear its threshold by the margin.
        new = decision.route or ""
        threshold = table.threshold_of(by_name[new])
        gap = scores[new] - threshold
        what = f"{new!r} similarity {scores[new]:.2f} vs its threshold {threshold:.2f}"
    elif decision.route is None:
        # Moving to abstention: the previous route must miss its threshold by the margin.
        threshold = table.threshold_of(by_name[before])
        gap = threshold - scores[before]
        what = f"{before!r} similarity {scores[before]:.2f} vs its threshold {threshold:.2f}"
    else:
        gap = scores[decision.route] - scores[before]
        what = (
            f"{decision.route!r} similarity {scores[decision.route]:.2f} vs {before!r} "
            f"{scores[before]:.2f}"
        )
    if gap >= margin:
        return replace(
            decision,
            reason=f"{decision.reason}; left {before or 'abstention'!r} "
            f"(margin {gap:.2f} ≥ affinity margin {margin:.2f})",
        )
    kept = f"margin {gap:.2f} < affinity margin {margin:.2f}"
    if before is None:
        return replace(
            decision,
            route=None,
            model=table.default_model,
            abstained=True,
            reason=f"session affinity kept the thread's abstention: {what}, {kept}",
            method="affinity",
        )
    route = by_name[before]
    return replace(
        decision,
        route=route.name,
        model=route.model,
        score=scores[before],
        threshold=table.threshold_of(route),
        abstained=False,
        reason=f"session affinity kept {before!r}: {what}, {kept}",
        method="affinity",
    )
