"""Grounding applied to one step's moves (:mod:`lamina.guards.grounding` does the narrowing).

What a step was given (:func:`given_texts`), the tools narrowed to it for one move
(:func:`grounded_tools`), the values a failure rules out (:func:`failed_values`), the encoder's
shortlist of spans (:func:`span_shortlist`) and whether the step's numbers are all used
(:func:`inputs_used`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.tools import BaseTool

from lamina.core.serialise import json_safe, message_text
from lamina.core.text import resolve_references, without_step_labels
from lamina.guards.grounding import Grounding
from lamina.guards.numbers import grounded_numbers, written_numbers
from lamina.layers.execution.calls import CallError
from lamina.layers.reasoning.thread import counted_earlier
from lamina.models.tool_calls import to_openai_tool

if TYPE_CHECKING:
    from lamina.core.context import ToolWeigher
    from lamina.core.state import AgentState

__all__ = [
    "SPANS_OFFERED",
    "earlier_turns",
    "failed_values",
    "given_texts",
    "grounded_tools",
    "inputs_used",
    "listed_values",
    "missing_arguments",
    "span_shortlist",
    "uncallable_text",
]

SPANS_OFFERED = 6
"""Spans of what was given offered for one string argument, the closest in meaning first."""


def earlier_turns(messages: Sequence[BaseMessage]) -> Sequence[BaseMessage]:
    """The thread's messages before this turn's request (its last human message)."""
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return messages[:i]
    return messages


def given_texts(state: AgentState, instruction: str, results: Sequence[str]) -> list[str]:
    """Where an argument's values may come from (never a tool's description).

    A step of a longer plan is grounded in its own instruction (with the value it refers to
    written in), the earlier steps' results, the memories, the thread's earlier turns and this
    step's tool `results`: not in the whole request, whose other numbers belong to other steps
    (offered 12 and 7 again for "add 15 to that result", SmolLM2 computed 12 * 7 a second
    time). A one-step task, or a step whose plan dropped every number, is grounded in the
    request too. A step lamina added to the plan (`added_for`) that writes figures is grounded
    in its own words and this step's results alone.
    """
    earlier = state.get("step_results", []) or []
    step = resolve_references(instruction, earlier)
    plan, index = state.get("plan") or [], state.get("step_index", 0)
    if 0 <= index < len(plan) and plan[index].get("added_for") and grounded_numbers([step])[0]:
        # a step lamina wrote holds its figures ("Convert -3 degrees celsius to ..."): offered
        # the wind's 9 km/h of the result it came from as well, SmolLM2 converted 9
        return [step, *results]
    texts = [step]
    texts += [str(m.get("text", "")) for m in state.get("memories", []) or []]
    texts += [str(r.get("result", "")) for r in earlier]
    turns = earlier_turns(state.get("messages", []) or [])
    texts += [without_step_labels(message_text(m)) for m in turns]
    # "all of them" after "12" standing desks: the 12 counts desks (no weight in kg)
    counted = counted_earlier(str(state.get("task") or ""), state.get("messages", []) or [])
    texts += [counted] if counted else []
    texts += list(results)
    if len(state.get("plan") or []) <= 1 or not Grounding.from_texts([step]).numbers:
        texts.append(str(state.get("task") or ""))
        texts.append(instruction)
    return texts


def grounded_tools(
    tools: Mapping[str, BaseTool],
    grounding: Grounding,
    excluded: Mapping[str, Mapping[str, set[Any]]],
    shortlist: Callable[[str, list[str]], list[str]] | None,
    listed: Mapping[str, Mapping[str, list[str]]] | None = None,
) -> list[dict[str, Any]]:
    """The tools as OpenAI tool dicts with their schemas narrowed to `grounding`; a tool that
    cannot be called with what was given is left out. `listed`: by tool and argument, the
    values the tool's errors listed (see :func:`listed_values`)."""
    offered = []
    for t in tools.values():
        spec = to_openai_tool(t)
        function = spec["function"]
        narrowed = grounding.narrow(
            function.get("parameters") or {"type": "object"},
            excluded.get(function["name"]),
            shortlist,
            (listed or {}).get(function["name"]),
        )
        if narrowed is not None:
            offered.append({**spec, "function": {**function, "parameters": narrowed}})
    return offered


def missing_arguments(tools: Mapping[str, BaseTool], grounding: Grounding) -> dict[str, list[str]]:
    """By tool, the required arguments that nothing given can fill (`days_between`: start and
    end, for "how many days are in a week?", which gives no date)."""
    missing = {}
    for name, t in tools.items():
        parameters = to_openai_tool(t)["function"].get("parameters") or {}
        properties = parameters.get("properties") or {}
        lacking = [
            arg
            for arg in parameters.get("required") or []
            if arg in properties
            and grounding.narrow(
                {"type": "object", "properties": {arg: properties[arg]}, "required": [arg]}
            )
            is None
        ]
        missing[name] = lacking
    return missing


def uncallable_text(missing: Mapping[str, Sequence[str]]) -> str:
    """What `missing_arguments` found, as a sentence's clause."""
    lacking = [f"{tool} needs {' and '.join(args)}" for tool, args in missing.items() if args]
    if not lacking:
        return "no tool it could call can take the values given"
    return f"{'; '.join(lacking)}, which neither the request nor an earlier result gives"


def span_shortlist(
    relevance: ToolWeigher | None,
) -> Callable[[str, list[str]], list[str]] | None:
    """With tool relevance, a string argument is offered the spans closest to it in meaning:
    offered every span, SmolLM2 took the longest ("the unit price of a melon")."""
    if relevance is None:
        return None
    return lambda what, spans: relevance.closest(what, spans, SPANS_OFFERED)


_LIST = re.compile(r":\s*([^:;]+?)\s*\.?\s*$")


def listed_values(error: str) -> list[str]:
    """The values a tool's error lists after its last colon ("Unknown product 'the'; the
    catalogue has: kettle, toaster." → ["kettle", "toaster"]), the shape lamina's errors and
    most tools' take to say what is accepted; [] when the error lists nothing."""
    match = _LIST.search(error.strip())
    if match is None:
        return []
    items = [item.strip().strip("'\"`") for item in re.split(r",|\bor\b", match.group(1))]
    if len(items) < 2 or not all(item and len(item.split()) <= 4 for item in items):
        return []  # a sentence with a comma, not a list of values
    return items


def failed_values(args: Any, failure: CallError) -> dict[str, Any]:
    """The argument values a failure is about, to offer no more in this step: those its error
    names, every one of a refused call, the only argument of a one-argument call, or, for a
    call that used a number twice, the later argument that repeats an earlier one's value."""
    if not isinstance(args, dict):
        return {}
    plain = {
        key: value
        for key, value in args.items()
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    }
    if failure.kind == "refused" or len(args) == 1:
        return plain
    if failure.kind == "unused_input":
        # a value repeated in a later argument is the repeat: `days_between("2025-02-14",
        # "2025-02-14")` for "Feb 14 to September 1st" was decoded three times, identical
        seen: list[Any] = []
        repeats = {}
        for key, value in plain.items():
            if value in seen:
                repeats[key] = value
            seen.append(value)
        if repeats:
            return repeats
    return {
        key: value
        for key, value in plain.items()
        if repr(value) in failure.error or f'"{value}"' in failure.error
    }


def inputs_used(step: str, successful_args: Sequence[Any]) -> bool:
    """Every number `step` gives went into a call that worked (False when it gives none): the
    figures as written, a percentage as itself or as its fraction. Not the 0.12 and 100 that
    "12%" is also grounded as: wanted too, they kept the stop from ever coming on a request
    with a percentage ("a 12% tip on 85 dollars": after `add_tip(85, 12)`, SmolLM2 tipped the
    tip three times and answered "total: 0.17", ok)."""
    given = Grounding.from_texts([step])
    derived = {p / 100 for p in given.percentages} | set(given.only_in_arithmetic)
    written = {v for _, v in written_numbers(step)}
    wanted = {round(v, 9) for v in given.numbers if v not in derived or v in written}
    if not wanted:
        return False
    used: set[float] = set()
    for args in successful_args:
        text = json.dumps(json_safe(args))
        used.update(round(v, 9) for v in Grounding.from_texts([text]).numbers)
    percent = {round(p, 9) for p in given.percentages}
    return all(v in used or (v in percent and round(v / 100, 9) in used) for v in wanted)
