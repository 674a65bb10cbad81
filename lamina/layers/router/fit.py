"""Fit and evaluate an :class:`~lamina.layers.router.intent_router.IntentRouter`.

Labelled data is a list of requests and, for each, the route that should take it or None when the
router should abstain. Abstention counts as a class of its own everywhere: a request routed when
it should not be is as wrong as one routed to the wrong route.

Fitting tunes one threshold per route. The router picks its best-scoring route and takes it when
the score reaches that route's threshold, so a route's threshold only changes the outcome of the
requests on which that route scores best: the candidate thresholds of a route are the best scores
it reaches on the data (plus a small grid and a value above them all, to allow "never"). Each
route is tuned in turn for overall accuracy, for a few passes until nothing changes (coordinate
ascent). A fit never moves a threshold without a gain on the data; when it does move one, it
takes the middle of the best range nearest the old value, not its edge, so that a request scoring
just below the weakest example of the data still gets the same answer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lamina.errors import ConfigError, InputError

if TYPE_CHECKING:
    from lamina.layers.router.intent_router import IntentRouter

__all__ = [
    "ABSTAIN",
    "ClassMetrics",
    "RouterReport",
    "evaluate_router",
    "fit_thresholds",
]

logger = logging.getLogger(__name__)

ABSTAIN = "(abstain)"
"""The class name of "no route" in reports and confusion tables."""

_GRID = tuple(round(0.05 * i, 2) for i in range(1, 20))  # 0.05 … 0.95
_MAX_PASSES = 5


def _check_data(
    router: IntentRouter, texts: Sequence[str], labels: Sequence[str | None]
) -> tuple[list[str], list[str | None]]:
    texts, labels = list(texts), list(labels)
    if not texts:
        raise ConfigError(
            "Expected labelled requests to fit or evaluate the router on, found none. "
            "Fix: pass a list of texts and a list of labels of the same length."
        )
    if len(texts) != len(labels):
        raise ConfigError(
            f"Expected one label per text, found {len(texts)} texts and {len(labels)} labels. "
            "Fix: pass lists of the same length (None as the label of an abstain case)."
        )
    names = set(router.route_names)
    unknown = sorted({str(lab) for lab in labels if lab is not None and lab not in names})
    if unknown:
        raise ConfigError(
            f"Unknown route label(s) {', '.join(map(repr, unknown))}; known: "
            f"{', '.join(router.route_names)}. Fix: use a route name, or None (an empty "
            "expected_route in a CSV) for requests on which the router should abstain."
        )
    blank = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if blank:
        raise InputError(
            f"Expected non-empty request texts, found blank ones at positions {blank[:10]}. "
            "Fix: remove them from the data."
        )
    return texts, labels


def _accuracy(
    best: Sequence[tuple[str, float]], labels: Sequence[str | None], thresholds: dict[str, float]
) -> int:
    """How many requests the router gets right with `thresholds` (abstention is a class)."""
    right = 0
    for (name, value), label in zip(best, labels, strict=True):
        predicted = name if value >= thresholds[name] else None
        right += predicted == label
    return right


def _pick(candidates: list[float], right: list[int], current: float) -> float:
    """The threshold to keep among sorted `candidates` scoring `right` correct answers each.

    The current threshold stays when it is among the best. Otherwise the best candidates form
    runs of neighbours; take the run nearest the current threshold and return its middle. No
    observed score lies inside a run without being a candidate of it, so every threshold in a
    run's span makes the same decisions as one of its candidates: the middle is as accurate,
    and it keeps a margin to the scores on both sides instead of sitting on one of them.
    """
    top = max(right)
    if right[candidates.index(current)] == top:
        return current
    runs: list[tuple[float, float]] = []
    start: int | None = None
    for i, r in enumerate([*right, -1]):  # the sentinel closes the last run
        if r == top and start is None:
            start = i
        elif r != top and start is not None:
            runs.append((candidates[start], candidates[i - 1]))
            start = None
    # Nearest run first; on a tie, the lower one (deterministic).
    lo, hi = min(runs, key=lambda run: (min(abs(run[0] - current), abs(run[1] - current)), run))
    return (lo + hi) / 2


def fit_thresholds(
    router: IntentRouter,
    texts: Sequence[str],
    labels: Sequence[str | None],
    *,
    with_utterances: bool = False,
) -> dict[str, float]:
    """Per-route thresholds that maximise accuracy on the labelled data (deterministic).

    The router is not changed; :meth:`IntentRouter.fit` stores the result.

    With `with_utterances` (opt-in), the data also holds every route utterance, scored as if it
    were not among the routes (:meth:`IntentRouter.held_out_scores`) and labelled with its
    route, so that a few labelled requests whose abstain cases are vague mentions of a route
    ("Can you help with an infusion issue?") cannot pull its threshold far above what real
    requests of it reach. Measured (bench/routing.py, test splits after fitting on the
    validation splits): with "max", healthcare 0.708 → 0.792 but helpdesk 0.804 → 0.786; with
    "centroid" at its default threshold, no change on either (0.875, 0.911). The
    "centroid" aggregate, not this option, is what keeps a fit from lowering accuracy there.

    Args:
        router: the router whose thresholds to tune.
        texts: the requests.
        labels: the route each request should take, or None to abstain.
        with_utterances: also count the route utterances, held out one at a time.

    Returns:
        route name → fitted threshold, for every route.

    Raises:
        ConfigError: for no data, mismatched lengths or an unknown label.
        InputError: for a blank text.
    """
    texts, labels = _check_data(router, texts, labels)
    # The scores do not depend on thresholds: score once, then search on numbers only.
    best = [router.score(t)[0] for t in texts]
    if with_utterances:
        for route_name, scored in router.held_out_scores():
            best.append(scored[0])
            labels.append(route_name)
    thresholds = {r.name: router.threshold_of(r) for r in router.routes}
    for n_pass in range(_MAX_PASSES):
        changed = False
        for route in router.routes:
            own = sorted({v for name, v in best if name == route.name})
            if not own:
                continue  # the route is never the best one: its threshold changes nothing
            # Just above the highest score means "never take this route".
            above = min(1.0, math.nextafter(own[-1], math.inf))
            current = thresholds[route.name]
            candidates = sorted({*own, *_GRID, above, current})
            right = [_accuracy(best, labels, {**thresholds, route.name: c}) for c in candidates]
            chosen = _pick(candidates, right, current)
            if chosen != current:
                thresholds[route.name] = chosen
                changed = True
        logger.debug("fit pass %d: %s", n_pass + 1, thresholds)
        if not changed:
            break
    return {name: float(value) for name, value in thresholds.items()}


# -- evaluation ---------------------------------------------------------------------------


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation, like numpy's default."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass(frozen=True)
class ClassMetrics:
    """Precision, recall and F1 of one class (a route or abstention).

    Attributes:
        precision: right predictions of this class / all predictions of it (0.0 if none).
        recall: right predictions of this class / all requests labelled with it (0.0 if none).
        f1: harmonic mean of precision and recall.
        support: requests labelled with this class.
        predicted: requests predicted as this class.
    """

    precision: float
    recall: float
    f1: float
    support: int
    predicted: int

    def to_dict(self) -> dict[str, Any]:
        """The metrics as JSON-safe data."""
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "support": self.support,
            "predicted": self.predicted,
        }


@dataclass(frozen=True)
class RouterReport:
    """How well a router does on labelled requests.

    Attributes:
        n: number of requests.
        accuracy: share of requests routed right (abstaining when the label is None counts).
        per_route: route name → metrics, in route order.
        abstention: the metrics of abstention as a class.
        macro_f1: unweighted mean F1 over the routes and abstention that occur in the data or
            the predictions.
        confusion: expected → predicted → count, with "(abstain)" for no route; every class of
            the router appears as a row and a column.
        latency_p50_ms: median decision latency.
        latency_p95_ms: 95th percentile decision latency.
    """

    n: int
    accuracy: float
    per_route: dict[str, ClassMetrics]
    abstention: ClassMetrics
    macro_f1: float
    confusion: dict[str, dict[str, int]]
    latency_p50_ms: float
    latency_p95_ms: float

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-safe data."""
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_route": {name: m.to_dict() for name, m in self.per_route.items()},
            "abstention": self.abstention.to_dict(),
            "confusion": {k: dict(v) for k, v in self.confusion.items()},
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p95_ms": self.latency_p95_ms,
        }


def _metrics(cls: str, expected: list[str], predicted: list[str]) -> ClassMetrics:
    tp = sum(e == cls and p == cls for e, p in zip(expected, predicted, strict=True))
    support, n_pred = expected.count(cls), predicted.count(cls)
    precision, recall = _ratio(tp, n_pred), _ratio(tp, support)
    return ClassMetrics(precision, recall, _f1(precision, recall), support, n_pred)


def evaluate_router(
    router: IntentRouter, texts: Sequence[str], labels: Sequence[str | None]
) -> RouterReport:
    """Route every text (without history) and compare the decisions with the labels.

    Raises:
        ConfigError: for no data, mismatched lengths or an unknown label.
        InputError: for a blank text.
    """
    texts, labels = _check_data(router, texts, labels)
    # Load the encoder and utterance embeddings first, so latencies measure routing alone.
    router.warm_up()
    decisions = [router.route(t) for t in texts]
    expected = [lab if lab is not None else ABSTAIN for lab in labels]
    predicted = [d.route if d.route is not None else ABSTAIN for d in decisions]
    classes = [*router.route_names, ABSTAIN]
    confusion = {e: dict.fromkeys(classes, 0) for e in classes}
    for e, p in zip(expected, predicted, strict=True):
        confusion[e][p] += 1
    per_route = {name: _metrics(name, expected, predicted) for name in router.route_names}
    abstention = _metrics(ABSTAIN, expected, predicted)
    present = [m for m in [*per_route.values(), abstention] if m.support or m.predicted]
    latencies = [d.latency_ms for d in decisions]
    return RouterReport(
        n=len(texts),
        accuracy=sum(e == p for e, p in zip(expected, predicted, strict=True)) / len(texts),
        per_route=per_route,
        abstention=abstention,
        macro_f1=sum(m.f1 for m in present) / len(present) if present else 0.0,
        confusion=confusion,
        latency_p50_ms=_percentile(latencies, 50),
        latency_p95_ms=_percentile(latencies, 95),
    )
