"""Durable runs: a `lamina run` killed with SIGKILL in its second tool call resumes with
`lamina resume`, and no finished tool call runs twice.

The two tools append a line to a file as their last act. The second first announces that it
waits, then blocks on a FIFO; the test kills the process at that fixed point, removes the FIFO
(so the resumed call does not block) and resumes the thread.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TASK = "1. Open a ticket titled printer jam.\n2. Close ticket T-4711."

TOOLS = '''
import os
from typing import Annotated

from lamina.tools.decorator import tool


def _append(line: str) -> None:
    with open(os.environ["LAMINA_TEST_OUT"], "a", encoding="utf-8") as f:
        f.write(line + "\\n")
        f.flush()
        os.fsync(f.fileno())


@tool
def open_ticket(title: Annotated[str, "A short title for the ticket."]) -> str:
    """Open a support ticket and return its number."""
    _append("open_ticket")
    return "T-4711"


@tool
def close_ticket(number: Annotated[str, "The ticket number."]) -> str:
    """Close a support ticket by its number."""
    fifo = os.environ["LAMINA_TEST_FIFO"]
    if os.path.exists(fifo):
        Path = __import__("pathlib").Path
        Path(fifo + ".waiting").write_text("waiting")
        with open(fifo, encoding="utf-8") as f:  # blocks until a writer opens it
            f.read()
    _append("close_ticket")
    return "closed " + number
'''


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "ticket_tools.py").write_text(textwrap.dedent(TOOLS))
    (tmp_path / "lamina.toml").write_text(
        textwrap.dedent(
            f"""
            routes = []
            memory = false
            tools = ["ticket_tools:open_ticket", "ticket_tools:close_ticket"]
            checkpointer = "{tmp_path / "checkpoints.sqlite"}"
            """
        )
    )
    os.mkfifo(tmp_path / "gate")
    return tmp_path


def _env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "LAMINA_HOME": str(workdir / "home"),
            "LAMINA_N_THREADS": "2",
            "PYTHONPATH": f"{workdir}{os.pathsep}{ROOT}",
            "LAMINA_TEST_OUT": str(workdir / "out.txt"),
            "LAMINA_TEST_FIFO": str(workdir / "gate"),
        }
    )
    return env


def _lamina(*args: str) -> list[str]:
    return [sys.executable, "-m", "lamina.cli", *args]


def _resume(workdir: Path, config: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _lamina("resume", "T", "--config", config, "--json"),
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _lines(workdir: Path) -> list[str]:
    out = workdir / "out.txt"
    return out.read_text().splitlines() if out.exists() else []


def test_a_run_killed_in_its_second_tool_call_resumes_without_repeating_the_first(
    workdir: Path,
) -> None:
    config = str(workdir / "lamina.toml")
    env = _env(workdir)
    run = subprocess.Popen(
        _lamina("run", "--config", config, "--thread", "T", "--json", TASK),
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    waiting = workdir / "gate.waiting"
    deadline = time.monotonic() + 600
    while not waiting.exists():
        if run.poll() is not None:
            pytest.fail(f"the run ended before the second tool call: {run.communicate()}")
        assert time.monotonic() < deadline, "the second tool call never started"
        time.sleep(0.1)
    assert _lines(workdir) == ["open_ticket"]  # the first call finished, the second has not

    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    assert run.returncode == -signal.SIGKILL
    (workdir / "gate").unlink()  # the resumed call goes straight through

    resumed = _resume(workdir, config, env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    result = json.loads(resumed.stdout)

    assert _lines(workdir) == ["open_ticket", "close_ticket"]  # one line from each call
    assert not result["interrupted"]
    names = [c["name"] for c in result["tool_calls"] if c["error"] is None]
    assert names == ["open_ticket", "close_ticket"], result["tool_calls"]
    assert "T-4711" in result["answer"]

    again = _resume(workdir, config, env)
    assert again.returncode == 1  # nothing left to resume: a clear error, not a second run
    assert "has no unfinished run" in again.stderr
    assert _lines(workdir) == ["open_ticket", "close_ticket"]
