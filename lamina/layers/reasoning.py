"""Reasoning layer: plan the task, reason on each step with the Reasoning Cache loop, answer.

The Reasoning Cache loop (arXiv 2602.03773) refines an answer without a growing context:

    summary = None
    for i in range(N):
        attempt = solve(problem, summary)
        if last: break
        summary = summarise(problem, summary, attempt)   # short, first person, no new reasoning
    return attempt

Each solve prompt carries only the problem and the latest summary; the earlier attempt is dropped.
The solver and the summariser are separate models (QED-Nano pairs a reasoning model with a
smaller instruct summariser); summaries are capped at `[summarise] max_tokens`.

N, the number of attempts: the published algorithm and `rc_solve`/`make_reasoning_node` default to
:data:`RC_ITERATIONS` (3). lamina's default agent graph (`build_agent_graph`) uses 1, because the
135M/270M default models gain nothing from refinement: on bench/reasoning.py's eight multi-step
tasks SmolLM2-135M gets 0/8 at N = 1, 2 and 3 without the verifier and 5/8 at each N with it,
whether it or Gemma 3 270M summarises, while N = 3 costs up to five calls per step instead of
one. Raise N for models large enough to use a summary of their own attempt.

Every solve, summarise, plan, refinement and synthesis call goes through the step cache (when the
runtime context has one), so a step computed before is served from disk; the trace counts hits,
misses, tokens and seconds spent and saved, semantic hits, and the prompt tokens llama.cpp really
evaluated (the rest came from its KV prefix cache).

After a step is reasoned, verifiers check its result (:mod:`lamina.layers.verification`; by
default arithmetic the calculator can evaluate). A failed check triggers one refinement with the
verifier's feedback; if that fails too and the verifier knows the right value, that value is
passed on instead of a wrong one. Verdicts go into the trace.

The node walks the plan: a step that needs a tool is handed to the execution layer (the node
returns without an `answer`); any other step is reasoned here. When every step is done it sets
`answer`: the only step's result, or a short synthesis of several results.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from lamina.errors import ConfigError
from lamina.graphs.context import AgentContext
from lamina.graphs.nodes import LayerNode
from lamina.graphs.state import AgentState, TraceEvent
from lamina.layers.context_text import render_memories, render_step_results
from lamina.layers.escalation import fallback_chain, run_with_escalation, step_model
from lamina.layers.planning import (
    PlanStep,
    PromptSet,
    explicit_steps,
    load_prompts,
    make_plan,
    task_preamble,
    with_max_tokens,
)
from lamina.layers.verification import Verdict, Verifier, default_verifiers, verify
from lamina.memory_store.step_cache import StepCache, StepCall, measured_call

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langgraph.runtime import Runtime

__all__ = [
    "RC_ITERATIONS",
    "RCResult",
    "StepCheck",
    "check_step",
    "degenerate",
    "make_reasoning_node",
    "rc_solve",
]

logger = logging.getLogger(__name__)

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


class _Tally:
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

    def add(self, other: _Tally | RCResult) -> None:
        self.hits += other.hits
        self.misses += other.misses
        self.tokens += other.tokens
        self.saved_tokens += other.saved_tokens
        self.seconds += other.seconds
        self.saved_seconds += other.saved_seconds
        self.prompt_tokens += other.prompt_tokens
        self.semantic_hits += other.semantic_hits
        evaluated = other.evaluated if isinstance(other, _Tally) else other.prompt_tokens_evaluated
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


def _call(
    cache: StepCache | None,
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    template_version: str,
    tally: _Tally,
) -> tuple[str, bool]:
    if cache is None:
        call = measured_call(model, messages)
    else:
        call = cache.call(model, messages, template_version)
    tally.record_call(call)
    return call.text.strip(), call.hit


def _bounded(model: BaseChatModel, max_tokens: int) -> BaseChatModel:
    """`model` with its `max_tokens` capped at `max_tokens`."""
    return with_max_tokens(model, max_tokens, cap_only=True)


def rc_solve(
    problem: str,
    solver: BaseChatModel,
    summariser: BaseChatModel,
    n: int = RC_ITERATIONS,
    cache: StepCache | None = None,
    *,
    prompts: PromptSet | None = None,
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

    Raises:
        ConfigError: `n` < 1.
    """
    if n < 1:
        raise ConfigError(
            f"The Reasoning Cache loop needs at least 1 iteration; found {n}. "
            "Fix: pass rc_iterations >= 1 (2 refines once)."
        )
    p = prompts or load_prompts()
    tally = _Tally()
    bounded_summariser = _bounded(summariser, int(p.get("summarise", "max_tokens")))
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
        new_attempt, _ = _call(cache, solver, solve_messages, p.template_version("solve"), tally)
        iterations += 1
        if attempt and degenerate(new_attempt):
            # Small models sometimes answer a refine prompt by echoing its scaffolding; a
            # refinement must not make the answer worse, so the earlier attempt stands.
            stopped = "the refined attempt was degenerate; kept the earlier attempt"
            break
        attempt = new_attempt
        if i == n - 1:
            break
        summary_messages = _summary_messages(problem, summary, attempt, bounded_summariser, p)
        new_summary, _ = _call(
            cache, bounded_summariser, summary_messages, p.template_version("summarise"), tally
        )
        if degenerate(new_summary):
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


@dataclass(frozen=True)
class StepCheck:
    """What verification did to one step's result.

    Attributes:
        result: the result to pass on (the attempt, its refinement, or the correction).
        verdict: the first check (None: no verifier applies to the step).
        refined: whether a refinement was asked for (the first check failed).
        after: the check of the refinement (None without one).
        corrected: whether the verifier's `correction` replaced a refinement that still failed.
    """

    result: str
    verdict: Verdict | None = None
    refined: bool = False
    after: Verdict | None = None
    corrected: bool = False

    @property
    def passed(self) -> bool | None:
        """Whether the result passed on holds up (None: not checked)."""
        if self.verdict is None:
            return None
        if self.corrected:
            return True
        final = self.after if self.after is not None else self.verdict
        return final.passed

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for the trace."""
        return {
            "verdict": self.verdict.to_dict() if self.verdict else None,
            "refined": self.refined,
            "after_refinement": self.after.to_dict() if self.after else None,
            "corrected": self.corrected,
            "passed": self.passed,
        }


def check_step(
    instruction: str,
    problem: str,
    result: str,
    solver: BaseChatModel,
    cache: StepCache | None,
    verifiers: Sequence[Verifier],
    *,
    earlier: Sequence[dict[str, Any]] = (),
    prompts: PromptSet | None = None,
    tally: _Tally | None = None,
) -> StepCheck:
    """Verify a reasoned step's result; on a failed check refine once, then correct if need be.

    Args:
        instruction: the step's instruction (what the verifiers read).
        problem: the step's full problem text (as `rc_solve` got it).
        result: the step's result so far.
        solver: the model that writes the refinement.
        cache: the step cache (the refinement is cached like any call).
        verifiers: checks to run, first applicable wins (empty: nothing is checked).
        earlier: results of earlier steps ("the result" in an instruction refers to them).
        prompts: the prompt file (default: lamina/prompts/reasoning.toml).
        tally: where the refinement's call is counted.
    """
    verdict = verify(verifiers, instruction, result, earlier) if verifiers else None
    if verdict is None or verdict.passed:
        return StepCheck(result=result, verdict=verdict)
    p = prompts or load_prompts()
    section = "verify_completion" if is_completion_model(solver) else "verify"
    text = p.render(section, "refine", problem=problem, feedback=verdict.feedback)
    if is_completion_model(solver):
        model = with_stop(solver, list(p.get("solve_completion", "stop")))
        messages: list[BaseMessage] = [HumanMessage(text)]
    else:
        model = solver
        messages = [SystemMessage(p.render("solve", "system")), HumanMessage(text)]
    refined, _ = _call(cache, model, messages, p.template_version("verify"), tally or _Tally())
    after = verify(verifiers, instruction, refined, earlier)
    if degenerate(refined) and (after is None or after.correction is None):
        # an echo or a loop is no better than the checked attempt; keep that, marked failed
        return StepCheck(result=result, verdict=verdict, refined=True, after=after)
    if after is None or after.passed:
        return StepCheck(result=refined, verdict=verdict, refined=True, after=after)
    if after.correction is not None:
        logger.info(
            "step %r: the refinement failed its check too (%s); passing on %s",
            instruction[:60],
            after.feedback,
            after.correction,
        )
        return StepCheck(
            result=after.correction, verdict=verdict, refined=True, after=after, corrected=True
        )
    return StepCheck(result=refined, verdict=verdict, refined=True, after=after)


def is_completion_model(model: BaseChatModel) -> bool:
    """True for a base model that continues text (lamina's `prompt_format == "completion"`)."""
    return getattr(model, "prompt_format", "chat-template") == "completion"


def with_stop(model: BaseChatModel, stop: list[str]) -> BaseChatModel:
    """`model` with extra stop sequences (when it has a `stop` field; else unchanged)."""
    if "stop" not in type(model).model_fields:
        return model
    return model.model_copy(update={"stop": [*(getattr(model, "stop", None) or []), *stop]})


def _summary_messages(
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


_SCAFFOLD = re.compile(
    r"(my (latest|earlier) (attempt|summary)|the (new|original) summary|summary of my earlier)",
    re.IGNORECASE,
)


def degenerate(text: str) -> bool:
    """True for output no refinement should keep: empty, echoing the prompt, or looping.

    A loop is a line (of some substance) repeated three times or more.
    """
    stripped = text.strip()
    if not stripped or stripped.lower() in {"(none)", "none"}:
        return True
    if len(_SCAFFOLD.findall(stripped)) >= 2:
        return True
    lines = [line.strip().lower() for line in stripped.splitlines() if len(line.strip()) > 3]
    return any(count >= 3 for count in Counter(lines).values())


def _task_of(state: AgentState) -> str:
    task = state.get("task")
    if not isinstance(task, str) or not task.strip():
        raise ConfigError(
            f"The reasoning node expected state['task'] as non-empty text; found {task!r:.80}. "
            "Fix: put the input layer before reasoning (input → router → memory → reasoning)."
        )
    return task


def _step_problem(
    task: str,
    step: PlanStep,
    total: int,
    state: AgentState,
    results: list[dict[str, Any]],
    p: PromptSet,
) -> str:
    blocks = [render_memories(state.get("memories") or []), render_step_results(results)]
    context = "".join(f"{b}\n\n" for b in blocks if b)
    if total == 1:
        goal = p.render("solve", "goal_single", task=task)
    elif explicit_steps(task):
        # The user's own list: the step depends on the text around the list and the earlier
        # results, not on the other items, so the same step of another task is the same prompt
        # (and a step-cache hit).
        preamble = task_preamble(task)
        given = p.render("solve", "given", preamble=preamble) if preamble else ""
        goal = p.render("solve", "goal_list_step", given=given, instruction=step.instruction)
    else:
        goal = p.render(
            "solve",
            "goal_step",
            task=task,
            number=step.index + 1,
            total=total,
            instruction=step.instruction,
        )
    return p.render("solve", "problem", context=context, goal=goal)


def _budget_answer(
    plan: list[PlanStep],
    results: list[dict[str, Any]],
    step_index: int,
    steps_taken: int,
    max_steps: int,
    p: PromptSet,
) -> str:
    lines = [
        p.render(
            "budget",
            "stopped",
            taken=steps_taken,
            max_steps=max_steps,
            done=len(results),
            total=len(plan),
        )
    ]
    done = render_step_results(results)
    lines.append(
        p.render("budget", "done", results=done) if done else p.render("budget", "nothing_done")
    )
    remaining = [f"step {s.index + 1} ({s.instruction})" for s in plan[step_index:]]
    if remaining:
        lines.append(p.render("budget", "remaining", steps="; ".join(remaining)))
    return "\n".join(lines)


def make_reasoning_node(
    *,
    rc_iterations: int = RC_ITERATIONS,
    summariser_model: str | None = None,
    max_steps: int = 8,
    max_plan_steps: int = 5,
    prompts: PromptSet | None = None,
    verifiers: Sequence[Verifier] | None = None,
) -> LayerNode:
    """The reasoning layer's node.

    Args:
        rc_iterations: attempts of the Reasoning Cache loop per step (N; 1 = no refinement).
            The default is the published algorithm's 3; lamina's default graph passes 1 for
            its tiny default models (see the module docstring).
        summariser_model: model name for the summaries (None: the routed model summarises).
        max_steps: the step budget: once `steps_taken` reaches it with steps left, the node
            answers with what was done instead of handing more steps to execution.
        max_plan_steps: the longest plan the model may write (at least 2).
        prompts: the prompt file (default: lamina/prompts/reasoning.toml).
        verifiers: checks of each reasoned step's result (None: `default_verifiers()`, the
            arithmetic verifier; () checks nothing).

    Returns:
        `node(state, runtime) -> partial state update`; reads `task`, `model`, `memories`,
        `plan`, `step_index`, `step_results`, `steps_taken`; writes `plan`, `step_index`,
        `step_results`, `answer` (only when done) and one `trace` event per visit, whose data
        holds the plan, per-step events (model, cache use, RC iterations, verification), cache
        hits/misses/semantic hits, tokens and seconds spent and saved, and the prompt tokens
        sent and evaluated.

    Raises:
        ConfigError: a bound is out of range.
    """
    if rc_iterations < 1:
        raise ConfigError(
            f"rc_iterations must be at least 1; found {rc_iterations}. Fix: pass 1 or more."
        )
    if max_steps < 1:
        raise ConfigError(f"max_steps must be at least 1; found {max_steps}. Fix: pass 1 or more.")
    if max_plan_steps < 2:
        raise ConfigError(
            f"max_plan_steps must be at least 2; found {max_plan_steps}. Fix: pass 2 or more."
        )
    p = prompts or load_prompts()
    checks: tuple[Verifier, ...] = default_verifiers() if verifiers is None else tuple(verifiers)

    def reasoning_node(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        start = time.perf_counter()
        ctx = runtime.context
        task = _task_of(state)
        model_name = str(state.get("model") or ctx.default_model)
        run_chain = fallback_chain(ctx, state, model_name, None)
        cache: StepCache | None = ctx.step_cache
        tally = _Tally()
        update: dict[str, Any] = {}
        data: dict[str, Any] = {}
        escalations: list[dict[str, Any]] = []

        state_plan = state.get("plan") or []
        if not state_plan:
            outcome, planner, moves = run_with_escalation(
                run_chain,
                lambda name: make_plan(
                    ctx.models.chat_model(name),
                    task,
                    ctx.tools,
                    max_steps=max_plan_steps,
                    cache=cache,
                    prompts=p,
                    relevance=ctx.tool_relevance,
                ),
                layer="reasoning",
            )
            escalations.extend({"stage": "plan", **m} for m in moves)
            data["plan_model"] = planner
            if outcome.cached is not None:
                tally.record(
                    outcome.cached,
                    outcome.tokens,
                    prompt_tokens=outcome.prompt_tokens,
                    evaluated=outcome.prompt_tokens_evaluated,
                )
            plan = [_routed(ctx, state, s, len(outcome.steps)) for s in outcome.steps]
            step_index = 0
            results: list[dict[str, Any]] = []
            update["plan"] = [s.to_dict() for s in plan]
            data["plan_source"] = outcome.source
            if outcome.note:
                data["plan_note"] = outcome.note
        else:
            plan = [PlanStep.from_dict(d, i) for i, d in enumerate(state_plan)]
            step_index = int(state.get("step_index", 0))
            results = list(state.get("step_results") or [])
        steps_taken = int(state.get("steps_taken", 0))

        step_events: list[dict[str, Any]] = []
        answer: str | None = None
        if step_index < len(plan) and steps_taken >= max_steps:
            answer = _budget_answer(plan, results, step_index, steps_taken, max_steps, p)
            data["stopped"] = "max_steps"
        else:
            while step_index < len(plan):
                step = plan[step_index]
                if step.needs_tool and ctx.tools:
                    data["handoff"] = step.index  # execution runs it, then comes back
                    break
                problem = _step_problem(task, step, len(plan), state, results, p)
                step_first = step.model or model_name

                def solve(
                    name: str, problem: str = problem, step: PlanStep = step
                ) -> tuple[RCResult, StepCheck, _Tally]:
                    solver = ctx.models.chat_model(name)
                    summariser = (
                        ctx.models.chat_model(summariser_model) if summariser_model else solver
                    )
                    rc = rc_solve(problem, solver, summariser, rc_iterations, cache, prompts=p)
                    extra = _Tally()
                    check = check_step(
                        step.instruction,
                        problem,
                        rc.attempt,
                        solver,
                        cache,
                        checks,
                        earlier=results,
                        prompts=p,
                        tally=extra,
                    )
                    return rc, check, extra

                (rc, check, extra), used, moves = run_with_escalation(
                    fallback_chain(ctx, state, step_first, step.route),
                    solve,
                    layer="reasoning",
                )
                escalations.extend({"stage": f"step {step.index}", **m} for m in moves)
                tally.add(rc)
                tally.add(extra)
                cached = rc.cached and extra.misses == 0
                result: dict[str, Any] = {
                    "index": step.index,
                    "instruction": step.instruction,
                    "result": check.result,
                    "model": used,
                    "cached": cached,
                    "tool_calls": [],
                }
                if check.verdict is not None:
                    result["verified"] = check.passed
                    final = check.after if check.after is not None else check.verdict
                    if check.passed and final.expected:
                        # the exact value, for later steps and the answer: a small model's
                        # text may hold other numbers after it ("45 is 15 pens at 3 dollars")
                        result["value"] = final.expected
                results.append(result)
                event: dict[str, Any] = {
                    "index": step.index,
                    "model": used,
                    "route": step.route,
                    "cached": cached,
                    "iterations": rc.iterations,
                    "calls": rc.calls + extra.hits + extra.misses,
                    "summariser_model": ((summariser_model or used) if rc.iterations > 1 else None),
                }
                if rc.stopped:
                    event["rc_stopped"] = rc.stopped
                if rc.semantic_hits or extra.semantic_hits:
                    event["semantic_hits"] = rc.semantic_hits + extra.semantic_hits
                if check.verdict is not None:
                    event["verification"] = check.to_dict()
                step_events.append(event)
                step_index += 1
            else:
                answer, _, moves = run_with_escalation(
                    run_chain,
                    lambda name: _final_answer(
                        task, plan, results, ctx.models.chat_model(name), cache, tally, data, p
                    ),
                    layer="reasoning",
                )
                escalations.extend({"stage": "answer", **m} for m in moves)

        update["step_index"] = step_index
        update["step_results"] = results
        if answer is not None:
            update["answer"] = answer
        data.update({"plan": [s.to_dict() for s in plan], "steps": step_events, **tally.to_dict()})
        if escalations:
            data["escalations"] = escalations
        trace_event: TraceEvent = {
            "layer": "reasoning",
            "seconds": time.perf_counter() - start,
            "data": data,
        }
        update["trace"] = [trace_event]
        return update

    return reasoning_node


def _routed(ctx: AgentContext, state: AgentState, step: PlanStep, plan_length: int) -> PlanStep:
    """The step with its own model (step-level routing; see lamina.layers.escalation).

    A plan of one step is the request itself, already routed by the router layer.
    """
    if plan_length < 2:
        return step
    chosen = step_model(ctx, state, step.instruction, plan_length=plan_length)
    return replace(step, model=chosen.model, route=chosen.route, route_reason=chosen.reason)


def _final_answer(
    task: str,
    plan: list[PlanStep],
    results: list[dict[str, Any]],
    model: BaseChatModel,
    cache: StepCache | None,
    tally: _Tally,
    data: dict[str, Any],
    p: PromptSet,
) -> str:
    if len(plan) == 1 and results:
        answer = str(results[-1]["result"]).strip()
        if not answer:
            # an empty answer would not end the graph's loop; say what happened instead
            data["answer_note"] = "the only step's result was empty"
            return p.render("answer", "empty")
        return answer
    if results and all(_exact(r) for r in results):
        # Every result is exact (a tool's, or checked by a verifier): the values are the answer.
        # A small model asked to restate them garbles numbers ("48 - 7 = 32" after steps that
        # gave 48 and 41), so the synthesis is a template here.
        tools_only = all(r.get("tool_calls") for r in results)
        data["synthesis"] = {
            "cached": False,
            "source": "tool results" if tools_only else "exact results",
        }
        return p.render(
            "synthesise",
            "from_tools",
            results=render_step_results(results, header=False),
            last=str(results[-1].get("value") or results[-1]["result"]).strip(),
        )
    messages: list[BaseMessage] = [
        SystemMessage(p.render("synthesise", "system")),
        HumanMessage(
            p.render("synthesise", "user", task=task, results=render_step_results(results))
        ),
    ]
    bounded = _bounded(model, int(p.get("synthesise", "max_tokens")))
    text, hit = _call(cache, bounded, messages, p.template_version("synthesise"), tally)
    data["synthesis"] = {"cached": hit}
    if degenerate(text):
        data["answer_note"] = "the synthesis was empty or degenerate; answered with the results"
        return render_step_results(results)
    return text


def _exact(result: dict[str, Any]) -> bool:
    """A step result whose value is known to be right: a tool's, or one a verifier passed."""
    if result.get("tool_calls"):
        return result.get("status") != "failed"
    return result.get("verified") is True
