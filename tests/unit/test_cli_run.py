"""`lamina run`: the live display and the JSON output, driven by the fake model."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import lamina.cli.run as run_cli
from lamina import Agent
from lamina.cli import app
from lamina.models.testing import FakeChatModel, ToolCallScript
from lamina.tools.calculator import calculator


def _fake_agent(_config, *_args):
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


def _agent_answering(answer: str, tool_result_markup: bool = False, call: bool = True):
    def build(_config, *_args):
        from lamina import tool

        @tool
        def lookup(name: str) -> str:
            """Look a name up.

            Args:
                name: what to look up.
            """
            return "[/oops] [bold]x" if tool_result_markup else "nothing"

        script = [ToolCallScript("lookup", {"name": "x"}), answer] if call else [answer]
        return Agent(
            chat_models={"fake": FakeChatModel(responses=script)},
            routes=[],
            tools=[lookup],
            memory=False,
            step_cache=False,
            checkpointer=":memory:",
        )

    return build


def test_text_that_looks_like_markup_is_printed_as_it_is(monkeypatch):
    monkeypatch.setattr(run_cli, "build_agent", _agent_answering("[/oops] [red]done", True))
    result = CliRunner().invoke(app, ["run", "Look up x [/b]"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "[/oops] [red]done" in result.output
    assert "[/oops] [bold]x" in " ".join(result.output.split())


def test_an_answer_with_an_invented_figure_is_not_ok(monkeypatch):
    monkeypatch.setattr(
        run_cli, "build_agent", _agent_answering("It costs 54 dollars.", call=False)
    )
    result = CliRunner().invoke(app, ["run", "How much are 17 pencils at 3 dollars?"])
    assert result.exit_code == run_cli.NOT_OK_EXIT, result.output
    assert "not answered (unsupported_figure)" in result.output
    assert "54" in result.output
    as_json = CliRunner().invoke(app, ["run", "How much are 17 pencils at 3 dollars?", "--json"])
    assert as_json.exit_code == run_cli.NOT_OK_EXIT
    data = json.loads(as_json.stdout)
    assert data["ok"] is False
    assert data["error"]["kind"] == "unsupported_figure"
