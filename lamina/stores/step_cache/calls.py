"""Measured model calls: one call's reply text with the tokens and time it took (`StepCall`), and
the structured-output variant (`StructuredReply`), computed here and served by the step cache."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from lamina.errors import ModelOutputError
from lamina.stores.step_cache.keys import message_text

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage
    from pydantic import BaseModel

__all__ = [
    "StepCall",
    "StructuredReply",
    "cached_reply",
    "invoke_measured",
    "measured_call",
    "reply_value",
    "structured_call",
]


def _total_tokens(usage: Any) -> int:
    if not usage:
        return 0
    total = usage.get("total_tokens")
    if total is None:
        total = int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0))
    return int(total)


def _prompt_tokens(usage: Any) -> tuple[int, int | None]:
    """(prompt tokens, prompt tokens the model evaluated or None when it does not say).

    Evaluated = input tokens minus `input_token_details.cache_read`, which lamina's llama.cpp
    chat model fills with the tokens its KV cache supplied.
    """
    if not usage:
        return 0, None
    prompt = int(usage.get("input_tokens", 0) or 0)
    details = usage.get("input_token_details") or {}
    if "cache_read" not in details:
        return prompt, None
    return prompt, max(0, prompt - int(details["cache_read"] or 0))


@dataclass(frozen=True)
class StepCall:
    """One model call of the reasoning layer, computed or served from the step cache.

    Attributes:
        text: the reply text.
        hit: whether it came from the cache.
        tokens: tokens spent (miss) or saved (hit).
        seconds: model time spent (miss) or saved (hit).
        prompt_tokens: prompt tokens sent to the model (0 on a hit).
        prompt_tokens_evaluated: prompt tokens the model evaluated, the rest coming from
            llama.cpp's KV prefix cache (0 on a hit; None when the model does not report it).
        semantic: served by nearest-neighbour reuse rather than the exact key.
        similarity: the cosine similarity of a semantic hit.
    """

    text: str
    hit: bool
    tokens: int
    seconds: float
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int | None = None
    semantic: bool = False
    similarity: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return asdict(self)


def measured_call(model: BaseChatModel, messages: Sequence[BaseMessage]) -> StepCall:
    """Call `model` once and measure it: tokens, wall time, prompt tokens evaluated."""
    start = time.perf_counter()
    reply = model.invoke(list(messages))
    seconds = time.perf_counter() - start
    usage = getattr(reply, "usage_metadata", None)
    prompt, evaluated = _prompt_tokens(usage)
    return StepCall(
        text=message_text(reply),
        hit=False,
        tokens=_total_tokens(usage),
        seconds=seconds,
        prompt_tokens=prompt,
        prompt_tokens_evaluated=evaluated,
    )


def invoke_measured(
    model: BaseChatModel, messages: Sequence[BaseMessage]
) -> tuple[str, int, float]:
    """Call `model` once: its reply text, the tokens it reports and the wall time it took."""
    call = measured_call(model, messages)
    return call.text, call.tokens, call.seconds


def _usage_counter() -> Any:
    """A callback handler that adds up `usage_metadata` of every chat generation it sees.

    LangChain's own `UsageMetadataCallbackHandler` skips messages without a `model_name` in
    their response metadata, which would undercount some chat models.
    """
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.outputs import ChatGeneration, LLMResult

    class _UsageCounter(BaseCallbackHandler):
        def __init__(self) -> None:
            self.tokens = 0
            self.prompt_tokens = 0
            self.evaluated: int | None = None
            self._lock = threading.Lock()

        def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
            for generations in response.generations:
                for generation in generations:
                    if isinstance(generation, ChatGeneration):
                        usage = getattr(generation.message, "usage_metadata", None)
                        prompt, evaluated = _prompt_tokens(usage)
                        with self._lock:
                            self.tokens += _total_tokens(usage)
                            self.prompt_tokens += prompt
                            if evaluated is not None:
                                self.evaluated = (self.evaluated or 0) + evaluated

    return _UsageCounter()


@dataclass(frozen=True)
class StructuredReply:
    """The outcome of one structured-output call (computed or from the cache).

    Attributes:
        data: the reply as a dict, or None when the output was unusable.
        error: why the output was unusable ("" when it was fine). Unusable output is cached
            like any other: at a fixed seed the same call fails the same way again.
        hit: whether it came from the step cache.
        tokens: tokens spent (miss) or saved (hit).
        prompt_tokens: prompt tokens sent to the model (0 on a hit).
        prompt_tokens_evaluated: of those, the ones the model evaluated (None: not reported).
    """

    data: dict[str, Any] | None
    error: str
    hit: bool
    tokens: int
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int | None = None


def structured_call(
    model: BaseChatModel, schema: type[BaseModel], messages: Sequence[BaseMessage]
) -> tuple[StructuredReply, float]:
    """Call `model.with_structured_output(schema)` once; unusable output becomes `error`.

    Only failures of the output (`ModelOutputError`, a parse or validation `ValueError`) are
    turned into `error`; any other failure (a model that cannot load) propagates. Tokens are
    counted with a callback because the structured runnable returns the parsed object, not
    the message that carries the usage.

    Returns:
        (the reply, seconds the call took).
    """
    from pydantic import BaseModel as PydanticModel

    counter = _usage_counter()
    start = time.perf_counter()
    error = ""
    data: dict[str, Any] | None = None
    try:
        reply = model.with_structured_output(schema).invoke(
            list(messages), config={"callbacks": [counter]}
        )
        if isinstance(reply, PydanticModel):
            data = reply.model_dump(mode="json")
        elif isinstance(reply, dict):
            data = dict(reply)
        else:
            error = f"expected a {schema.__name__} or a dict; found {type(reply).__name__}"
    except (ModelOutputError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        error = f"{type(exc).__name__}: {exc}"[:500]
    seconds = time.perf_counter() - start
    reply_ = StructuredReply(
        data=data,
        error=error,
        hit=False,
        tokens=int(counter.tokens),
        prompt_tokens=int(counter.prompt_tokens),
        prompt_tokens_evaluated=counter.evaluated,
    )
    return reply_, seconds


def reply_value(reply: StructuredReply) -> str:
    """How a structured reply is stored in the step cache (JSON of its data and error)."""
    return json.dumps({"data": reply.data, "error": reply.error}, ensure_ascii=False)


def cached_reply(value: str, tokens: int) -> StructuredReply | None:
    """The structured reply stored as `value` (a hit), or None when it is not one."""
    try:
        stored = json.loads(value)
    except json.JSONDecodeError:
        return None
    if not (isinstance(stored, dict) and isinstance(stored.get("error"), str)):
        return None
    data = stored.get("data")
    return StructuredReply(
        data=data if isinstance(data, dict) else None,
        error=stored["error"],
        hit=True,
        tokens=tokens,
        prompt_tokens_evaluated=0,
    )
