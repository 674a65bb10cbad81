"""The tool-call protocol, shared by the local (llama.cpp) and the remote chat models.

lamina's chat models call tools in two stages, whatever the backend: the prompt lists the tools
(:func:`tools_instructions`); the model first picks one name after ``Action:`` (or
:data:`FINAL_ANSWER` to answer in plain text; another name when a tool's name begins alike,
:func:`text_answer_name`), then writes that tool's arguments as JSON under the tool's schema. An
earlier call renders the same way (:func:`format_tool_call`), so a model sees its own calls in
the form it would write them. This module holds what both backends share: the
names, the tool conversion (:func:`to_openai_tool`), the meaning of `tool_choice`
(:func:`normalise_tool_choice`, :func:`plan_tool_choice`) and the check of written arguments
(:func:`check_arguments`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lamina.errors import ConfigError, ModelOutputError
from lamina.models.structured import validate_json

if TYPE_CHECKING:
    from langchain_core.messages import AIMessageChunk, BaseMessage
    from langchain_core.tools import BaseTool

__all__ = [
    "ACTION_PREFIX",
    "FINAL_ANSWER",
    "HIDDEN_KEY",
    "TEXT_ANSWER_NAMES",
    "ToolChoicePlan",
    "bound_tools",
    "check_arguments",
    "format_tool_call",
    "normalise_tool_choice",
    "plan_tool_choice",
    "reply_chunk",
    "shown_properties",
    "text_answer_name",
    "to_openai_tool",
    "tools_instructions",
]

ACTION_PREFIX = "Action:"
"""What an assistant turn that picks a tool starts with; the choice follows after one space."""

FINAL_ANSWER = "final_answer"
"""The pseudo-tool a model picks to answer in plain text instead of calling a tool."""

TEXT_ANSWER_NAMES = (FINAL_ANSWER, "text_answer", "plain_answer", "answer_in_text")
"""The names the text-answer pseudo-tool takes, in order of preference (see
:func:`text_answer_name`)."""


def _head(name: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.split(r"[^A-Za-z0-9]+", spaced.lower().strip("_.-"))[0]


def text_answer_name(names: Sequence[str]) -> str:
    """What the text-answer pseudo-tool is called next to the tools `names`.

    :data:`FINAL_ANSWER`, unless a tool's first word and its first word begin alike
    (`final_velocity`, `finalize_order`, `fin_report`): the choice grammar lets the model write
    the shared start first, and after " final" SmolLM2-135M went on with "_answer" for BFCL's
    `final_velocity` although the request asked for exactly that function (renamed
    `compute_velocity`, it was called with the right arguments). Then the first name of
    :data:`TEXT_ANSWER_NAMES` that shares no such start with any tool (:data:`FINAL_ANSWER` if
    all do: no tool may take that name).
    """
    heads = {_head(name) for name in names}
    for candidate in TEXT_ANSWER_NAMES:
        head = _head(candidate)
        if candidate not in names and not any(
            h and (h.startswith(head) or head.startswith(h)) for h in heads
        ):
            return candidate
    return FINAL_ANSWER


def format_tool_call(name: str, args: dict[str, Any]) -> str:
    """How an assistant turn that calls `name` with `args` reads (the model writes the same)."""
    return f"{ACTION_PREFIX} {name}\n{json.dumps(args, ensure_ascii=False)}"


HIDDEN_KEY = "x-lamina-hidden"
"""A property's keywords listed under this key shape the grammar but are not shown in the prompt
(grounding narrows a tool's schema to the values a run was given; the model still reads the
tool as it declared itself)."""


def shown_properties(parameters: dict[str, Any]) -> dict[str, Any]:
    """A tool's properties as the prompt shows them: without the keywords under HIDDEN_KEY and
    without `pattern`s, which the grammar enforces and a small model only stumbles over."""
    shown: dict[str, Any] = {}
    for name, prop in (parameters.get("properties") or {}).items():
        if isinstance(prop, dict):
            hidden = {"pattern", HIDDEN_KEY, *prop.get(HIDDEN_KEY, ())}
            prop = {k: v for k, v in prop.items() if k not in hidden}
        shown[name] = prop
    return shown


def tools_instructions(
    tools: Sequence[dict[str, Any]], *, allow_final_answer: bool, text_answer: str | None = None
) -> str:
    """The system section that lists the tools (compact) and says how to call one.

    The prompt says nothing about several calls in one reply, even when they are allowed: in
    our measurements (BFCL `parallel`, SmolLM2-135M) such a sentence did not add calls, but it
    did make the model pick a wrong first tool for a plain one-call step.

    Args:
        tools: OpenAI-format tool dicts (``{"type": "function", "function": {...}}``).
        allow_final_answer: whether the model may answer without a tool.
        text_answer: the text-answer option's name, when the caller has it (default:
            :func:`text_answer_name` of the tools).
    """
    lines = ["You can use these tools:"]
    names: list[str] = []
    if text_answer is None:
        text_answer = text_answer_name([tool["function"]["name"] for tool in tools])
    for tool in tools:
        function = tool["function"]
        params = function.get("parameters") or {}
        args = json.dumps(shown_properties(params), ensure_ascii=False, separators=(",", ":"))
        description = " ".join(str(function.get("description", "")).split())
        lines.append(f"- {function['name']}: {description} Arguments: {args}")
        names.append(function["name"])
    if allow_final_answer:
        lines.append(f"- {text_answer}: Answer without a tool, only when no tool above fits.")
        names.append(text_answer)
    # Small models pick far better when the allowed names are spelled out once more at the end.
    choices = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    lines.append(
        f'Answer with "{ACTION_PREFIX}" and the name of one tool: {choices}. Then write the '
        "tool's arguments as JSON on the next line."
    )
    return "\n".join(lines)


def to_openai_tool(tool: dict[str, Any] | type | Callable[..., Any] | BaseTool) -> dict[str, Any]:
    """`tool` as an OpenAI function-tool dict (``{"type": "function", "function": {...}}``).

    Raises:
        ConfigError: `tool` cannot be converted, or is not a function tool.
    """
    from langchain_core.utils.function_calling import convert_to_openai_tool

    try:
        formatted = convert_to_openai_tool(tool)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"Cannot use {tool!r} as a tool ({exc}). Fix: pass a @tool function, a BaseTool, "
            "a pydantic class or an OpenAI tool dict."
        ) from exc
    if formatted.get("type") != "function" or "function" not in formatted:
        raise ConfigError(
            f"Expected a function tool, found {formatted!r}. Fix: pass function tools only."
        )
    return formatted


def bound_tools(
    tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
) -> list[dict[str, Any]]:
    """`tools` as OpenAI function-tool dicts, each name once, as `bind_tools` binds them.

    A tool given twice (a pydantic class and its JSON schema, say: the same name, the same
    description and schema up to `title` annotations) is bound once, as LangChain's standard
    tests expect of `bind_tools`. Two *different* tools under one name are refused: the model
    could not tell them apart, and a call could run either.

    Raises:
        ConfigError: a tool cannot be converted, two different tools share a name, or a tool
            is called `final_answer`.
    """
    bound: dict[str, dict[str, Any]] = {}
    for tool in tools:
        formatted = to_openai_tool(tool)
        name = formatted["function"]["name"]
        if name == FINAL_ANSWER:
            raise ConfigError(
                f"A tool may not be called {FINAL_ANSWER!r} (the model picks it to answer "
                "without a tool). Fix: rename the tool."
            )
        earlier = bound.get(name)
        if earlier is None:
            bound[name] = formatted
        elif _without_titles(earlier) != _without_titles(formatted):
            raise ConfigError(
                f"Expected distinct tool names, found two different tools called {name!r}: "
                f"{json.dumps(earlier['function'])[:200]} and "
                f"{json.dumps(formatted['function'])[:200]}. Fix: rename one of them."
            )
    return list(bound.values())


def _without_titles(node: Any) -> Any:
    if isinstance(node, dict):
        # a `title` annotation is a string; a property called "title" has a schema (a dict)
        return {
            k: _without_titles(v)
            for k, v in node.items()
            if not (k == "title" and isinstance(v, str))
        }
    if isinstance(node, list):
        return [_without_titles(item) for item in node]
    return node


def normalise_tool_choice(
    tool_choice: str | dict[str, Any] | bool | None, names: list[str]
) -> str | None:
    """LangChain's and OpenAI's spellings of `tool_choice` as one string (or None).

    Returns:
        None (a tool or a plain answer), "auto", "required", "any", "none", or a tool name.

    Raises:
        ConfigError: a malformed dict, or a name that is not among `names`.
    """
    if tool_choice is None or tool_choice is False:
        return None
    if tool_choice is True:
        return "required"
    if isinstance(tool_choice, dict):
        name = tool_choice.get("function", {}).get("name") or tool_choice.get("name")
        if not isinstance(name, str):
            raise ConfigError(
                f"Expected tool_choice {{'type': 'function', 'function': {{'name': ...}}}}, found "
                f"{tool_choice!r}."
            )
        tool_choice = name
    if tool_choice in ("auto", "required", "any", "none"):
        return tool_choice
    if tool_choice not in names:
        raise ConfigError(
            f"tool_choice {tool_choice!r} is not a bound tool; known: {', '.join(names)} (or "
            "'auto', 'required', 'any', 'none')."
        )
    return tool_choice


@dataclass(frozen=True)
class ToolChoicePlan:
    """What a normalised `tool_choice` leaves the model to choose.

    Attributes:
        forced: the tool the caller named (no choice stage), or None.
        allow_final_answer: whether the model may answer without a tool.
        options: the names the model may choose among (tools, then `text_answer` if allowed).
        text_answer: the name the model picks to answer in text (:func:`text_answer_name`).
    """

    forced: str | None
    allow_final_answer: bool
    options: list[str]
    text_answer: str = FINAL_ANSWER


def plan_tool_choice(tool_choice: str | None, names: Sequence[str]) -> ToolChoicePlan:
    """The choice stage for a normalised `tool_choice` (see :func:`normalise_tool_choice`)."""
    forced = tool_choice if tool_choice not in (None, "auto", "required", "any", "none") else None
    allow_final = tool_choice in (None, "auto")
    text_answer = text_answer_name(names)
    options = [*names, text_answer] if allow_final else list(names)
    return ToolChoicePlan(
        forced=forced, allow_final_answer=allow_final, options=options, text_answer=text_answer
    )


def check_arguments(args: Any, parameters: dict[str, Any], model_name: str, tool: str) -> None:
    """Check the arguments a model wrote for `tool` against the tool's JSON schema.

    Raises:
        ModelOutputError: they do not fit the schema, or are not a JSON object.
        ConfigError: the schema itself is not valid.
    """
    validate_json(args, parameters, model_name, f"the arguments of tool {tool!r}")
    if not isinstance(args, dict):
        raise ModelOutputError(
            f"Model {model_name!r} wrote {type(args).__name__} arguments for tool "
            f"{tool!r}; expected a JSON object. Fix: give the tool an object schema."
        )


def reply_chunk(message: BaseMessage) -> AIMessageChunk:
    """A whole reply as the one (last) chunk of a stream: its text, its tool calls as
    `tool_call_chunks` (so chunks added up give the calls back), usage and metadata.

    A constrained reply (tool calls, structured output) is streamed this way by both chat
    models: only a whole reply is known to fit its grammar and schema.
    """
    from langchain_core.messages import AIMessage, AIMessageChunk
    from langchain_core.messages.tool import tool_call_chunk

    if not isinstance(message, AIMessage):
        return AIMessageChunk(content=message.content)
    return AIMessageChunk(
        content=message.content,
        tool_call_chunks=[
            tool_call_chunk(
                name=call["name"],
                args=json.dumps(call["args"], ensure_ascii=False),
                id=call.get("id"),
                index=i,
            )
            for i, call in enumerate(message.tool_calls)
        ],
        usage_metadata=message.usage_metadata,
        response_metadata=message.response_metadata,
        chunk_position="last",
    )
