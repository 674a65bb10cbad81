"""The intent router: recognise the intent of a request and pick the model for it.

Each :class:`Route` names an intent, a few example utterances and the model that serves it. The
:class:`IntentRouter` embeds every utterance once (:mod:`.utterance_index`, cached on disk),
embeds the request, takes the cosine similarity to each route's utterances and aggregates it per
route. The best route wins when its score reaches its threshold, else the router abstains and the
default model answers (steps in :mod:`.decision_steps`); each :class:`RouteDecision` says why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lamina.errors import ConfigError
from lamina.layers.router.decision_steps import apply_affinity, ask_llm, decide, similarity_scores
from lamina.layers.router.defaults import DEFAULT_AGGREGATE
from lamina.layers.router.fit import RouterReport, evaluate_router, fit_thresholds
from lamina.layers.router.router_file import bad_router_file, read_router_file, save_router
from lamina.layers.router.types import (
    Aggregate,
    Route,
    RouteDecision,
    TextEncoder,
    check_threshold,
    default_threshold_of,
)
from lamina.layers.router.utterance_index import UtteranceIndex
from lamina.layers.router.validation import (
    check_fitted_thresholds,
    check_route_models,
    check_router_arguments,
)

if TYPE_CHECKING:
    from lamina.layers.router.llm_fallback import LLMFallback

__all__ = ["IntentRouter", "load_router"]

logger = logging.getLogger(__name__)


class IntentRouter:
    """Routes a request to the model of the most similar route, or abstains.

    Args:
        routes: the routes; names must be unique.
        encoder: an object with `encode(texts)` and `identity` (default: the packaged
            all-MiniLM-L6-v2 from :func:`lamina.models.encoder.default_encoder`, created
            on first use).
        default_model: the model when the router abstains; None leaves the choice to the agent
            (the router node uses `AgentContext.default_model`).
        aggregate: a route's score: "centroid" (default, why: `defaults.DEFAULT_AGGREGATE`),
            the similarity to its utterances' normalised mean; "max", to the closest utterance;
            "mean_topk", the mean of the `top_k` closest.
        top_k: utterances averaged by "mean_topk".
        default_threshold: the threshold of routes that set none (None: 0.4 for "centroid",
            whose scores sit lower, else 0.5; both chosen on bench/data/helpdesk-routing.csv's
            development split).
        cache_dir: where utterance embeddings are cached (default: `<lamina home>/router_cache`).
        llm_fallback: an `LLMFallback` (:mod:`~lamina.layers.router.llm_fallback`): a local chat
            model choose when the best similarity lies in its uncertainty band around the
            threshold; None (the default) decides on similarity alone.
        affinity_margin: session affinity (opt-in). When set, :meth:`route` given the thread's
            `previous` decision keeps that route unless the new message routes elsewhere by at
            least this similarity margin (see :meth:`route`); None turns affinity off.

    Raises:
        ConfigError: for no routes, duplicate route names, an unknown aggregate, `top_k` < 1, a
            threshold outside [-1, 1], an affinity margin outside [0, 2], or a route called
            "none" with an LLM fallback (the fallback's word for abstaining).
    """

    def __init__(
        self,
        routes: Sequence[Route],
        encoder: TextEncoder | None = None,
        default_model: str | None = None,
        aggregate: Aggregate = DEFAULT_AGGREGATE,
        top_k: int = 3,
        default_threshold: float | None = None,
        cache_dir: str | Path | None = None,
        llm_fallback: LLMFallback | None = None,
        affinity_margin: float | None = None,
    ) -> None:
        self._routes = check_router_arguments(
            routes, aggregate, top_k, default_model, affinity_margin, llm_fallback
        )
        self._default_model = default_model
        self._aggregate: Aggregate = aggregate
        self._top_k = top_k
        self._default_threshold = check_threshold(
            default_threshold_of(aggregate) if default_threshold is None else default_threshold,
            "IntentRouter default_threshold",
        )
        self._llm_fallback = llm_fallback
        self._affinity_margin = None if affinity_margin is None else float(affinity_margin)
        if cache_dir is None:
            from lamina.config import get_settings

            cache_dir = get_settings().home / "router_cache"
        self._index = UtteranceIndex(self._routes, encoder, Path(cache_dir).expanduser())
        # Thresholds learnt by fit() (or read by load()); they take precedence over a route's own.
        self._fitted: dict[str, float] = {}

    # -- properties -----------------------------------------------------------------------

    @property
    def routes(self) -> tuple[Route, ...]:
        """The routes, in the order given."""
        return self._routes

    def task_of(self, route: str | None) -> str:
        """What the agent does with a request of `route` ("answer" when it abstained)."""
        return next((r.task for r in self._routes if r.name == route), "answer")

    @property
    def route_names(self) -> list[str]:
        """The route names, in the order given."""
        return [r.name for r in self._routes]

    @property
    def default_model(self) -> str | None:
        """The model used when the router abstains (None: the agent's default)."""
        return self._default_model

    @property
    def default_threshold(self) -> float:
        """The threshold of routes that set none."""
        return self._default_threshold

    @property
    def llm_fallback(self) -> LLMFallback | None:
        """The LLM fallback for uncertain decisions (None: similarity alone)."""
        return self._llm_fallback

    @property
    def affinity_margin(self) -> float | None:
        """The margin a new message needs to move a thread off its route (None: no affinity)."""
        return self._affinity_margin

    @property
    def cache_path(self) -> Path:
        """The file holding this router's utterance embeddings (it may not exist yet)."""
        return self._index.cache_path

    @property
    def cache_hit(self) -> bool | None:
        """Whether the utterance embeddings came from the disk cache (None: not prepared yet)."""
        return self._index.cache_hit

    @property
    def aggregate(self) -> Aggregate:
        """How a route's utterance similarities become one score."""
        return self._aggregate

    @property
    def top_k(self) -> int:
        """Utterances averaged by the "mean_topk" aggregate."""
        return self._top_k

    @property
    def encoder_identity(self) -> str:
        """The identity of the router's encoder (creates the default encoder if none yet)."""
        return self._index.get_encoder().identity

    @property
    def fitted_thresholds(self) -> dict[str, float]:
        """Thresholds learnt by :meth:`fit` (or loaded with :meth:`load`), by route name."""
        return dict(self._fitted)

    def threshold_of(self, route: Route) -> float:
        """The threshold `route` is held to.

        A fitted threshold (from :meth:`fit` or :meth:`load`) wins over the route's own
        `threshold`, which wins over the router's `default_threshold`.
        """
        fitted = self._fitted.get(route.name)
        if fitted is not None:
            return fitted
        return route.threshold if route.threshold is not None else self._default_threshold

    def set_fitted_thresholds(self, thresholds: dict[str, float]) -> None:
        """Replace the fitted thresholds (route name → threshold); {} clears them.

        Raises:
            ConfigError: for an unknown route name or a threshold outside [-1, 1].
        """
        self._fitted = check_fitted_thresholds(thresholds, self.route_names)

    # -- fitting, evaluation, persistence -------------------------------------------------

    def fit(
        self, texts: Sequence[str], labels: Sequence[str | None], with_utterances: bool = False
    ) -> dict[str, float]:
        """Tune each route's threshold on labelled requests (see :mod:`lamina.layers.router.fit`).

        The fitted thresholds are stored on the router and take precedence over the routes' own
        `threshold` values (which are kept unchanged, so `routes` still shows what was configured);
        :meth:`set_fitted_thresholds` with {} undoes a fit.

        The arguments, the result (route name → threshold) and the errors are those of
        :func:`~lamina.layers.router.fit.fit_thresholds`: `labels` holds, per request, the route
        that should take it or None to abstain; `with_utterances` also counts every route
        utterance, scored as if it were not among the routes (:meth:`held_out_scores`).
        """
        fitted = fit_thresholds(self, texts, labels, with_utterances=with_utterances)
        self._fitted = dict(fitted)
        return dict(fitted)

    def evaluate(self, texts: Sequence[str], labels: Sequence[str | None]) -> RouterReport:
        """Route every text and compare with its label (None: the router should abstain).

        Returns a :class:`~lamina.layers.router.fit.RouterReport` (accuracy, per-route precision,
        recall and F1, abstention, confusion table, latencies); errors as in :meth:`fit`.
        """
        return evaluate_router(self, texts, labels)

    def save(self, path: str | Path) -> None:
        """Write the router (routes, options, fitted thresholds, encoder identity) as JSON.

        The LLM fallback is not written (it holds a model); pass it again to :meth:`load`.
        Raises ConfigError when the file cannot be written.
        """
        save_router(self, path)

    @classmethod
    def load(
        cls,
        path: str | Path,
        encoder: TextEncoder | None = None,
        cache_dir: str | Path | None = None,
        llm_fallback: LLMFallback | None = None,
    ) -> IntentRouter:
        """Read a router written by :meth:`save` (the arguments: :func:`load_router`)."""
        return load_router(path, encoder=encoder, cache_dir=cache_dir, llm_fallback=llm_fallback)

    # -- validation and embeddings -------------------------------------------------------

    def validate_models(self, known: Iterable[str]) -> None:
        """Check that every model a route (or the default) names is one of `known`.

        Args:
            known: the model names the agent can serve (e.g. `AgentContext.models.names()`).

        Raises:
            ConfigError: listing each unknown name, where it is used, and the known names.
        """
        check_route_models(self._routes, self._default_model, known)

    def expect_encoder(self, identity: str) -> None:
        """Warn if the router's encoder is not the one with `identity` (e.g. on :meth:`load`).

        Thresholds are tuned to one encoder's similarities; another encoder's scores sit on a
        different scale. The check runs now if the router has an encoder, else when the default
        encoder is created on first use (so that it is not loaded early).
        """
        self._index.expect_encoder(identity)

    def warm_up(self) -> None:
        """Load the encoder, the utterance embeddings and the LLM fallback's model now.

        Otherwise the first request pays for loading them (and the fallback's model for reading
        the routing prompt, which it then keeps in its KV cache).
        """
        self._index.warm_up()
        if self._llm_fallback is not None:
            self._llm_fallback.warm_up(self._routes)

    # -- routing --------------------------------------------------------------------------

    def score(self, text: str) -> list[tuple[str, float]]:
        """Every route's aggregated similarity to `text`, best first (ties keep route order).

        "Summarise this: <payload>" is also scored on its instruction alone, and each route keeps
        the higher score (see :func:`~lamina.layers.router.decision_steps.similarity_scores`).

        Raises:
            InputError: when `text` is empty or blank.
        """
        return [(name, value) for name, value, _ in self._scores(text, use_head=True)]

    def held_out_scores(self) -> list[tuple[str, list[tuple[str, float]]]]:
        """Per route utterance: its route, and every route's score (best first) without it."""
        return self._index.held_out_scores(self._aggregate, self._top_k)

    def load_encoder(self) -> bool:
        """Load the encoder and the utterance embeddings unless done; True if done now."""
        return self._index.prepare()

    def _scores(self, text: str, *, use_head: bool) -> list[tuple[str, float, bool]]:
        return similarity_scores(self._index, text, self._aggregate, self._top_k, use_head=use_head)

    def route(
        self,
        text: str,
        history: Sequence[str] | None = None,
        previous: RouteDecision | Mapping[str, Any] | None = None,
    ) -> RouteDecision:
        """Decide which route (and so which model) serves `text`.

        The decision is made in up to four stages, each recorded in `method` and `reason`:

        1. similarity: the best route takes the request if its score reaches its threshold;
        2. history: if that abstains, a short follow-up is scored again with the previous user
           turn in front of it;
        3. LLM fallback (only with `llm_fallback`): if the best score lies in the fallback's
           band around its threshold, a local chat model chooses among the routes and "none";
        4. session affinity (only with `affinity_margin` and a `previous` decision): the thread
           keeps its previous route unless the new decision moves away from it clearly. Moving
           to another route needs that route's similarity to beat the previous route's by at
           least the margin; moving to abstention needs the previous route's similarity to fall
           short of its threshold by at least the margin; leaving a previous abstention needs the
           new route's similarity to clear its threshold by at least the margin.

        Args:
            text: the request.
            history: earlier user turns, oldest first. Used only when `text` alone reaches no
                threshold: a short follow-up ("now make it shorter") is scored again with the
                most recent earlier turn in front of it.
            previous: the thread's previous decision (a :class:`RouteDecision` or its
                `to_dict()`), for session affinity; ignored when `affinity_margin` is None.

        Returns:
            The decision; `abstained` is True when no route was chosen.

        Raises:
            InputError: when `text` is empty or blank.
            ModelError: when the LLM fallback's model fails.
        """
        self._index.prepare()  # loading the encoder is not routing: latency_ms starts after it
        started = time.perf_counter()
        decision = decide(self, self._scores(text, use_head=True), "similarity", started)
        asked = text
        previous_turns = [h for h in (history or ()) if isinstance(h, str) and h.strip()]
        if decision.abstained and previous_turns:
            # No head split here: the head would be the previous turn alone.
            joined_text = f"{previous_turns[-1]}\n{text}"
            joined = self._scores(joined_text, use_head=False)
            retry = decide(self, joined, "similarity+history", started)
            if not retry.abstained:
                decision = replace(retry, reason=f"{retry.reason} (with the previous turn)")
                asked = joined_text
        fallback = self._llm_fallback
        if (
            fallback is not None
            and decision.threshold is not None
            and fallback.in_band(decision.score, decision.threshold)
        ):
            decision = ask_llm(self, fallback, asked, decision)
        if self._affinity_margin is not None and previous is not None:
            decision = apply_affinity(self, decision, previous, self._affinity_margin)
        decision = replace(decision, latency_ms=(time.perf_counter() - started) * 1000.0)
        logger.debug("route %r -> %s (%s)", text[:60], decision.route, decision.reason)
        return decision


def load_router(
    path: str | Path,
    encoder: TextEncoder | None = None,
    cache_dir: str | Path | None = None,
    llm_fallback: LLMFallback | None = None,
) -> IntentRouter:
    """Read a router written by :meth:`IntentRouter.save`.

    Args:
        path: the JSON file.
        encoder: the encoder to route with (default: the packaged one). If its identity differs
            from the one the file was saved with, a warning is logged on first use: the fitted
            thresholds were tuned for another encoder's similarities.
        cache_dir: where utterance embeddings are cached (as in the constructor).
        llm_fallback: the LLM fallback to use (a model is not saved with the router).

    Raises:
        ConfigError: for a missing, unreadable or malformed file (what was found and the fix).
    """
    p = Path(path)
    saved = read_router_file(p)
    try:
        router = IntentRouter(
            saved.routes,
            encoder=encoder,
            default_model=saved.default_model,
            aggregate=saved.aggregate,
            top_k=saved.top_k,
            default_threshold=saved.default_threshold,
            cache_dir=cache_dir,
            llm_fallback=llm_fallback,
            affinity_margin=saved.affinity_margin,
        )
        router.set_fitted_thresholds(saved.fitted_thresholds)
    except ConfigError as exc:
        raise bad_router_file(p, f"invalid content: {exc}") from None
    if saved.encoder is not None:
        router.expect_encoder(saved.encoder)
    return router
