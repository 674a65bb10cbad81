"""Hung tool calls are bounded (issue 18, item 11): a call past its timeout is counted until it
ends, `/healthz` shows the count, and a tool with too many hung calls gets no new thread: its
next call fails at once with a clear error to the model.

The tools "hang" on an Event the test sets at teardown, so nothing waits for long."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langgraph.runtime import Runtime

from lamina import Agent
from lamina.core.context import AgentContext, StaticModels
from lamina.errors import ConfigError
from lamina.layers.execution import make_execution_node
from lamina.layers.execution.hung import (
    DEFAULT_MAX_HUNG_CALLS,
    hung_tool_calls,
    max_hung_calls,
    refused_tool_calls,
)
from lamina.layers.execution.runner import ToolJob, execution_tools
from lamina.models.testing import FakeChatModel, ToolCallScript
from lamina.serving.app import create_app
from lamina.serving.local import serve_in_thread
from lamina.tools.decorator import tool


def tool_threads(name: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name == f"lamina-tool-{name}" and t.is_alive())


def wait_until(condition: Any, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


@pytest.fixture
def hanging() -> Iterator[Any]:
    """A factory of tools that block until teardown releases them (and waits for them to end)."""
    release = threading.Event()
    names: list[str] = []

    def make(name: str, **metadata: Any) -> BaseTool:
        @tool(name=name)
        def hangs(n: Annotated[int, "A number."]) -> str:
            """Never answers in time."""
            release.wait(120)
            return "late"

        hangs.metadata = {**(hangs.metadata or {}), **metadata}
        names.append(name)
        return hangs

    yield make
    release.set()
    for name in names:
        wait_until(lambda name=name: tool_threads(name) == 0)
        wait_until(lambda name=name: name not in hung_tool_calls())


def call(t: BaseTool, n: int = 1) -> dict[str, Any]:
    (outcome,) = execution_tools([ToolJob(t, {"n": n}, timeout=0.05)], 4000, concurrent=True)
    return outcome


def test_a_tool_with_too_many_hung_calls_gets_no_new_thread(hanging: Any) -> None:
    slow = hanging("hangs_a")
    for i in range(DEFAULT_MAX_HUNG_CALLS):
        outcome = call(slow, i)
        assert outcome["ok"] is False
        assert outcome["kind"] == "timeout"
    assert hung_tool_calls()["hangs_a"] == DEFAULT_MAX_HUNG_CALLS
    assert tool_threads("hangs_a") == DEFAULT_MAX_HUNG_CALLS

    refused = call(slow, 99)
    assert refused["ok"] is False
    assert refused["kind"] == "unavailable"
    assert "'hangs_a' is not answering" in refused["what"]
    assert f"{DEFAULT_MAX_HUNG_CALLS} earlier call(s)" in refused["error"]
    assert "answer without this tool" in refused["fix"]
    assert tool_threads("hangs_a") == DEFAULT_MAX_HUNG_CALLS  # no thread was started for it
    assert refused_tool_calls()["hangs_a"] >= 1


def test_hung_calls_stop_counting_when_they_end(hanging: Any) -> None:
    release = threading.Event()

    @tool(name="hangs_then_ends")
    def slow(n: Annotated[int, "A number."]) -> str:
        """Answers late."""
        release.wait(120)
        return "late"

    slow.metadata = {**(slow.metadata or {}), "max_hung_calls": 1}
    assert call(slow)["kind"] == "timeout"
    assert hung_tool_calls()["hangs_then_ends"] == 1
    assert call(slow)["kind"] == "unavailable"
    release.set()
    wait_until(lambda: "hangs_then_ends" not in hung_tool_calls())
    release.clear()
    assert call(slow)["kind"] == "timeout"  # a thread again: the tool is given another chance
    release.set()
    wait_until(lambda: "hangs_then_ends" not in hung_tool_calls())


def test_a_tool_that_answers_in_time_is_never_counted() -> None:
    @tool(name="quick_tool")
    def quick(n: Annotated[int, "A number."]) -> str:
        """Answers at once."""
        return f"ok {n}"

    outcome = execution_tools([ToolJob(quick, {"n": 1}, timeout=5.0)], 4000, concurrent=False)
    assert outcome[0]["ok"] is True
    assert "quick_tool" not in hung_tool_calls()


def test_the_model_is_told_the_tool_is_not_answering(hanging: Any) -> None:
    slow = hanging("hangs_b", max_hung_calls=1)
    call(slow)  # one call already hung
    fake = FakeChatModel(responses=[ToolCallScript("hangs_b", {"n": 2}), "It is not answering."])
    context = AgentContext(
        models=StaticModels({"m": fake}), default_model="m", tools={slow.name: slow}
    )
    state = {"messages": [], "task": "Use hangs_b on 2.", "model": "m", "trace": []}
    update = make_execution_node(tool_timeout=0.05)(state, Runtime(context=context))  # type: ignore[arg-type]
    (record,) = update["trace"][0]["data"]["tool_calls"]
    assert record["kind"] == "unavailable"
    (message,) = [m for m in fake.calls[1] if isinstance(m, ToolMessage)]
    assert "'hangs_b' is not answering" in str(message.content)
    assert tool_threads("hangs_b") == 1


def test_healthz_reports_hung_tool_calls(hanging: Any) -> None:
    slow = hanging("hangs_c")
    call(slow)
    agent = Agent(
        chat_models={"fake": FakeChatModel(responses=[])},
        routes=[],
        tools=[],
        memory=False,
        step_cache=False,
        tool_relevance=False,
        checkpointer=":memory:",
    )
    try:
        with serve_in_thread(create_app(agent)) as url:
            health = httpx.get(f"{url}/healthz", timeout=30).json()
    finally:
        agent.close()
    assert health["status"] == "ok"
    assert health["tool_calls"]["hung"]["hangs_c"] == 1


def test_a_bad_limit_is_a_config_error() -> None:
    @tool(name="limited")
    def limited(n: Annotated[int, "A number."]) -> str:
        """A tool."""
        return ""

    limited.metadata = {**(limited.metadata or {}), "max_hung_calls": 0}
    with pytest.raises(ConfigError, match="max_hung_calls"):
        max_hung_calls(limited)
