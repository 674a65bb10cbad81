"""The runtime context: long-lived dependencies the layers use, passed through LangGraph's
`context_schema` and never stored in state (so state stays serialisable for checkpoints)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lamina.errors import UnknownModelError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool

__all__ = ["AgentContext", "ChatModelProvider", "StaticModels"]


@runtime_checkable
class ChatModelProvider(Protocol):
    """Hands out LangChain chat models by name (the model pool does; so does a dict in tests)."""

    def chat_model(self, name: str) -> BaseChatModel:
        """The chat model called `name`; raises `UnknownModelError` for an unknown name."""
        ...

    def names(self) -> list[str]:
        """Every name `chat_model` accepts."""
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
        tool_relevance: a :class:`~lamina.layers.tool_relevance.ToolRelevance` that planning and
            execution weigh tools with by meaning (None: by words only).
        extras: anything a user's own nodes need.
    """

    models: ChatModelProvider
    default_model: str
    router: Any = None
    memory: Any = None
    step_cache: Any = None
    ledger: Any = None
    tools: dict[str, BaseTool] = field(default_factory=dict)
    tool_relevance: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    def tool_list(self) -> list[BaseTool]:
        """The tools in registration order."""
        return list(self.tools.values())

    @staticmethod
    def tools_by_name(tools: Iterable[BaseTool]) -> dict[str, BaseTool]:
        """Index tools by name (clashes are the tool registry's job to report)."""
        return {t.name: t for t in tools}
