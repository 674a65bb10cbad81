"""`--memory URL|DIR` on `lamina run`, `resume`, `serve` and `lamina memory`, and the spinner
that shows a slow `lamina memory` command is alive."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

import lamina.cli.run as run_cli
from lamina.cli import app
from lamina.cli.progress import working


def test_memory_flags_that_contradict_each_other_are_refused_with_the_fix(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["memory", "stats", "--user", "ada", "--path", str(tmp_path), "--memory",
         "http://127.0.0.1:9", "--json"],
    )  # fmt: skip
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "ConfigError"
    assert "--path" in error["message"]
    assert "--memory" in error["message"]
    assert "Fix: keep one of them" in error["message"]


def test_a_memory_url_that_names_no_host_is_a_config_error() -> None:
    result = CliRunner().invoke(
        app, ["memory", "stats", "--user", "ada", "--memory", "http://:8000", "--json"]
    )
    assert result.exit_code == 1
    assert "Expected a Chroma server URL" in json.loads(result.stdout)["error"]["message"]


@pytest.mark.parametrize("command", [["run", "hello"], ["resume", "t1"]])
def test_run_and_resume_hand_memory_to_the_agent(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    seen: list[Any] = []

    def build(config: Any, memory: Any = None, **flags: Any) -> Any:
        seen.append(memory)
        raise run_cli_error()

    monkeypatch.setattr(run_cli, "build_agent", build)
    result = CliRunner().invoke(app, [*command, "--memory", "http://127.0.0.1:8123"])
    assert result.exit_code == 1
    assert seen == ["http://127.0.0.1:8123"]


def run_cli_error() -> Exception:
    from lamina.errors import ConfigError

    return ConfigError("stop here")


def test_build_agent_gives_the_agent_the_named_store(tmp_path: Path) -> None:
    agent = run_cli.build_agent(None, str(tmp_path / "shared-memory"))
    try:
        store = agent.context.memory
        assert store is not None
        assert store.mode == "embedded"
        assert Path(store.location) == tmp_path / "shared-memory"
    finally:
        agent.close()


def test_the_spinner_shows_on_a_terminal_and_never_with_json_or_a_pipe() -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=80)
    with working("storing 2 memories [/oops] …", as_json=False, console=terminal) as status:
        assert status is not None
        terminal.file.flush()
    assert "storing 2 memories [/oops]" in screen.getvalue()

    piped = io.StringIO()
    with working("x", as_json=False, console=Console(file=piped, force_terminal=False)):
        pass
    assert piped.getvalue() == ""
    with working("x", as_json=True, console=terminal) as nothing:
        assert nothing is None
