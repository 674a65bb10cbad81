"""Answering a model talked to directly: whole completions and server-sent-event streams, with
text or tool calls, one or `n` choices, in OpenAI's shapes.

- A reply with tool calls has `message.tool_calls` (`id`, `type: "function"`, `function: {name,
  arguments}` with the arguments as a JSON text), `content` null unless the model also wrote text,
  and `finish_reason: "tool_calls"`.
- A streamed text reply streams the model's tokens; its last chunk carries the model's finish
  reason (`"length"` when `max_tokens` cut it off). A streamed tool call is decoded whole under
  its grammar first (only a whole call is known to fit its schema), then sent as OpenAI sends
  one: a delta with the call's `index`, `id`, `type` and `function.name`, then a delta with its
  `function.arguments`.
- With `stream_options.include_usage` every chunk has `usage: null` and a last chunk with no
  choices carries the usage of the whole request.
- When the relevance gate weighed an ``"auto"`` request (:mod:`lamina.serving.tool_gate`), the
  completion, or a stream's first chunk, has a `lamina.tool_relevance` field with its decision.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

from lamina.errors import LaminaError
from lamina.serving.direct import DirectCall, choice_options, new_base_seed, runnable_for
from lamina.serving.protocol import ChatCompletionRequest, chunk_body, completion_body, new_id
from lamina.serving.requests import api_error
from lamina.serving.responses import sse

__all__ = ["direct_completion", "direct_stream", "finish_reason", "openai_tool_calls"]


def openai_tool_calls(reply: Any) -> list[dict[str, Any]]:
    """A reply's tool calls in OpenAI's shape (arguments as JSON text)."""
    return [
        {
            "id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {
                "name": call["name"],
                "arguments": json.dumps(call["args"], ensure_ascii=False),
            },
        }
        for call in getattr(reply, "tool_calls", None) or []
    ]


def finish_reason(reply: Any) -> str:
    """`tool_calls` for a reply with calls, else the model's own reason (`stop`, `length`)."""
    if getattr(reply, "tool_calls", None):
        return "tool_calls"
    meta = getattr(reply, "response_metadata", None) or {}
    return str(meta.get("finish_reason") or "stop")


def _usage(replies: list[Any]) -> dict[str, int]:
    # OpenAI counts the prompt once however many choices; each choice's completion counts.
    metas = [getattr(r, "usage_metadata", None) or {} for r in replies]
    prompt = int(metas[0].get("input_tokens", 0)) if metas else 0
    completion = sum(int(m.get("output_tokens", 0)) for m in metas)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def direct_completion(
    req: ChatCompletionRequest, replies: list[Any], call: DirectCall | None = None
) -> dict[str, Any]:
    """The `chat.completion` of one reply per choice (with `call`'s `lamina` field, if any)."""
    choices = []
    for index, reply in enumerate(replies):
        calls = openai_tool_calls(reply)
        text = str(reply.content)
        content = (text or None) if calls else text
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if calls:
            message["tool_calls"] = calls
        choices.append({"index": index, "message": message, "finish_reason": finish_reason(reply)})
    return completion_body(
        completion_id=new_id(),
        model=req.model,
        text="",
        finish_reason="stop",
        usage=_usage(replies),
        extension=call.extension() if call is not None else None,
        choices=choices,
    )


class _Usage:
    """Tokens of a streamed request: the prompt once, every choice's completion."""

    def __init__(self) -> None:
        self.prompt: int | None = None
        self.completion = 0

    def add(self, meta: dict[str, Any] | None, choice: int) -> None:
        if not meta:
            return
        if choice == 0:
            self.prompt = (self.prompt or 0) + int(meta.get("input_tokens", 0))
        self.completion += int(meta.get("output_tokens", 0))

    def body(self) -> dict[str, int]:
        prompt = self.prompt or 0
        return {
            "prompt_tokens": prompt,
            "completion_tokens": self.completion,
            "total_tokens": prompt + self.completion,
        }


def direct_stream(
    chat_model: Any, req: ChatCompletionRequest, call: DirectCall, slot: ExitStack
) -> Iterator[str]:
    """Server-sent events for a direct request; holds the queue slot until the stream ends.

    An error before the first event is raised (as an `ApiError`, so the client gets its status);
    after it, it is sent as an error event followed by `[DONE]`.
    """
    cid = new_id()
    usage = _Usage()
    started = False
    extension = call.extension()

    def event(delta: dict[str, Any], index: int, finish: str | None = None) -> str:
        nonlocal extension
        body = chunk_body(
            completion_id=cid,
            model=req.model,
            delta=delta,
            finish_reason=finish,
            extension=extension,
            index=index,
        )
        extension = None  # the first chunk carries it
        if call.include_usage:
            body["usage"] = None
        return sse(body)

    with slot:
        runnable = runnable_for(chat_model, call)
        try:
            for index, options in enumerate(choice_options(call, new_base_seed())):
                if call.calls_tools:
                    pieces = _whole_reply(runnable, call, options, index, event, usage)
                else:
                    pieces = _text_reply(runnable, call, options, index, event, usage)
                for piece in pieces:
                    started = True
                    yield piece
        except LaminaError as exc:
            if not started:
                raise api_error(exc) from None
            yield sse(api_error(exc).body())
            yield sse("[DONE]")
            return
        if call.include_usage:
            last = chunk_body(completion_id=cid, model=req.model, delta={})
            last["choices"] = []
            last["usage"] = usage.body()
            yield sse(last)
        yield sse("[DONE]")


def _text_reply(
    runnable: Any,
    call: DirectCall,
    options: dict[str, Any],
    index: int,
    event: Any,
    usage: _Usage,
) -> Iterator[str]:
    finish = "stop"
    first = True
    for piece in runnable.stream(call.messages, stop=call.stop, **options):
        if first:  # after the model's first piece: an error before it still gets its status
            yield event({"role": "assistant", "content": ""}, index)
            first = False
        text = str(piece.content)
        if text:
            yield event({"content": text}, index)
        finish = str((piece.response_metadata or {}).get("finish_reason") or finish)
        usage.add(piece.usage_metadata, index)
    if first:
        yield event({"role": "assistant", "content": ""}, index)
    yield event({}, index, finish)


def _whole_reply(
    runnable: Any,
    call: DirectCall,
    options: dict[str, Any],
    index: int,
    event: Any,
    usage: _Usage,
) -> Iterator[str]:
    reply = runnable.invoke(call.messages, stop=call.stop, **options)
    usage.add(reply.usage_metadata, index)
    text = str(reply.content)
    yield event({"role": "assistant", "content": text or None}, index)
    for position, tool_call in enumerate(openai_tool_calls(reply)):
        head = {
            "index": position,
            "id": tool_call["id"],
            "type": "function",
            "function": {"name": tool_call["function"]["name"], "arguments": ""},
        }
        yield event({"tool_calls": [head]}, index)
        arguments = {"arguments": tool_call["function"]["arguments"]}
        yield event({"tool_calls": [{"index": position, "function": arguments}]}, index)
    yield event({}, index, finish_reason(reply))
