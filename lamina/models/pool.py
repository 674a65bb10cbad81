"""The model pool: models load lazily, stay resident within a memory budget, and are evicted
least-recently-used first (and `close()`d). A llama.cpp context is not thread-safe, so each loaded
model has one lock: concurrent callers queue on it instead of crashing.

The pool only holds models; how one is loaded is its `loader` (llama.cpp's by default, see
:mod:`lamina.models.llama.loader`), and the chat models over it come from
:mod:`lamina.models.factory`.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lamina.config import Settings, get_settings
from lamina.errors import LaminaError, ModelError
from lamina.models.catalog import CATALOG, ModelSpec, resolve_spec
from lamina.models.context import context_size_for
from lamina.models.llama.loader import load_llama

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "Loader",
    "ModelPool",
    "default_pool",
    "reset_default_pool",
]

logger = logging.getLogger(__name__)

Loader = Callable[[ModelSpec, Path, Settings], Any]
"""Builds a loaded model (a `llama_cpp.Llama` by default) from a spec and its file path."""


@dataclass
class _Resident:
    spec: ModelSpec
    model: Any
    size_bytes: int
    lock: threading.Lock = field(default_factory=threading.Lock)


class ModelPool:
    """Loads models on first use and keeps them within `budget_bytes` (LRU eviction).

    Args:
        settings: lamina settings (models dir, threads, seed, default budget).
        budget_bytes: the memory budget; a model's cost is its file size plus its context's KV
            cache (see :mod:`lamina.models.context`).
        loader: how a model is loaded (tests pass a fake; the default is llama.cpp).
        kv_cache: llama.cpp's KV prefix cache for the models this pool loads: "ram", "disk" or
            "off" (default: `settings.kv_cache`).
        kv_cache_bytes: each model's prefix-cache capacity (default: `settings.kv_cache_bytes`).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        budget_bytes: int | None = None,
        loader: Loader | None = None,
        kv_cache: Literal["ram", "disk", "off"] | None = None,
        kv_cache_bytes: int | None = None,
    ) -> None:
        settings = settings or get_settings()
        overrides: dict[str, Any] = {}
        if kv_cache is not None:
            overrides["kv_cache"] = kv_cache
        if kv_cache_bytes is not None:
            overrides["kv_cache_bytes"] = kv_cache_bytes
        self.settings = settings.model_copy(update=overrides) if overrides else settings
        self.budget_bytes = (
            budget_bytes if budget_bytes is not None else self.settings.memory_budget_bytes
        )
        self._loader: Loader = loader or load_llama
        self._specs: dict[str, ModelSpec] = dict(CATALOG)
        self._resident: OrderedDict[str, _Resident] = OrderedDict()
        self._load_locks: dict[str, threading.Lock] = {}
        self._lock = threading.RLock()
        self.evictions: list[str] = []

    # -- registry -------------------------------------------------------------------------
    def register(self, spec: ModelSpec) -> None:
        """Make `spec` available by its name (replacing an unloaded spec of the same name)."""
        with self._lock:
            old = self._specs.get(spec.name)
            if old is not None and old != spec and spec.name in self._resident:
                raise ModelError(
                    f"Model {spec.name!r} is loaded with another spec; expected the same spec "
                    "or an unused name. Fix: give your ModelSpec a different name."
                )
            self._specs[spec.name] = spec

    def spec(self, name: str) -> ModelSpec:
        """The spec registered as `name`."""
        with self._lock:
            if name in self._specs:
                return self._specs[name]
        return resolve_spec(name, self._specs)

    def names(self) -> list[str]:
        """Every model name this pool can load."""
        with self._lock:
            return sorted(self._specs)

    def path_of(self, name: str) -> Path:
        """The file the model called `name` loads from."""
        return self.spec(name).local_path(self.settings.models_dir)

    # -- loading --------------------------------------------------------------------------
    def loaded(self) -> list[str]:
        """Names of resident models, least recently used first."""
        with self._lock:
            return list(self._resident)

    def kv_cache_bytes(self) -> dict[str, int]:
        """Bytes each resident model's KV prefix cache holds now (capped by `kv_cache_bytes`)."""
        with self._lock:
            residents = list(self._resident.items())
        held: dict[str, int] = {}
        for name, resident in residents:
            cache = getattr(resident.model, "cache", None)
            size = getattr(cache, "cache_size", None)
            if isinstance(size, int):
                held[name] = size
        return held

    def load(self, name: str) -> bool:
        """Make `name` resident now (before its first call); True when this call loaded it."""
        with self._lock:
            if name in self._resident:
                return False
        self._get(name)
        return True

    def _cost(self, spec: ModelSpec, path: Path) -> int:
        """The file's size plus its context's KV cache (what loading it takes)."""
        try:
            size = path.stat().st_size
        except OSError:
            return 0
        try:
            kv = context_size_for(spec, path, self.settings).kv_bytes
        except LaminaError:  # not a GGUF, or a bad budget: the loader says so, clearly
            kv = 0
        return size + kv

    def _get(self, name: str) -> _Resident:
        spec = self.spec(name)
        with self._lock:
            resident = self._resident.get(name)
            if resident is not None:
                self._resident.move_to_end(name)
                return resident
            load_lock = self._load_locks.setdefault(name, threading.Lock())
        with load_lock:  # one loader per model; other models keep serving meanwhile
            with self._lock:
                resident = self._resident.get(name)
                if resident is not None:
                    self._resident.move_to_end(name)
                    return resident
            path = spec.local_path(self.settings.models_dir)
            cost = self._cost(spec, path)
            self._make_room(cost, keep=name)
            logger.info("loading model %s from %s", name, path)
            model = self._loader(spec, path, self.settings)
            resident = _Resident(spec=spec, model=model, size_bytes=cost)
            with self._lock:
                self._resident[name] = resident
            return resident

    def _make_room(self, cost: int, keep: str) -> None:
        while True:
            with self._lock:
                used = sum(r.size_bytes for r in self._resident.values())
                victims = [n for n in self._resident if n != keep]
                if used + cost <= self.budget_bytes or not victims:
                    return
                victim = victims[0]
            self.evict(victim)

    def evict(self, name: str) -> bool:
        """Unload `name` (waiting for a caller that is using it) and close it."""
        with self._lock:
            resident = self._resident.get(name)
        if resident is None:
            return False
        with resident.lock:
            with self._lock:
                if self._resident.get(name) is not resident:
                    return False
                del self._resident[name]
            close = getattr(resident.model, "close", None)
            if callable(close):
                close()
        logger.info("evicted model %s", name)
        self.evictions.append(name)
        return True

    @contextmanager
    def use(self, name: str) -> Iterator[Any]:
        """Hold the model called `name` (loading it if needed) for one exclusive call."""
        while True:
            resident = self._get(name)
            with resident.lock:
                with self._lock:
                    still_here = self._resident.get(name) is resident
                if still_here:
                    yield resident.model
                    return
            # evicted between lookup and lock: load again

    def chat_model(self, name: str, **settings: Any) -> BaseChatModel:
        """A LangChain chat model over the pooled model `name` (the `ChatModelProvider` API).

        A spec with an `endpoint` gives a :class:`RemoteChatModel` (nothing is loaded here).
        """
        from lamina.models.factory import build_chat_model

        spec = self.spec(name)
        if spec.name not in self._specs:
            self.register(spec)
        return build_chat_model(self, spec, **settings)

    def close(self) -> None:
        """Evict and close every model."""
        for name in self.loaded():
            self.evict(name)


_default: ModelPool | None = None
_default_lock = threading.Lock()


def default_pool() -> ModelPool:
    """The process-wide pool, created with the current settings on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ModelPool()
        return _default


def reset_default_pool() -> None:
    """Close and forget the process-wide pool (tests; after changing settings)."""
    global _default
    with _default_lock:
        if _default is not None:
            _default.close()
        _default = None


_MOVED = {
    "ALLOW_MODEL_LOADS": "lamina.models.llama.loader",
    "GGUF_MAGIC": "lamina.models.llama.loader",
    "attach_kv_cache": "lamina.models.llama.loader",
    "check_gguf_file": "lamina.models.llama.loader",
    "evaluate_last_token_alone": "lamina.models.llama.loader",
}


def __getattr__(name: str) -> Any:
    """The loader's names, which lived here before 0.2 (deprecated: import them from
    lamina.models.llama.loader)."""
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from lamina.models.llama import loader

    warnings.warn(
        f"lamina.models.pool.{name} is deprecated; import it from {_MOVED[name]}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(loader, name)
