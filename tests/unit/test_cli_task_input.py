"""`lamina run -` and `lamina run --file PATH`: a task too long for an argument."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lamina.cli.run as run_cli
import lamina.cli.task_input as task_input
from lamina import Agent
from lamina.cli import app
from lamina.models.testing import FakeChatModel

BIG = "Summarise this: " + "The quick brown fox jumps over the lazy dog. " * 24_000  # ~1 MB
LONG = "Summarise this: " + "The quick brown fox jumps over the lazy dog. " * 600  # ~27 KB


def _recording_agent(seen: list[str]):  # type: ignore[no-untyped-def]
    def build(_config: object, *_: object) -> Agent:
        fake = FakeChatModel(responses=["done"] * 10)
        agent = Agent(
            chat_models={"fake": fake},
            routes=[],
            tools=[],
            memory=False,
            step_cache=False,
            checkpointer=":memory:",
            trust_model_answers=True,  # the task's way in is tested here, not the answer
        )
        original = agent.run

        def run(task: str, **kwargs: object):  # type: ignore[no-untyped-def]
            seen.append(task)
            return original(task, **kwargs)  # type: ignore[arg-type]

        agent.run = run  # type: ignore[method-assign]
        return agent

    return build


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    tasks: list[str] = []
    monkeypatch.setattr(run_cli, "build_agent", _recording_agent(tasks))
    return tasks


@pytest.mark.parametrize("source", ["stdin", "file"])
def test_a_long_task_from_stdin_or_a_file(source: str, seen: list[str], tmp_path: Path) -> None:
    path = tmp_path / "task.txt"
    path.write_text(LONG, encoding="utf-8")
    argv = ["run", "-"] if source == "stdin" else ["run", "--file", str(path)]
    result = CliRunner().invoke(app, [*argv, "--json"], input=LONG if source == "stdin" else None)
    assert result.exit_code == 0, result.output
    assert seen == [LONG]
    assert json.loads(result.stdout)["answer"] == "done"


@pytest.mark.parametrize("source", ["stdin", "file"])
def test_a_1_mb_task_reaches_the_input_layer_whole(
    source: str, seen: list[str], tmp_path: Path
) -> None:
    # Too long for one argument (Linux: 128 KiB) and for the input layer's default limit: it
    # arrives whole, and the input layer refuses it with its own clear message.
    assert len(BIG.encode()) > 1_000_000
    path = tmp_path / "task.txt"
    path.write_text(BIG, encoding="utf-8")
    argv = ["run", "-"] if source == "stdin" else ["run", "--file", str(path)]
    result = CliRunner().invoke(app, [*argv, "--json"], input=BIG if source == "stdin" else None)
    assert seen == [BIG]
    assert result.exit_code == 1
    assert f"found {len(BIG.strip()):,}" in result.stderr
    assert "Traceback" not in result.output


def test_the_argument_still_works(seen: list[str]) -> None:
    result = CliRunner().invoke(app, ["run", "What is 6 times 7?", "--json"])
    assert result.exit_code == 0, result.output
    assert seen == ["What is 6 times 7?"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "--file", "{missing}"], "could not read it"),
        (["run", "--file", "{dir}"], "could not read it"),
        (["run", "--file", "{latin1}"], "UTF-8"),
        (["run", "a task", "--file", "{ok}"], "found both"),
        (["run", "-", "--file", "{ok}"], "found both"),
        (["run"], "found none"),
    ],
)
def test_bad_sources_are_clear_errors(
    argv: list[str], expected: str, seen: list[str], tmp_path: Path
) -> None:
    (tmp_path / "ok.txt").write_text("hi")
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    paths = {
        "missing": tmp_path / "missing.txt",
        "dir": tmp_path,
        "latin1": tmp_path / "latin1.txt",
        "ok": tmp_path / "ok.txt",
    }
    argv = [a.format(**{k: str(v) for k, v in paths.items()}) for a in argv]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())  # rich wraps long lines
    assert expected in output
    assert "Fix:" in output
    assert "Traceback" not in output
    assert seen == []  # refused before any run


def test_an_endless_file_is_cut_off(
    seen: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(task_input, "MAX_TASK_BYTES", 1000)
    path = tmp_path / "big.txt"
    path.write_text("x" * 1001)
    result = CliRunner().invoke(app, ["run", "--file", str(path)])
    assert result.exit_code == 1
    assert "at most" in " ".join(result.output.split())
    assert seen == []
