"""Guards on a small model's tool calls and final text (findings, not exceptions).

- :func:`copied_example`: a string argument copied from the tool's description (`"e.g. 'Lyon'"`)
  while the task never mentions it; the execution layer sends such a call back.
- :func:`echoes_instructions`: a "final answer" that only plays back the tool instructions (a JSON
  object, or a tool's or argument's description word for word); the execution layer then keeps
  the step's last tool result instead.
- :func:`ignores_results`: a "final answer" that takes no figure from the tool results it follows
  ("The answer is not provided." after `weather` returned 31 °C); the step then keeps its last
  tool result too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.tools import BaseTool
from pydantic import BaseModel

from lamina.guards.numbers import same_figure, written_numbers
from lamina.guards.units import names_a_given_unit

__all__ = ["copied_example", "description_text", "echoes_instructions", "ignores_results"]


def copied_example(
    t: BaseTool, args: Mapping[str, Any], given: Sequence[str]
) -> tuple[str, str] | None:
    """The first string argument copied from the tool's own description instead of the task,
    as `(argument, value)`, or None.

    Small models copy the example in an argument's description (`"e.g. 'Lyon'"`) in place of
    the value the task names; the call is valid and runs, and the wrong value flows on. A value
    that appears in the tool's description or argument descriptions, while neither it nor any of
    its words appears in what the model was given (`given`: the task, the step, memories,
    earlier results), is a finding; the execution layer sends such a call back as failed. The
    whole task counts, not only the step: "CHF" is no example copied in "Convert the bill to
    euros." when the request said "The restaurant bill is 120 CHF".
    """
    described = description_text(t).lower()
    if not described:
        return None
    text = "\n".join(given).lower()
    for key, value in args.items():
        if not isinstance(value, str):
            continue
        lowered = value.strip().lower()
        if len(lowered) < 2 or lowered in text or lowered not in described:
            continue
        if names_a_given_unit(value, [text]):
            continue  # "USD" for "300 dollars": the task's unit, written as a code
        if any(re.search(rf"\b{re.escape(w)}\b", text) for w in re.findall(r"\w+", lowered)):
            continue  # built from the task's own words or numbers ("12 * 7" for "12 times 7")
        return key, value
    return None


def echoes_instructions(text: str, tools: Mapping[str, BaseTool]) -> bool:
    """Is this "final answer" only the model's instructions played back?

    True for a JSON object (a tool's argument schema, or a call written as the answer, even one
    cut off: `{"expression": "...`), also after a short label that names a tool ("Action:
    calculator" then `{"expression": "132 + 132"}`, as SmolLM2 wrote after a call), and for
    text holding a tool's description or an argument's description word for word.
    """
    stripped = text.strip()
    label, brace, rest = stripped.partition("{")
    if brace and label.strip() and len(label.split()) <= 4 and _names_a_tool(label, tools):
        stripped = brace + rest  # "Action: calculator\n{...}": the call, written as text
    if stripped.startswith("{"):
        try:
            if isinstance(json.loads(stripped), dict):
                return True
        except json.JSONDecodeError:
            pass
        # a call written as the answer and cut off: {"expression": "... (no closing brace)
        key = re.match(r'\{\s*"([^"]+)"\s*:', stripped)
        if key and any(key.group(1) in _argument_names(t) for t in tools.values()):
            return True
    lowered = " ".join(stripped.lower().split())
    for t in tools.values():
        for part in description_text(t).split("\n"):
            part = " ".join(part.lower().split())
            if len(part) >= 20 and part in lowered:
                return True
    return False


def ignores_results(text: str, results: Sequence[str]) -> bool:
    """Does this "final answer" take no figure from the tool results it follows?

    True when the results hold numbers and the text holds none of them (as written, or
    rounded: 37.6854 quoted as 37.69; :func:`~lamina.guards.numbers.same_figure`). SmolLM2
    sometimes answers "The answer is not provided." right after a call that returned the
    figure asked for. Results without numbers ("Sent.") give no finding: whether a text uses
    them is not decidable this way.
    """
    wanted = [value for result in results for _, value in written_numbers(result)]
    if not wanted:
        return False
    said = [written for written, _ in written_numbers(text)]
    return not any(same_figure(a, b) for a in said for b in wanted)


def _names_a_tool(label: str, tools: Mapping[str, BaseTool]) -> bool:
    words = set(re.findall(r"[\w-]+", label.lower()))
    return any(name.lower() in words for name in tools)


def _argument_names(t: BaseTool) -> set[str]:
    schema = t.tool_call_schema
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return set(schema.model_fields)
    if isinstance(schema, dict):
        return set((schema.get("properties") or {}).keys())
    return set()


def description_text(t: BaseTool) -> str:
    """The tool's description and its arguments' descriptions (not enums or defaults)."""
    parts = [t.description or ""]
    schema = t.tool_call_schema
    properties: Mapping[str, Any] = {}
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        properties = schema.model_json_schema().get("properties", {})
    elif isinstance(schema, dict):
        properties = schema.get("properties", {})
    for prop in properties.values():
        if isinstance(prop, dict):
            parts.append(str(prop.get("description", "")))
    return "\n".join(parts)
