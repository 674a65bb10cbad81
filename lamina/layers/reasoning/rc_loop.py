"""The Reasoning Cache loop (arXiv 2602.03773): solve, summarise, solve again from the summary,
each call through the step cache (:func:`rc_solve`), and what it costs (:class:`RCResult`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from lamina.core.context import StepCacheLike
from lamina.errors import ConfigError
from lamina.guards.degenerate import degenerate
from lamina.layers.reasoning.planning import with_max_tokens
from lamina.layers.reasoning.prompts import PromptSet, load_prompts
from lamina.stores.step_cache import StepCall, measured_call

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

logger = logging.getLogger(__name__)

__all__ = [
    "RC_ITERATIONS",
    "RCResult",
    "Tally",
    "cached_call",
    "capped",
    "is_completion_model",
    "rc_solve",
    "summarise_messages",
    "with_stop",
]

RC_ITERATIONS = 3
"""Attempts of the Reasoning Cache loop by default (the published algorithm's N)."""


@dataclass(frozen=True)
class RCResult:
    """The outcome of one Reasoning Cache loop.

    Attributes:
        attempt: the last attempt (the loop's answer).
        iterations: how many solve attempts were made.
        summaries: the summaries written between attempts (N - 1 of them).
        calls: model calls made or served from the cache (2N - 1).
        hits: calls served from the step cache.
        misses: calls computed by a model.
        tokens: tokens spent on misses.
        saved_tokens: tokens the hits did not spend again.
        stopped: why the loop ended before N attempts (a degenerate summary or attempt), or None.
        seconds: model time spent on misses.
        saved_seconds: model time the hits did not spend again.
        prompt_tokens: prompt tokens sent on misses.
        prompt_tokens_evaluated: of those, the ones llama.cpp evaluated (None: not reported).
        semantic_hits: hits served by the step cache's nearest-neighbour reuse.
    """

    attempt: str
    iterations: int
    summaries: tuple[str, ...]
    calls: int
    hits: int
    misses: int
    tokens: int
    saved_tokens: int
    stopped: str | None = None
    seconds: float = 0.0
    saved_seconds: float = 0.0
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int | None = None
    semantic_hits: int = 0

    @property
    def cached(self) -> bool:
        """True when every call was served from the step cache."""
        return self.calls > 0 and self.misses == 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        data = asdict(self)
        data["summaries"] = list(self.summaries)
        return data


class Tally:
    """Cache hits, misses, tokens and seconds of one node visit (or one RC loop)."""

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self.tokens = 0
        self.saved_tokens = 0
        self.seconds = 0.0
        self.saved_seconds = 0.0
        self.prompt_tokens = 0
        self.evaluated: int | None = None
        self.semantic_hits = 0

    def record(
        self,
        hit: bool,
        tokens: int,
        *,
        seconds: float = 0.0,
        prompt_tokens: int = 0,
        evaluated: int | None = None,
        semantic: bool = False,
    ) -> None:
        if evaluated is not None:  # a hit evaluates nothing: 0, a known count
            self.evaluated = (self.evaluated or 0) + evaluated
        if hit:
            self.hits += 1
            self.saved_tokens += tokens
            self.saved_seconds += seconds
            self.semantic_hits += int(semantic)
            return
        self.misses += 1
        self.tokens += tokens
        self.seconds += seconds
        self.prompt_tokens += prompt_tokens

    def record_call(self, call: StepCall) -> None:
        self.record(
            call.hit,
            call.tokens,
            seconds=call.seconds,
            prompt_tokens=call.prompt_tokens,
            evaluated=call.prompt_tokens_evaluated,
            semantic=call.semantic,
        )

    def add(self, other: Tally | RCResult) -> None:
        self.hits += other.hits
        self.misses += other.misses
        self.tokens += other.tokens
        self.saved_tokens += other.saved_tokens
        self.seconds += other.seconds
        self.saved_seconds += other.saved_seconds
        self.prompt_tokens += other.prompt_tokens
        self.semantic_hits += other.semantic_hits
        evaluated = other.evaluated if isinstance(other, Tally) else other.prompt_tokens_evaluated
        if evaluated is not None:
            self.evaluated = (self.evaluated or 0) + evaluated

    def to_dict(self) -> dict[str, Any]:
        return {
            "cache_hits": self.hits,
            "cache_misses": self.misses,
            "cache_semantic_hits": self.semantic_hits,
            "tokens": self.tokens,
            "tokens_saved": self.saved_tokens,
            "seconds_saved": round(self.saved_seconds, 4),
            "prompt_tokens": self.prompt_tokens,
            "prompt_tokens_evaluated": self.evaluated,
        }


def cached_call(
    cache: StepCacheLike | None,
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    template_version: str,
    tally: Tally,
) -> tuple[str, bool]:
    if cache is None:
        call = measured_call(model, messages)
    else:
        call = cache.call(model, messages, template_version)
    tally.record_call(call)
    return call.text.strip(), call.hit


def capped(model: BaseChatModel, max_tokens: int) -> BaseChatModel:
    """`model` with its `max_tokens` capped at `max_tokens`."""
    return with_max_tokens(model, max_tokens, cap_only=True)


def rc_solve(
    problem: str,
    solver: BaseChatModel,
    summariser: BaseChatModel,
    n: int = RC_ITERATIONS,
    cache: StepCacheLike | None = None,
    *,
    prompts: PromptSet | None = None,
    unusable: Callable[[str], bool] = degenerate,
) -> RCResult:
    """Run the Reasoning Cache loop on `problem` for `n` attempts; the last attempt answers.

    Args:
        problem: the full problem text (context, task, step).
        solver: writes the attempts.
        summariser: writes the summaries (capped at `[summarise] max_tokens`); may be another
            model than the solver, e.g. a smaller instruct model.
        n: number of attempts (at least 1; default :data:`RC_ITERATIONS`); 2n - 1 model calls.
        cache: the step cache (None: every call goes to the models).
        prompts: the prompt file (default: lamina/prompts/reasoning.toml).
        unusable: which output the loop does not keep (the `degenerate_output` guard's
            :func:`~lamina.guards.degenerate.degenerate`, or only empty output with it off).

    Raises:
        ConfigError: `n` < 1.
    """
    if n < 1:
        raise ConfigError(
            f"The Reasoning Cache loop needs at least 1 iteration; found {n}. "
            "Fix: pass rc_iterations >= 1 (2 refines once)."
        )
    p = prompts or load_prompts()
    tally = Tally()
    bounded_summariser = capped(summariser, int(p.get("summarise", "max_tokens")))
    if is_completion_model(bounded_summariser):
        bounded_summariser = with_stop(
            bounded_summariser, list(p.get("summarise_completion", "stop"))
        )
    system = SystemMessage(p.render("solve", "system"))
    summary: str | None = None
    summaries: list[str] = []
    attempt = ""
    stopped: str | None = None
    iterations = 0
    solve_completion = is_completion_model(solver)
    if solve_completion:
        solver = with_stop(solver, list(p.get("solve_completion", "stop")))
    for i in range(n):
        # the earlier attempt is dropped: only its summary is carried forward
        key = "first" if summary is None else "refine"
        if solve_completion:
            text = p.render("solve_completion", key, problem=problem, summary=summary or "")
            solve_messages: list[BaseMessage] = [HumanMessage(text)]
        else:
            text = p.render("solve", key, problem=problem, summary=summary or "")
            solve_messages = [system, HumanMessage(text)]
        new_attempt, _ = cached_call(
            cache, solver, solve_messages, p.template_version("solve"), tally
        )
        iterations += 1
        if attempt and unusable(new_attempt):
            # Small models sometimes answer a refine prompt by echoing its scaffolding; a
            # refinement must not make the answer worse, so the earlier attempt stands.
            stopped = "the refined attempt was degenerate; kept the earlier attempt"
            break
        attempt = new_attempt
        if i == n - 1:
            break
        summary_messages = summarise_messages(problem, summary, attempt, bounded_summariser, p)
        new_summary, _ = cached_call(
            cache, bounded_summariser, summary_messages, p.template_version("summarise"), tally
        )
        if unusable(new_summary):
            stopped = "the summary was degenerate; stopped refining"
            break
        summary = new_summary
        summaries.append(summary)
    if stopped:
        logger.info("Reasoning Cache loop: %s", stopped)
    return RCResult(
        attempt=attempt,
        iterations=iterations,
        stopped=stopped,
        summaries=tuple(summaries),
        calls=tally.hits + tally.misses,
        hits=tally.hits,
        misses=tally.misses,
        tokens=tally.tokens,
        saved_tokens=tally.saved_tokens,
        seconds=tally.seconds,
        saved_seconds=tally.saved_seconds,
        prompt_tokens=tally.prompt_tokens,
        prompt_tokens_evaluated=tally.evaluated,
        semantic_hits=tally.semantic_hits,
    )


def is_completion_model(model: BaseChatModel) -> bool:
    """True for a base model that continues text (lamina's `prompt_format == "completion"`)."""
    return getattr(model, "prompt_format", "chat-template") == "completion"


def with_stop(model: BaseChatModel, stop: list[str]) -> BaseChatModel:
    """`model` with extra stop sequences (when it has a `stop` field; else unchanged)."""
    if "stop" not in type(model).model_fields:
        return model
    return model.model_copy(update={"stop": [*(getattr(model, "stop", None) or []), *stop]})


def summarise_messages(
    problem: str, summary: str | None, attempt: str, summariser: BaseChatModel, p: PromptSet
) -> list[BaseMessage]:
    if is_completion_model(summariser):
        text = p.render("summarise_completion", "user", problem=problem, attempt=attempt)
        return [HumanMessage(text)]
    if summary is None:
        user = p.render("summarise", "user_first", problem=problem, attempt=attempt)
    else:
        user = p.render("summarise", "user", problem=problem, summary=summary, attempt=attempt)
    return [SystemMessage(p.render("summarise", "system")), HumanMessage(user)]
