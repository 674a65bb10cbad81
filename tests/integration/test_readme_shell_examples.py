"""The README's approval and durable-run shell examples, run as written with the shipped
`examples/bank.toml` and `examples/tickets.toml` (real SmolLM2, real tools, a fresh home).

Each command is taken from the README's bash block, so the README and the examples cannot drift
apart; the test asserts what the tools did (the accounts, the ticket files) and the answers.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _block(marker: str) -> list[list[str]]:
    """The commands of the README's bash block that names `marker` (comments dropped)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```bash\n(.*?)```", text, re.DOTALL) if marker in b)
    commands = shlex.split(block, comments=True)
    lines: list[list[str]] = []
    for word in commands:
        if word in ("cd", "lamina"):
            lines.append([word])
        else:
            lines[-1].append(word)
    return [c for c in lines if c[0] == "lamina"]


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    folder = tmp_path / "examples"
    folder.mkdir()
    for name in ("bank.py", "bank.toml", "tickets.py", "tickets.toml"):
        shutil.copy(ROOT / "examples" / name, folder / name)
    (tmp_path / "home").mkdir()
    return folder


def _env(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "LAMINA_HOME": str(folder.parent / "home"),
            "LAMINA_N_THREADS": "2",
            "PYTHONPATH": f"{folder}{os.pathsep}{ROOT}",
        }
    )
    return env


def _lamina(command: list[str]) -> list[str]:
    return [sys.executable, "-m", "lamina.cli", *command[1:]]


def test_the_approval_example_asks_then_transfers(examples: Path) -> None:
    ask, auto = _block("bank.toml")
    assert "--json" not in ask
    assert {"--json", "--yes"} <= set(auto)
    env = _env(examples)
    asked = subprocess.run(
        _lamina(ask), cwd=examples, env=env, input="y\n", capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert asked.returncode == 0, asked.stdout[-3000:] + asked.stderr[-3000:]
    assert "approval needed" in asked.stdout
    assert "transfer" in asked.stdout
    assert "Run transfer?" in asked.stderr  # the prompt
    accounts = json.loads((examples / "bank.json").read_text())
    assert (accounts["Alice"], accounts["Bob"]) == (450.0, 150.0)
    assert "50" in asked.stdout.split("answer:", 1)[1]

    done = subprocess.run(
        _lamina(auto), cwd=examples, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    calls = [c for c in result["tool_calls"] if c["error"] is None]
    assert [c["name"] for c in calls] == ["transfer"]
    assert calls[0]["arguments"] == {"to": "Bob", "amount": 20}
    assert "20" in result["answer"] or "430" in result["answer"]  # a figure of the result
    accounts = json.loads((examples / "bank.json").read_text())
    assert (accounts["Alice"], accounts["Bob"]) == (430.0, 170.0)


def test_the_durable_example_resumes_without_repeating_the_first_call(examples: Path) -> None:
    run, resume = _block("tickets.toml")
    assert resume[:3] == ["lamina", "resume", "T1"]
    env = _env(examples)
    tickets = examples / "tickets"
    ticket = tickets / "T-4711.json"
    proc = subprocess.Popen(
        _lamina([*run, "--json"]), cwd=examples, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 900
    while not ticket.exists():  # open_ticket has run
        if proc.poll() is not None:
            pytest.fail(f"the run ended before the first call: {proc.communicate()}")
        assert time.monotonic() < deadline, "the first tool call never ran"
        time.sleep(0.005)
    # The test's gate: the ticket's file becomes a FIFO, so close_ticket blocks reading it
    # (the model takes far longer to write the second call than this swap).
    opened = ticket.read_text()
    ticket.unlink()
    os.mkfifo(ticket)
    writer = None
    while writer is None:
        try:  # succeeds once a reader (close_ticket) has the FIFO open
            writer = os.open(ticket, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"the run ended before the second call: {proc.communicate()}")
            assert time.monotonic() < deadline, "the second tool call never started"
            time.sleep(0.1)
    assert json.loads(opened)["title"] == "printer jam"

    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    os.close(writer)
    ticket.unlink()
    ticket.write_text(opened)

    resumed = subprocess.run(
        _lamina([*resume, "--json"]), cwd=examples, env=env, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    result = json.loads(resumed.stdout)
    names = [c["name"] for c in result["tool_calls"] if c["error"] is None]
    assert names == ["open_ticket", "close_ticket"], result["tool_calls"]
    assert sorted(p.name for p in tickets.glob("*.json")) == ["T-4711.json"]  # opened once
    assert json.loads(ticket.read_text()) == {
        "number": "T-4711",
        "title": "printer jam",
        "status": "closed",
    }
    assert "T-4711" in result["answer"]
