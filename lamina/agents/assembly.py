"""How `Agent` assembles its dependencies: models, tool relevance, memory, step cache, ledger and
checkpointer, each from what the user passed (an object, a path or URL, True or False)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lamina.errors import ConfigError, UnknownModelError

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from lamina.config import Settings
    from lamina.guards.tool_relevance import ToolRelevance
    from lamina.layers.router import Route
    from lamina.layers.router.types import Aggregate
    from lamina.models.catalog import ModelSpec
    from lamina.models.pool import ModelPool
    from lamina.stores.ledger import ToolLedger
    from lamina.stores.memory.store import MemoryStore
    from lamina.stores.step_cache.cache import StepCache
    from lamina.stores.thread_locks import ThreadLocks

__all__ = [
    "PoolModels",
    "make_checkpointer_for",
    "make_ledger",
    "make_memory",
    "make_router",
    "make_step_cache",
    "make_thread_locks",
    "make_tool_relevance",
    "register_model",
]


class PoolModels:
    """A `ChatModelProvider` over a model pool, with one set of chat-model settings (sampling,
    `retry_loops`)."""

    def __init__(self, pool: ModelPool, names: Sequence[str], settings: dict[str, Any]) -> None:
        self.pool = pool
        self._names = list(names)
        self._settings = dict(settings)
        self._cache: dict[str, BaseChatModel] = {}

    def chat_model(self, name: str) -> BaseChatModel:
        if name not in self._names:
            raise UnknownModelError(name, self._names)
        model = self._cache.get(name)
        if model is None:
            model = self.pool.chat_model(name, **self._settings)
            self._cache[name] = model
        return model

    def names(self) -> list[str]:
        return list(self._names)


def register_model(pool: ModelPool, model: str | ModelSpec) -> ModelSpec:
    """Resolve a catalog name or spec against the pool's models, and register it."""
    from lamina.models.catalog import resolve_spec

    spec = resolve_spec(model, {n: pool.spec(n) for n in pool.names()})
    pool.register(spec)
    return spec


def make_tool_relevance(relevance: ToolRelevance | bool) -> ToolRelevance | None:
    """`Agent(tool_relevance=...)`: True (the packaged encoder), False, or a `ToolRelevance`."""
    if relevance is False:
        return None
    from lamina.guards.tool_relevance import ToolRelevance

    if relevance is True:
        return ToolRelevance()  # the packaged encoder the router and memory use, on first use
    if not isinstance(relevance, ToolRelevance):
        raise ConfigError(
            f"Expected tool_relevance to be True, False or a ToolRelevance, found "
            f"{type(relevance).__name__}. Fix: pass ToolRelevance(encoder=...) or a bool."
        )
    return relevance


def make_memory(memory: MemoryStore | str | Path | bool, home: Path) -> MemoryStore | None:
    """`Agent(memory=...)`: a store, a directory, a Chroma server URL, True (under home), False."""
    if memory is False:
        return None
    from lamina.stores.memory.store import MemoryStore

    if isinstance(memory, MemoryStore):
        return memory
    from lamina.scaleout.backends import make_memory_store

    return make_memory_store(home / "memory" if memory is True else memory)


def make_step_cache(cache: StepCache | bool, settings: Settings) -> StepCache | None:
    """`Agent(step_cache=...)`: a `StepCache`, True (from settings) or False."""
    if cache is False:
        return None
    from lamina.stores.step_cache.cache import StepCache

    if isinstance(cache, StepCache):
        return cache
    return StepCache.from_settings(settings)


def make_ledger(
    ledger: ToolLedger | str | Path | bool | None, checkpointer: object, home: Path
) -> ToolLedger | None:
    """`Agent(ledger=...)`; None keeps one beside a checkpoint file (see `Agent`)."""
    from lamina.scaleout.backends import is_postgres_url
    from lamina.stores.ledger import ToolLedger

    if ledger is False:
        return None
    if isinstance(ledger, ToolLedger):
        return ledger
    if isinstance(ledger, str | Path):
        return ToolLedger(ledger)
    if checkpointer is None or checkpointer == "":
        return ToolLedger(home / "checkpoints.ledger.sqlite")  # beside the default file
    if is_postgres_url(checkpointer):
        return ToolLedger(home / "tool_ledger.sqlite")
    if isinstance(checkpointer, str | Path) and str(checkpointer) != ":memory:":
        file = Path(checkpointer)
        return ToolLedger(file.parent / f"{file.stem}.ledger.sqlite")
    # ":memory:" or a checkpointer object: only when asked for (ledger=True)
    return ToolLedger(home / "tool_ledger.sqlite") if ledger else None


def make_checkpointer_for(
    checkpointer: BaseCheckpointSaver[Any] | str | Path | None, home: Path
) -> tuple[BaseCheckpointSaver[Any], Callable[[], None] | None]:
    """`Agent(checkpointer=...)` and what closes it (None: the caller's object, not ours)."""
    if checkpointer is not None and not isinstance(checkpointer, str | Path):
        return checkpointer, None
    from lamina.scaleout.backends import make_checkpointer

    saver, close = make_checkpointer(checkpointer or "", default_path=home / "checkpoints.sqlite")
    return saver, close


def make_thread_locks(
    checkpointer: BaseCheckpointSaver[Any] | str | Path | None, home: Path, wait: float
) -> ThreadLocks:
    """The lock that lets one run at a time use a thread of these checkpoints: an `flock` per
    thread beside a SQLite file (`checkpoints.locks/`), a PostgreSQL advisory lock, or a lock
    in this process for ":memory:" and checkpointer objects (see `lamina.stores.thread_locks`)."""
    from lamina.scaleout.backends import is_postgres_url
    from lamina.stores.thread_locks import FileThreadLocks, LocalThreadLocks, PostgresThreadLocks

    if is_postgres_url(checkpointer):
        return PostgresThreadLocks(str(checkpointer), wait)
    if checkpointer is None or checkpointer == "":
        return FileThreadLocks(home / "checkpoints.locks", wait)
    if isinstance(checkpointer, str | Path) and str(checkpointer) != ":memory:":
        file = Path(checkpointer)
        return FileThreadLocks(file.parent / f"{file.stem}.locks", wait)
    return LocalThreadLocks(wait)


def make_router(
    routes: Sequence[Route] | None,
    provider: Any,
    default_model: str,
    cache_dir: Path,
    affinity_margin: float | None,
    router_llm: str | None,
    router_band: float,
    aggregate: Aggregate | None = None,
) -> Any:
    """The intent router over `routes` (None when there are none: every task goes to the
    default model); by default the default routes the configured models can serve.
    `aggregate` None: "max" (see `lamina.layers.router.defaults.DEFAULT_ROUTES_AGGREGATE`)."""
    from lamina.layers.router.defaults import aggregate_for, default_routes
    from lamina.layers.router.intent_router import IntentRouter

    known = provider.names()
    if routes is not None:
        route_list = list(routes)
    else:
        route_list = [r for r in default_routes() if r.model in known]
        skipped = [r.name for r in default_routes() if r.model not in known]
        if skipped:
            logger.info("default routes %s skipped: their models are not configured", skipped)
    if not route_list:
        return None
    llm_fallback = None
    if router_llm is not None:
        from lamina.layers.router.llm_fallback import LLMFallback

        if router_llm not in known:
            raise UnknownModelError(router_llm, known)
        llm_fallback = LLMFallback(provider.chat_model(router_llm), band=router_band)
    router = IntentRouter(
        route_list,
        aggregate=aggregate_for(aggregate),
        default_model=default_model,
        cache_dir=cache_dir,
        llm_fallback=llm_fallback,
        affinity_margin=affinity_margin,
    )
    router.validate_models(known)
    return router
