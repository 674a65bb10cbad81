"""The router layer: recognise the intent of a request and pick the model for it.

Each :class:`Route` names an intent, a few example utterances and the model that serves it. The
:class:`IntentRouter` embeds every utterance once (cached on disk), embeds the request, takes the
cosine similarity to each route's utterances and aggregates it per route. The best route wins when
its score reaches the route's threshold; otherwise the router abstains and the default model
answers. Every decision is a :class:`RouteDecision` that says why.

The graph node (:func:`make_router_node`) reads the normalised request (`state["task"]`) and
writes the decision into `state["route"]`, the chosen model into `state["model"]` and one trace
event.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from lamina.errors import ConfigError, InputError
from lamina.graphs.nodes import LayerNode

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from langgraph.runtime import Runtime

    from lamina.graphs.context import AgentContext
    from lamina.graphs.state import AgentState
    from lamina.layers.router_fit import RouterReport
    from lamina.layers.router_llm import LLMFallback

__all__ = [
    "Aggregate",
    "IntentRouter",
    "Route",
    "RouteDecision",
    "TextEncoder",
    "make_router_node",
]

logger = logging.getLogger(__name__)

Aggregate = Literal["max", "mean_topk"]
_AGGREGATES: tuple[str, ...] = ("max", "mean_topk")
# Bump when the layout of the cache file changes, so old files are never misread.
_CACHE_FORMAT = 1


@runtime_checkable
class TextEncoder(Protocol):
    """What the router needs from an encoder (:class:`lamina.memory_store.embeddings.Encoder`).

    Attributes:
        identity: a string that changes whenever the encoder's output would change; it keys the
            on-disk cache of utterance embeddings.
    """

    identity: str

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed `texts` as the rows of a float matrix (ideally L2-normalised)."""
        ...


def _check_threshold(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ConfigError(
            f"{what}: expected a number between -1 and 1 (a cosine similarity), found {value!r}. "
            "Fix: pass a float such as 0.5."
        )
    if not -1.0 <= float(value) <= 1.0:
        raise ConfigError(
            f"{what}: expected a cosine similarity between -1 and 1, found {value!r}. "
            "Fix: pass a float such as 0.5."
        )
    return float(value)


def _check_name(value: object, what: str, fix: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{what}: expected a non-empty string, found {value!r}. Fix: {fix}")
    return value


@dataclass(frozen=True)
class Route:
    """One intent the router recognises, and the model that serves it.

    Args:
        name: the intent's name, unique within a router (e.g. "arithmetic").
        utterances: example requests of this intent; a handful of varied phrasings work best.
        model: name of the model that answers requests of this intent.
        threshold: the cosine similarity a request needs to take this route; None uses the
            router's `default_threshold`.
        description: what the route covers, in a sentence (shown in docs and decisions).
        fallbacks: models to try, in order, if `model` cannot serve the request.

    Raises:
        ConfigError: for an empty name or model, no utterances, a blank utterance, a single string
            passed as `utterances`, or a threshold outside [-1, 1].
    """

    name: str
    utterances: tuple[str, ...]
    model: str
    threshold: float | None = None
    description: str | None = None
    fallbacks: tuple[str, ...] = field(default=())

    def __init__(
        self,
        name: str,
        utterances: Iterable[str],
        model: str,
        threshold: float | None = None,
        description: str | None = None,
        fallbacks: Iterable[str] = (),
    ) -> None:
        # A hand-written __init__ so callers may pass lists, while the stored value is a tuple.
        name = _check_name(name, "Route name", 'give the route a name, e.g. Route("chat", ...).')
        where = f"Route {name!r}"
        if isinstance(utterances, str) or not isinstance(utterances, Iterable):
            raise ConfigError(
                f"{where}: expected a list of example utterances, found {utterances!r}. "
                'Fix: pass utterances=["first example", "second example", ...].'
            )
        utts = tuple(utterances)
        if not utts:
            raise ConfigError(
                f"{where}: expected at least one example utterance, found none. "
                "Fix: add a few typical requests of this intent to `utterances`."
            )
        blank = [i for i, u in enumerate(utts) if not isinstance(u, str) or not u.strip()]
        if blank:
            # A blank utterance embeds to a generic vector that matches almost anything.
            raise ConfigError(
                f"{where}: expected non-blank string utterances, found blank or non-string "
                f"entries at positions {blank}. Fix: remove them or write the example text."
            )
        model = _check_name(model, f"{where} model", "name the model that serves this route.")
        if threshold is not None:
            threshold = _check_threshold(threshold, f"{where} threshold")
        if isinstance(fallbacks, str) or not isinstance(fallbacks, Iterable):
            raise ConfigError(
                f"{where}: expected `fallbacks` to be a list of model names, found "
                f"{fallbacks!r}. Fix: pass fallbacks=[{fallbacks!r}]."
            )
        fbs = tuple(fallbacks)
        for fb in fbs:
            _check_name(fb, f"{where} fallback model", "list model names in `fallbacks`.")
        if description is not None and not isinstance(description, str):
            raise ConfigError(
                f"{where}: expected `description` to be a string or None, found "
                f"{description!r}. Fix: describe the route in a sentence."
            )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "utterances", utts)
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "threshold", threshold)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "fallbacks", fbs)

    def to_dict(self) -> dict[str, Any]:
        """The route as JSON-safe data (for configs and docs)."""
        return {
            "name": self.name,
            "utterances": list(self.utterances),
            "model": self.model,
            "threshold": self.threshold,
            "description": self.description,
            "fallbacks": list(self.fallbacks),
        }


@dataclass(frozen=True)
class RouteDecision:
    """What the router decided for one request, and why.

    Attributes:
        route: the chosen route's name, or None when the router abstained.
        model: the model that should answer. None only when the router abstained and has no
            default model of its own; the router node then uses the agent's default model.
        score: the best route's aggregated similarity (0.0 when nothing was scored).
        candidates: (route name, score) for every route, best first.
        abstained: True when no route was chosen.
        reason: a human-readable explanation, e.g. "similarity 0.71 ≥ threshold 0.55".
        latency_ms: wall time of the decision in milliseconds.
        threshold: the threshold the chosen route (or, on abstention, the best route) was held
            to (None when nothing was scored).
        method: how the decision was made: "similarity", "similarity+history", "llm" (the LLM
            fallback chose), "affinity" (session affinity kept the thread's previous route) or
            "none" (no router).
        probabilities: when the LLM fallback was asked, (choice, probability) for every choice
            it was offered, most likely first ("none" is abstention); else empty.
    """

    route: str | None
    model: str | None
    score: float
    candidates: tuple[tuple[str, float], ...]
    abstained: bool
    reason: str
    latency_ms: float
    threshold: float | None = None
    method: str = "similarity"
    probabilities: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The decision as JSON-safe data (for graph state and the trace)."""
        return {
            "route": self.route,
            "model": self.model,
            "score": round(float(self.score), 4),
            "candidates": [[name, round(float(s), 4)] for name, s in self.candidates],
            "abstained": self.abstained,
            "reason": self.reason,
            "latency_ms": round(float(self.latency_ms), 3),
            "threshold": self.threshold,
            "method": self.method,
            "probabilities": [[name, round(float(p), 4)] for name, p in self.probabilities],
        }


class IntentRouter:
    """Routes a request to the model of the most similar route, or abstains.

    Args:
        routes: the routes; names must be unique.
        encoder: an object with `encode(texts)` and `identity` (default: the packaged
            all-MiniLM-L6-v2 from :func:`lamina.memory_store.embeddings.default_encoder`, created
            on first use).
        default_model: the model when the router abstains; None leaves the choice to the agent
            (the router node uses `AgentContext.default_model`).
        aggregate: how a route's utterance similarities become one score: "max" (the closest
            utterance) or "mean_topk" (the mean of the `top_k` closest).
        top_k: utterances averaged by "mean_topk".
        default_threshold: the threshold of routes that set none.
        cache_dir: where utterance embeddings are cached (default: `<lamina home>/router_cache`).
        llm_fallback: a :class:`lamina.layers.router_llm.LLMFallback` that lets a local chat
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
        aggregate: Aggregate = "max",
        top_k: int = 3,
        default_threshold: float = 0.5,
        cache_dir: str | Path | None = None,
        llm_fallback: LLMFallback | None = None,
        affinity_margin: float | None = None,
    ) -> None:
        routes = list(routes)
        if not routes:
            raise ConfigError(
                "IntentRouter: expected at least one Route, found none. Fix: pass routes, e.g. "
                "lamina.layers.routing_defaults.default_routes(), or use no router at all."
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
        if aggregate not in _AGGREGATES:
            raise ConfigError(
                f"IntentRouter: expected aggregate to be one of {', '.join(_AGGREGATES)}, found "
                f"{aggregate!r}. Fix: pass aggregate='max' or aggregate='mean_topk'."
            )
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ConfigError(
                f"IntentRouter: expected top_k to be an integer ≥ 1, found {top_k!r}. "
                "Fix: pass top_k=3 (or another positive integer)."
            )
        if default_model is not None:
            _check_name(default_model, "IntentRouter default_model", "name a model or pass None.")
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
            from lamina.layers.router_llm import NONE_CHOICE, LLMFallback

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
        self._routes: tuple[Route, ...] = tuple(routes)
        self._default_model = default_model
        self._aggregate: Aggregate = aggregate
        self._top_k = top_k
        self._default_threshold = _check_threshold(
            default_threshold, "IntentRouter default_threshold"
        )
        self._llm_fallback = llm_fallback
        self._affinity_margin = None if affinity_margin is None else float(affinity_margin)
        if cache_dir is None:
            from lamina.config import get_settings

            cache_dir = get_settings().home / "router_cache"
        self._cache_dir = Path(cache_dir).expanduser()
        self._encoder = encoder
        self._lock = threading.Lock()
        # Filled by _prepare(): the utterance matrix and, per row, the index of its route.
        self._matrix: npt.NDArray[np.float32] | None = None
        self._owner: npt.NDArray[np.intp] | None = None
        self._cache_hit: bool | None = None
        self._encoder_warm = False
        # Thresholds learnt by fit() (or read by load()); they take precedence over a route's own.
        self._fitted: dict[str, float] = {}
        # Set by load(): the encoder the saved thresholds were fitted with, checked on first use.
        self._saved_identity: str | None = None

    # -- properties -----------------------------------------------------------------------

    @property
    def routes(self) -> tuple[Route, ...]:
        """The routes, in the order given."""
        return self._routes

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
        return self._cache_dir / f"routes-{self._cache_key()}.npz"

    @property
    def cache_hit(self) -> bool | None:
        """Whether the utterance embeddings came from the disk cache (None: not prepared yet)."""
        return self._cache_hit

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
        return self._get_encoder().identity

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
        names = set(self.route_names)
        checked: dict[str, float] = {}
        for name, value in thresholds.items():
            if name not in names:
                raise ConfigError(
                    f"Fitted threshold for unknown route {name!r}; known: "
                    f"{', '.join(self.route_names)}. Fix: fit the router on these routes again."
                )
            checked[name] = _check_threshold(value, f"Fitted threshold of route {name!r}")
        self._fitted = checked

    # -- fitting, evaluation, persistence -------------------------------------------------

    def fit(self, texts: Sequence[str], labels: Sequence[str | None]) -> dict[str, float]:
        """Tune each route's threshold on labelled requests (see :mod:`lamina.layers.router_fit`).

        The fitted thresholds are stored on the router and take precedence over the routes' own
        `threshold` values (which are kept unchanged, so `routes` still shows what was configured);
        :meth:`set_fitted_thresholds` with {} undoes a fit.

        Args:
            texts: the requests.
            labels: for each request, the route that should take it, or None when the router
                should abstain.

        Returns:
            The fitted threshold of every route, by name.

        Raises:
            ConfigError: for no data, mismatched lengths or a label that names no route.
            InputError: for a blank text.
        """
        from lamina.layers.router_fit import fit_thresholds

        fitted = fit_thresholds(self, texts, labels)
        self._fitted = dict(fitted)
        return dict(fitted)

    def evaluate(self, texts: Sequence[str], labels: Sequence[str | None]) -> RouterReport:
        """Route every text and compare with its label (None: the router should abstain).

        Returns:
            A :class:`lamina.layers.router_fit.RouterReport` (accuracy, per-route precision,
            recall and F1, abstention metrics, confusion table, latency percentiles).

        Raises:
            ConfigError: for no data, mismatched lengths or a label that names no route.
            InputError: for a blank text.
        """
        from lamina.layers.router_fit import evaluate_router

        return evaluate_router(self, texts, labels)

    def save(self, path: str | Path) -> None:
        """Write the router (routes, options, fitted thresholds, encoder identity) as JSON.

        The LLM fallback is not written (it holds a model); pass it again to :meth:`load`.

        Raises:
            ConfigError: when the file cannot be written.
        """
        from lamina.layers.router_fit import save_router

        save_router(self, path)

    @classmethod
    def load(
        cls,
        path: str | Path,
        encoder: TextEncoder | None = None,
        cache_dir: str | Path | None = None,
        llm_fallback: LLMFallback | None = None,
    ) -> IntentRouter:
        """Read a router written by :meth:`save`.

        Args:
            path: the JSON file.
            encoder: the encoder to route with (default: the packaged one). If its identity
                differs from the one the file was saved with, a warning is logged on first use:
                the fitted thresholds were tuned for another encoder's similarities.
            cache_dir: where utterance embeddings are cached (as in the constructor).
            llm_fallback: the LLM fallback to use (a model is not saved with the router).

        Raises:
            ConfigError: for a missing, unreadable or malformed file (what was found and the fix).
        """
        from lamina.layers.router_fit import load_router

        return load_router(path, encoder=encoder, cache_dir=cache_dir, llm_fallback=llm_fallback)

    # -- validation -----------------------------------------------------------------------

    def validate_models(self, known: Iterable[str]) -> None:
        """Check that every model a route (or the default) names is one of `known`.

        Args:
            known: the model names the agent can serve (e.g. `AgentContext.models.names()`).

        Raises:
            ConfigError: listing each unknown name, where it is used, and the known names.
        """
        known_set = set(known)
        problems: list[str] = []
        for r in self._routes:
            if r.model not in known_set:
                problems.append(f"route {r.name!r} model {r.model!r}")
            problems.extend(
                f"route {r.name!r} fallback {fb!r}" for fb in r.fallbacks if fb not in known_set
            )
        if self._default_model is not None and self._default_model not in known_set:
            problems.append(f"router default_model {self._default_model!r}")
        if problems:
            raise ConfigError(
                f"Unknown model in {'; '.join(problems)}; known: "
                f"{', '.join(sorted(known_set)) or '(none)'}. Fix: use one of the known names or "
                "register the model with the agent."
            )

    # -- embeddings -----------------------------------------------------------------------

    def _get_encoder(self) -> TextEncoder:
        if self._encoder is None:
            from lamina.memory_store.embeddings import default_encoder

            self._encoder = default_encoder()
        if self._saved_identity is not None:
            saved, self._saved_identity = self._saved_identity, None
            self._check_identity(saved, self._encoder)
        return self._encoder

    def expect_encoder(self, identity: str) -> None:
        """Warn if the router's encoder is not the one with `identity` (e.g. on :meth:`load`).

        Thresholds are tuned to one encoder's similarities; another encoder's scores sit on a
        different scale. The check runs now if the router has an encoder, else when the default
        encoder is created on first use (so that it is not loaded early).
        """
        if self._encoder is not None:
            self._check_identity(identity, self._encoder)
        else:
            self._saved_identity = identity

    @staticmethod
    def _check_identity(expected: str, encoder: TextEncoder) -> None:
        if expected != encoder.identity:
            logger.warning(
                "Router thresholds were fitted with encoder %r but this router uses %r; they "
                "may not suit it. Fix: fit the router again with this encoder.",
                expected,
                encoder.identity,
            )

    def _cache_key(self) -> str:
        # Names and models are left out on purpose: renaming a route or changing its model does
        # not change any embedding, so the cache stays valid.
        payload = json.dumps(
            {
                "format": _CACHE_FORMAT,
                "encoder": self._get_encoder().identity,
                "utterances": [list(r.utterances) for r in self._routes],
            },
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]

    def warm_up(self) -> None:
        """Load the encoder, the utterance embeddings and the LLM fallback's model now.

        Otherwise the first request pays for loading them (and the fallback's model for reading
        the routing prompt, which it then keeps in its KV cache).
        """
        self._prepare()
        if self._cache_hit and not self._encoder_warm:
            # The embeddings came from disk, so nothing was encoded yet, and the packaged encoder
            # loads its model on the first encode: do that now, not in the first decision.
            self._encode(["warm up"])
        self._encoder_warm = True
        if self._llm_fallback is not None:
            self._llm_fallback.warm_up(self._routes)

    def _prepare(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.intp]]:
        if self._matrix is not None and self._owner is not None:
            return self._matrix, self._owner
        import numpy as np

        with self._lock:
            if self._matrix is None or self._owner is None:
                texts = [u for r in self._routes for u in r.utterances]
                owner = np.repeat(
                    np.arange(len(self._routes), dtype=np.intp),
                    [len(r.utterances) for r in self._routes],
                )
                path = self.cache_path
                matrix = self._load_cache(path, len(texts))
                self._cache_hit = matrix is not None
                if matrix is None:
                    started = time.perf_counter()
                    matrix = _normalise(self._encode(texts))
                    logger.info(
                        "Embedded %d route utterances in %.2fs",
                        len(texts),
                        time.perf_counter() - started,
                    )
                    self._save_cache(path, matrix)
                self._matrix, self._owner = matrix, owner
            return self._matrix, self._owner

    def _encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        import numpy as np

        vectors = np.asarray(self._get_encoder().encode(list(texts)), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ConfigError(
                f"The router's encoder returned an array of shape {vectors.shape} for "
                f"{len(texts)} texts; expected one row per text. Fix: make encode() return a "
                "(len(texts), dim) matrix."
            )
        return vectors

    def _load_cache(self, path: Path, rows: int) -> npt.NDArray[np.float32] | None:
        import numpy as np

        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                matrix = np.asarray(data["embeddings"], dtype=np.float32)
        except (OSError, ValueError, KeyError) as exc:
            # A damaged cache file is only a lost speed-up: say so and recompute.
            logger.warning("Ignoring unreadable router cache %s (%s); re-embedding", path, exc)
            return None
        if matrix.ndim != 2 or matrix.shape[0] != rows:
            logger.warning(
                "Ignoring router cache %s: shape %s, expected %d rows", path, matrix.shape, rows
            )
            return None
        logger.debug("Router embeddings loaded from %s", path)
        return matrix

    def _save_cache(self, path: Path, matrix: npt.NDArray[np.float32]) -> None:
        import numpy as np

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename, so a concurrent reader never sees a half-written file.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".routes-", suffix=".npz")
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, embeddings=matrix)
            os.replace(tmp, path)
        except OSError as exc:
            logger.warning("Could not write router cache %s (%s); routing goes on", path, exc)

    # -- routing --------------------------------------------------------------------------

    def score(self, text: str) -> list[tuple[str, float]]:
        """Every route's aggregated similarity to `text`, best first (ties keep route order).

        A request of the form "instruction: payload" (or "question? payload", or instruction,
        newline, payload) is also
        scored on its instruction alone, and each route keeps the higher of the two scores: the
        payload of "Summarise this: <three paragraphs about budgets>" would otherwise drown the
        instruction that says what to do with it.

        Raises:
            InputError: when `text` is empty or blank.
        """
        return [(name, value) for name, value, _ in self._scores(text, use_head=True)]

    def _scores(self, text: str, *, use_head: bool) -> list[tuple[str, float, bool]]:
        """(route, score, whether the score came from the instruction head), best first."""
        import numpy as np

        if not isinstance(text, str) or not text.strip():
            raise InputError(
                f"The router expected non-empty request text, found {text!r}. "
                "Fix: send a request with some text in it."
            )
        head = _instruction_head(text) if use_head else None
        queries = _normalise(self._encode([text] if head is None else [text, head]))
        full = self._route_scores(queries[0])
        if head is None:
            best, from_head = full, np.zeros(full.shape, dtype=bool)
        else:
            on_head = self._route_scores(queries[1])
            best, from_head = np.maximum(full, on_head), on_head > full
        scored = [(r.name, float(best[i]), bool(from_head[i])) for i, r in enumerate(self._routes)]
        # sorted() is stable, so equal scores keep the order the routes were given in.
        return sorted(scored, key=lambda item: -item[1])

    def _route_scores(self, query: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Each route's aggregated similarity to one normalised query, in route order."""
        import numpy as np

        matrix, owner = self._prepare()
        sims = matrix @ query
        out = np.empty(len(self._routes), dtype=np.float64)
        for i in range(len(self._routes)):
            own = sims[owner == i]
            if self._aggregate == "max":
                out[i] = float(own.max())
            else:
                k = min(self._top_k, own.shape[0])
                out[i] = float(np.sort(own)[-k:].mean())
        return out

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
        started = time.perf_counter()
        decision = self._decide(self._scores(text, use_head=True), "similarity", started)
        asked = text
        previous_turns = [h for h in (history or ()) if isinstance(h, str) and h.strip()]
        if decision.abstained and previous_turns:
            # No head split here: the head would be the previous turn alone.
            joined_text = f"{previous_turns[-1]}\n{text}"
            joined = self._scores(joined_text, use_head=False)
            retry = self._decide(joined, "similarity+history", started)
            if not retry.abstained:
                decision = replace(retry, reason=f"{retry.reason} (with the previous turn)")
                asked = joined_text
        fallback = self._llm_fallback
        if (
            fallback is not None
            and decision.threshold is not None
            and fallback.in_band(decision.score, decision.threshold)
        ):
            decision = self._ask_llm(fallback, asked, decision)
        if self._affinity_margin is not None and previous is not None:
            decision = self._affinity(decision, previous, self._affinity_margin)
        decision = replace(decision, latency_ms=(time.perf_counter() - started) * 1000.0)
        logger.debug("route %r -> %s (%s)", text[:60], decision.route, decision.reason)
        return decision

    def _ask_llm(self, fallback: LLMFallback, text: str, decision: RouteDecision) -> RouteDecision:
        by_name = {r.name: r for r in self._routes}
        scores = dict(decision.candidates)
        choice = fallback.choose(text, self._routes, decision.candidates)
        band = (
            f"similarity {decision.score:.2f} within {fallback.band:.2f} of threshold "
            f"{decision.threshold:.2f}"
        )
        if choice.route is None:
            return replace(
                decision,
                route=None,
                model=self._default_model,
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
            threshold=self.threshold_of(chosen),
            abstained=False,
            reason=f"llm fallback p={choice.probability:.2f}: {chosen.name!r} ({band})",
            method="llm",
            probabilities=choice.probabilities,
        )

    def _affinity(
        self, decision: RouteDecision, previous: RouteDecision | Mapping[str, Any], margin: float
    ) -> RouteDecision:
        before = previous.route if isinstance(previous, RouteDecision) else previous.get("route")
        if before == decision.route:
            return decision
        by_name = {r.name: r for r in self._routes}
        if before is not None and before not in by_name:
            # The routes changed since the previous run: nothing to stay on.
            return decision
        scores = dict(decision.candidates)
        if before is None:
            # Leaving an abstention: the new route must clear its threshold by the margin.
            new = decision.route or ""
            threshold = self.threshold_of(by_name[new])
            gap = scores[new] - threshold
            what = f"{new!r} similarity {scores[new]:.2f} vs its threshold {threshold:.2f}"
        elif decision.route is None:
            # Moving to abstention: the previous route must miss its threshold by the margin.
            threshold = self.threshold_of(by_name[before])
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
                model=self._default_model,
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
            threshold=self.threshold_of(route),
            abstained=False,
            reason=f"session affinity kept {before!r}: {what}, {kept}",
            method="affinity",
        )

    def _decide(
        self, scored: list[tuple[str, float, bool]], method: str, started: float
    ) -> RouteDecision:
        by_name = {r.name: r for r in self._routes}
        candidates = tuple((name, value) for name, value, _ in scored)
        best_name, best_score, from_head = scored[0]
        best = by_name[best_name]
        threshold = self.threshold_of(best)
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
            model=self._default_model,
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


# An instruction longer than this is not a short command in front of a payload.
_MAX_HEAD_CHARS = 120
_HEAD_SPLIT = re.compile(r"[:?]\s|\n")


def _instruction_head(text: str) -> str | None:
    """The instruction of "instruction: payload", "question? payload" or "instruction\npayload".

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


def _normalise(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """L2-normalise rows; a zero row stays zero (it is similar to nothing)."""
    import numpy as np

    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    out: npt.NDArray[np.float32] = np.divide(
        vectors, norms, out=np.zeros_like(vectors, dtype=np.float32), where=norms > 0
    ).astype(np.float32)
    return out


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

    Returns:
        A node returning `{"route": decision dict, "model": name, "trace": [event]}`.
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
        return {
            "route": data,
            "model": decision.model,
            "trace": [{"layer": "router", "seconds": time.perf_counter() - started, "data": data}],
        }

    return router_node
