"""The model pool: models load lazily, stay resident within a memory budget, and are evicted
least-recently-used first (and `close()`d). A llama.cpp context is not thread-safe, so each loaded
model has one lock: concurrent callers queue on it instead of crashing."""

from __future__ import annotations

import functools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lamina.config import (
    Settings,
    bounded_malloc,
    bounded_openmp_spin,
    get_settings,
    release_free_heap,
)
from lamina.errors import ModelError, ModelFileError
from lamina.models.catalog import CATALOG, ModelSpec, resolve_spec

if TYPE_CHECKING:
    from lamina.models.llama_chat import LlamaChatModel
    from lamina.models.remote_chat import RemoteChatModel

__all__ = [
    "Loader",
    "ModelPool",
    "attach_kv_cache",
    "default_pool",
    "load_llama",
    "reset_default_pool",
]

logger = logging.getLogger(__name__)

Loader = Callable[[ModelSpec, Path, Settings], Any]
"""Builds a loaded model (a `llama_cpp.Llama` by default) from a spec and its file path."""

GGUF_MAGIC = b"GGUF"

ALLOW_MODEL_LOADS = True
"""Unit tests set this to False so that any attempt to load a real GGUF fails loudly."""


def check_gguf_file(path: Path, name: str) -> None:
    """Raise a clear `ModelFileError` unless `path` is a readable GGUF file."""
    if not path.exists():
        raise ModelFileError(
            f"Model {name!r}: expected a GGUF file at {path}, found nothing there. "
            f"Fix: run `lamina models pull {name}`, set LAMINA_MODELS_DIR (models_dir in "
            "lamina.toml) to where it was pulled, or point ModelSpec(path=...) at the file."
        )
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelFileError(
            f"Model {name!r}: cannot read {path} ({exc.strerror}). Fix: check its permissions."
        ) from exc
    if magic != GGUF_MAGIC:
        raise ModelFileError(
            f"Model {name!r}: {path} is not a GGUF file (expected the magic bytes 'GGUF', found "
            f"{magic!r}). Fix: point at a real .gguf model, or `lamina models pull` it again."
        )


def load_llama(spec: ModelSpec, path: Path, settings: Settings) -> Any:
    """Load `path` with llama.cpp (the default loader)."""
    if not ALLOW_MODEL_LOADS:
        raise ModelError(
            f"Real model loads are switched off (lamina.models.pool.ALLOW_MODEL_LOADS is False), "
            f"yet {spec.name!r} was about to load from {path}. Fix: in unit tests use "
            "lamina.models.testing.FakeChatModel or pass a fake loader to ModelPool."
        )
    check_gguf_file(path, spec.name)
    bounded_openmp_spin()
    bounded_malloc()
    from lamina.models.llama.build_info import check_amx_safe

    check_amx_safe(settings.allow_amx)
    from lamina.models.llama_logging import route_llama_logs

    route_llama_logs()
    from llama_cpp import Llama

    try:
        llama = Llama(
            model_path=str(path),
            n_ctx=spec.context_size,
            n_threads=settings.n_threads,
            n_threads_batch=settings.n_threads,
            seed=settings.seed,
            verbose=False,
        )
    except (ValueError, RuntimeError) as exc:
        raise ModelFileError(
            f"Model {spec.name!r}: llama.cpp could not load {path} ({exc}). Fix: check the file "
            "is a complete GGUF model your llama-cpp-python version supports."
        ) from exc
    evaluate_last_token_alone(llama)
    attach_kv_cache(llama, spec, path, settings)
    return llama


def evaluate_last_token_alone(llama: Any) -> None:
    """Make a greedy answer independent of how much of its prompt was already evaluated.

    llama.cpp's CPU kernels for one token and for a batch of tokens round differently. A prompt
    evaluated from scratch gets the logits of its last token from a batch; the same prompt met
    again (llama.cpp keeps the previous prompt, the prefix cache keeps earlier ones) gets them
    from that token alone, so temperature 0 could answer the same request two ways: measured
    with SmolLM2-135M on an AVX-512 CPU, "Name a colour." gave two different answers over four
    calls. Evaluating a prompt's last token on its own, always, takes the same path either way
    (five identical answers, with prefixes reused in between) at the cost of one more decode
    call per completion. Tokens the model generates are evaluated one at a time anyway.
    """
    evaluate = llama.eval

    def eval_last_alone(tokens: Sequence[int]) -> Any:
        if len(tokens) > 1:
            evaluate(tokens[:-1])
            return evaluate(tokens[-1:])
        return evaluate(tokens)

    llama.eval = eval_last_alone


def attach_kv_cache(llama: Any, spec: ModelSpec, path: Path, settings: Settings) -> Any:
    """Give `llama` llama.cpp's KV prefix cache as `settings` ask (`kv_cache`, `kv_cache_bytes`).

    llama.cpp by itself reuses only the prefix shared with the *previous* prompt of the same
    context. The prefix cache keeps the states of earlier prompts, so when prompts alternate
    (solve, summarise, solve again) the next one starts from the longest cached prefix instead of
    from scratch: measured on SmolLM2-135M with two alternating system prompts, 145 of 363 prompt
    tokens evaluated instead of all 363.

    Returns:
        The cache attached (None when it is switched off).
    """
    if settings.kv_cache == "off" or settings.kv_cache_bytes <= 0:
        return None
    import numpy as np

    if settings.kv_cache == "disk":
        folder = settings.home / "kv_cache" / _kv_cache_folder(spec, path)
        cache: Any = _quiet_disk_cache_class()(str(folder), capacity_bytes=settings.kv_cache_bytes)
    else:
        cache = _trimming_ram_cache_class()(capacity_bytes=settings.kv_cache_bytes)
    # A saved state copies `scores[:n_tokens]`, one row of n_vocab floats per prompt token (40 MB
    # for 200 tokens of SmolLM2, 210 MB for Gemma 3's 262k vocabulary). lamina samples inside
    # llama.cpp and never asks for logprobs (logits_all is off), so those rows are never read:
    # one row keeps save_state/load_state cheap and the cache's byte budget honest.
    llama.scores = np.zeros((1, llama.n_vocab()), dtype=np.single)
    llama.set_cache(cache)
    return cache


@functools.cache
def _trimming_ram_cache_class() -> type[Any]:
    """llama-cpp-python's RAM prefix cache, returning the heap an eviction frees to the OS.

    Without the trim, evicted states leave free pages inside glibc's heaps that RSS keeps (see
    `lamina.config.release_free_heap`), so a long-lived process grew past the cache's cap.
    """
    from llama_cpp.llama_cache import LlamaRAMCache

    class TrimmingRAMCache(LlamaRAMCache):  # type: ignore[misc]
        def __setitem__(self, key: Sequence[int], value: Any) -> None:
            before = len(self.cache_state)
            super().__setitem__(key, value)
            if len(self.cache_state) <= before:  # an older state was evicted or replaced
                release_free_heap()

    return TrimmingRAMCache


def _kv_cache_folder(spec: ModelSpec, path: Path) -> str:
    """One folder per model file: a state from other weights must never be loaded."""
    if spec.sha256:
        return f"{spec.name}-{spec.sha256[:16]}"
    try:
        st = path.stat()
    except OSError:
        return spec.name
    return f"{spec.name}-{st.st_size}-{st.st_mtime_ns}"


@functools.cache
def _quiet_disk_cache_class() -> type[Any]:
    """`LlamaDiskCache` without its debug prints to stderr, and reads that keep the entry.

    llama-cpp-python's version prints on every write and pops an entry when it is read, so a
    prefix could serve only once.
    """
    from llama_cpp.llama_cache import LlamaDiskCache

    class QuietDiskCache(LlamaDiskCache):  # type: ignore[misc]
        def __getitem__(self, key: Any) -> Any:
            found = self._find_longest_prefix_key(tuple(key))
            if found is None:
                raise KeyError("Key not found")
            return self.cache[found]

        def __setitem__(self, key: Any, value: Any) -> None:
            key = tuple(key)
            if key in self.cache:
                del self.cache[key]
            self.cache[key] = value
            while self.cache_size > self.capacity_bytes and len(self.cache) > 0:
                del self.cache[next(iter(self.cache))]

    return QuietDiskCache


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
        budget_bytes: the memory budget; a model's cost is its file size.
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

    def _cost(self, spec: ModelSpec, path: Path) -> int:
        try:
            return path.stat().st_size
        except OSError:
            return 0

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

    def chat_model(self, name: str, **settings: Any) -> LlamaChatModel | RemoteChatModel:
        """A LangChain chat model over the pooled model `name` (the `ChatModelProvider` API).

        A spec with an `endpoint` gives a :class:`RemoteChatModel` (nothing is loaded here).
        """
        from lamina.models.llama_chat import LlamaChatModel

        spec = self.spec(name)
        if spec.name not in self._specs:
            self.register(spec)
        if spec.is_remote:
            from lamina.models.remote_chat import RemoteChatModel

            return RemoteChatModel.from_spec(spec, **settings)
        return LlamaChatModel(pool=self, model_name=spec.name, **settings)

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
