"""The FastAPI application: OpenAI's Chat Completions API over a lamina agent.

- `POST /v1/chat/completions`: model `lamina` runs the five-layer agent (routing, memory,
  reasoning, tools); the id of a configured model talks to that model directly, unrouted, with
  OpenAI's tool calling (`tools`, `tool_choice`, tool results in the history: decoded under
  lamina's grammars, :mod:`lamina.serving.direct`), `stop`, `n` and `stream_options`; under
  `tool_choice="auto"` a request no offered tool fits is answered in text
  (:mod:`lamina.serving.tool_gate`).
  Streaming is server-sent events, as OpenAI's; the agent's stream reports each layer as it
  finishes (empty deltas carrying `lamina.layer`), then the answer.
- `GET /v1/models`, `GET /healthz`.

Every failure is an OpenAI-shaped error body with a status by whose fault it is: 400 for a bad
request, 401 for a missing or wrong key, 403 for a user outside the key's tenants, 404 for an
unknown model or route, 405 for a wrong method, 413 for a body over the limit, 429 when the
model's queue is full (with `Retry-After`), 503 when a model cannot serve, 500 (with an error id;
the details only in the server log) for the server's own failures.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from langchain_core.messages import (
    BaseMessage,
)

from lamina.errors import (
    ConfigError,
    LaminaError,
)
from lamina.layers.execution.hung import hung_tool_calls, refused_tool_calls
from lamina.serving.admission import AdmissionQueue, QueueFullError
from lamina.serving.direct import direct_call, run_choices
from lamina.serving.direct_replies import direct_completion, direct_stream
from lamina.serving.failures import install_error_handlers
from lamina.serving.protocol import AGENT_MODEL
from lamina.serving.requests import (
    ApiError,
    agent_request,
    api_error,
    parse_request,
    read_body,
)
from lamina.serving.responses import agent_completion, agent_stream
from lamina.serving.tenants import KeyFile, Tenant, check_users, tenant_thread, tenant_user
from lamina.serving.tool_gate import gate_auto_tools

if TYPE_CHECKING:
    from lamina.agents.agent import Agent
    from lamina.agents.result import RunResult
    from lamina.core.context import ToolWeigher

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_QUEUE_DEPTH", "ApiError", "create_app"]

logger = logging.getLogger(__name__)

DEFAULT_QUEUE_DEPTH = 32
DEFAULT_MAX_BODY_BYTES = 1_000_000


def create_app(
    agent: Agent,
    *,
    api_key: str | None = None,
    keys: KeyFile | None = None,
    queue_depth: int = DEFAULT_QUEUE_DEPTH,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    relevance_gate: bool | ToolWeigher = True,
) -> FastAPI:
    """Build the HTTP application over `agent`.

    Args:
        agent: the agent served as model `lamina`; its models are served by name too.
        api_key: when set, every request must send `Authorization: Bearer <api_key>`
            (`/healthz` excepted). One key for a one-user set-up: it reaches every user's
            memories and every thread.
        keys: API keys bound to tenants (:func:`lamina.serving.tenants.load_keys`): each
            reaches only its own users' memories and threads (403 otherwise). Not with
            `api_key`.
        queue_depth: requests admitted per model at once (running plus waiting); the next one
            gets 429 with `Retry-After`.
        max_body_bytes: larger request bodies get 413.
        relevance_gate: under `tool_choice="auto"` on a model served by name, answer in text
            when no offered tool fits the request (:mod:`lamina.serving.tool_gate`): True
            weighs tools with the agent's tool relevance (none if the agent has it off), a
            `ToolRelevance` with that one, False lets the model always choose.

    Returns:
        The FastAPI app; run it with uvicorn (`lamina serve` does).

    Raises:
        ConfigError: a limit is out of range, or both `api_key` and `keys` are given.
    """
    if api_key is not None and keys is not None:
        raise ConfigError(
            "Expected one way to check keys; found both api_key (one key for everything) and "
            "keys (keys bound to tenants). Fix: drop LAMINA_API_KEY when serving with --keys."
        )
    if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
        raise ConfigError(f"max_body_bytes must be an integer; found {max_body_bytes!r}.")
    if max_body_bytes < 1024:
        raise ConfigError(
            f"max_body_bytes must be at least 1024; found {max_body_bytes}. Fix: raise it."
        )
    weigher = _weigher(agent, relevance_gate)
    model_names = list(agent.context.models.names())
    queues = {name: AdmissionQueue(name, queue_depth) for name in [AGENT_MODEL, *model_names]}
    app = FastAPI(title="lamina", docs_url=None, redoc_url=None, openapi_url=None)

    install_error_handlers(app)

    def check_key(request: Request) -> Tenant | None:
        """The tenant of the request's key (None: no keys, or the one key of `api_key`)."""
        if api_key is None and keys is None:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        if keys is not None:
            tenant = keys.tenant_for(token) if token else None
            if tenant is not None:
                return tenant
        elif token and hmac.compare_digest(token.encode(), (api_key or "").encode()):
            return None
        expected, fix = (
            ("a key from the server's key file", "your key")
            if keys is not None
            else ("the server's API key", "the server's LAMINA_API_KEY")
        )
        raise ApiError(
            401,
            f"Expected the header `Authorization: Bearer <key>` with {expected}; found "
            f"{'a wrong key' if header else 'no Authorization header'}. Fix: set api_key in "
            f"your client to {fix}.",
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
            # tool calls still running past their timeout (threads Python cannot kill), and
            # calls refused because their tool had too many of them
            "tool_calls": {"hung": hung_tool_calls(), "refused": refused_tool_calls()},
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
        tenant = check_key(request)
        body = await read_body(request, max_body_bytes)
        req = await asyncio.to_thread(parse_request, body)  # a 1 MB body takes a while
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
                task, thread_id, user_id = agent_request(req)
                public_thread = None
                if tenant is not None:  # the key's own user, and that user's own threads
                    user_id = tenant_user(tenant, req)
                    thread_id, public_thread = tenant_thread(user_id, thread_id)
                if req.stream:
                    slot = stack.pop_all()  # the stream releases it when it ends
                    events = agent_stream(agent, req, task, thread_id, user_id, slot, public_thread)
                    return _streaming(await _started(events), slot)
                result = await asyncio.to_thread(_run_agent, agent, task, thread_id, user_id)
                return JSONResponse(agent_completion(req, result, public_thread))
            if tenant is not None:  # no memory or thread here, but no foreign user either
                check_users(tenant, req)
            call = direct_call(req)
            chat_model = agent.context.models.chat_model(req.model)
            if weigher is not None and call.tool_choice == "auto":
                call = await asyncio.to_thread(gate_auto_tools, call, weigher)
            if req.stream:
                slot = stack.pop_all()
                events = direct_stream(chat_model, req, call, slot)
                return _streaming(await _started(events), slot)
            replies = await asyncio.to_thread(run_choices, chat_model, call)
            return JSONResponse(direct_completion(req, replies, call))
        finally:
            stack.close()

    return app


def _weigher(agent: Agent, relevance_gate: bool | ToolWeigher) -> ToolWeigher | None:
    """What the relevance gate weighs tools with (None: no gate)."""
    if relevance_gate is True:
        return agent.context.tool_relevance
    if relevance_gate is False:
        return None
    if not callable(getattr(relevance_gate, "assess", None)):
        raise ConfigError(
            "Expected relevance_gate to be True, False or a ToolRelevance; found "
            f"{type(relevance_gate).__name__}. Fix: pass ToolRelevance(...) or a bool."
        )
    return relevance_gate


def _streaming(events: Iterator[str], slot: ExitStack) -> Response:
    """A server-sent-event response that frees the queue slot however the stream ends.

    The generator frees it when it finishes; the background task covers a client that went away
    before the first event (closing an ExitStack twice is harmless).
    """
    from starlette.background import BackgroundTask

    return StreamingResponse(
        events, media_type="text/event-stream", background=BackgroundTask(slot.close)
    )


async def _started(events: Iterator[str]) -> Iterator[str]:
    """`events` run up to their first chunk now, so that an error before it (another run holds
    the thread: 409) is answered with its own status, not inside a stream already sent as 200."""
    try:
        first = await asyncio.to_thread(next, events, None)
    except LaminaError as exc:
        raise api_error(exc) from None
    return _prepend(first, events)


def _prepend(first: str | None, events: Iterator[str]) -> Iterator[str]:
    if first is not None:
        yield first
    yield from events  # closing this generator closes `events` (and frees the thread)


# -- running -------------------------------------------------------------------------------------
def _run_agent(
    agent: Agent, task: list[BaseMessage], thread_id: str | None, user_id: str | None
) -> RunResult:
    try:
        return agent.run(task, thread_id=thread_id, user_id=user_id)
    except LaminaError as exc:
        raise api_error(exc) from None
