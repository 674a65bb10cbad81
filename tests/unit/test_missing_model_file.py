"""A missing model file: `models pull` is suggested only for a catalog model it can fetch."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import lamina.models.llama.loader as loader_module
from lamina.cli.models import app
from lamina.config import get_settings
from lamina.errors import ModelFileError, UnknownModelError
from lamina.models.catalog import CATALOG, ModelSpec, resolve_spec
from lamina.models.llama.loader import load_llama


def _load_error(spec: ModelSpec, monkeypatch: pytest.MonkeyPatch) -> str:
    # The file is missing, so the loader stops at its check, before llama.cpp is imported.
    monkeypatch.setattr(loader_module, "ALLOW_MODEL_LOADS", True)
    settings = get_settings()
    with pytest.raises(ModelFileError) as info:
        load_llama(spec, spec.local_path(settings.models_dir), settings)
    return str(info.value)


def test_a_custom_gguf_that_is_not_there_points_at_model_spec_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "qwen2.5-0.5b-instruct-q4_k_m.gguf"
    message = _load_error(ModelSpec(name="qwen", path=path), monkeypatch)
    assert str(path) in message
    assert "ModelSpec(name='qwen', path=" in message
    assert "lamina models pull qwen" not in message
    assert "not one `lamina models pull` can fetch" in message


def test_a_catalog_name_with_its_own_path_is_not_told_to_pull(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pulling writes to the models dir, not to this path: it would not fix anything.
    spec = CATALOG["smollm2-135m-instruct"].model_copy(update={"path": tmp_path / "x.gguf"})
    message = _load_error(spec, monkeypatch)
    assert "lamina models pull smollm2-135m-instruct" not in message
    assert "ModelSpec(name='smollm2-135m-instruct', path=" in message


def test_a_catalog_model_not_pulled_yet_is_told_to_pull(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _load_error(CATALOG["smollm2-135m-instruct"], monkeypatch)
    assert "run `lamina models pull smollm2-135m-instruct`" in message


def test_a_gguf_path_given_as_a_model_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    message = _load_error(resolve_spec(str(tmp_path / "mine.gguf")), monkeypatch)
    assert "ModelSpec(name='mine', path=" in message
    assert "lamina models pull mine" not in message


def test_an_unknown_name_suggests_model_spec_path() -> None:
    with pytest.raises(UnknownModelError, match=r"ModelSpec\(path="):
        resolve_spec("qwen")


def test_models_info_on_a_missing_custom_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["info", str(tmp_path / "mine.gguf")])
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "ModelSpec(name='mine', path=" in output
    assert "lamina models pull mine" not in output
