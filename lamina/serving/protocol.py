"""The request bodies and response shapes of the OpenAI-compatible API.

Requests follow OpenAI's Chat Completions schema (the fields lamina uses; unknown fields are
ignored, as OpenAI-compatible servers do). Responses are OpenAI's, plus one extension field,
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
    "ChatCompletionRequest",
    "ChatMessage",
    "LaminaOptions",
    "chunk_body",
    "completion_body",
    "error_body",
    "message_text",
]

AGENT_MODEL = "lamina"
"""The model id under which the whole five-layer agent is served."""

MAX_MESSAGES = 256


class ChatMessage(BaseModel):
    """One message: `content` is a string or a list of text parts."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_call_id: str | None = None

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
    """`POST /v1/chat/completions` body (the fields lamina reads)."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=8192)
    seed: int | None = None
    user: str | None = Field(default=None, max_length=200)
    response_format: dict[str, Any] | None = None
    lamina: LaminaOptions | None = None

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
) -> dict[str, Any]:
    """A `chat.completion` object."""
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }
        ],
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
) -> dict[str, Any]:
    """A `chat.completion.chunk` object (one server-sent event)."""
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    if extension is not None:
        body["lamina"] = extension
    return body


def error_body(message: str, kind: str, code: str, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape: `{"error": {"message", "type", "param", "code"}}`."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
