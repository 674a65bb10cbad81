"""The runtime context: long-lived dependencies the layers use, passed through LangGraph's
`context_schema` and never stored in state (so state stays serialisable for checkpoints)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import Field, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from lamina.errors import UnknownModelError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage
    from langchain_core.tools import BaseTool
    from pydantic import BaseModel

__all__ = [
    "AgentContext",
    "ChatModelProvider",
    "LedgerEntryView",
    "LoadsModels",
    "MemoryHit",
    "MemorySource",
    "RouteChooser",
    "RoutingDecision",
    "StaticModels",
    "StepCacheLike",
    "ToolCallLedger",
    "ToolWeigher",
]


# -- what the layers call on the context's dependencies ------------------------------------
# Structural types, so that core never imports the concrete router, stores or guards.


class RoutingDecision(Protocol):
    """What the router node reads of a decision (a frozen dataclass: it is `replace`d)."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    @property
    def route(self) -> str | None: ...

    @property
    def model(self) -> str | None: ...

    @property
    def reason(self) -> str: ...

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for the state and the trace."""
        ...


class RouteChooser(Protocol):
    """The router layer's router (`lamina.layers.router.IntentRouter`)."""

    def route(
        self,
        text: str,
        history: Sequence[str] | None = None,
        previous: Mapping[str, Any] | None = None,
    ) -> RoutingDecision:
        """The decision for `text`, given the earlier user turns and the previous decision."""
        ...

    def task_of(self, route: str | None) -> str:
        """What the agent does with a request of `route`: "answer" or "summarise"."""
        ...

    def load_encoder(self) -> bool:
        """Load the encoder (and what it embeds) unless done; True if it was done now."""
        ...


class MemoryHit(Protocol):
    """What the memory node reads of one retrieved memory."""

    @property
    def id(self) -> str: ...

    @property
    def score(self) -> float | None: ...

    @property
    def similarity(self) -> float | None: ...

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for the state."""
        ...


class MemorySource(Protocol):
    """The long-term memory store (`lamina.stores.memory.MemoryStore`), as the memory layer
    uses it: search before reasoning, add after the answer."""

    def search(
        self,
        query: str,
        user_id: str,
        k: int = 3,
        *,
        min_score: float = 0.0,
        kinds: Any = None,
        recency_weight: float | None = None,
        half_life_days: float | None = None,
    ) -> Sequence[MemoryHit]:
        """The best memories of `user_id` for `query`."""
        ...

    def add(
        self, items: Any, user_id: str, *, thread_id: str | None = None, source: str = ...
    ) -> list[str]:
        """Store `items` for `user_id`; the ids written."""
        ...


class StepCacheLike(Protocol):
    """The reasoning layer's step cache (`lamina.stores.step_cache.StepCache`)."""

    def call(
        self, model: BaseChatModel, messages: Sequence[BaseMessage], template_version: str
    ) -> Any:
        """Answer `messages` with `model`, from the cache when the same call was made before."""
        ...

    def cached_structured(
        self,
        model: BaseChatModel,
        schema: type[BaseModel],
        messages: Sequence[BaseMessage],
        template_version: str,
    ) -> Any:
        """:meth:`call` for structured output."""
        ...


class LedgerEntryView(Protocol):
    """What execution reads of a finished call in the ledger."""

    @property
    def result(self) -> str: ...


class ToolCallLedger(Protocol):
    """The tool-call ledger (`lamina.stores.ledger.ToolLedger`): finished calls by id."""

    def get(self, call_id: str) -> LedgerEntryView | None:
        """The finished call with this id, or None."""
        ...

    def record(self, call_id: str, *, thread_id: str, name: str, args: Any, result: str) -> None:
        """Write a finished call (durably)."""
        ...

    def forget(self, thread_id: str) -> int:
        """Delete a thread's entries; how many."""
        ...

    def close(self) -> None:
        """Release the ledger's file."""
        ...


class ToolWeigher(Protocol):
    """Weighs tools against a request by meaning (`lamina.guards.tool_relevance.ToolRelevance`)."""

    def assess(self, text: str, tools: Sequence[Any] | Mapping[str, Any]) -> Any:
        """How well each of `tools` fits `text` (a `ToolFit`)."""
        ...

    def closest(self, what: str, values: Sequence[str], k: int) -> list[str]:
        """The `k` of `values` closest in meaning to `what`, closest first."""
        ...

    def assess_each(self, texts: Sequence[str], tools: Sequence[Any] | Mapping[str, Any]) -> Any:
        """`assess` for each of `texts` (a list of `ToolFit`)."""
        ...

    @property
    def supports_above(self) -> float:
        """The similarity from which a word counts as evidence for a tool."""
        ...


@runtime_checkable
class ChatModelProvider(Protocol):
    """Hands out LangChain chat models by name (the model pool does; so does a dict in tests)."""

    def chat_model(self, name: str) -> BaseChatModel:
        """The chat model called `name`; raises `UnknownModelError` for an unknown name."""
        ...

    def names(self) -> list[str]:
        """Every name `chat_model` accepts."""
        ...


@runtime_checkable
class LoadsModels(Protocol):
    """A provider that can load a model before its first call (the model pool), so that the
    load shows as a step of its own instead of inside the first layer that calls it."""

    def load(self, name: str) -> bool:
        """Make `name` ready now; True when this call loaded it, False when it already was."""
        ...


class StaticModels:
    """A :class:`ChatModelProvider` over ready-made chat models (fake models in unit tests)."""

    def __init__(self, models: Mapping[str, BaseChatModel]) -> None:
        self._models = dict(models)

    def chat_model(self, name: str) -> BaseChatModel:
        try:
            return self._models[name]
        except KeyError:
            raise UnknownModelError(name, list(self._models)) from None

    def names(self) -> list[str]:
        return sorted(self._models)


@dataclass
class AgentContext:
    """Dependencies of one agent, shared by all its runs.

    Attributes:
        models: where layers get chat models by name.
        default_model: the model used when the router abstains.
        router: the router layer's `IntentRouter` (None: always `default_model`).
        memory: the long-term `MemoryStore` (None: memory layer is a no-op).
        step_cache: the reasoning layer's `StepCache` (None: no caching).
        ledger: the execution layer's `ToolLedger` of finished tool calls, so a resumed run
            never runs a finished call again (None: no ledger).
        tools: tools the execution layer may call, by name.
        tool_relevance: a :class:`~lamina.guards.tool_relevance.ToolRelevance` that planning and
            execution weigh tools with by meaning (None: by words only).
        extras: anything a user's own nodes need.
    """

    models: ChatModelProvider
    default_model: str
    router: RouteChooser | None = None
    memory: MemorySource | None = None
    step_cache: StepCacheLike | None = None
    ledger: ToolCallLedger | None = None
    tools: dict[str, BaseTool] = field(default_factory=dict)
    tool_relevance: ToolWeigher | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def tool_list(self) -> list[BaseTool]:
        """The tools in registration order."""
        return list(self.tools.values())

    @staticmethod
    def tools_by_name(tools: Iterable[BaseTool]) -> dict[str, BaseTool]:
        """Index tools by name (clashes are the tool registry's job to report)."""
        return {t.name: t for t in tools}
