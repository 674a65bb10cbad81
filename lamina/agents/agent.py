"""The `Agent` facade: build the five-layer graph with its dependencies, then run it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

from lamina.agents.result import ApprovalRequest, RunResult
from lamina.config import Settings, get_settings
from lamina.errors import ConfigError, UnknownModelError
from lamina.graphs.context import AgentContext
from lamina.layers.input import DEFAULT_USER, to_messages
from lamina.models.catalog import DEFAULT_MODELS, ModelSpec

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import RunnableConfig
    from langchain_core.tools import BaseTool
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.graph.state import CompiledStateGraph, StateGraph
    from langgraph.types import StreamMode

    from lamina.agents.ledger import ToolLedger
    from lamina.layers.router import Route
    from lamina.layers.tool_relevance import ToolRelevance
    from lamina.memory_store.chroma_store import MemoryStore
    from lamina.memory_store.step_cache import StepCache
    from lamina.models.pool import ModelPool

__all__ = ["Agent", "PoolModels", "RunResult"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL_SETTINGS: dict[str, Any] = {"temperature": 0.0, "max_tokens": 256}


class PoolModels:
    """A `ChatModelProvider` over a model pool, with one set of sampling settings."""

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
        routes: the router's routes (default: `lamina.layers.routing_defaults.default_routes()`).
        tools: LangChain tools / `lamina.tool` functions (default: the built-in calculator).
        memory: a `MemoryStore`, a directory for an embedded one, a Chroma server URL
            (`http://host:port`, shared by several processes), or False for no long-term memory.
        default_model: the model used when the router abstains.
        max_steps: bound on the reasoning ⇄ execution loop.
        tool_relevance: weigh tools against each step by meaning (the packaged encoder) when
            deciding whether a step needs a tool, which tools to offer and whether its first
            move must be a call; a `ToolRelevance` with other thresholds or encoder; or False
            to decide by words only (see `lamina.layers.tool_relevance`).
        affinity_margin: router session affinity: a thread keeps its route unless another
            route's similarity beats it by this margin (None: off).
        router_llm: a configured model that settles requests whose similarity is within
            `router_band` of a threshold (the router's LLM fallback; None: off, the default,
            since it measured worse than similarity alone with 135M–270M models).
        router_band: the LLM fallback's uncertainty band.
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
        chat_models: ready-made chat models by name instead of a pool (tests, remote models).
        **graph_options: passed to `build_agent_graph` (rc_iterations, summariser_model, ...).
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
        checkpointer: BaseCheckpointSaver[Any] | str | Path | None = None,
        step_cache: StepCache | bool = True,
        ledger: ToolLedger | str | Path | bool | None = None,
        model_settings: dict[str, Any] | None = None,
        graph: StateGraph[Any, Any, Any, Any] | None = None,
        settings: Settings | None = None,
        pool: ModelPool | None = None,
        chat_models: dict[str, BaseChatModel] | None = None,
        **graph_options: Any,
    ) -> None:
        from lamina.graphs.agent_graph import build_agent_graph, recursion_limit_for
        from lamina.layers.router import IntentRouter
        from lamina.layers.routing_defaults import DEFAULT_MODEL, default_routes
        from lamina.tools.calculator import default_tools
        from lamina.tools.registry import ToolRegistry

        if max_steps < 1:
            raise ConfigError(f"max_steps must be at least 1; found {max_steps}.")
        self.settings = settings or get_settings()
        self.max_steps = max_steps
        sampling = {**DEFAULT_MODEL_SETTINGS, "seed": self.settings.seed, **(model_settings or {})}

        if chat_models is not None:
            from lamina.graphs.context import StaticModels

            provider: Any = StaticModels(chat_models)
            self.pool = None
        else:
            from lamina.models.pool import ModelPool

            self.pool = pool or ModelPool(self.settings)
            self._owns_pool = pool is None  # a pool passed in is the caller's to close
            specs = [self._register(self.pool, m) for m in (models or DEFAULT_MODELS)]
            provider = PoolModels(self.pool, [s.name for s in specs], sampling)
        known = provider.names()

        self.default_model = default_model or (
            DEFAULT_MODEL if DEFAULT_MODEL in known else known[0] if known else ""
        )
        if self.default_model not in known:
            raise UnknownModelError(self.default_model, known)
        if routes is not None:
            route_list = list(routes)
        else:  # the default routes that the configured models can serve
            route_list = [r for r in default_routes() if r.model in known]
            skipped = [r.name for r in default_routes() if r.model not in known]
            if skipped:
                logger.info("default routes %s skipped: their models are not configured", skipped)
        router = None
        if route_list:  # no routes: every task goes to the default model
            llm_fallback = None
            if router_llm is not None:
                from lamina.layers.router_llm import LLMFallback

                if router_llm not in known:
                    raise UnknownModelError(router_llm, known)
                llm_fallback = LLMFallback(provider.chat_model(router_llm), band=router_band)
            router = IntentRouter(
                route_list,
                default_model=self.default_model,
                cache_dir=self.settings.home / "router",
                llm_fallback=llm_fallback,
                affinity_margin=affinity_margin,
            )
            router.validate_models(known)
        registry = ToolRegistry(list(tools) if tools is not None else default_tools())

        self.context = AgentContext(
            models=provider,
            default_model=self.default_model,
            router=router,
            memory=self._memory(memory),
            step_cache=self._step_cache(step_cache),
            tools=registry.as_dict(),
            tool_relevance=self._tool_relevance(tool_relevance),
        )
        if graph is not None and graph_options:
            raise ConfigError(
                "Expected either graph=... or graph options, found both "
                f"({sorted(graph_options)}). Fix: pass these options to build_agent_graph(...) "
                "when you build your graph."
            )
        summariser = graph_options.pop("summariser_model", None)
        if summariser is not None and summariser not in known:
            raise UnknownModelError(summariser, known)
        self._builder = graph or build_agent_graph(
            max_steps=max_steps, summariser_model=summariser, **graph_options
        )
        self.checkpointer = self._checkpointer(checkpointer)
        self.context.ledger = self._ledger(ledger, checkpointer)
        self.graph: CompiledStateGraph[Any, Any, Any, Any] = self._builder.compile(
            checkpointer=self.checkpointer
        )
        self._recursion_limit = recursion_limit_for(max_steps)

    @classmethod
    def from_config(cls, path: str | Path, **overrides: Any) -> Agent:
        """Build an agent from a `lamina.toml` (models, routes, tools, settings)."""
        from lamina.agents.config_file import load_config

        config = load_config(path)
        kwargs = config.build_agent_kwargs()
        kwargs.setdefault("settings", get_settings(**config.settings))
        kwargs.update(overrides)
        return cls(**kwargs)

    # -- construction helpers ---------------------------------------------------------------
    @staticmethod
    def _register(pool: ModelPool, model: str | ModelSpec) -> ModelSpec:
        from lamina.models.catalog import resolve_spec

        spec = resolve_spec(model, {n: pool.spec(n) for n in pool.names()})
        pool.register(spec)
        return spec

    @staticmethod
    def _tool_relevance(relevance: ToolRelevance | bool) -> ToolRelevance | None:
        if relevance is False:
            return None
        from lamina.layers.tool_relevance import ToolRelevance

        if relevance is True:
            return ToolRelevance()  # the packaged encoder the router and memory use, on first use
        if not isinstance(relevance, ToolRelevance):
            raise ConfigError(
                f"Expected tool_relevance to be True, False or a ToolRelevance, found "
                f"{type(relevance).__name__}. Fix: pass ToolRelevance(encoder=...) or a bool."
            )
        return relevance

    def _memory(self, memory: MemoryStore | str | Path | bool) -> MemoryStore | None:
        if memory is False:
            return None
        from lamina.memory_store.chroma_store import MemoryStore

        if isinstance(memory, MemoryStore):
            return memory
        from lamina.scaleout.backends import make_memory_store

        return make_memory_store(self.settings.home / "memory" if memory is True else memory)

    def _step_cache(self, cache: StepCache | bool) -> StepCache | None:
        if cache is False:
            return None
        from lamina.memory_store.step_cache import StepCache

        if isinstance(cache, StepCache):
            return cache
        return StepCache.from_settings(self.settings)

    def _ledger(
        self, ledger: ToolLedger | str | Path | bool | None, checkpointer: object
    ) -> ToolLedger | None:
        from lamina.agents.ledger import ToolLedger
        from lamina.scaleout.backends import is_postgres_url

        if ledger is False:
            return None
        if isinstance(ledger, ToolLedger):
            return ledger
        if isinstance(ledger, str | Path):
            return ToolLedger(ledger)
        home = self.settings.home
        if checkpointer is None or checkpointer == "":
            return ToolLedger(home / "checkpoints.ledger.sqlite")  # beside the default file
        if is_postgres_url(checkpointer):
            return ToolLedger(home / "tool_ledger.sqlite")
        if isinstance(checkpointer, str | Path) and str(checkpointer) != ":memory:":
            file = Path(checkpointer)
            return ToolLedger(file.parent / f"{file.stem}.ledger.sqlite")
        # ":memory:" or a checkpointer object: only when asked for (ledger=True)
        return ToolLedger(home / "tool_ledger.sqlite") if ledger else None

    def _checkpointer(
        self, checkpointer: BaseCheckpointSaver[Any] | str | Path | None
    ) -> BaseCheckpointSaver[Any]:
        if checkpointer is not None and not isinstance(checkpointer, str | Path):
            return checkpointer
        from lamina.scaleout.backends import make_checkpointer

        saver, self._close_checkpointer = make_checkpointer(
            checkpointer or "", default_path=self.settings.home / "checkpoints.sqlite"
        )
        return saver

    # -- running ------------------------------------------------------------------------------
    def _prepare(
        self, task: Any, thread_id: str | None, user_id: str | None
    ) -> tuple[dict[str, Any], RunnableConfig, str, str]:
        thread = thread_id or uuid.uuid4().hex
        user = user_id or DEFAULT_USER
        payload = {"messages": to_messages(task), "user_id": user, "thread_id": thread}
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
        """
        payload, config, thread, user = self._prepare(task, thread_id, user_id)
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

    def _resume_input(
        self, thread_id: str, approve: bool | None
    ) -> tuple[Any, RunnableConfig, str]:
        """What continues the thread's unfinished run (a `Command` answering its pending
        approval, or None to go on from the last checkpoint), and the run's config."""
        from langgraph.types import Command

        from lamina.errors import InputError

        if approve is not None and not isinstance(approve, bool):
            raise InputError(f"approve must be True, False or None, found {approve!r}.")
        if not isinstance(thread_id, str) or not thread_id:
            raise InputError(f"Expected a thread id (a non-empty string), found {thread_id!r}.")
        config: RunnableConfig = {
            "configurable": {"thread_id": thread_id},
            "recursion_limit": self._recursion_limit,
        }
        snapshot = self.graph.get_state(config)
        user = str(snapshot.values.get("user_id") or DEFAULT_USER)
        if snapshot.interrupts:
            if approve is None:
                request = ApprovalRequest.from_value(snapshot.interrupts[0].value)
                what = f"{request.tool}({request.args})" if request else "a tool call"
                raise InputError(
                    f"Thread {thread_id!r} is waiting for an approval of {what}; expected "
                    "approve=True or False. Fix: agent.resume(thread_id, approve=True) "
                    "(`lamina resume THREAD --approve` or `--refuse`)."
                )
            return Command(resume={"approved": approve}), config, user
        if not snapshot.next:
            state = "has no run" if not snapshot.values else "has no unfinished run"
            raise InputError(
                f"Thread {thread_id!r} {state} to resume (checkpoints: {self._where()}); "
                "expected the thread of a run that was interrupted. Fix: check the thread id "
                "and that this agent uses the same checkpointer as the interrupted run."
            )
        if approve is not None:
            raise InputError(
                f"Thread {thread_id!r} was cut off, not paused for an approval; expected "
                "approve=None. Fix: agent.resume(thread_id) (`lamina resume THREAD`)."
            )
        return None, config, user

    def _where(self) -> str:
        return type(self.checkpointer).__name__

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
        """
        command, config, user = self._resume_input(thread_id, approve)
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
        command, config, _ = self._resume_input(thread_id, approve)
        modes = cast("list[StreamMode]", list(stream_mode))
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
        """Yield LangGraph stream events (node updates, and model tokens as `messages`)."""
        payload, config, _, _ = self._prepare(task, thread_id, user_id)
        modes = cast("list[StreamMode]", list(stream_mode))
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
        queue: asyncio.Queue[Any] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        done = object()

        def pump() -> None:
            try:
                for event in self.stream(task, thread_id, user_id, stream_mode):
                    loop.call_soon_threadsafe(queue.put_nowait, event)
            except BaseException as exc:  # re-raised in the consumer
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, done)

        worker = loop.run_in_executor(None, pump)
        while True:
            item = await queue.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
        await worker

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
