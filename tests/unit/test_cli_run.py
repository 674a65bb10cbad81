"""`lamina run`: the live display and the JSON output, driven by the fake model."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import lamina.agents.cli as run_cli
from lamina import Agent
from lamina.cli import app
from lamina.models.testing import FakeChatModel, ToolCallScript
from lamina.tools.calculator import calculator


def _fake_agent(_config):
    fake = FakeChatModel(responses=[ToolCallScript("calculator", {"expression": "6 * 7"}), "42"])
    return Agent(
        chat_models={"fake": fake},
        routes=[],
        tools=[calculator],
        memory=False,
        step_cache=False,
        checkpointer=":memory:",
    )


def test_run_shows_each_layer_and_the_trace(monkeypatch):
    monkeypatch.setattr(run_cli, "build_agent", _fake_agent)
    result = CliRunner().invoke(app, ["run", "What is 6 times 7?"])
    assert result.exit_code == 0, result.output
    for text in ("router", "memory", "reasoning", "execution", "answer:", "42", "trace"):
        assert text in result.output


def test_run_json_prints_only_the_result(monkeypatch):
    monkeypatch.setattr(run_cli, "build_agent", _fake_agent)
    result = CliRunner().invoke(app, ["run", "What is 6 times 7?", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["answer"] == "42"
    assert data["tool_calls"][0]["result"] == "42"


def test_run_reports_bad_input_without_a_traceback(monkeypatch):
    monkeypatch.setattr(run_cli, "build_agent", _fake_agent)
    result = CliRunner().invoke(app, ["run", "   "])
    assert result.exit_code == 1
    assert "empty" in result.output
    assert "Traceback" not in result.output
