"""Checking a tool call before it runs, and phrasing a failed one for the model.

Every failure goes back to the model through one template (:data:`FAILURE_TEMPLATE`) as a
:class:`CallError`: what failed, the error, and the fix.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from langchain_core.messages import AIMessage
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ValidationError

from lamina.core.serialise import json_safe
from lamina.guards.dates import dates_swapped, repeated_date
from lamina.guards.repeated_numbers import repeated_while_unused
from lamina.guards.tool_calls import copied_example
from lamina.guards.ungrounded import ungrounded_strings
from lamina.guards.units import Unit, unit_role, units_named
from lamina.models.tool_calls import to_openai_tool

__all__ = [
    "FAILURE_TEMPLATE",
    "CallError",
    "FailureKind",
    "call_key",
    "check_converts",
    "check_grounded",
    "check_strings_given",
    "check_uses_the_step",
    "checked_tool",
    "signature",
    "summarise_validation",
    "validation_error",
    "with_call_ids",
]

FAILURE_TEMPLATE = "Tool call failed: {what}.\nError: {error}\nFix: {fix}"
"""The one template every failed tool call is reported to the model with."""

FailureKind = Literal[
    "unknown_tool",
    "invalid_arguments",
    "copied_example",
    "ungrounded",
    "unused_input",
    "exception",
    "timeout",
    "unavailable",
    "model_output",
    "refused",
]


class CallError(Exception):
    """A failed tool call, already phrased for the model."""

    def __init__(
        self, kind: FailureKind, what: str, error: str, fix: str, error_id: str = ""
    ) -> None:
        super().__init__(error)
        self.kind: FailureKind = kind
        self.what = what
        self.error = error
        self.fix = fix
        # set for a tool's own exception: its text was logged under this id
        self.error_id = error_id

    def message(self) -> str:
        return FAILURE_TEMPLATE.format(what=self.what, error=self.error, fix=self.fix)

    def to_dict(self) -> dict[str, str]:
        data = {"kind": self.kind, "what": self.what, "error": self.error, "fix": self.fix}
        if self.error_id:
            data["error_id"] = self.error_id
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallError:
        return cls(
            data["kind"],
            str(data["what"]),
            str(data["error"]),
            str(data["fix"]),
            str(data.get("error_id") or ""),
        )


def check_grounded(t: BaseTool, args: dict[str, Any], given: Sequence[str]) -> None:
    """Send back a string argument copied from the tool's own description instead of what was
    given (the :func:`~lamina.guards.tool_calls.copied_example` guard) as a failed call."""
    found = copied_example(t, args, given)
    if found is None:
        return
    key, value = found
    raise CallError(
        "copied_example",
        f"the argument {key!r} of {t.name!r} is copied from the tool's description",
        f"{value!r} is the example in the tool's description; the task does not mention it",
        f"call {t.name!r} again with the {key} the task names",
    )


def check_strings_given(t: BaseTool, args: dict[str, Any], given: Sequence[str]) -> None:
    """Send back a call whose free string argument holds words or numbers nobody gave
    (the :func:`~lamina.guards.ungrounded.ungrounded_strings` guard) as a failed call; the error
    names the value, so the next move offers the argument only spans of what was given."""
    properties = to_openai_tool(t)["function"].get("parameters", {}).get("properties", {})
    findings = ungrounded_strings(properties, args, given)
    if not findings:
        return
    key, value, missing = findings[0]
    raise CallError(
        "ungrounded",
        f"the argument {key!r} of {t.name!r} holds {', '.join(map(repr, missing))}",
        f"{value!r} is not in the task: {', '.join(map(repr, missing))} occurs nowhere in it",
        f"call {t.name!r} again with the {key} written as the task writes it",
    )


def check_converts(t: BaseTool, args: dict[str, Any]) -> None:
    """Send back a conversion from a unit into the same unit as a failed call: it converts
    nothing, and its result passes the figure off as in that unit. "And in dollars?" after a
    price list without units: SmolLM2 called `convert_currency(15, "USD", "USD")` on a price
    in euros and answered "15.0 USD", ok."""
    properties = to_openai_tool(t)["function"].get("parameters", {}).get("properties", {})
    roles: dict[str, set[Unit]] = {"source": set(), "target": set()}
    for key, value in args.items():
        schema = properties.get(key)
        role = unit_role(key, schema) if isinstance(schema, Mapping) else None
        if role is not None and isinstance(value, str):
            roles[role] |= set(units_named(value))
    same = roles["source"] & roles["target"]
    if not same:
        return
    unit = next(iter(same)).name
    raise CallError(
        "invalid_arguments",
        f"{t.name!r} converts from {unit} into {unit}",
        f"a conversion from {unit} into {unit} converts nothing",
        f"call {t.name!r} again from the unit the figure is written in, or do not convert",
    )


def check_uses_the_step(t: BaseTool, args: dict[str, Any], step: str) -> None:
    """Send back a call that repeats one of the step's numbers while leaving another unused
    (:func:`~lamina.guards.repeated_numbers.repeated_while_unused`), or fills two arguments with a
    date the step writes once (:func:`~lamina.guards.dates.repeated_date`), or gives a
    period's end date to its start (:func:`~lamina.guards.dates.dates_swapped`), as a failed
    call."""
    properties = to_openai_tool(t)["function"].get("parameters", {}).get("properties", {})
    finding = (
        repeated_while_unused(args, step)
        or repeated_date(args, [step])
        or dates_swapped(args, properties, [step])
    )
    if finding is None:
        return
    raise CallError(
        "unused_input",
        f"the arguments of {t.name!r} leave out a number the step gives",
        finding,
        f"call {t.name!r} again using each number of the step: {step}",
    )


def checked_tool(name: str, args: Any, tools: Mapping[str, BaseTool]) -> BaseTool:
    """The tool a call names, after checking its arguments against the tool's schema."""
    t = tools.get(name)
    if t is None:
        known = ", ".join(tools)
        raise CallError(
            "unknown_tool",
            f"there is no tool named {name!r}",
            f"unknown tool {name!r}; the tools are: {known}",
            f"call one of: {known}; or give the final answer",
        )
    if not isinstance(args, dict):
        raise CallError(
            "invalid_arguments",
            f"invalid arguments for {name!r}",
            f"expected a JSON object of arguments, found {type(args).__name__}",
            f"call {signature(t)} with its arguments as an object",
        )
    error = validation_error(t, args)
    if error is not None:
        raise CallError(
            "invalid_arguments",
            f"invalid arguments for {name!r}",
            error,
            f"call {signature(t)} again with arguments that match",
        )
    return t


def validation_error(t: BaseTool, args: dict[str, Any]) -> str | None:
    """Why `args` do not fit the tool's schema, or None when they do."""
    schema = t.tool_call_schema
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        try:
            schema.model_validate(args)
        except ValidationError as exc:
            return summarise_validation(exc)
        return None
    if isinstance(schema, dict):
        import jsonschema

        try:
            jsonschema.validate(args, schema)
        except jsonschema.ValidationError as exc:
            where = ".".join(str(p) for p in exc.absolute_path) or "arguments"
            return f"{where}: {exc.message}"
    return None


def summarise_validation(exc: ValidationError) -> str:
    """The first few errors of a pydantic validation, one line."""
    lines = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        lines.append(f"{where}: {err['msg']}")
    return "; ".join(lines)


def signature(t: BaseTool) -> str:
    """`name(arg: type, ...)` from the tool's schema, to show the model what to send."""
    schema = t.tool_call_schema
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        json_schema = schema.model_json_schema()
    elif isinstance(schema, dict):
        json_schema = schema
    else:
        return t.name
    props = json_schema.get("properties", {})
    required = set(json_schema.get("required", []))
    parts = []
    for arg, spec in props.items():
        kind = spec.get("type", "value") if isinstance(spec, dict) else "value"
        parts.append(f"{arg}: {kind}" + ("" if arg in required else " (optional)"))
    return f"{t.name}({', '.join(parts)})"


def call_key(name: str, args: Any) -> str:
    """A key equal for identical calls (same tool, same arguments)."""
    return name + "\x00" + json.dumps(json_safe(args), sort_keys=True)


def with_call_ids(reply: AIMessage) -> AIMessage:
    """The reply with an id on every tool call (ToolMessages must point at one)."""
    if all(call.get("id") for call in reply.tool_calls):
        return reply
    calls = [
        {**call, "id": call.get("id") or f"call_{uuid.uuid4().hex[:12]}"}
        for call in reply.tool_calls
    ]
    return reply.model_copy(update={"tool_calls": calls})
