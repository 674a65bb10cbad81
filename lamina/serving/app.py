"""The FastAPI application: OpenAI's Chat Completions API over a lamina agent.

- `POST /v1/chat/completions`: model `lamina` runs the five-layer agent (routing, memory,
  reasoning, tools); the id of a configured model talks to that model directly, unrouted.
  Streaming is server-sent events, as OpenAI's; the agent's stream reports each layer as it
  finishes (empty deltas carrying `lamina.layer`), then the answer.
- `GET /v1/models`, `GET /healthz`.

Every failure is an OpenAI-shaped error body with a status by whose fault it is: 400 for a bad
request, 401 for a missing or wrong key, 404 for an unknown model, 413 for a body over the limit,
429 when the model's queue is full (with `Retry-After`), 503 when a model cannot serve.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from pydantic import ValidationError

from lamina.errors import (
    ConfigError,
    InputError,
    LaminaError,
    MemoryStoreError,
    ModelError,
    UnknownModelError,
)
from lamina.serving.admission import AdmissionQueue, QueueFullError
from lamina.serving.protocol import (
    AGENT_MODEL,
    ChatCompletionRequest,
    ChatMessage,
    chunk_body,
    completion_body,
    error_body,
    message_text,
    new_id,
)

if TYPE_CHECKING:
    from lamina.agents.agent import Agent
    from lamina.agents.result import RunResult

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_QUEUE_DEPTH", "ApiError", "create_app"]

logger = logging.getLogger(__name__)

DEFAULT_QUEUE_DEPTH = 32
DEFAULT_MAX_BODY_BYTES = 1_000_000
DEFAULT_MAX_TOKENS = 512


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


def create_app(
    agent: Agent,
    *,
    api_key: str | None = None,
    queue_depth: int = DEFAULT_QUEUE_DEPTH,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """Build the HTTP application over `agent`.

    Args:
        agent: the agent served as model `lamina`; its models are served by name too.
        api_key: when set, every request must send `Authorization: Bearer <api_key>`
            (`/healthz` excepted).
        queue_depth: requests admitted per model at once (running plus waiting); the next one
            gets 429 with `Retry-After`.
        max_body_bytes: larger request bodies get 413.

    Returns:
        The FastAPI app; run it with uvicorn (`lamina serve` does).

    Raises:
        ConfigError: a limit is out of range.
    """
    if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
        raise ConfigError(f"max_body_bytes must be an integer; found {max_body_bytes!r}.")
    if max_body_bytes < 1024:
        raise ConfigError(
            f"max_body_bytes must be at least 1024; found {max_body_bytes}. Fix: raise it."
        )
    model_names = list(agent.context.models.names())
    queues = {name: AdmissionQueue(name, queue_depth) for name in [AGENT_MODEL, *model_names]}
    app = FastAPI(title="lamina", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error serving %s", request.url.path)
        return JSONResponse(
            error_body(
                f"lamina hit an unexpected {type(exc).__name__}: {exc}. This is a bug in lamina "
                "or one of its tools; the server log has the traceback.",
                "server_error",
                "internal_error",
            ),
            status_code=500,
        )

    def check_key(request: Request) -> None:
        if api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), api_key.encode()
        ):
            raise ApiError(
                401,
                "Expected the header `Authorization: Bearer <key>` with the server's API key; "
                f"found {'a wrong key' if header else 'no Authorization header'}. Fix: set "
                "api_key in your client to the server's LAMINA_API_KEY.",
                "authentication_error",
                "invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {
            "status": "ok",
            "queues": {
                name: {"admitted": q.admitted, "depth": q.depth, "rejected": q.rejected}
                for name, q in queues.items()
            },
        }

    @app.get("/v1/models")
    async def list_models(request: Request) -> dict[str, Any]:
        check_key(request)
        return {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": 0, "owned_by": "lamina"}
                for name in [AGENT_MODEL, *model_names]
            ],
        }

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> Response:
        check_key(request)
        body = await _read_body(request, max_body_bytes)
        req = _parse(body)
        queue = queues.get(req.model)
        if queue is None:
            raise ApiError(
                404,
                f"Expected `model` to be one of {[AGENT_MODEL, *model_names]}; found "
                f"{req.model!r}. Fix: use `{AGENT_MODEL}` for the agent or a name from "
                "GET /v1/models.",
                code="model_not_found",
                param="model",
            )
        stack = ExitStack()
        try:
            stack.enter_context(queue.slot())
        except QueueFullError as full:
            raise ApiError(
                429,
                str(full),
                "rate_limit_error",
                "queue_full",
                headers={"Retry-After": str(full.retry_after)},
            ) from None
        try:
            if req.model == AGENT_MODEL:
                task, thread_id, user_id = _agent_request(req)
                if req.stream:
                    slot = stack.pop_all()  # the stream releases it when it ends
                    events = _agent_stream(agent, req, task, thread_id, user_id, slot)
                    return _streaming(events, slot)
                result = await asyncio.to_thread(_run_agent, agent, task, thread_id, user_id)
                return JSONResponse(_agent_completion(req, result))
            messages = _direct_messages(req)
            chat_model = agent.context.models.chat_model(req.model)
            options = _sampling(req)
            if req.stream:
                slot = stack.pop_all()
                events = _direct_stream(chat_model, req, messages, options, slot)
                return _streaming(events, slot)
            reply = await asyncio.to_thread(_invoke_direct, chat_model, messages, options)
            return JSONResponse(_direct_completion(req, reply))
        finally:
            stack.close()

    return app


def _streaming(events: Iterator[str], slot: ExitStack) -> Response:
    """A server-sent-event response that frees the queue slot however the stream ends.

    The generator frees it when it finishes; the background task covers a client that went away
    before the first event (closing an ExitStack twice is harmless).
    """
    from starlette.background import BackgroundTask

    return StreamingResponse(
        events, media_type="text/event-stream", background=BackgroundTask(slot.close)
    )


# -- requests ------------------------------------------------------------------------------------
async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, _too_large(int(declared), limit), code="request_too_large")
    body = bytearray()
    async for piece in request.stream():
        body.extend(piece)
        if len(body) > limit:
            raise ApiError(413, _too_large(len(body), limit), code="request_too_large")
    return bytes(body)


def _too_large(size: int, limit: int) -> str:
    return (
        f"Expected a request body of at most {limit} bytes; found {size}. Fix: send shorter "
        "messages, or start the server with a larger --max-body-bytes."
    )


def _parse(body: bytes) -> ChatCompletionRequest:
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
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            f"Expected a JSON body; found invalid JSON ({exc.msg} at line {exc.lineno} column "
            f"{exc.colno}). Fix: send a JSON object with `model` and `messages`.",
            code="invalid_json",
        ) from None
    if not isinstance(data, dict):
        raise ApiError(
            400,
            f"Expected a JSON object with `model` and `messages`; found a JSON "
            f'{type(data).__name__}. Fix: send {{"model": "lamina", "messages": [...]}}.',
            code="invalid_request",
        )
    try:
        return ChatCompletionRequest.model_validate(data)
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


def _agent_request(req: ChatCompletionRequest) -> tuple[list[BaseMessage], str | None, str | None]:
    last = req.messages[-1]
    if last.role != "user":
        raise ApiError(
            400,
            f"Expected the last message to be the user's request; found role {last.role!r}. "
            "Fix: end `messages` with a user message.",
            param="messages",
        )
    for m in req.messages:
        if m.role == "tool":
            raise ApiError(
                400,
                "Expected no `tool` messages for model `lamina`: the agent runs its own tools. "
                "Fix: drop them, or talk to a model directly by its name.",
                param="messages",
            )
    options = req.lamina
    thread_id = options.thread_id if options else None
    user_id = (options.user_id if options else None) or req.user
    # A thread already holds its history: send only the new message, or it would repeat.
    messages = req.messages[-1:] if thread_id else req.messages
    return [_to_langchain(m) for m in messages], thread_id, user_id


def _direct_messages(req: ChatCompletionRequest) -> list[BaseMessage]:
    return [_to_langchain(m) for m in req.messages]


def _to_langchain(message: ChatMessage) -> BaseMessage:
    text = message_text(message)
    if message.role in ("system", "developer"):
        return SystemMessage(text)
    if message.role == "assistant":
        return AIMessage(text)
    if message.role == "tool":
        return ToolMessage(text, tool_call_id=message.tool_call_id or "call")
    return HumanMessage(text)


def _sampling(req: ChatCompletionRequest) -> dict[str, Any]:
    options: dict[str, Any] = {"max_tokens": req.token_limit() or DEFAULT_MAX_TOKENS}
    try:
        schema = req.json_schema()
    except ValueError as exc:
        raise ApiError(400, f"Invalid `response_format`: {exc}.", param="response_format") from None
    if schema is not None:
        # lamina's models decode under a grammar built from the schema
        options["response_format"] = {"schema": schema}
    if req.temperature is not None:
        options["temperature"] = req.temperature
    if req.seed is not None:
        options["seed"] = req.seed
    return options


# -- running -------------------------------------------------------------------------------------
def _run_agent(
    agent: Agent, task: list[BaseMessage], thread_id: str | None, user_id: str | None
) -> RunResult:
    try:
        return agent.run(task, thread_id=thread_id, user_id=user_id)
    except LaminaError as exc:
        raise _api_error(exc) from None


def _invoke_direct(chat_model: Any, messages: list[BaseMessage], options: dict[str, Any]) -> Any:
    try:
        return chat_model.invoke(messages, **options)
    except LaminaError as exc:
        raise _api_error(exc) from None


def _api_error(exc: LaminaError) -> ApiError:
    """Map lamina's errors to HTTP by whose fault they are."""
    if isinstance(exc, InputError):
        return ApiError(400, str(exc), code="invalid_input")
    if isinstance(exc, UnknownModelError):
        return ApiError(404, str(exc), code="model_not_found", param="model")
    if isinstance(exc, ModelError | MemoryStoreError):
        return ApiError(503, str(exc), "server_error", "model_unavailable")
    return ApiError(500, str(exc), "server_error", type(exc).__name__)


def _extension(result: RunResult) -> dict[str, Any]:
    data = result.to_dict()
    keys = (
        "thread_id",
        "user_id",
        "route",
        "model",
        "models_used",
        "tool_calls",
        "escalations",
        "memories",
        "timings",
        "tokens",
    )
    return {k: data.get(k) for k in keys}


def _agent_usage(result: RunResult) -> dict[str, int]:
    # The agent's layers each read and write; RunResult counts tokens per layer, not split into
    # prompt and completion, so the total is reported as completion tokens.
    total = int(result.tokens.get("total", 0))
    return {"prompt_tokens": 0, "completion_tokens": total, "total_tokens": total}


def _agent_completion(req: ChatCompletionRequest, result: RunResult) -> dict[str, Any]:
    return completion_body(
        completion_id=new_id(),
        model=req.model,
        text=result.answer,
        finish_reason="stop",
        usage=_agent_usage(result),
        extension=_extension(result),
    )


def _direct_completion(req: ChatCompletionRequest, reply: Any) -> dict[str, Any]:
    meta = getattr(reply, "usage_metadata", None) or {}
    prompt, completion = int(meta.get("input_tokens", 0)), int(meta.get("output_tokens", 0))
    finish = (getattr(reply, "response_metadata", None) or {}).get("finish_reason") or "stop"
    return completion_body(
        completion_id=new_id(),
        model=req.model,
        text=str(reply.content),
        finish_reason=str(finish),
        usage={
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
        extension=None,
    )


def _sse(data: dict[str, Any] | str) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {payload}\n\n"


def _agent_stream(
    agent: Agent,
    req: ChatCompletionRequest,
    task: list[BaseMessage],
    thread_id: str | None,
    user_id: str | None,
    slot: ExitStack,
) -> Iterator[str]:
    """Server-sent events for one agent run; holds the queue slot until the run ends.

    Starlette runs a synchronous iterator in its thread pool, so the run does not block the
    event loop.
    """
    import uuid

    cid = new_id()
    thread = thread_id or uuid.uuid4().hex
    with slot:
        yield _sse(chunk_body(completion_id=cid, model=req.model, delta={"role": "assistant"}))
        try:
            for update in agent.stream(
                task, thread_id=thread, user_id=user_id, stream_mode=("updates",)
            ):
                # with a list of stream modes LangGraph yields (mode, data) pairs
                data = update[1] if isinstance(update, tuple) else update
                layers = list(data) if isinstance(data, dict) else []
                for layer in layers:
                    yield _sse(
                        chunk_body(
                            completion_id=cid,
                            model=req.model,
                            delta={},
                            extension={"layer": str(layer)},
                        )
                    )
            result = agent.result(thread, user_id)
        except LaminaError as exc:
            yield _sse(_api_error(exc).body())
            yield _sse("[DONE]")
            return
        except Exception as exc:  # the status is sent already: say what happened in the stream
            logger.exception("agent stream failed")
            yield _sse(error_body(f"{type(exc).__name__}: {exc}", "server_error", "internal_error"))
            yield _sse("[DONE]")
            return
        yield _sse(chunk_body(completion_id=cid, model=req.model, delta={"content": result.answer}))
        final = chunk_body(
            completion_id=cid,
            model=req.model,
            delta={},
            finish_reason="stop",
            extension=_extension(result),
        )
        final["usage"] = _agent_usage(result)
        yield _sse(final)
        yield _sse("[DONE]")


def _direct_stream(
    chat_model: Any,
    req: ChatCompletionRequest,
    messages: list[BaseMessage],
    options: dict[str, Any],
    slot: ExitStack,
) -> Iterator[str]:
    cid = new_id()
    with slot:
        yield _sse(chunk_body(completion_id=cid, model=req.model, delta={"role": "assistant"}))
        try:
            for piece in chat_model.stream(messages, **options):
                text = str(piece.content)
                if text:
                    yield _sse(
                        chunk_body(completion_id=cid, model=req.model, delta={"content": text})
                    )
        except LaminaError as exc:
            yield _sse(_api_error(exc).body())
            yield _sse("[DONE]")
            return
        yield _sse(chunk_body(completion_id=cid, model=req.model, delta={}, finish_reason="stop"))
        yield _sse("[DONE]")
