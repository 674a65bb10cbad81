"""The router's LLM fallback: a local chat model settles requests the similarity cannot.

When the best route's similarity lies within `band` of its threshold, the similarity alone is a
coin toss. :class:`LLMFallback` then shows a local chat model the routes (name, description, a
few example utterances) and the request, and lets it choose among the route names and `none`.

The choice is made under the constraint of a choice grammar (:func:`~lamina.models.grammar.
choice_grammar`: exactly one of the names, then the end of the answer), but instead of sampling
one path through that grammar, :class:`LlamaChoiceScorer` scores every path with
:func:`~lamina.models.llama.scoring.path_logprobs`: the probability of a choice is the model's
probability of writing that name's tokens and then ending its answer, renormalised over the
allowed choices. That is the exact distribution the grammar leaves the model, it costs one prompt
evaluation plus one token per branch of the choices' token trie, and it gives a probability for
every choice, not only the winner's (without a `logits_all=True` model: see that function).

Anything with a `choice_probabilities(system, user, choices)` method is a
:class:`ChoiceScorer`, so unit tests drive the fallback with a few lines of scripted
probabilities.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lamina.errors import ConfigError, ModelError, ModelOutputError
from lamina.models.llama.scoring import path_logprobs

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from lamina.layers.router.types import Route
    from lamina.models.llama.chat import LlamaChatModel
    from lamina.models.prompting import PromptRenderer

__all__ = [
    "NONE_CHOICE",
    "ChoiceScorer",
    "LLMChoice",
    "LLMFallback",
    "LlamaChoiceScorer",
    "routing_prompt",
]

logger = logging.getLogger(__name__)

NONE_CHOICE = "none"
"""The choice that means "no route fits": the router abstains."""

_DEFAULT_BAND = 0.05


@runtime_checkable
class ChoiceScorer(Protocol):
    """Gives each of a fixed set of answers to a chat prompt a probability.

    :class:`LlamaChoiceScorer` is the real one; a test fake returns scripted numbers.
    """

    def choice_probabilities(
        self, system: str, user: str, choices: Sequence[str]
    ) -> Mapping[str, float]:
        """The probability of each of `choices` as the answer to `system` + `user`.

        Returns:
            choice → probability (non-negative, one entry per choice; renormalised by the
            caller, so weights that do not sum to 1 are fine).
        """
        ...


class LlamaChoiceScorer:
    """Scores choices with a pooled llama.cpp chat model (see the module docstring).

    Args:
        model: a :class:`~lamina.models.llama.chat.LlamaChatModel` (its `pool` and
            `model_name` say which in-process llama.cpp model to use; its sampling settings do
            not matter: nothing is sampled).

    Raises:
        ConfigError: when `model` is another kind of chat model (a remote model exposes no
            logits here: wrap it in your own :class:`ChoiceScorer`).
    """

    def __init__(self, model: LlamaChatModel | BaseChatModel) -> None:
        from lamina.models.llama.chat import LlamaChatModel

        if not isinstance(model, LlamaChatModel):
            raise ConfigError(
                f"LlamaChoiceScorer expected a LlamaChatModel (from pool.chat_model(name)), found "
                f"{type(model).__name__}. Fix: pass pool.chat_model('smollm2-135m-instruct'), or "
                "wrap another model in your own ChoiceScorer."
            )
        self._model: Any = model
        self._renderer: PromptRenderer | None = None

    @property
    def model_name(self) -> str:
        """The model that scores the choices."""
        name: str = self._model.model_name
        return name

    def choice_probabilities(
        self, system: str, user: str, choices: Sequence[str]
    ) -> dict[str, float]:
        """The model's probability of answering each of `choices`, renormalised over them.

        Raises:
            ConfigError: for no choices, a blank or repeated choice.
            ModelError: when the prompt does not fit the model's context.
        """
        _check_choices(choices)
        from langchain_core.messages import HumanMessage, SystemMessage

        with self._model.pool.use(self._model.model_name) as llama:
            renderer = self._get_renderer(llama)
            prompt = renderer.render([SystemMessage(system), HumanMessage(user)])
            prompt_tokens = _tokenize_prompt(llama, prompt.text)
            if renderer.prompt_format == "completion":
                # A base model's answer follows "Assistant:" after a space and ends the line.
                paths = [_tokens(llama, f" {c}\n") for c in choices]
            else:
                # An instruct model's answer is the name alone, then its end-of-turn token.
                paths = [[*_tokens(llama, c), int(llama.token_eos())] for c in choices]
            longest = max(len(p) for p in paths)
            n_ctx = int(llama.n_ctx())
            if len(prompt_tokens) + longest > n_ctx:
                raise ModelError(
                    f"The routing prompt for {self.model_name!r} takes {len(prompt_tokens)} "
                    f"tokens; the model's context holds {n_ctx}. Fix: shorten the route "
                    "descriptions or lower LLMFallback(examples_per_route=...)."
                )
            logprobs = path_logprobs(llama, prompt_tokens, paths)
        return _softmax(dict(zip(choices, logprobs, strict=True)))

    def _get_renderer(self, llama: Any) -> PromptRenderer:
        if self._renderer is None:
            from lamina.models.prompting import ChatTemplate, PromptRenderer

            spec = self._model.pool.spec(self._model.model_name)
            template = (
                ChatTemplate.from_llama(llama, self._model.model_name)
                if spec.prompt_format == "chat-template"
                else None
            )
            self._renderer = PromptRenderer(spec.prompt_format, template)
        return self._renderer


def _check_choices(choices: Sequence[str]) -> None:
    from lamina.models.grammar import choice_grammar

    if isinstance(choices, str) or not choices:
        raise ConfigError(
            f"Expected a list of choices, found {choices!r}. Fix: pass the route names and "
            f"{NONE_CHOICE!r}."
        )
    if len(set(choices)) != len(choices) or any(not c.strip() for c in choices):
        raise ConfigError(
            f"Expected distinct, non-blank choices, found {list(choices)!r}. Fix: give every "
            "route a distinct name."
        )
    # The same check the decoding grammar applies: each choice must be a grammar literal.
    choice_grammar(list(choices))


def _tokens(llama: Any, text: str) -> list[int]:
    return [int(t) for t in llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)]


def _tokenize_prompt(llama: Any, text: str) -> list[int]:
    """The prompt's tokens, special tokens parsed, with BOS once if the model wants one."""
    tokens = [int(t) for t in llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)]
    bos = int(llama.token_bos())
    wants_bos = str(llama.metadata.get("tokenizer.ggml.add_bos_token", "false")).lower() == "true"
    if wants_bos and bos >= 0 and (not tokens or tokens[0] != bos):
        tokens.insert(0, bos)
    return tokens


def _softmax(logprobs: Mapping[str, float]) -> dict[str, float]:
    top = max(logprobs.values())
    weights = {k: math.exp(v - top) for k, v in logprobs.items()}
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}


def routing_prompt(routes: Sequence[Route], examples_per_route: int = 2) -> str:
    """The system prompt that presents the routes to the model.

    Every route is listed with its description (if any) and its first `examples_per_route`
    utterances, then `none`. The text depends on the routes only, not on the request, so
    llama.cpp keeps it in its KV cache from one request to the next.
    """
    lines = ["You sort user requests into routes. The routes are:"]
    for route in routes:
        parts = [f"- {route.name}:"]
        if route.description:
            parts.append(route.description.strip())
        examples = [f'"{u.strip()}"' for u in route.utterances[:examples_per_route]]
        if examples:
            parts.append("For example " + "; ".join(examples) + ".")
        lines.append(" ".join(parts))
    lines.append(f"- {NONE_CHOICE}: the request fits none of the routes above.")
    lines.append("Reply with the name of one route only.")
    return "\n".join(lines)


@dataclass(frozen=True)
class LLMChoice:
    """What the LLM fallback chose.

    Attributes:
        route: the chosen route's name, or None when the model chose `none`.
        probability: the probability of that choice.
        probabilities: (choice, probability) for every choice offered, most likely first;
            `none` is spelled "none".
        latency_ms: wall time of the model call in milliseconds.
    """

    route: str | None
    probability: float
    probabilities: tuple[tuple[str, float], ...]
    latency_ms: float

    def to_dict(self) -> dict[str, Any]:
        """The choice as JSON-safe data."""
        return {
            "route": self.route,
            "probability": round(self.probability, 4),
            "probabilities": [[c, round(p, 4)] for c, p in self.probabilities],
            "latency_ms": round(self.latency_ms, 3),
        }


class LLMFallback:
    """Asks a local chat model to settle requests whose similarity is near the threshold.

    Args:
        scorer: a :class:`ChoiceScorer`, or a :class:`~lamina.models.llama.chat.LlamaChatModel`
            (wrapped in a :class:`LlamaChoiceScorer`).
        band: the uncertainty band: the model is asked when the best route's similarity `s`
            and its threshold `t` satisfy `t - band <= s <= t + band`.
        max_choices: offer the model only the `max_choices` best-scoring routes (plus `none`);
            None offers every route. Every route is still described in the prompt.
        examples_per_route: example utterances per route shown to the model.
        max_request_chars: longer requests are cut to their first characters in the prompt
            (the instruction usually comes first, and a small model's context is small).

    Raises:
        ConfigError: for a scorer that is neither, a band outside [0, 1), `max_choices` < 1,
            `examples_per_route` < 0 or `max_request_chars` < 1.
    """

    def __init__(
        self,
        scorer: ChoiceScorer | LlamaChatModel | BaseChatModel,
        band: float = _DEFAULT_BAND,
        max_choices: int | None = None,
        examples_per_route: int = 2,
        max_request_chars: int = 1000,
    ) -> None:
        if isinstance(scorer, ChoiceScorer):
            self._scorer: ChoiceScorer = scorer
        else:
            self._scorer = LlamaChoiceScorer(scorer)
        if isinstance(band, bool) or not isinstance(band, int | float) or not 0 <= band < 1:
            raise ConfigError(
                f"LLMFallback: expected band to be a similarity margin in [0, 1), found "
                f"{band!r}. Fix: pass band=0.05."
            )
        for value, what, low in (
            (max_choices, "max_choices", 1),
            (examples_per_route, "examples_per_route", 0),
            (max_request_chars, "max_request_chars", 1),
        ):
            if value is None and what == "max_choices":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(
                    f"LLMFallback: expected {what} to be an integer ≥ {low}, found {value!r}. "
                    f"Fix: pass {what}={max(low, 2)}."
                )
        self._band = float(band)
        self._max_choices = max_choices
        self._examples = examples_per_route
        self._max_chars = max_request_chars
        self._prompts: dict[tuple[int, ...], str] = {}

    @property
    def band(self) -> float:
        """The uncertainty band around a route's threshold."""
        return self._band

    @property
    def scorer(self) -> ChoiceScorer:
        """What gives the choices their probabilities."""
        return self._scorer

    def in_band(self, score: float, threshold: float) -> bool:
        """Whether a best score of `score` against `threshold` is uncertain enough to ask."""
        return threshold - self._band <= score <= threshold + self._band

    def prompt(self, routes: Sequence[Route]) -> str:
        """The system prompt for `routes` (built once per set of routes)."""
        key = tuple(id(r) for r in routes)
        text = self._prompts.get(key)
        if text is None:
            text = routing_prompt(routes, self._examples)
            self._prompts[key] = text
        return text

    def warm_up(self, routes: Sequence[Route]) -> None:
        """Load the model and let it read the routing prompt, with one throw-away request."""
        self.choose("Hello.", routes, [])

    def choose(
        self, text: str, routes: Sequence[Route], candidates: Sequence[tuple[str, float]]
    ) -> LLMChoice:
        """Let the model choose a route for `text` (or `none`).

        Args:
            text: the request.
            routes: every route of the router (all are described to the model).
            candidates: (route name, similarity), best first; the first `max_choices` are
                offered.

        Raises:
            ConfigError: when a route is called "none".
            ModelError: the model failed (load error, prompt too long).
            ModelOutputError: the scorer returned unusable probabilities.
        """
        names = [r.name for r in routes]
        if NONE_CHOICE in names:
            raise ConfigError(
                f"A route is called {NONE_CHOICE!r}, which the LLM fallback uses for 'no route'. "
                "Fix: rename that route."
            )
        ranked = [name for name, _ in candidates] or names
        offered = ranked[: self._max_choices] if self._max_choices is not None else ranked
        choices = [*offered, NONE_CHOICE]
        request = text if len(text) <= self._max_chars else text[: self._max_chars] + " …"
        started = time.perf_counter()
        raw = self._scorer.choice_probabilities(self.prompt(routes), request, choices)
        latency_ms = (time.perf_counter() - started) * 1000.0
        probabilities = _check_probabilities(raw, choices)
        ordered = tuple(sorted(probabilities.items(), key=lambda item: -item[1]))
        best, p = ordered[0]
        return LLMChoice(
            route=None if best == NONE_CHOICE else best,
            probability=p,
            probabilities=ordered,
            latency_ms=latency_ms,
        )


def _check_probabilities(raw: Mapping[str, float], choices: list[str]) -> dict[str, float]:
    missing = [c for c in choices if c not in raw]
    bad = {
        c: v
        for c, v in raw.items()
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0
    }
    total = sum(float(raw[c]) for c in choices if c in raw and c not in bad)
    if missing or bad or total <= 0:
        raise ModelOutputError(
            f"The LLM fallback's scorer returned {dict(raw)!r}; expected a non-negative "
            f"probability for each of {choices} with a positive sum. Fix: make "
            "choice_probabilities() return one number per choice."
        )
    return {c: float(raw[c]) / total for c in choices}
