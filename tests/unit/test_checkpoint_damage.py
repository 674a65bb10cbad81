"""A damaged checkpoint file: one clear error naming the file and the fix; the file is untouched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lamina.cli.run as run_cli
from lamina import Agent
from lamina.cli import app
from lamina.errors import CheckpointError
from lamina.models.testing import FakeChatModel
from lamina.scaleout.backends import make_checkpointer


def _agent(checkpointer: Path, answers: int = 20) -> Agent:
    return Agent(
        chat_models={"fake": FakeChatModel(responses=["hello"] * answers)},
        routes=[],
        tools=[],
        memory=False,
        step_cache=False,
        checkpointer=checkpointer,
        ledger=False,
        trust_model_answers=True,  # the checkpoint store is tested here, not the answer
    )


@pytest.fixture(scope="module")
def good_file(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a real checkpoint file holding a few threads (several pages)."""
    path = tmp_path_factory.mktemp("good") / "checkpoints.sqlite"
    agent = _agent(path, answers=200)
    for i in range(12):
        assert agent.run("say hello " + "x" * 3000, thread_id=f"t{i}").ok
    agent.close()
    data = path.read_bytes()
    assert len(data) > 200_000
    return data


def _damaged(kind: str, good: bytes) -> bytes:
    if kind == "garbage":
        return b"these are my notes, not a database\n" * 100
    if kind == "truncated":
        return good[: len(good) // 3]
    return os.urandom(len(good))  # "random"


@pytest.mark.parametrize("kind", ["garbage", "truncated", "random"])
def test_a_damaged_file_is_a_clear_error_and_stays_as_it_was(
    kind: str, good_file: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "checkpoints.sqlite"
    data = _damaged(kind, good_file)
    path.write_bytes(data)
    with pytest.raises(CheckpointError) as info:
        make_checkpointer("", default_path=path)
    message = str(info.value)
    assert str(path) in message
    assert "damaged" in message
    assert f"mv {path} {path}.damaged" in message
    assert "Fix:" in message
    assert path.read_bytes() == data  # nothing moved, deleted or rewritten
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints.sqlite"]


def test_a_new_thread_fails_with_the_error_not_a_sqlite_traceback(
    good_file: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "checkpoints.sqlite"
    path.write_bytes(_damaged("truncated", good_file))
    with pytest.raises(CheckpointError, match="damaged"):
        _agent(path).run("hello", thread_id="a-brand-new-thread")


def test_damage_found_after_opening_gives_the_same_error(good_file: bytes, tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.sqlite"
    path.write_bytes(good_file)
    saver, close = make_checkpointer("", default_path=path)
    try:
        # Another program scribbles over every page but the first, after lamina checked the file.
        with path.open("r+b") as f:
            f.seek(4096)
            f.write(os.urandom(len(good_file) - 4096))
        with pytest.raises(CheckpointError, match="damaged"):
            list(saver.list(None))
    finally:
        close()


def test_a_healthy_file_still_works(good_file: bytes, tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.sqlite"
    path.write_bytes(good_file)
    agent = _agent(path)
    assert agent.run("hello again", thread_id="t3").ok
    agent.close()


def test_a_directory_in_place_of_the_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.sqlite"
    path.mkdir()
    with pytest.raises(CheckpointError, match="could not open"):
        make_checkpointer(path, default_path=tmp_path / "unused")


def test_lamina_run_prints_the_error_without_a_traceback(
    good_file: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "checkpoints.sqlite"
    path.write_bytes(_damaged("garbage", good_file))
    monkeypatch.setattr(run_cli, "build_agent", lambda _config, *_: _agent(path))
    result = CliRunner().invoke(app, ["run", "hello"])
    assert result.exit_code == 1
    assert "damaged" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
