"""`lamina doctor` and where models live (`models_dir`, independent of `home`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lamina.cli import app
from lamina.config import get_settings
from lamina.models.llama import build_info as bi


def test_models_dir_does_not_follow_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LAMINA_MODELS_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path / "elsewhere"))
    settings = get_settings()
    assert settings.home == tmp_path / "elsewhere"
    assert settings.models_dir == tmp_path / "user" / ".cache" / "lamina" / "models"


def test_models_dir_has_its_own_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAMINA_MODELS_DIR", "~/my-models")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_settings().models_dir == tmp_path / "my-models"
    monkeypatch.delenv("LAMINA_MODELS_DIR")
    monkeypatch.delenv("LAMINA_HOME")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lamina.toml").write_text('models_dir = "/srv/gguf"\nhome = "~/state"\n')
    settings = get_settings()
    assert settings.models_dir == Path("/srv/gguf")
    assert settings.home == tmp_path / "state"  # expanded, not a literal ./~ folder


def test_doctor_reports_build_paths_versions_and_warnings(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LAMINA_MODELS_DIR", str(tmp_path / "models"))  # nothing pulled there
    result = CliRunner().invoke(app, ["doctor", "--json"])
    report = json.loads(result.stdout)
    assert result.exit_code == 1  # the models are missing: a warning, so exit 1
    assert report["paths"]["models_dir"] == str(tmp_path / "models")
    assert report["llama_cpp"]["built_with"]["AVX2"] == 1
    assert report["llama_cpp"]["amx_instructions"] == {"libggml-cpu.so": 0}
    assert report["packages"]["llama-cpp-python"]
    assert report["packages"]["langgraph"]
    missing = [w for w in report["warnings"] if "lamina models pull" in w]
    assert len(missing) == len(report["models"]) == 2


def test_doctor_warns_about_an_amx_build(monkeypatch, tmp_path) -> None:
    text = "CPU : AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | OPENMP = 1 |"
    fake = bi.BuildInfo("0.3.36", text, bi.parse_system_info(text), {"libggml-cpu.so": 9})
    monkeypatch.setattr(bi, "build_info", lambda: fake)
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "warning: llama.cpp was built with AMX" in " ".join(result.stdout.split())
    assert "libggml-cpu.so: 9" in result.stdout


def test_a_mistyped_setting_is_a_clear_error_not_a_traceback(monkeypatch, tmp_path) -> None:
    from lamina.errors import ConfigError

    monkeypatch.setenv("LAMINA_N_THREADS", "lots")
    with pytest.raises(ConfigError, match=r"Setting 'n_threads'.*found 'lots'.*LAMINA_N_THREADS"):
        get_settings()
    monkeypatch.delenv("LAMINA_N_THREADS")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lamina.toml").write_text('kv_cache = "floppy"\n')
    with pytest.raises(ConfigError, match=r"Setting 'kv_cache'.*'floppy'"):
        get_settings()


def test_a_config_path_naming_a_directory_says_so(tmp_path) -> None:
    from lamina.agents.config_file import load_config
    from lamina.errors import ConfigError

    with pytest.raises(ConfigError, match=r"found a directory.*lamina\.toml"):
        load_config(tmp_path)
