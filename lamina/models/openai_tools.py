"""OpenAI's tool-calling shape, for servers that answer `tools` themselves (`native_tools`).

A `lamina serve` endpoint decodes tool calls under the tools' schemas in its own process, so a
:class:`~lamina.models.remote.RemoteChatModel` pointed at it sends the conversation with its
calls and results as OpenAI messages, the tools and the tool choice as they are, and reads the
reply's `tool_calls` back, checking each against its tool's schema.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.tool import ToolCall, tool_call

from lamina.errors import InputError, ModelOutputError
from lamina.models.openai_api import reply_message
from lamina.models.prompting import ai_calls, message_text
from lamina.models.tool_calls import check_arguments

__all__ = [
    "call_id",
    "openai_messages",
    "openai_tool_choice",
    "parsed_arguments",
    "reply_tool_calls",
    "tool_reply",
    "tools_request",
]


def call_id() -> str:
    """A fresh id for a tool call, in OpenAI's `call_…` form."""
    return f"call_{uuid.uuid4().hex[:12]}"


def tools_request(messages: Sequence[BaseMessage], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The request fields for a tool call: the messages, `tools`, `tool_choice` and
    `parallel_tool_calls` from the bound call options `kwargs`."""
    fields: dict[str, Any] = {"messages": openai_messages(messages), "tools": kwargs["tools"]}
    choice = openai_tool_choice(kwargs.get("tool_choice"))
    if choice is not None:
        fields["tool_choice"] = choice
    if kwargs.get("parallel_tool_calls") is not None:
        fields["parallel_tool_calls"] = kwargs["parallel_tool_calls"]
    return fields


def tool_reply(
    reply: dict[str, Any], tools: list[dict[str, Any]], *, model_name: str, endpoint: str
) -> AIMessage:
    """A chat completion as an `AIMessage` with its checked tool calls (see
    :func:`reply_tool_calls`), its text, usage and finish reason."""
    message = reply_message(reply, model_name)
    calls = reply_tool_calls(reply, tools, model_name=model_name, endpoint=endpoint)
    if not calls:
        return message
    return AIMessage(
        content=message.content,
        tool_calls=calls,
        usage_metadata=message.usage_metadata,
        response_metadata=message.response_metadata,
    )


def openai_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """The conversation as OpenAI chat messages: text content, assistant `tool_calls` (also
    those written as content blocks, LangChain's `output_version="v1"`) and `tool` results.

    Raises:
        InputError: a message of another kind, or with non-text content.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            out.append({"role": "system", "content": message_text(message)})
        elif isinstance(message, HumanMessage):
            out.append({"role": "user", "content": message_text(message)})
        elif isinstance(message, AIMessage):
            turn: dict[str, Any] = {"role": "assistant", "content": message_text(message)}
            calls = [
                {
                    "id": cid or call_id(),
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)},
                }
                for cid, name, args in ai_calls(message)
            ]
            if calls:
                turn["tool_calls"] = calls
            out.append(turn)
        elif isinstance(message, ToolMessage):
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": message.tool_call_id,
                    "content": message_text(message),
                }
            )
        elif isinstance(message, FunctionMessage):
            out.append({"role": "tool", "name": message.name, "content": message_text(message)})
        elif isinstance(message, ChatMessage):
            out.append({"role": message.role, "content": message_text(message)})
        else:
            raise InputError(
                f"Expected system, human, AI or tool messages, found a "
                f"{type(message).__name__}. Fix: convert it to one of langchain_core.messages' "
                "standard types."
            )
    return out


def openai_tool_choice(choice: str | None) -> str | dict[str, Any] | None:
    """A normalised `tool_choice` (see `normalise_tool_choice`) as OpenAI spells it."""
    if choice is None or choice in ("auto", "required", "none"):
        return choice
    if choice == "any":
        return "required"
    return {"type": "function", "function": {"name": choice}}


def parsed_arguments(text: str, tool: str, *, model_name: str, endpoint: str) -> Any:
    """The JSON value of a call's arguments as the server wrote them.

    Raises:
        ModelOutputError: the text is not JSON (the reply was cut off, usually).
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelOutputError(
            f"Model {model_name!r} at {endpoint} wrote arguments for {tool!r} that are not "
            f"JSON ({exc.msg}): {text[:120]!r}. Fix: raise max_tokens."
        ) from None


def reply_tool_calls(
    reply: dict[str, Any], tools: list[dict[str, Any]], *, model_name: str, endpoint: str
) -> list[ToolCall]:
    """The tool calls of a chat completion's first choice, each checked against its schema.

    Raises:
        ModelOutputError: a call names an unbound tool, or its arguments are not JSON or do
            not fit the tool's schema.
    """
    by_name = {t["function"]["name"]: t for t in tools}
    calls: list[ToolCall] = []
    for call in (reply["choices"][0].get("message") or {}).get("tool_calls") or []:
        function = call.get("function") or {}
        name = str(function.get("name") or "")
        if name not in by_name:
            raise ModelOutputError(
                f"Model {model_name!r} at {endpoint} called {name!r}; expected one of "
                f"{sorted(by_name)}. Fix: check the server honours `tools`, or set "
                "native_tools=False to send lamina's two-stage constraint instead."
            )
        args = parsed_arguments(
            function.get("arguments") or "{}", name, model_name=model_name, endpoint=endpoint
        )
        parameters = by_name[name]["function"].get("parameters") or {"type": "object"}
        check_arguments(args, parameters, model_name, name)
        calls.append(tool_call(name=name, args=args, id=call.get("id") or call_id()))
    return calls
