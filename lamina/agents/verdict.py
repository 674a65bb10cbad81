"""Whether a finished run did what was asked: the judgement behind `RunResult.ok`.

A wrong answer presented as right is the worst outcome an agent can have, so a run is judged
on its structure, never on how its answer reads:

* a plan step that failed (its tool calls failed, or no tool could be called with the values
  given) fails the run, with the step's calls as what was tried; a step whose fitting tools
  could not take what was given, answered by the model alone, makes the run `unverified`,
  whatever later steps did with its figure;
* a number in the answer must have a source: the request, the memories recalled, the thread's
  earlier messages, a tool's result, a step result a verifier checked, or the plan's own step
  numbers and instructions (a step's own text is the model's: it counts only when a verifier
  checked it). A figure with none came from the model alone; with a 135M model
  that is a guess, so the run says so (`unsupported_figure`) instead of passing it off as a
  result. A figure may be a source rounded to the decimals it is written with (3.14 for
  3.14159);
* when tools were called, each number the request writes with digits must have gone into a
  call that worked (or a step a verifier checked): asked for "3,200 USD a month ... per year in
  euros", SmolLM2 converted 3,200 and answered with that, the 12 months never used
  (`unused_input`). A percentage counts as used as its fraction too (18 % as 0.18); a number
  written as a word from two up counts too ("splitting a 240 dollar bill four ways");
* when tools were called, no word of the request may point to a tool that no successful call
  used (the reasoning layer's `unhandled`, see :mod:`lamina.guards.unfinished`): asked for a
  desk lamp's price "in dollars", SmolLM2 looked the price up in euros and stopped
  (`unfinished`); nor may the answer's figure be in another unit than the one the request
  asks for ("how many weeks" answered in days), also `unfinished`; nor may an answer to
  "which is windier, Denver or Reykjavik?" pick neither (it listed both weather reports),
  also `unfinished`;
* an answer that rests on the model alone (no tool result, no verifier: the reasoning layer
  marks it `answer_unchecked`) is not trusted unless the agent trusts its model
  (`trust_model_answers=True`): asked what blue and yellow paint make, SmolLM2-135M answered "a
  shade of blue"; asked the price of a product a tool knows, it answered "a small price"
  (`unverified`);
* an answer that quotes the request's text for a question about it (the sentences closest to
  the question, :mod:`lamina.layers.reasoning.quotes`) holds only the text's words, but nothing
  checked that they answer the question (`unverified`);
* an answer whose date lies on the wrong side of the date the request counts from ("10 days
  before 2026-01-05" answered 2026-01-15: SmolLM2 added the days) is `contradicted`;
* a run paused for approval, or without an answer, has no answer yet.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

from lamina.core.records import ApprovalRequest, RunError
from lamina.core.serialise import message_text
from lamina.core.text import without_step_labels
from lamina.guards.comparisons import asked_choice, picks_one
from lamina.guards.dates import wrong_way_in_time
from lamina.guards.numbers import (
    NUMBER_IDIOMS,
    grounded_numbers,
    number_words,
    same_figure,
    written_numbers,
)
from lamina.guards.passages import given_passages, takes_a_text
from lamina.layers.execution.grounded_moves import uncallable_text

__all__ = ["judge_run"]


def judge_run(state: Mapping[str, Any], pending: ApprovalRequest | None = None) -> RunError | None:
    """The reason the run's answer is not to be trusted, or None when it is.

    Args:
        state: the graph's final state.
        pending: the tool call the run is paused for, if it is.
    """
    if pending is not None:
        return RunError(
            "awaiting_approval",
            f"The run is paused until a human approves or refuses {pending.tool!r}.",
            pending.step,
            (f"{pending.tool}({pending.args})",),
        )
    answer = str(state.get("answer") or "").strip()
    if not answer:
        return RunError("no_answer", "The run ended without an answer.")
    results: Sequence[Mapping[str, Any]] = state.get("step_results") or []
    if results and not any(str(r.get("result", "")).strip() for r in results):
        return RunError("no_answer", f"The model returned an empty answer; the run says: {answer}")
    for result in results:
        if result.get("status") == "failed":
            calls = result.get("tool_calls") or []
            return RunError(
                "step_failed",
                f"Step {int(result.get('index', 0)) + 1} ({result.get('instruction', '')!s}) "
                f"could not be done: {result.get('result', '')!s}",
                int(result.get("index", 0)),
                tuple(_describe_call(c) for c in calls),
            )
    for result in results:
        if result.get("uncallable"):
            # a step no tool could do was answered by the model alone; a later call that took
            # its figure would pass an invented figure off as a tool's
            return RunError(
                "unverified",
                f"Step {int(result.get('index', 0)) + 1} ({result.get('instruction', '')!s}) was "
                "answered by the model alone, so the answer rests on an unchecked step: no tool "
                f"could be called: {uncallable_text(result['uncallable'])}. Fix: give what the "
                "tool needs in the request.",
                int(result.get("index", 0)),
                tuple(
                    f"{tool} needs {', '.join(args)}" for tool, args in result["uncallable"].items()
                ),
            )
    if any(r.get("quote") for r in results):
        return RunError(
            "unverified",
            "The answer quotes the sentences of the request's text closest to its question; "
            "nothing checked that they answer it. Read the quote, or, with a model you trust, "
            "pass trust_model_answers=True to have the model answer.",
        )
    task = str(state.get("task") or "")
    wrong_way = wrong_way_in_time(task, answer)
    if wrong_way is not None:
        return RunError(
            "contradicted",
            f"{wrong_way}: a step went the wrong way in time (a span added instead of taken "
            "off, or the other way round), so the answer is wrong.",
        )
    unused = _unused_inputs(state)
    if unused:
        return RunError(
            "unused_input",
            f"The request gives {', '.join(unused)}, which went into no tool call: the task was "
            "only partly done, so the answer does not answer it.",
            None,
            tuple(unused),
        )
    unfinished = _unfinished(state.get("unhandled") or [])
    if unfinished is not None:
        return unfinished
    asked = asked_choice(task)
    if asked is not None and asked.things and not picks_one(asked, answer):
        return RunError(
            "unfinished",
            f"The request asks to pick between {' and '.join(asked.things)} ({asked.word!r}), "
            "and the answer picks neither: it gives what was found without comparing it.",
            None,
            asked.things,
        )
    unsupported = _unsupported_figures(answer, state)
    if unsupported:
        return RunError(
            "unsupported_figure",
            f"The answer holds {', '.join(unsupported)}, which no tool returned and the request "
            "never gave: the model produced it without a tool, so it is unchecked.",
            None,
            tuple(unsupported),
        )
    if state.get("answer_unchecked") and len(results) > 1:
        last = results[-1]
        return RunError(
            "unverified",
            f"The plan's last step ({last.get('instruction', '')!s}) was done by the model alone "
            "and nothing checked it, so the answer rests on it and may be wrong. Give the agent "
            "a tool for that step, or, with a model you trust, pass trust_model_answers=True.",
            int(last.get("index", len(results) - 1)),
        )
    if state.get("answer_unchecked"):
        return RunError(
            "unverified",
            "Nothing supports the answer: no tool was called and no check ran, so it is the "
            "model's own and may be wrong. Give the agent a tool that can answer it, or, with a "
            "model you trust, pass trust_model_answers=True.",
        )
    return None


def _unfinished(found: Sequence[Mapping[str, Any]]) -> RunError | None:
    """The `unfinished` error for what the `unfinished_request` guard found, the gravest kind
    first: a unit not converted to, a step the budget left undone, a lookup no product
    followed, a comparison no call made, a rate no count multiplied, a value left out, a word
    no call handled."""
    converted = next((f for f in found if "answered" in f), None)
    if converted is not None:
        return RunError(
            "unfinished",
            f"The request asks for the answer in {converted['word']}, but its figure "
            f"{converted['figure']} is in {converted['answered']}: a conversion the run did not "
            "make.",
            None,
            (f"{converted['figure']} {converted['answered']} -> {converted['word']}",),
        )
    owed = next((f for f in found if "owed" in f), None)
    if owed is not None:
        return RunError(
            "unfinished",
            f"The run still owed the step {owed['owed']!r} when its step budget ran out: the "
            "answer covers only part of the request. Fix: raise max_steps.",
            None,
            (str(owed["owed"]),),
        )
    looked_up = next((f for f in found if "looked_up" in f), None)
    if looked_up is not None:
        return RunError(
            "unfinished",
            f"The run asked {looked_up['looked_up']} for what the request still needed, but no "
            "step combined its result with the others: the answer covers only part of the "
            "request.",
            int(looked_up["step"]),
            (str(looked_up["looked_up"]),),
        )
    compared = next((f for f in found if "compared" in f), None)
    if compared is not None:
        asked = {"ratio": "how many times", "remainder": "what is left"}
        return RunError(
            "unfinished",
            f"The request asks {asked.get(compared['compared'], 'for a difference')}, which "
            "no call worked out: the answer covers only part of the request.",
            None,
            (str(compared["compared"]),),
        )
    rate = next((f for f in found if "rate" in f), None)
    if rate is not None:
        return RunError(
            "unfinished",
            f"The request gives a rate of {rate['rate']}, but nothing counted those things and "
            "no count multiplied it: the answer covers only part of the request.",
            None,
            (str(rate["rate"]),),
        )
    left_out = [f for f in found if "left_out" in f]
    if left_out:
        return RunError(
            "unfinished",
            f"{left_out[0]['tool']} returned {left_out[0]['left_out']}, which nothing after it "
            "used and the answer does not give: the answer was worked out without it.",
            None,
            tuple(f"{f['tool']} -> {f['left_out']}" for f in left_out),
        )
    words = [f for f in found if "similarity" in f]
    if words:
        first = words[0]
        return RunError(
            "unfinished",
            f"The request also asks about {first['word']!r}, which none of the tool calls "
            f"handled (it points to {first['tool']}, similarity {first['similarity']:.2f}): "
            "the answer covers only part of the request.",
            None,
            tuple(f"{u['word']} -> {u['tool']} ({u['similarity']:.2f})" for u in words),
        )
    return None


def _describe_call(call: Mapping[str, Any]) -> str:
    outcome = f"error: {call['error']}" if call.get("error") else f"-> {call.get('result')}"
    return f"{call.get('name')}({call.get('args')}) {outcome}"


def _sources(state: Mapping[str, Any]) -> list[str]:
    """Every text a figure of the answer may come from (not the answer itself)."""
    texts = [str(state.get("task") or "")]
    texts += [str(m.get("text", "")) for m in state.get("memories") or []]
    messages: list[BaseMessage] = list(state.get("messages") or [])
    if messages and isinstance(messages[-1], AIMessage):
        messages = messages[:-1]  # the answer of this run
    texts += [without_step_labels(message_text(m)) for m in messages]  # "Step 1" is no figure
    plan = state.get("plan") or []
    texts += [str(step.get("instruction", "")) for step in plan if isinstance(step, Mapping)]
    texts.append(" ".join(str(i + 1) for i in range(len(plan))))  # "Step 1", "Step 2", ...
    for result in state.get("step_results") or []:
        calls = result.get("tool_calls") or []
        # a tool's results are sources; the step's own text is the model's, unless verified
        texts += [str(c.get("result")) for c in calls if c.get("result") is not None]
        if result.get("verified") is True:
            texts.append(str(result.get("result", "")))
    return texts


_LIST_MARKER = re.compile(r"^\s*(?:step\s*)?\d{1,2}[.):]\s", re.IGNORECASE | re.MULTILINE)
"""A numbered list's markers ("1. Open a ticket", "Step 2: ...") are not numbers of the task."""


def _given_texts_only(args: Any, passages: Sequence[str]) -> Any:
    """`args` without the text arguments whose text is in no passage the request gave."""
    if not isinstance(args, dict):
        return args
    return {
        k: v
        for k, v in args.items()
        if not (takes_a_text(str(k), {}) and isinstance(v, str))
        or any(v.strip() and v.strip() in p for p in passages)
    }


def _unused_inputs(state: Mapping[str, Any]) -> list[str]:
    """The numbers of the request that no successful tool call (or verified step) used; none
    when no tool was called (then every figure of the answer needs a source instead)."""
    used_texts: list[str] = []
    as_figures: list[str] = []  # not a text a tool works on ("Count the words in: ...")
    passages = given_passages([str(state.get("task") or "")])
    for result in state.get("step_results") or []:
        calls = [c for c in result.get("tool_calls") or [] if c.get("error") is None]
        # a text a tool worked on uses the figures in it only when the request gave it as a
        # passage: word_count("What's 19 times 21") = 4 did not use 19 and 21
        used_texts += [
            json.dumps(_given_texts_only(c.get("args"), passages), default=str) for c in calls
        ]
        as_figures += [
            json.dumps({k: v for k, v in args.items() if not takes_a_text(str(k), {})}, default=str)
            for c in calls
            if isinstance(args := c.get("args"), dict)
        ]
        if result.get("verified") is True:
            used_texts.append(str(result.get("instruction", "")))
            as_figures.append(str(result.get("instruction", "")))
    if not used_texts:
        return []
    used, literals = grounded_numbers(used_texts)
    unused = []
    earlier = _figures_referred_to(state)
    # the thread's last answer counted as a text ("9.60, total: 73.60") is not used as a figure
    figures, _ = grounded_numbers(as_figures)
    if earlier and not any(same_figure(figure, u) for figure in earlier for u in figures):
        unused.append(f"that ({earlier[-1]}, the thread's last answer)")
    task = _LIST_MARKER.sub(" ", str(state.get("task") or ""))
    counted = [(w, v) for w, v in number_words(task) if v >= 2 and w.lower() not in NUMBER_IDIOMS]
    for text, value in [*written_numbers(task), *counted]:
        if text.replace(",", "") in literals:
            continue
        if any(abs(u - value) < 1e-9 or abs(u - value / 100.0) < 1e-9 for u in used):
            continue  # as written, or a percentage as its fraction
        unused.append(text)
    return list(dict.fromkeys(unused))


_REFERENCE = re.compile(
    r"\bthat\b|\bit\b(?=\s+(?:plus|minus|times|divided|multiplied)\b)"
    r"|\bthe\s+(?:total|bill|sum|amount|result)\b"
    r"|\b(?:all|each|both)\s+of\s+them\b|\bthem\s+(?:all|together)\b|\bthose\b",
    re.IGNORECASE,
)
"""Words that refer back: "that", "it" with an operation ("it divided by 4"; not "is it above
50 F?"), "the total" and its like ("Split the total 3 ways"), and the things counted ("What
would all of them cost together?" after "12")."""


def _figures_referred_to(state: Mapping[str, Any]) -> list[str]:
    """The figures of the thread's last answer's last line that holds any, when the request
    refers to it ("and what is that plus 10?": "that" comes before any figure of the request's
    own), else []. A call that used one of them used what "that" is ("What's that in
    Fahrenheit?" after "Lisbon: 21 °C, ..., humidity 60 %" converts the 21)."""
    task = str(state.get("task") or "")
    reference = _REFERENCE.search(task)
    own = written_numbers(task)
    if reference is None or (own and task.find(own[0][0]) < reference.start()):
        return []
    messages = list(state.get("messages") or [])
    asked = max((i for i, m in enumerate(messages) if getattr(m, "type", "") == "human"), default=0)
    for message in reversed(messages[:asked]):
        content = getattr(message, "content", None)
        if getattr(message, "type", "") == "ai" and isinstance(content, str):
            lines = [line for line in content.splitlines() if written_numbers(line)]
            return [text for text, _ in written_numbers(lines[-1])] if lines else []
    return []


def _unsupported_figures(answer: str, state: Mapping[str, Any]) -> list[str]:
    known, _ = grounded_numbers(_sources(state))
    return [
        text for text, _ in written_numbers(answer) if not any(same_figure(text, k) for k in known)
    ]
