"""Reasoning layer: plan the task, reason on each step with the Reasoning Cache loop, answer.

The Reasoning Cache loop (arXiv 2602.03773) refines an answer without a growing context:

    summary = None
    for i in range(N):
        attempt = solve(problem, summary)
        if last: break
        summary = summarise(problem, summary, attempt)   # short, first person, no new reasoning
    return attempt

Each solve prompt carries only the problem and the latest summary; the earlier attempt is dropped.
Every solve, summarise, plan and synthesis call goes through the step cache (when the runtime
context has one), so a step computed before is served from disk, with hits counted in the trace.

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
    load_prompts,
    make_plan,
    with_max_tokens,
)
from lamina.memory_store.step_cache import StepCache, invoke_measured

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langgraph.runtime import Runtime

__all__ = ["RCResult", "make_reasoning_node", "rc_solve"]

logger = logging.getLogger(__name__)


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
    """Cache hits, misses and tokens of one node visit."""

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self.tokens = 0
        self.saved_tokens = 0

    def record(self, hit: bool, tokens: int) -> None:
        if hit:
            self.hits += 1
            self.saved_tokens += tokens
        else:
            self.misses += 1
            self.tokens += tokens


def _call(
    cache: StepCache | None,
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    template_version: str,
    tally: _Tally,
) -> tuple[str, bool]:
    if cache is None:
        text, tokens, _ = invoke_measured(model, messages)
        hit = False
    else:
        text, hit, tokens = cache.cached_invoke(model, messages, template_version)
    tally.record(hit, tokens)
    return text.strip(), hit


def _bounded(model: BaseChatModel, max_tokens: int) -> BaseChatModel:
    """`model` with its `max_tokens` capped at `max_tokens`."""
    return with_max_tokens(model, max_tokens, cap_only=True)


def rc_solve(
    problem: str,
    solver: BaseChatModel,
    summariser: BaseChatModel,
    n: int,
    cache: StepCache | None,
    *,
    prompts: PromptSet | None = None,
) -> RCResult:
    """Run the Reasoning Cache loop on `problem` for `n` attempts; the last attempt answers.

    Args:
        problem: the full problem text (context, task, step).
        solver: writes the attempts.
        summariser: writes the summaries (capped at `[summarise] max_tokens`).
        n: number of attempts (at least 1); 2n - 1 model calls.
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
    )


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
    rc_iterations: int = 2,
    summariser_model: str | None = None,
    max_steps: int = 8,
    max_plan_steps: int = 5,
    prompts: PromptSet | None = None,
) -> LayerNode:
    """The reasoning layer's node.

    Args:
        rc_iterations: attempts of the Reasoning Cache loop per step (N; 1 = no refinement).
        summariser_model: model name for the summaries (None: the routed model summarises).
        max_steps: the step budget: once `steps_taken` reaches it with steps left, the node
            answers with what was done instead of handing more steps to execution.
        max_plan_steps: the longest plan the model may write (at least 2).
        prompts: the prompt file (default: lamina/prompts/reasoning.toml).

    Returns:
        `node(state, runtime) -> partial state update`; reads `task`, `model`, `memories`,
        `plan`, `step_index`, `step_results`, `steps_taken`; writes `plan`, `step_index`,
        `step_results`, `answer` (only when done) and one `trace` event per visit.

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
                ),
                layer="reasoning",
            )
            escalations.extend({"stage": "plan", **m} for m in moves)
            data["plan_model"] = planner
            if outcome.cached is not None:
                tally.record(outcome.cached, outcome.tokens)
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

                def solve(name: str, problem: str = problem) -> RCResult:
                    solver = ctx.models.chat_model(name)
                    summariser = (
                        ctx.models.chat_model(summariser_model) if summariser_model else solver
                    )
                    return rc_solve(problem, solver, summariser, rc_iterations, cache, prompts=p)

                rc, used, moves = run_with_escalation(
                    fallback_chain(ctx, state, step_first, step.route),
                    solve,
                    layer="reasoning",
                )
                escalations.extend({"stage": f"step {step.index}", **m} for m in moves)
                tally.hits += rc.hits
                tally.misses += rc.misses
                tally.tokens += rc.tokens
                tally.saved_tokens += rc.saved_tokens
                results.append(
                    {
                        "index": step.index,
                        "instruction": step.instruction,
                        "result": rc.attempt,
                        "model": used,
                        "cached": rc.cached,
                        "tool_calls": [],
                    }
                )
                step_events.append(
                    {
                        "index": step.index,
                        "model": used,
                        "route": step.route,
                        "cached": rc.cached,
                        "iterations": rc.iterations,
                        "calls": rc.calls,
                        "summariser_model": (
                            (summariser_model or used) if rc.iterations > 1 else None
                        ),
                        **({"rc_stopped": rc.stopped} if rc.stopped else {}),
                    }
                )
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
        data.update(
            {
                "plan": [s.to_dict() for s in plan],
                "cache_hits": tally.hits,
                "cache_misses": tally.misses,
                "steps": step_events,
                "tokens": tally.tokens,
                "tokens_saved": tally.saved_tokens,
            }
        )
        if escalations:
            data["escalations"] = escalations
        event: TraceEvent = {
            "layer": "reasoning",
            "seconds": time.perf_counter() - start,
            "data": data,
        }
        update["trace"] = [event]
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
    if results and all(r.get("tool_calls") and r.get("status") != "failed" for r in results):
        # Every result came from a tool: the exact values are the answer. A small model asked to
        # restate them would garble numbers, so the synthesis is a template here.
        data["synthesis"] = {"cached": False, "source": "tool results"}
        return p.render(
            "synthesise",
            "from_tools",
            results=render_step_results(results, header=False),
            last=str(results[-1]["result"]).strip(),
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
