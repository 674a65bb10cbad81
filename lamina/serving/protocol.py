"""The request bodies and response shapes of the OpenAI-compatible API.

Requests follow OpenAI's Chat Completions schema. The fields lamina serves: `messages` (with
assistant `tool_calls` and `tool` results), `tools`, `tool_choice`, `parallel_tool_calls`,
`response_format`, `stop`, `n`, `seed`, `temperature`, `top_p`, `max_tokens` /
`max_completion_tokens`, `stream`, `stream_options`, `user`. OpenAI fields lamina cannot honour
(:data:`REFUSED_FIELDS`: `logprobs`, `logit_bias`, penalties, `functions`, ...) are refused with a
400 that says so, never ignored; fields OpenAI does not define are ignored, as OpenAI-compatible
servers do. Responses are OpenAI's, plus one extension field,
`lamina`, on the completion (and on the last chunk of a stream):

```
"lamina": {
  "ok": true, "error": null | {"kind", "message", "step", "tried"},
  "thread_id": "...", "user_id": "...",
  "route": "arithmetic" | null, "model": "smollm2-135m-instruct",
  "models_used": [...], "tool_calls": [{"name", "arguments", "result", "error", "seconds", "kind",
  "approval", "repeated", "replayed"}],
  "memories": [{"id", "text", "score", "created_at", ...}], "escalations": [...],
  "timings": {"input": 0.001, ...}, "tokens": {"reasoning": 12, ..., "total": 40}
}
```

`ok` false means the answer cannot be trusted as the task's answer (a step failed, or a figure in
it has no source); `error` says why. The HTTP status stays 200: the request itself was fine.

A request may carry `lamina: {"thread_id": "...", "user_id": "..."}` to continue a thread;
OpenAI's own `user` field is used as the user id when `lamina.user_id` is absent, so one end
user's memories never reach another.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "AGENT_MODEL",
    "MAX_CHOICES",
    "REFUSED_FIELDS",
    "ChatCompletionRequest",
    "ChatMessage",
    "FunctionCall",
    "LaminaOptions",
    "StreamOptions",
    "ToolCallIn",
    "chunk_body",
    "completion_body",
    "error_body",
    "message_text",
]

AGENT_MODEL = "lamina"
"""The model id under which the whole five-layer agent is served."""

MAX_MESSAGES = 256
MAX_TOOLS = 128
MAX_STOPS = 4
MAX_CHOICES = 8
"""The most choices (`n`) one request may ask for: each is decoded in turn, holding the model."""

REFUSED_FIELDS: dict[str, str] = {
    "logprobs": "llama.cpp keeps no per-token log-probabilities for lamina's decoding",
    "top_logprobs": "llama.cpp keeps no per-token log-probabilities for lamina's decoding",
    "logit_bias": "lamina's decoding takes no logit bias",
    "presence_penalty": "lamina's models take `repeat_penalty`, not OpenAI's penalties",
    "frequency_penalty": "lamina's models take `repeat_penalty`, not OpenAI's penalties",
    "functions": "the deprecated `functions` API is not served; send `tools`",
    "function_call": "the deprecated `function_call` is not served; send `tool_choice`",
    "grammar": "lamina serve takes no GBNF grammar; send `tools` or a `response_format` JSON "
    "schema (a RemoteChatModel pointed at lamina serve takes grammar_field=False, "
    "native_tools=True)",
    "audio": "lamina's models read and write text only",
    "prediction": "predicted outputs are not supported",
    "web_search_options": "lamina serve does not search the web",
    "reasoning_effort": "lamina's models are not reasoning models",
}
"""OpenAI request fields lamina serve refuses (400) when set, and why. A field set to its
neutral value (`false`, `0`, `null`, an empty object) is accepted."""


class FunctionCall(BaseModel):
    """The function of an assistant's tool call: its name and its arguments as a JSON text."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    arguments: str = Field(max_length=100_000)


class ToolCallIn(BaseModel):
    """One tool call of an assistant message in the history."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    type: Literal["function"] = "function"
    function: FunctionCall


class StreamOptions(BaseModel):
    """`stream_options`: `include_usage` adds a last chunk with the usage and no choices."""

    model_config = ConfigDict(extra="forbid")

    include_usage: bool = False
    include_obfuscation: bool | None = None  # OpenAI's padding against side channels: no-op here


class ChatMessage(BaseModel):
    """One message: `content` is a string or a list of text parts; an assistant message may
    carry `tool_calls`, a `tool` message answers one of them by `tool_call_id`."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: list[ToolCallIn] | None = None

    @field_validator("content")
    @classmethod
    def _text_parts_only(
        cls, value: str | list[dict[str, Any]] | None
    ) -> str | list[dict[str, Any]] | None:
        if isinstance(value, list):
            for part in value:
                if part.get("type") != "text" or not isinstance(part.get("text"), str):
                    raise ValueError(
                        "expected content parts of the form {'type': 'text', 'text': '...'}; "
                        f"found {str(part)[:80]!r} (lamina's models read text only)"
                    )
        return value


class LaminaOptions(BaseModel):
    """The request's `lamina` extension: which thread and whose memory."""

    model_config = ConfigDict(extra="forbid")

    thread_id: str | None = Field(default=None, min_length=1, max_length=200)
    user_id: str | None = Field(default=None, min_length=1, max_length=200)


class ChatCompletionRequest(BaseModel):
    """`POST /v1/chat/completions` body (the fields lamina reads; see the module docstring)."""

    # extras are kept so that `refused_fields` can name the OpenAI fields lamina cannot honour
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=8192)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    seed: int | None = None
    n: int = Field(default=1, ge=1, le=MAX_CHOICES)
    stop: str | list[str] | None = None
    stream_options: StreamOptions | None = None
    tools: list[dict[str, Any]] | None = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    user: str | None = Field(default=None, max_length=200)
    response_format: dict[str, Any] | None = None
    lamina: LaminaOptions | None = None

    @field_validator("stop")
    @classmethod
    def _few_stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        stops = [value] if isinstance(value, str) else value or []
        if len(stops) > MAX_STOPS or any(not s or len(s) > 200 for s in stops):
            raise ValueError(
                f"expected up to {MAX_STOPS} non-empty stop sequences of at most 200 characters"
            )
        return value

    def stops(self) -> list[str] | None:
        """`stop` as a list (None when not given)."""
        if self.stop is None:
            return None
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def refused_fields(self) -> list[str]:
        """The fields of :data:`REFUSED_FIELDS` this request sets to something other than
        their neutral value."""
        extra = self.model_extra or {}
        return [k for k in REFUSED_FIELDS if extra.get(k) not in (None, False, 0, {}, [], "")]

    def json_schema(self) -> dict[str, Any] | None:
        """The JSON schema `response_format` asks for (`json_schema` or `json_object`), if any.

        Raises:
            ValueError: a `response_format` lamina does not understand.
        """
        fmt = self.response_format
        if fmt is None or fmt.get("type") == "text":
            return None
        if fmt.get("type") == "json_object":
            schema = fmt.get("schema")
            return schema if isinstance(schema, dict) else {"type": "object"}
        if fmt.get("type") == "json_schema":
            inner = fmt.get("json_schema")
            schema = inner.get("schema") if isinstance(inner, dict) else None
            if isinstance(schema, dict):
                return schema
        raise ValueError(
            "expected response_format {'type': 'json_schema', 'json_schema': {'schema': {...}}}, "
            f"{{'type': 'json_object'}} or {{'type': 'text'}}; found {str(fmt)[:120]}"
        )

    def token_limit(self) -> int | None:
        """`max_completion_tokens` (the current name) or `max_tokens`."""
        return self.max_completion_tokens or self.max_tokens


def message_text(message: ChatMessage) -> str:
    """A message's text (text parts joined)."""
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    return "".join(str(part["text"]) for part in message.content)


def new_id() -> str:
    """An OpenAI-style completion id."""
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def completion_body(
    *,
    completion_id: str,
    model: str,
    text: str,
    finish_reason: str,
    usage: dict[str, int],
    extension: dict[str, Any] | None,
    choices: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A `chat.completion` object: one choice of `text`, or the `choices` given."""
    if choices is None:
        choices = [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }
        ]
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage,
    }
    if extension is not None:
        body["lamina"] = extension
    return body


def chunk_body(
    *,
    completion_id: str,
    model: str,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    extension: dict[str, Any] | None = None,
    index: int = 0,
) -> dict[str, Any]:
    """A `chat.completion.chunk` object (one server-sent event) for choice `index`."""
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": index, "delta": delta, "finish_reason": finish_reason}],
    }
    if extension is not None:
        body["lamina"] = extension
    return body


def error_body(message: str, kind: str, code: str, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape: `{"error": {"message", "type", "param", "code"}}`."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
