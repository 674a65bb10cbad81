"""A scripted chat model for tests: it replies with what it was given, in order.

Use it to drive an agent's graph deterministically without model files:

    >>> from langchain_core.messages import AIMessage
    >>> from lamina.models.testing import FakeChatModel
    >>> fake = FakeChatModel(responses=["Hello!"])
    >>> fake.invoke("hi").content
    'Hello!'

A response may be a string (a plain answer), an `AIMessage` (e.g. with `tool_calls`), a
`ToolCallScript` (shorthand for one tool call), or a dict (a structured-output reply).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, Field, PrivateAttr

from lamina.errors import ModelOutputError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["FakeChatModel", "HashingEncoder", "ToolCallScript"]

_ids = itertools.count(1)


@dataclass(frozen=True)
class ToolCallScript:
    """Shorthand for an `AIMessage` that calls one tool."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)

    def to_message(self) -> AIMessage:
        return AIMessage(
            content="",
            tool_calls=[{"name": self.name, "args": dict(self.args), "id": f"call_{next(_ids)}"}],
        )


Response = str | AIMessage | ToolCallScript | dict[str, Any]


class FakeChatModel(BaseChatModel):
    """Replies with `responses` in order; raises `ModelOutputError` when they run out.

    Attributes:
        responses: the script.
        calls: every list of messages the model was invoked with (for assertions).
        bound_tools: names of the tools last bound with `bind_tools`.
        tool_choices: the `tool_choice` of every `bind_tools` call, in order.
    """

    responses: list[Any]
    model_name: str = "fake"
    _index: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    bound_tools: list[str] = Field(default_factory=list)
    tool_choices: list[str | None] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "lamina-fake"

    def _next(self) -> Response:
        with self._lock:
            if self._index >= len(self.responses):
                raise ModelOutputError(
                    f"FakeChatModel ran out of responses: expected at most {len(self.responses)} "
                    f"calls, got call {self._index + 1}. Fix: add responses to the script."
                )
            item: Response = self.responses[self._index]
            self._index += 1
            return item

    @property
    def remaining(self) -> int:
        """How many scripted responses are left."""
        return len(self.responses) - self._index

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append(list(messages))
        item = self._next()
        if isinstance(item, ToolCallScript):
            message = item.to_message()
        elif isinstance(item, AIMessage):
            message = item
        elif isinstance(item, dict):
            message = AIMessage(content=json.dumps(item))
        else:
            message = AIMessage(content=str(item))
        message.usage_metadata = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
        return ChatResult(generations=[ChatGeneration(message=message)])

    def bind_tools(
        self,
        tools: Sequence[Any],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        names = []
        for t in tools:
            name = getattr(t, "name", None)
            if name is None and isinstance(t, dict):
                name = t.get("function", t).get("name")
            names.append(str(name))
        self.bound_tools = names
        self.tool_choices.append(tool_choice)
        return self

    def with_structured_output(
        self, schema: type[BaseModel] | dict[str, Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, Any]:
        def parse(value: LanguageModelInput) -> Any:
            message = self.invoke(value)
            data = json.loads(str(message.content))
            if isinstance(schema, type) and issubclass(schema, BaseModel):
                return schema.model_validate(data)
            return data

        runnable: Callable[[LanguageModelInput], Any] = parse
        return RunnableLambda(runnable)


class HashingEncoder:
    """A deterministic stand-in for the sentence-transformers encoder (no model files).

    Each word hashes to one dimension, so cosine similarity is word overlap. It has the
    encoder's interface (`encode`, `identity`) and records every call in `calls`.

    Args:
        identity: the encoder id on-disk caches key on.
        dim: vector length.
        normalise: L2-normalise rows like the real encoder (False tests that callers normalise).
    """

    def __init__(
        self, identity: str = "hashing-v1", dim: int = 512, normalise: bool = True
    ) -> None:
        self.identity = identity
        self.dim = dim
        self.normalise = normalise
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        import numpy as np

        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[i, int(hashlib.sha256(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        if self.normalise:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            out /= norms
        return out
