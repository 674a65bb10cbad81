"""Reading an OpenAI Chat Completions request: the body (bounded), its JSON, the messages as
LangChain messages, the sampling options; and `ApiError`, the OpenAI-shaped error every failure
becomes, with lamina's errors mapped to HTTP statuses by whose fault they are."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from pydantic import ValidationError

from lamina.core.records import new_error_id
from lamina.errors import (
    InputError,
    LaminaError,
    MemoryStoreError,
    ModelError,
    ThreadBusyError,
    UnknownModelError,
)
from lamina.serving.protocol import (
    REFUSED_FIELDS,
    ChatCompletionRequest,
    ChatMessage,
    error_body,
    message_text,
)

if TYPE_CHECKING:
    from fastapi import Request

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "MAX_JSON_DEPTH",
    "ApiError",
    "agent_request",
    "api_error",
    "internal_error",
    "json_depth",
    "log_internal",
    "parse_request",
    "read_body",
    "to_langchain",
    "too_deep",
    "too_large",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 512
MAX_JSON_DEPTH = 64
"""The deepest nesting of lists and objects a request body may have (a `response_format`
schema is the deepest part of any real request)."""


class ApiError(Exception):
    """An error answered with `status` and OpenAI's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        code: str = "invalid_request",
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.kind, self.code, self.param)


def log_internal(exc: BaseException, where: str) -> str:
    """Log `exc` with its traceback under a fresh error id; return the id."""
    error_id = new_error_id()
    logger.error("unexpected error %s %s", error_id, where, exc_info=exc)
    return error_id


def internal_error(exc: BaseException, error_id: str) -> ApiError:
    """The 500 a client gets for an error of the server's own: the class and an id, no text
    (it may hold anything: a path, a host, what a tool knew)."""
    return ApiError(
        500,
        f"lamina hit an unexpected {type(exc).__name__} (error id {error_id}). This is a bug in "
        "lamina, one of its tools or the server's set-up; the server log has the details under "
        "that id.",
        "server_error",
        "internal_error",
    )


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, too_large(int(declared), limit), code="request_too_large")
    body = bytearray()
    async for piece in request.stream():
        body.extend(piece)
        if len(body) > limit:
            raise ApiError(413, too_large(len(body), limit), code="request_too_large")
    return bytes(body)


def too_large(size: int, limit: int) -> str:
    return (
        f"Expected a request body of at most {limit} bytes; found {size}. Fix: send shorter "
        "messages, or start the server with a larger --max-body-bytes."
    )


def too_deep() -> str:
    return (
        f"Expected JSON nested at most {MAX_JSON_DEPTH} levels deep; found deeper nesting. "
        "Fix: flatten the request (no Chat Completions field needs more)."
    )


def json_depth(value: Any, limit: int) -> int:
    """How deep `value` nests lists and objects, counted level by level (no recursion), and
    no further than one level past `limit`."""
    depth = 0
    level = [value] if isinstance(value, dict | list) else []
    while level and depth <= limit:
        depth += 1
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
    return depth


def parse_request(body: bytes) -> ChatCompletionRequest:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400,
            f"Expected a UTF-8 JSON body; found invalid UTF-8 at byte {exc.start}. Fix: encode "
            "the request as UTF-8.",
            code="invalid_json",
        ) from None
    try:
        data = json.loads(text)
    except RecursionError:
        # the C decoder recurses once per level; a deep enough body exhausts the stack
        raise ApiError(400, too_deep(), code="invalid_json") from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            f"Expected a JSON body; found invalid JSON ({exc.msg} at line {exc.lineno} column "
            f"{exc.colno}). Fix: send a JSON object with `model` and `messages`.",
            code="invalid_json",
        ) from None
    if json_depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        # parsed, but pydantic, grammars and json.dumps would recurse through it again
        raise ApiError(400, too_deep(), code="invalid_json")
    if not isinstance(data, dict):
        raise ApiError(
            400,
            f"Expected a JSON object with `model` and `messages`; found a JSON "
            f'{type(data).__name__}. Fix: send {{"model": "lamina", "messages": [...]}}.',
            code="invalid_request",
        )
    try:
        req = ChatCompletionRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        found = json.dumps(first.get("input"), default=str)[:120]
        raise ApiError(
            400,
            f"Invalid `{where}`: {first['msg']}; found {found}. Fix: send a body in OpenAI's "
            f"Chat Completions format ({len(exc.errors())} problem(s) in all).",
            code="invalid_request",
            param=where,
        ) from None
    refused = req.refused_fields()
    if refused:
        field = refused[0]
        raise ApiError(
            400,
            f"`{field}` is not supported by lamina serve ({REFUSED_FIELDS[field]}); found "
            f"{json.dumps((req.model_extra or {}).get(field), default=str)[:80]}. Fix: drop "
            f"`{field}` from the request.",
            code="unsupported_parameter",
            param=field,
        )
    if req.stream_options is not None and not req.stream:
        raise ApiError(
            400,
            "Expected `stream_options` only with `stream: true`; found it on a request that "
            "does not stream. Fix: drop `stream_options` or set `stream: true`.",
            param="stream_options",
        )
    return req


def agent_request(req: ChatCompletionRequest) -> tuple[list[BaseMessage], str | None, str | None]:
    last = req.messages[-1]
    if last.role != "user":
        raise ApiError(
            400,
            f"Expected the last message to be the user's request; found role {last.role!r}. "
            "Fix: end `messages` with a user message.",
            param="messages",
        )
    for m in req.messages:
        if m.role == "tool" or m.tool_calls:
            raise ApiError(
                400,
                "Expected no `tool` messages or assistant `tool_calls` for model `lamina`: the "
                "agent runs its own tools. Fix: drop them, or talk to a model directly by its "
                "name.",
                param="messages",
            )
    direct_only = {
        "tools": bool(req.tools),
        "tool_choice": req.tool_choice is not None,
        "parallel_tool_calls": req.parallel_tool_calls is not None,
        "stop": req.stop is not None,
        "n": req.n != 1,
        "response_format": (req.response_format or {}).get("type", "text") != "text",
    }
    for field, sent in direct_only.items():
        if sent:
            raise ApiError(
                400,
                f"Expected no `{field}` for model `lamina`: the agent chooses its own tools, "
                "output and length, and answers once. Fix: drop the field, or send it to a model "
                "by its name (GET /v1/models lists them).",
                param=field,
            )
    options = req.lamina
    thread_id = options.thread_id if options else None
    user_id = (options.user_id if options else None) or req.user
    # A thread already holds its history: send only the new message, or it would repeat.
    messages = req.messages[-1:] if thread_id else req.messages
    return [to_langchain(m) for m in messages], thread_id, user_id


def to_langchain(message: ChatMessage, index: int = 0) -> BaseMessage:
    """One request message as a LangChain message (`index`: its place, for errors).

    Raises:
        ApiError: a tool call's arguments are not a JSON object.
    """
    text = message_text(message)
    if message.role in ("system", "developer"):
        return SystemMessage(text)
    if message.role == "assistant":
        calls = []
        for j, call in enumerate(message.tool_calls or []):
            where = f"messages.{index}.tool_calls.{j}.function.arguments"
            try:
                args = json.loads(call.function.arguments or "{}")
            except json.JSONDecodeError as exc:
                raise ApiError(
                    400,
                    f"Expected `{where}` to be a JSON object in a string; found invalid JSON "
                    f"({exc.msg}). Fix: send the arguments as the model returned them.",
                    param=where,
                ) from None
            if not isinstance(args, dict):
                raise ApiError(
                    400,
                    f"Expected `{where}` to be a JSON object; found a JSON "
                    f"{type(args).__name__}. Fix: send the arguments as the model returned them.",
                    param=where,
                )
            calls.append({"name": call.function.name, "args": args, "id": call.id})
        return AIMessage(text, tool_calls=calls)
    if message.role == "tool":
        return ToolMessage(text, tool_call_id=message.tool_call_id or "call")
    return HumanMessage(text)


def api_error(exc: LaminaError) -> ApiError:
    """Map lamina's errors to HTTP by whose fault they are."""
    if isinstance(exc, InputError):
        return ApiError(400, str(exc), code="invalid_input")
    if isinstance(exc, UnknownModelError):
        return ApiError(404, str(exc), code="model_not_found", param="model")
    if isinstance(exc, ThreadBusyError):  # a conflict: another run holds the thread
        return ApiError(
            409, str(exc), "conflict_error", "thread_busy", headers={"Retry-After": "1"}
        )
    if isinstance(exc, ModelError | MemoryStoreError):
        return ApiError(503, str(exc), "server_error", "model_unavailable")
    return internal_error(exc, log_internal(exc, "running a request"))
