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

After a step is reasoned, verifiers check its result (`verification.py`; by default
arithmetic the calculator can evaluate). A failed check triggers one refinement with the
verifier's feedback; if that fails too and the verifier knows the right value, that value is
passed on instead of a wrong one. Verdicts go into the trace.

Where things are: `node.py` (this module) has the node; `rc_loop.py` the Reasoning Cache loop;
`planning.py`, `plan.py`, `task_split.py` and `prompts.py` the plan; `checks.py` and
`verification.py` the checks of a step's result.

The node walks the plan: a step that needs a tool is handed to the execution layer (the node
returns without an `answer`); any other step is reasoned here. When every step is done it sets
`answer`: the only step's result, or a short synthesis of several results.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from lamina.config.options import Guards
from lamina.core.context import AgentContext, StepCacheLike
from lamina.core.nodes import LayerNode
from lamina.core.state import AgentState, TraceEvent
from lamina.errors import ConfigError
from lamina.guards.degenerate import degenerate, empty
from lamina.guards.result_units import with_result_units
from lamina.guards.unfinished import left_out_values, unfinished_findings
from lamina.layers.escalation import fallback_chain, run_with_escalation, step_model
from lamina.layers.reasoning.answer import budget_answer, final_answer, rests_on_the_model
from lamina.layers.reasoning.checks import StepCheck, check_step
from lamina.layers.reasoning.continuation import follow_up_step
from lamina.layers.reasoning.identifiers import identifier_update
from lamina.layers.reasoning.owed_steps import step_still_owed
from lamina.layers.reasoning.plan import PlanStep
from lamina.layers.reasoning.planning import make_plan
from lamina.layers.reasoning.prompts import PromptSet, load_prompts
from lamina.layers.reasoning.quotes import quote_update
from lamina.layers.reasoning.rc_loop import RC_ITERATIONS, RCResult, Tally, rc_solve
from lamina.layers.reasoning.references import referenced_step
from lamina.layers.reasoning.step_problem import step_problem
from lamina.layers.reasoning.summarise import summary_update
from lamina.layers.reasoning.thread import counted_earlier, earlier_answer, task_of
from lamina.layers.reasoning.verification import Verifier, default_verifiers

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

logger = logging.getLogger(__name__)

__all__ = ["make_reasoning_node"]


def make_reasoning_node(
    *,
    rc_iterations: int = RC_ITERATIONS,
    summariser_model: str | None = None,
    max_steps: int = 8,
    max_plan_steps: int = 5,
    prompts: PromptSet | None = None,
    verifiers: Sequence[Verifier] | None = None,
    guards: Guards | None = None,
    trust_model_answers: bool = False,
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
        guards: the small-model guards that run (None: all); here `degenerate_output`,
            `ignored_results`, `unfinished_request`, `finish_conversions` and
            `combine_results`.
        trust_model_answers: an answer no tool result or check supports counts as an answer;
            False (the default) marks it unchecked, so `RunResult.ok` is False ("unverified").

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
    unusable = degenerate if (guards or Guards()).degenerate_output else empty
    solve_rc = partial(rc_solve, prompts=p, unusable=unusable)
    keep_results = (guards or Guards()).ignored_results
    finish = (guards or Guards()).finish_conversions
    combine = (guards or Guards()).combine_results
    answer_with = partial(final_answer, unusable=unusable, keep_results=keep_results)

    def reasoning_node(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        start = time.perf_counter()
        ctx = runtime.context
        task = task_of(state)
        model_name = str(state.get("model") or ctx.default_model)
        run_chain = fallback_chain(ctx, state, model_name, None)
        cache: StepCacheLike | None = ctx.step_cache
        tally = Tally()
        update: dict[str, Any] = {}
        data: dict[str, Any] = {}
        escalations: list[dict[str, Any]] = []

        state_plan = state.get("plan") or []
        route = state.get("route") or {}
        if not state_plan and route.get("task") == "summarise":
            return summary_update(task, start)
        extracted = None if state_plan else identifier_update(task, start)
        if extracted is not None:
            return extracted  # "What's the order number?" of an email the request gives
        results: list[dict[str, Any]] = []
        follow_up = None if state_plan else follow_up_step(task, earlier_answer(state), ctx.tools)
        if follow_up is not None:
            # "and in yen?": the step the reference stands for, not a plan by the model
            plan, step_index = [follow_up], 0
            update["plan"] = [follow_up.to_dict()]
            data["plan_source"] = "reference"
        elif not state_plan:
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
                    convert_inputs=finish,
                    combine=combine,
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
            quoted = None if trust_model_answers else quote_update(task, plan, start)
            if quoted is not None:
                return quoted  # a question about a text the request gives: its own sentences
            step_index = 0
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
            answer = budget_answer(plan, results, step_index, steps_taken, max_steps, p)
            data["stopped"] = "max_steps"
        else:
            while step_index < len(plan):
                step = plan[step_index]
                referenced = referenced_step(step, results, ctx.tools) if combine else None
                if referenced is not None:  # "Double it" after 16.093 km: 16.093 * 2
                    step = plan[step_index] = referenced
                    update["plan"] = [s.to_dict() for s in plan]
                if step.needs_tool and ctx.tools:
                    data["handoff"] = step.index  # execution runs it, then comes back
                    break
                problem = step_problem(task, step, len(plan), state, results, p)
                step_first = step.model or model_name

                def solve(
                    name: str, problem: str = problem, step: PlanStep = step
                ) -> tuple[RCResult, StepCheck, Tally]:
                    solver = ctx.models.chat_model(name)
                    summariser = (
                        ctx.models.chat_model(summariser_model) if summariser_model else solver
                    )
                    rc = solve_rc(problem, solver, summariser, rc_iterations, cache)
                    extra = Tally()
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
                        unusable=unusable,
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
                    lambda name: answer_with(
                        task,
                        plan,
                        results,
                        ctx.models.chat_model(name),
                        cache,
                        tally,
                        data,
                        p,
                        tools=ctx.tools,
                    ),
                    layer="reasoning",
                )
                escalations.extend({"stage": "answer", **m} for m in moves)

        found: list[dict[str, Any]] = []
        calls = [c for r in results for c in r.get("tool_calls") or []]
        if answer is not None:
            answer = with_result_units(answer, calls, ctx.tools)
        if answer is not None and (guards or Guards()).unfinished_request:
            found = unfinished_findings(task, answer, calls, ctx.tools, ctx.tool_relevance)
        added = None
        if answer is not None and ctx.tools:
            relevance = ctx.tool_relevance
            fit = relevance.assess(task, ctx.tools) if relevance is not None else None
            added = step_still_owed(
                task,
                calls,
                found,
                plan,
                ctx.tools,
                convert=finish,
                combine=combine,
                fit=fit,
                counted_before=counted_earlier(task, state.get("messages", [])),
            )
        if added is None and answer is not None and (guards or Guards()).unfinished_request:
            found += left_out_values(task, answer, calls, ctx.tools)
        if added is not None and steps_taken >= max_steps:
            found.append({"owed": added.instruction})  # the step budget ran out before it
        if added is not None and steps_taken < max_steps:
            # re-plan from the unfinished answer: one more tool step, run by execution
            plan.append(_routed(ctx, state, added, len(plan) + 1))
            update["plan"] = [s.to_dict() for s in plan]
            data["handoff"] = added.index
            data["added_step"] = added.to_dict()
            answer, found = None, []
        update["step_index"] = step_index
        update["step_results"] = results
        if answer is not None:
            update["answer"] = answer
            unchecked = rests_on_the_model(results, answer, state)
            update["answer_unchecked"] = not trust_model_answers and unchecked
            if (guards or Guards()).unfinished_request:
                update["unhandled"] = found
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
