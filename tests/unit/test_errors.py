"""Error messages for model files: what was expected, what was found, and the fix."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lamina.models.llama.loader as loader_module
from lamina.cli.models import app
from lamina.config import get_settings
from lamina.errors import (
    ChecksumError,
    ConfigError,
    LaminaError,
    ModelError,
    ModelFileError,
    PullError,
    UnknownModelError,
)
from lamina.models.catalog import CATALOG, ModelSpec
from lamina.models.gguf import read_gguf_metadata
from lamina.models.llama.loader import check_gguf_file, load_llama


@pytest.fixture
def renamed_text_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.gguf"
    path.write_text("these are my notes, not a model\n")
    return path


def test_error_tree_says_whose_fault() -> None:
    assert issubclass(ChecksumError, PullError)
    assert issubclass(PullError, ModelError)
    assert issubclass(ModelFileError, ModelError)
    assert issubclass(UnknownModelError, ConfigError)
    assert all(issubclass(e, LaminaError) for e in (ModelError, ConfigError))


def test_renamed_text_file_via_check_gguf_file(renamed_text_file: Path) -> None:
    with pytest.raises(ModelFileError) as info:
        check_gguf_file(renamed_text_file, "notes")
    message = str(info.value)
    assert "not a GGUF file" in message
    assert str(renamed_text_file) in message
    assert "b'thes'" in message  # what was found
    assert "Fix" in message


def test_renamed_text_file_via_the_reader(renamed_text_file: Path) -> None:
    with pytest.raises(ModelFileError) as info:
        read_gguf_metadata(renamed_text_file)
    message = str(info.value)
    assert "not a GGUF file" in message
    assert "b'GGUF'" in message
    assert str(renamed_text_file) in message


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.gguf"
    with pytest.raises(ModelFileError, match=r"ModelSpec\(name='absent', path="):
        check_gguf_file(missing, "absent")  # not a catalog model: pulling cannot help
    with pytest.raises(ModelFileError, match="found nothing there"):
        read_gguf_metadata(missing)


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.gguf"
    empty.touch()
    with pytest.raises(ModelFileError, match="not a GGUF file"):
        read_gguf_metadata(empty)


def test_truncated_gguf_header(tmp_path: Path) -> None:
    path = tmp_path / "cut.gguf"
    # claims 5 metadata pairs, then ends in the middle of the first key
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 5) + struct.pack("<Q", 20) + b"gen")
    with pytest.raises(ModelFileError, match="corrupt") as info:
        read_gguf_metadata(path)
    assert "ends early" in str(info.value)


def test_implausible_counts_are_corruption_not_memory_errors(tmp_path: Path) -> None:
    path = tmp_path / "huge.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 60))
    with pytest.raises(ModelFileError, match="implausible string length"):
        read_gguf_metadata(path)


def test_unknown_value_type(tmp_path: Path) -> None:
    path = tmp_path / "odd.gguf"
    path.write_bytes(
        b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<I", 99)
    )
    with pytest.raises(ModelFileError, match="unknown value type 99"):
        read_gguf_metadata(path)


def test_unsupported_gguf_version(tmp_path: Path) -> None:
    path = tmp_path / "v1.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<III", 1, 0, 0))
    with pytest.raises(ModelFileError, match="version 1 is not supported"):
        read_gguf_metadata(path)


def test_real_loads_are_blocked_in_unit_tests(tmp_path: Path) -> None:
    assert loader_module.ALLOW_MODEL_LOADS is False
    spec = CATALOG["smollm2-135m-instruct"]
    with pytest.raises(ModelError, match="ALLOW_MODEL_LOADS") as info:
        load_llama(spec, tmp_path / "x.gguf", get_settings())
    assert "FakeChatModel" in str(info.value)


def test_unknown_model_message() -> None:
    error = UnknownModelError("qwen", ["b", "a"])
    assert str(error) == (
        "Unknown model 'qwen'; known: a, b. Use one of these names, or a "
        "ModelSpec(path='file.gguf') for your own GGUF file."
    )


def test_cli_reports_a_renamed_file_in_one_line(renamed_text_file: Path) -> None:
    result = CliRunner().invoke(app, ["info", str(renamed_text_file)])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("Error:")
    assert "not a GGUF file" in lines[0]
    assert "Traceback" not in result.output


def test_cli_pull_of_a_local_file_is_a_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["pull", str(tmp_path / "mine.gguf")])
    assert result.exit_code == 1
    assert "no package parts" in result.stderr


def test_local_spec_without_file_points_at_the_fix(tmp_path: Path) -> None:
    spec = ModelSpec(name="mine", path=tmp_path / "mine.gguf")
    with pytest.raises(ModelFileError, match="found nothing there"):
        check_gguf_file(spec.local_path(tmp_path), spec.name)
