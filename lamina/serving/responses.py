"""Writing OpenAI Chat Completions responses: whole completions and server-sent-event streams,
for an agent run (with lamina's extension: route, tools, timings). A model talked to directly is
answered by :mod:`lamina.serving.direct_replies`."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage

from lamina.errors import LaminaError
from lamina.serving.protocol import (
    ChatCompletionRequest,
    chunk_body,
    completion_body,
    new_id,
)
from lamina.serving.redaction import log_tool_errors, redact, redactions
from lamina.serving.requests import api_error, internal_error, log_internal

if TYPE_CHECKING:
    from lamina.agents.agent import Agent
    from lamina.agents.result import RunResult

__all__ = [
    "agent_completion",
    "agent_stream",
    "agent_usage",
    "client_view",
    "extension",
    "sse",
]

logger = logging.getLogger(__name__)


def extension(result: RunResult) -> dict[str, Any]:
    data = result.to_dict()
    keys = (
        "ok",
        "error",
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


def client_view(result: RunResult, thread_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """The answer and the `lamina` extension as a client may see them: each tool exception's
    text replaced by its error id (:mod:`lamina.serving.redaction`), and the thread id the
    client sent when the server keeps it scoped (`thread_id`)."""
    log_tool_errors(result)
    table = redactions(result)
    ext: dict[str, Any] = redact(extension(result), table)
    if thread_id is not None:
        ext["thread_id"] = thread_id
    return str(redact(result.answer, table)), ext


def agent_usage(result: RunResult) -> dict[str, int]:
    # The agent's layers each read and write; RunResult counts tokens per layer, not split into
    # prompt and completion, so the total is reported as completion tokens.
    total = int(result.tokens.get("total", 0))
    return {"prompt_tokens": 0, "completion_tokens": total, "total_tokens": total}


def agent_completion(
    req: ChatCompletionRequest, result: RunResult, thread_id: str | None = None
) -> dict[str, Any]:
    answer, ext = client_view(result, thread_id)
    return completion_body(
        completion_id=new_id(),
        model=req.model,
        text=answer,
        finish_reason="stop",
        usage=agent_usage(result),
        extension=ext,
    )


def sse(data: dict[str, Any] | str) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {payload}\n\n"


def agent_stream(
    agent: Agent,
    req: ChatCompletionRequest,
    task: list[BaseMessage],
    thread_id: str | None,
    user_id: str | None,
    slot: ExitStack,
    public_thread: str | None = None,
) -> Iterator[str]:
    """Server-sent events for one agent run; holds the queue slot until the run ends.

    `public_thread` is the thread id the client sent, when `thread_id` is the server's scoped
    form of it (keys bound to tenants).

    Starlette runs a synchronous iterator in its thread pool, so the run does not block the
    event loop. The run starts before the first chunk: an error raised before its first event
    (a busy thread) leaves this generator before any byte is sent, so it can get its own status.
    """
    import itertools
    import uuid

    cid = new_id()
    thread = thread_id or uuid.uuid4().hex
    with slot:
        events = agent.stream(task, thread_id=thread, user_id=user_id, stream_mode=("updates",))
        first = list(itertools.islice(events, 1))  # takes the thread (ThreadBusyError)
        yield sse(chunk_body(completion_id=cid, model=req.model, delta={"role": "assistant"}))
        try:
            for update in itertools.chain(first, events):
                # with a list of stream modes LangGraph yields (mode, data) pairs
                data = update[1] if isinstance(update, tuple) else update
                layers = list(data) if isinstance(data, dict) else []
                for layer in layers:
                    yield sse(
                        chunk_body(
                            completion_id=cid,
                            model=req.model,
                            delta={},
                            extension={"layer": str(layer)},
                        )
                    )
            result = agent.result(thread, user_id)
        except LaminaError as exc:
            yield sse(api_error(exc).body())
            yield sse("[DONE]")
            return
        except Exception as exc:  # the status is sent already: say what happened in the stream
            error_id = log_internal(exc, "in an agent stream")
            yield sse(internal_error(exc, error_id).body())
            yield sse("[DONE]")
            return
        answer, ext = client_view(result, public_thread)
        yield sse(chunk_body(completion_id=cid, model=req.model, delta={"content": answer}))
        final = chunk_body(
            completion_id=cid,
            model=req.model,
            delta={},
            finish_reason="stop",
            extension=ext,
        )
        final["usage"] = agent_usage(result)
        yield sse(final)
        yield sse("[DONE]")
