"""The `Agent` facade: build the five-layer graph with its dependencies, then run it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

from lamina.agents.assembly import (
    PoolModels,
    make_checkpointer_for,
    make_ledger,
    make_memory,
    make_router,
    make_step_cache,
    make_thread_locks,
    make_tool_relevance,
    register_model,
)
from lamina.agents.model_pin import pin_model
from lamina.agents.result import RunResult
from lamina.agents.resuming import resume_input
from lamina.config import AgentOptions, Guards, Settings, get_settings
from lamina.core.context import AgentContext
from lamina.errors import ConfigError, UnknownModelError
from lamina.layers.input.node import DEFAULT_USER, to_messages
from lamina.models.catalog import DEFAULT_MODELS, ModelSpec

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import RunnableConfig
    from langchain_core.tools import BaseTool
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.graph.state import CompiledStateGraph, StateGraph
    from langgraph.types import StreamMode

    from lamina.guards.tool_relevance import ToolRelevance
    from lamina.layers.router import Route
    from lamina.layers.router.types import Aggregate
    from lamina.models.pool import ModelPool
    from lamina.stores.ledger import ToolLedger
    from lamina.stores.memory.store import MemoryStore
    from lamina.stores.step_cache.cache import StepCache

__all__ = ["Agent", "PoolModels", "RunResult"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL_SETTINGS: dict[str, Any] = {"temperature": 0.0, "max_tokens": 256}

DURABILITY: Final = "sync"
"""LangGraph checkpoint durability for every run: each step's checkpoint is written before the
next step starts, so a crash loses at most the step in progress (whose finished tool calls the
ledger replays)."""


class Agent:
    """A five-layer agent over local GGUF models.

    With no arguments it uses lamina's defaults: SmolLM2-135M-Instruct answers, plans and calls
    tools; Gemma 3 270M takes summarising; the default routes; the calculator; Chroma memory and a
    step cache under `LAMINA_HOME`; SQLite checkpoints.

    Args:
        models: model names (catalog) or `ModelSpec`s the agent may use.
        routes: the router's routes (default: `lamina.layers.router.defaults.default_routes()`).
        tools: LangChain tools / `lamina.tool` functions (default: the built-in calculator).
        memory: a `MemoryStore`, a directory for an embedded one, a Chroma server URL
            (`http://host:port`, shared by several processes), or False for no long-term memory.
        default_model: the model used when the router abstains.
        max_steps: bound on the reasoning ⇄ execution loop.
        tool_relevance: weigh tools against each step by meaning (the packaged encoder) when
            deciding whether a step needs a tool, which tools to offer and whether its first
            move must be a call; a `ToolRelevance` with other thresholds or encoder; or False
            to decide by words only (see `lamina.guards.tool_relevance`).
        affinity_margin: router session affinity: a thread keeps its route unless another
            route's similarity beats it by this margin (None: off).
        router_llm: a configured model that settles requests whose similarity is within
            `router_band` of a threshold (the router's LLM fallback; None: off, the default,
            since it measured worse than similarity alone with 135M–270M models).
        router_band: the LLM fallback's uncertainty band.
        router_aggregate: how the router scores a route ("centroid", "max", "mean_topk"; see
            `IntentRouter`). None: "max", which the default routes' thresholds were chosen
            for; "centroid" suits routes of your own that you fit (`lamina route fit`).
        checkpointer: a LangGraph checkpointer, a SQLite file path, a PostgreSQL URL
            (`postgresql://user@host:port/db`), ":memory:", or None for the default file under
            `LAMINA_HOME`.
        step_cache: a `StepCache`, or False for none.
        ledger: where finished tool calls are recorded so a run resumed after a crash never
            runs one again (`lamina resume`): a `ToolLedger`, a SQLite path, True, or False.
            None (the default) keeps one beside a SQLite checkpoint file (`*.ledger.sqlite`),
            under `LAMINA_HOME` for PostgreSQL, and none for ":memory:" or a checkpointer
            object (nothing survives the process to resume).
        model_settings: sampling settings for every chat model (temperature, max_tokens, seed).
        graph: an uncompiled graph from `build_agent_graph(...)` (possibly extended) to run.
        settings: lamina settings (home, threads, seed); read from the environment by default.
        pool: a model pool to share between agents.
        chat_models: ready-made chat models by name instead of a pool (tests, remote models),
            used as given: `guards=` does not reach inside them (the `loop_retry` guard is a
            `LlamaChatModel`'s `retry_loops`, set it there).
        model: one model for every route (a name or `ModelSpec`); instead of `models=` and
            `default_model=` (see `lamina.agents.model_pin`).
        **options: options of the graph's nodes, validated against
            :class:`~lamina.config.AgentOptions` (rc_iterations, max_plan_steps, memory_k,
            max_output_chars, ...; the README's "Agent options" table lists them all).

    Raises:
        ConfigError: an unknown or mistyped option, or a model, route or tool that does not fit.
    """

    def __init__(
        self,
        models: Sequence[str | ModelSpec] | None = None,
        routes: Sequence[Route] | None = None,
        tools: Sequence[BaseTool | Callable[..., Any]] | None = None,
        memory: MemoryStore | str | Path | bool = True,
        default_model: str | None = None,
        max_steps: int = 8,
        tool_relevance: ToolRelevance | bool = True,
        affinity_margin: float | None = None,
        router_llm: str | None = None,
        router_band: float = 0.05,
        router_aggregate: Aggregate | None = None,
        checkpointer: BaseCheckpointSaver[Any] | str | Path | None = None,
        step_cache: StepCache | bool = True,
        ledger: ToolLedger | str | Path | bool | None = None,
        model_settings: dict[str, Any] | None = None,
        graph: StateGraph[Any, Any, Any, Any] | None = None,
        settings: Settings | None = None,
        pool: ModelPool | None = None,
        chat_models: dict[str, BaseChatModel] | None = None,
        model: str | ModelSpec | None = None,
        **options: Any,
    ) -> None:
        from lamina.graph import build_agent_graph, recursion_limit_for
        from lamina.tools.calculator import default_tools
        from lamina.tools.registry import ToolRegistry

        if graph is not None and options:
            raise ConfigError(
                "Expected either graph=... or graph options, found both "
                f"({sorted(options)}). Fix: pass these options to build_agent_graph(...) "
                "when you build your graph."
            )
        if model is not None:
            models, default_model, routes = pin_model(model, models, default_model, routes)
        self.options = AgentOptions.from_kwargs({"max_steps": max_steps, **options})
        self.settings = settings or get_settings()
        self.max_steps = max_steps
        sampling = {**DEFAULT_MODEL_SETTINGS, "seed": self.settings.seed, **(model_settings or {})}
        if not (self.options.guards or Guards()).loop_retry:
            # the one guard that lives in the model's decoding (remote models have no such retry)
            sampling["retry_loops"] = False

        if chat_models is not None:
            from lamina.core.context import StaticModels

            provider: Any = StaticModels(chat_models)
            self.pool = None
        else:
            from lamina.models.pool import ModelPool

            self.pool = pool or ModelPool(self.settings)
            self._owns_pool = pool is None  # a pool passed in is the caller's to close
            specs = [register_model(self.pool, m) for m in (models or DEFAULT_MODELS)]
            provider = PoolModels(self.pool, [s.name for s in specs], sampling)
        known = provider.names()
        summariser = self.options.summariser_model
        if summariser is not None and summariser not in known:
            raise UnknownModelError(summariser, known)

        home = self.settings.home
        self.context = AgentContext(
            models=provider,
            default_model=self._default_model(default_model, known),
            router=make_router(
                routes,
                provider,
                self.default_model,
                self.settings.home / "router",
                affinity_margin,
                router_llm,
                router_band,
                router_aggregate,
            ),
            memory=make_memory(memory, home),
            step_cache=make_step_cache(step_cache, self.settings),
            tools=ToolRegistry(list(tools) if tools is not None else default_tools()).as_dict(),
            tool_relevance=make_tool_relevance(tool_relevance),
        )
        # only the options given are passed: the builder's defaults are AgentOptions' defaults
        self._builder = graph or build_agent_graph(**self.options.explicit())
        self.checkpointer, close = make_checkpointer_for(checkpointer, home)
        if close is not None:
            self._close_checkpointer = close
        self.context.ledger = make_ledger(ledger, checkpointer, home)
        self.thread_locks = make_thread_locks(checkpointer, home, self.settings.thread_wait_seconds)
        self.graph: CompiledStateGraph[Any, Any, Any, Any] = self._builder.compile(
            checkpointer=self.checkpointer
        )
        self._recursion_limit = recursion_limit_for(max_steps)
        # A graph passed in checks the size with its own input node (built with its own option).
        self._max_input_chars = self.options.max_input_chars if graph is None else None

    @classmethod
    def from_config(cls, path: str | Path, **overrides: Any) -> Agent:
        """Build an agent from a `lamina.toml` (models, routes, tools, settings, options).

        Only this file is read (not `./lamina.toml` too); its settings give way to `LAMINA_*`
        environment variables, and `settings=` replaces them all.
        """
        from lamina.agents.config_file import load_config

        config = load_config(path)
        kwargs = config.build_agent_kwargs()
        kwargs.setdefault("settings", get_settings(path))
        kwargs.update(overrides)
        return cls(**kwargs)

    # -- construction helpers ---------------------------------------------------------------
    def _default_model(self, default_model: str | None, known: list[str]) -> str:
        from lamina.layers.router.defaults import DEFAULT_MODEL

        self.default_model = default_model or (
            DEFAULT_MODEL if DEFAULT_MODEL in known else known[0] if known else ""
        )
        if self.default_model not in known:
            raise UnknownModelError(self.default_model, known)
        return self.default_model

    # -- running ------------------------------------------------------------------------------
    def _prepare(
        self, task: Any, thread_id: str | None, user_id: str | None
    ) -> tuple[dict[str, Any], RunnableConfig, str, str]:
        thread = thread_id or uuid.uuid4().hex
        user = user_id or DEFAULT_USER
        messages = to_messages(task, max_chars=self._max_input_chars)
        payload = {"messages": messages, "user_id": user, "thread_id": thread}
        config: RunnableConfig = {
            "configurable": {"thread_id": thread},
            "recursion_limit": self._recursion_limit,
        }
        return payload, config, thread, user

    def run(self, task: Any, thread_id: str | None = None, user_id: str | None = None) -> RunResult:
        """Run one task to its answer.

        Args:
            task: the request text, or a list of messages.
            thread_id: continue this conversation (a new one when None).
            user_id: whose long-term memory to use (a default user when None).

        Raises:
            InputError: the task is empty, longer than `max_input_chars`, not valid text, or
                makes a prompt longer than a model's context (refused before any decoding).
            ThreadBusyError: another run held the thread past `settings.thread_wait_seconds`.
        """
        payload, config, thread, user = self._prepare(task, thread_id, user_id)
        with self.thread_locks.hold(thread):  # one run per thread: read, run, write
            self.graph.invoke(payload, config, context=self.context, durability=DURABILITY)
            return self._result(config, thread, user)

    def _result(self, config: RunnableConfig, thread: str, user: str) -> RunResult:
        snapshot = self.graph.get_state(config)
        if not snapshot.next and self.context.ledger is not None:
            # The run finished: its checkpoint holds every result, the ledger's job is done.
            self.context.ledger.forget(thread)
        return RunResult.from_state(
            snapshot.values, thread_id=thread, user_id=user, interrupts=snapshot.interrupts
        )

    def resume(self, thread_id: str, approve: bool | None = None) -> RunResult:
        """Continue an unfinished run: one paused for an approval, or one cut off by a crash.

        A tool made with `@tool(requires_approval=True)` pauses the run before it runs:
        `RunResult.interrupted` is True and `RunResult.pending_approval` names the tool and its
        arguments. `approve=True` runs the call; `approve=False` tells the model the call was
        refused. The run may pause again at the next call that needs approval. A new `run` on
        the thread instead drops the pending call (the tool never runs).

        A run whose process died (killed, out of memory, power cut) goes on from its last
        checkpoint with `approve=None`: checkpoints are written before each step starts
        (`durability="sync"`), and tool calls that had finished are replayed from the ledger,
        not run again.

        Args:
            thread_id: the unfinished run's thread (`RunResult.thread_id`, `lamina run --thread`).
            approve: the answer to a pending approval; None for a run that was cut off.

        Raises:
            InputError: the thread has no unfinished run, or `approve` does not fit its state.
            ThreadBusyError: another run held the thread past `settings.thread_wait_seconds`.
        """
        with self.thread_locks.hold(thread_id):
            command, config, user = resume_input(
                self.graph, self._recursion_limit, thread_id, approve
            )
            self.graph.invoke(command, config, context=self.context, durability=DURABILITY)
            return self._result(config, thread_id, user)

    async def aresume(self, thread_id: str, approve: bool | None = None) -> RunResult:
        """`resume` without blocking the event loop."""
        return await asyncio.to_thread(self.resume, thread_id, approve)

    def stream_resume(
        self,
        thread_id: str,
        approve: bool | None,
        stream_mode: Sequence[str] = ("updates", "messages"),
    ) -> Iterator[Any]:
        """`resume`, yielding LangGraph stream events like `stream` does."""
        modes = cast("list[StreamMode]", list(stream_mode))
        with self.thread_locks.hold(thread_id):
            command, config, _ = resume_input(self.graph, self._recursion_limit, thread_id, approve)
            yield from self.graph.stream(
                command, config, context=self.context, stream_mode=modes, durability=DURABILITY
            )

    async def arun(
        self, task: Any, thread_id: str | None = None, user_id: str | None = None
    ) -> RunResult:
        """`run` without blocking the event loop (llama.cpp itself is synchronous)."""
        return await asyncio.to_thread(self.run, task, thread_id, user_id)

    def stream(
        self,
        task: Any,
        thread_id: str | None = None,
        user_id: str | None = None,
        stream_mode: Sequence[str] = ("updates", "messages"),
    ) -> Iterator[Any]:
        """Yield LangGraph stream events (node updates, and model tokens as `messages`); the
        thread is held from the first event until the last (see `run`)."""
        payload, config, thread, _ = self._prepare(task, thread_id, user_id)
        modes = cast("list[StreamMode]", list(stream_mode))
        with self.thread_locks.hold(thread):
            yield from self.graph.stream(
                payload, config, context=self.context, stream_mode=modes, durability=DURABILITY
            )

    async def astream(
        self,
        task: Any,
        thread_id: str | None = None,
        user_id: str | None = None,
        stream_mode: Sequence[str] = ("updates", "messages"),
    ) -> AsyncIterator[Any]:
        """`stream` as an async iterator (the graph runs in a worker thread)."""
        from lamina.agents.async_iter import iterate_in_thread

        async for event in iterate_in_thread(
            lambda: self.stream(task, thread_id, user_id, stream_mode)
        ):
            yield event

    def result(self, thread_id: str, user_id: str | None = None) -> RunResult:
        """The `RunResult` of the latest run in `thread_id` (from its checkpoint)."""
        config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
        return self._result(config, thread_id, user_id or DEFAULT_USER)

    def close(self) -> None:
        """Release the checkpoint database, and the models unless the pool was passed in."""
        if self.pool is not None and getattr(self, "_owns_pool", False):
            self.pool.close()
        ledger = getattr(self, "context", None) and self.context.ledger
        if ledger is not None:
            self.context.ledger = None
            ledger.close()
        close_checkpointer = getattr(self, "_close_checkpointer", None)
        if close_checkpointer is not None:
            self._close_checkpointer = _noop
            close_checkpointer()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _noop() -> None:
    """Closing twice is harmless."""
