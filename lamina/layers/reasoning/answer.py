"""The run's answer once every step is done: the only step's result, or a short synthesis of
several results (:func:`final_answer`)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from lamina.core.context import StepCacheLike
from lamina.core.text import render_step_results
from lamina.guards.degenerate import degenerate
from lamina.guards.numbers import is_figure
from lamina.guards.tool_calls import ignores_results
from lamina.layers.reasoning.final_arithmetic import threshold_answer
from lamina.layers.reasoning.lookup_answers import choice_answer, lookups_listed
from lamina.layers.reasoning.plan import PlanStep
from lamina.layers.reasoning.prompts import PromptSet
from lamina.layers.reasoning.rc_loop import (
    Tally,
    cached_call,
    capped,
)

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool

__all__ = ["budget_answer", "final_answer", "rests_on_the_model"]

logger = logging.getLogger(__name__)


def final_answer(
    task: str,
    plan: list[PlanStep],
    results: list[dict[str, Any]],
    model: BaseChatModel,
    cache: StepCacheLike | None,
    tally: Tally,
    data: dict[str, Any],
    p: PromptSet,
    unusable: Callable[[str], bool] = degenerate,
    keep_results: bool = True,
    tools: Mapping[str, BaseTool] | None = None,
) -> str:
    """The answer: the only step's result, or a synthesis of the results (noted in `data`).

    With `keep_results` (the `ignored_results` guard), a synthesis that quotes no figure of
    the tool results gives way to the results themselves. With `tools`, a request that asks
    to pick one of the things it names is answered with the pick the lookups' figures make
    (:func:`~lamina.layers.reasoning.lookup_answers.choice_answer`)."""
    chosen = choice_answer(task, results, tools) if tools else None
    if chosen is not None:
        data["choice"] = chosen
    if len(plan) == 1 and results and chosen is not None:
        return chosen
    if len(plan) == 1 and results:
        written = _figure_with_unit(plan[0], results[-1])
        if written is not None:
            return written  # "10 lb": the figure of a step the plan wrote, in its unit
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
        last = str(results[-1].get("value") or results[-1]["result"]).strip()
        if plan[-1].unit and is_figure(last):
            last = f"{last} {plan[-1].unit}"  # "24 weeks": the unit the last step converted to
        last = threshold_answer(task, plan[-1], last) or last  # "Yes: 51.8 ... is above 50"
        # "Lisbon is warmer than ..."; "phone case: 15.0; backpack: 59.9"
        last = chosen or lookups_listed(plan, results) or last
        return p.render(
            "synthesise",
            "from_tools",
            results=render_step_results(results, header=False),
            last=last,
        )
    messages: list[BaseMessage] = [
        SystemMessage(p.render("synthesise", "system")),
        HumanMessage(
            p.render("synthesise", "user", task=task, results=render_step_results(results))
        ),
    ]
    bounded = capped(model, int(p.get("synthesise", "max_tokens")))
    text, hit = cached_call(cache, bounded, messages, p.template_version("synthesise"), tally)
    data["synthesis"] = {"cached": hit}
    if unusable(text):
        data["answer_note"] = "the synthesis was empty or degenerate; answered with the results"
        return render_step_results(results)
    if keep_results and ignores_results(text, _tool_results(results)):
        # "The answer is not provided." after a step whose tool returned the figure
        data["answer_note"] = "the synthesis quoted none of the tool results; answered with them"
        return render_step_results(results)
    return text


def _figure_with_unit(step: PlanStep, result: dict[str, Any]) -> str | None:
    """The figure of the last call that worked, with the step's unit, for a step with a unit
    whose calls worked; else None. "A sack of flour is 2 lb. How many kg are 5 sacks?" was
    answered "The final answer is 10.": a bare figure no conversion into kg could follow."""
    if not step.unit or not _exact(result):
        return None
    figures = [r for r in _tool_results([result]) if is_figure(r.strip())]
    return f"{figures[-1].strip()} {step.unit}" if figures else None


def _tool_results(results: list[dict[str, Any]]) -> list[str]:
    return [
        str(call["result"])
        for result in results
        for call in result.get("tool_calls") or []
        if call.get("error") is None and call.get("result") is not None
    ]


def rests_on_the_model(
    results: list[dict[str, Any]], answer: str = "", state: Mapping[str, Any] | None = None
) -> bool:
    """No step's result came from a tool call that worked or passed a verifier, and the answer
    takes nothing from a recalled memory: the answer is the model's own (for a 135M model, a
    guess as often as not). So is the answer of a plan whose last step the model did alone:
    "Convert 72 Fahrenheit to Celsius, then round it" was answered "22.222 Celsius", ok, the
    conversion's figure standing for a rounding nothing checked."""
    if len(results) > 1 and not _exact(results[-1]):
        return True
    for result in results:
        if result.get("verified") is True:
            return False
        for call in result.get("tool_calls") or []:
            if call.get("error") is None and call.get("result") is not None:
                return False
    return not (state is not None and _recalled(answer, state))


_FACT = re.compile(r"\d+(?:[.,]\d+)*|(?<=\w )[A-Z][^\W\d_]+")
"""A number, or a capitalised word inside a sentence (a name: "Lyon", "T-4711")."""


def _recalled(answer: str, state: Mapping[str, Any]) -> bool:
    """Does the answer hold a number or a name from a recalled memory that the request does not
    hold ("15" from "My bike lock costs 15 dollars." for "How much does my bike lock cost?")?"""
    asked = set(_FACT.findall(str(state.get("task") or "")))
    said = set(_FACT.findall(answer)) - asked
    memories = state.get("memories") or []
    return any(said & set(_FACT.findall(str(m.get("text", "")))) for m in memories)


def _exact(result: dict[str, Any]) -> bool:
    """A step result whose value is known to be right: a tool's, or one a verifier passed."""
    if result.get("tool_calls"):
        return result.get("status") != "failed"
    return result.get("verified") is True


def budget_answer(
    plan: list[PlanStep],
    results: list[dict[str, Any]],
    step_index: int,
    steps_taken: int,
    max_steps: int,
    p: PromptSet,
) -> str:
    """The answer when the step budget ran out: what was done and what was not."""
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
