"""The execution layer's tool loop, driven by the scripted FakeChatModel."""

from __future__ import annotations

import json
import threading
import time
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.runtime import Runtime

from lamina.errors import ConfigError, InputError, ToolError
from lamina.graphs.context import AgentContext, StaticModels
from lamina.layers.execution import FAILURE_TEMPLATE, make_execution_node
from lamina.models.testing import FakeChatModel, ToolCallScript
from lamina.tools.calculator import calculator
from lamina.tools.decorator import tool

MODEL = "fake-model"


def run(
    fake: FakeChatModel,
    tools: list[BaseTool],
    state: dict[str, Any] | None = None,
    **limits: Any,
) -> dict[str, Any]:
    context = AgentContext(
        models=StaticModels({MODEL: fake}),
        default_model=MODEL,
        tools={t.name: t for t in tools},
    )
    base: dict[str, Any] = {
        "messages": [],
        "task": "What is 12 times 7?",
        "model": MODEL,
        "trace": [],
    }
    node = make_execution_node(**limits)
    return node({**base, **(state or {})}, Runtime(context=context))  # type: ignore[arg-type]


def event(update: dict[str, Any]) -> dict[str, Any]:
    (trace_event,) = update["trace"]
    assert trace_event["layer"] == "execution"
    assert trace_event["seconds"] >= 0
    data: dict[str, Any] = trace_event["data"]
    return data


def tool_messages(messages: list[BaseMessage]) -> list[ToolMessage]:
    return [m for m in messages if isinstance(m, ToolMessage)]


class Counter:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []


def make_lookup(counter: Counter) -> BaseTool:
    @tool
    def lookup(
        city: Annotated[str, "A city name."], year: Annotated[int, "A year."]
    ) -> dict[str, Any]:
        """Look up a city's population."""
        counter.calls.append({"city": city, "year": year})
        return {"city": city, "population": 1200, "year": year}

    return lookup


# -- the happy path -------------------------------------------------------------------------
def test_tool_call_then_final_answer() -> None:
    fake = FakeChatModel(
        responses=[ToolCallScript("calculator", {"expression": "12 * 7"}), "12 times 7 is 84."]
    )
    update = run(fake, [calculator])

    (result,) = update["step_results"]
    assert result["result"] == "12 times 7 is 84."
    assert result["index"] == 0
    assert result["instruction"] == "What is 12 times 7?"
    assert result["model"] == MODEL
    assert result["cached"] is False
    assert [c["name"] for c in result["tool_calls"]] == ["calculator"]
    assert update["step_index"] == 1
    assert update["steps_taken"] == 1

    data = event(update)
    assert data["step"] == 0
    assert data["model"] == MODEL
    assert data["retries"] == 0
    assert data["tokens"] == 4  # the fake reports 2 tokens per call
    assert data["ended_by"] == "final_answer"
    assert data["result_source"] == "final_answer"
    (call,) = data["tool_calls"]
    assert call["args"] == {"expression": "12 * 7"}
    assert call["result"] == "84"
    assert call["attempt"] == 1
    assert call["seconds"] >= 0

    assert fake.bound_tools == ["calculator"]
    first, second = fake.calls
    assert isinstance(first[0], SystemMessage)
    assert "calculator" in str(first[0].content)
    assert isinstance(first[1], HumanMessage)
    assert first[1].content == "What is 12 times 7?"
    assert isinstance(second[2], AIMessage)
    assert second[2].tool_calls[0]["name"] == "calculator"
    (answer,) = tool_messages(second)
    assert answer.content == "84"
    assert answer.tool_call_id == second[2].tool_calls[0]["id"]


def test_plan_step_memories_and_earlier_results_reach_the_prompt() -> None:
    fake = FakeChatModel(
        responses=[ToolCallScript("calculator", {"expression": "1200 * 2"}), "2400"]
    )
    earlier = {
        "index": 0,
        "instruction": "Find the population",
        "result": "1200",
        "model": MODEL,
        "cached": False,
        "tool_calls": [],
    }
    state = {
        "task": "Double the population of Lyon",
        "plan": [
            {"index": 0, "instruction": "Find the population", "needs_tool": True},
            {"index": 1, "instruction": "Double it", "needs_tool": True},
        ],
        "step_index": 1,
        "step_results": [earlier],
        "steps_taken": 1,
        "memories": [{"text": "The user lives in Lyon.", "created_at": "2025-01-02T00:00:00"}],
    }
    update = run(fake, [calculator], state)

    assert update["step_index"] == 2
    assert update["steps_taken"] == 2
    assert update["step_results"][0] == earlier
    assert update["step_results"][1]["index"] == 1
    assert update["step_results"][1]["instruction"] == "Double it"
    assert update["step_results"][1]["result"] == "2400"
    system, human = fake.calls[0][:2]
    assert "The user lives in Lyon." in str(system.content)
    # the step sees the results it builds on, next to its own instruction (not the whole task)
    assert "Step 1 (Find the population): 1200" in str(human.content)
    assert str(human.content).endswith("\n\nDouble it")
    assert "Double the population of Lyon" not in str(human.content)


def test_without_task_the_last_human_message_is_the_step() -> None:
    fake = FakeChatModel(responses=["no tools needed"])
    update = run(fake, [calculator], {"task": "", "messages": [HumanMessage("hello there")]})
    assert update["step_results"][0]["instruction"] == "hello there"
    assert update["step_results"][0]["result"] == "no tools needed"

    with pytest.raises(InputError, match="no task"):
        run(FakeChatModel(responses=["x"]), [calculator], {"task": ""})


# -- bad calls ------------------------------------------------------------------------------
def test_unknown_tool_is_reported_and_retried() -> None:
    fake = FakeChatModel(
        responses=[
            ToolCallScript("calc", {"expression": "12 * 7"}),
            ToolCallScript("calculator", {"expression": "12 * 7"}),
            "84",
        ]
    )
    update = run(fake, [calculator])

    assert update["step_results"][0]["result"] == "84"
    data = event(update)
    assert data["retries"] == 1
    failed, ok = data["tool_calls"]
    assert failed["kind"] == "unknown_tool"
    assert "calc" in failed["error"]
    assert "result" not in failed
    assert failed["attempt"] == 1
    assert ok["result"] == "84"
    assert ok["attempt"] == 2
    (feedback,) = tool_messages(fake.calls[1])
    assert feedback.status == "error"
    assert str(feedback.content).startswith("Tool call failed: there is no tool named 'calc'.")
    assert "Fix: call one of: calculator" in str(feedback.content)


def test_invalid_arguments_are_caught_before_the_tool_runs() -> None:
    counter = Counter()
    lookup = make_lookup(counter)
    fake = FakeChatModel(
        responses=[
            ToolCallScript("lookup", {"city": "Lyon"}),  # year missing
            ToolCallScript("lookup", {"city": "Lyon", "year": "soon"}),  # not an int
            ToolCallScript("lookup", {"city": "Lyon", "year": 2020}),
            "Lyon has 1200 people.",
        ]
    )
    update = run(fake, [lookup])

    assert counter.calls == [{"city": "Lyon", "year": 2020}]  # only the valid call ran
    data = event(update)
    assert data["retries"] == 2
    kinds = [c.get("kind") for c in data["tool_calls"]]
    assert kinds == ["invalid_arguments", "invalid_arguments", None]
    assert "year" in data["tool_calls"][0]["error"]
    feedback = tool_messages(fake.calls[1])[0]
    template_head = FAILURE_TEMPLATE.split("{what}")[0]
    assert str(feedback.content).startswith(template_head)
    assert "lookup(city: string, year: integer)" in str(feedback.content)
    assert json.loads(data["tool_calls"][2]["result"]) == {
        "city": "Lyon",
        "population": 1200,
        "year": 2020,
    }
    assert update["step_results"][0]["result"] == "Lyon has 1200 people."


def test_retry_bound_ends_the_step_with_a_clear_result() -> None:
    fake = FakeChatModel(
        responses=[
            ToolCallScript("calculator", {"expression": "x + 1"}),
            ToolCallScript("nope", {}),
            ToolCallScript("calculator", {"text": "1"}),
            "never reached",
        ]
    )
    update = run(fake, [calculator], max_retries=2)

    assert fake.remaining == 1  # the model was not asked again after the third failure
    result = update["step_results"][0]
    assert result["status"] == "failed"
    assert "could not be completed" in result["result"]
    assert "3 tool call(s) failed" in result["result"]
    data = event(update)
    assert data["ended_by"] == "max_retries"
    assert data["retries"] == 3
    assert data["result_source"] == "none"
    assert [c["kind"] for c in data["tool_calls"]] == [
        "exception",
        "unknown_tool",
        "invalid_arguments",
    ]
    assert all("error" in c for c in data["tool_calls"])
    assert "Unknown name 'x'" in data["tool_calls"][0]["error"]


def test_tool_exception_becomes_a_tool_message() -> None:
    @tool
    def flaky(n: Annotated[int, "A number."]) -> str:
        """Fail on odd numbers."""
        if n % 2:
            raise ToolError(f"{n} is odd; send an even number")
        return "even"

    fake = FakeChatModel(
        responses=[ToolCallScript("flaky", {"n": 3}), ToolCallScript("flaky", {"n": 4}), "done"]
    )
    update = run(fake, [flaky])
    feedback = tool_messages(fake.calls[1])[0]
    assert "3 is odd; send an even number" in str(feedback.content)
    assert [c.get("kind", "ok") for c in event(update)["tool_calls"]] == ["exception", "ok"]


def test_unreadable_model_output_counts_as_a_failed_attempt() -> None:
    fake = FakeChatModel(responses=[])  # every call raises ModelOutputError
    update = run(fake, [calculator], max_retries=1)
    data = event(update)
    assert data["ended_by"] == "max_retries"
    assert [c["kind"] for c in data["tool_calls"]] == ["model_output", "model_output"]
    assert update["step_results"][0]["status"] == "failed"


# -- limits ---------------------------------------------------------------------------------
def test_hung_tool_times_out() -> None:
    sleep_seconds = 5.0
    release = threading.Event()

    @tool
    def slow(n: Annotated[int, "A number."]) -> str:
        """Take a long time."""
        release.wait(sleep_seconds)
        return "late"

    fake = FakeChatModel(responses=[ToolCallScript("slow", {"n": 1}), "gave up on slow"])
    started = time.perf_counter()
    try:
        update = run(fake, [slow], tool_timeout=0.2)
    finally:
        elapsed = time.perf_counter() - started
        release.set()

    assert elapsed < sleep_seconds / 2
    (call,) = event(update)["tool_calls"]
    assert call["kind"] == "timeout"
    assert "timed out after 0.2 s" in call["error"]
    assert "timed out" in str(tool_messages(fake.calls[1])[0].content)


def test_per_tool_timeout_overrides_the_default() -> None:
    sleep_seconds = 5.0
    release = threading.Event()

    @tool(timeout=0.1)
    def slow(n: Annotated[int, "A number."]) -> str:
        """Take a long time."""
        release.wait(sleep_seconds)
        return "late"

    fake = FakeChatModel(responses=[ToolCallScript("slow", {"n": 1}), "ok"])
    try:
        update = run(fake, [slow], tool_timeout=60.0)
    finally:
        release.set()
    assert "timed out after 0.1 s" in event(update)["tool_calls"][0]["error"]


def test_long_output_is_truncated_with_a_marker() -> None:
    @tool
    def dump(n: Annotated[int, "How many characters."]) -> str:
        """Return a long text."""
        return "x" * n

    fake = FakeChatModel(responses=[ToolCallScript("dump", {"n": 5000}), "ok"])
    update = run(fake, [dump], max_output_chars=100)
    content = str(tool_messages(fake.calls[1])[0].content)
    assert content.startswith("x" * 100)
    assert "x" * 101 not in content
    assert "truncated: showing 100 of 5000 characters" in content
    assert event(update)["tool_calls"][0]["result"] == content


def test_max_tool_calls_ends_with_the_last_tool_result() -> None:
    fake = FakeChatModel(
        responses=[
            ToolCallScript("calculator", {"expression": "1 + 1"}),
            ToolCallScript("calculator", {"expression": "2 + 2"}),
            "never reached",
        ]
    )
    update = run(fake, [calculator], max_tool_calls=2)
    assert fake.remaining == 1
    data = event(update)
    assert data["ended_by"] == "max_tool_calls"
    assert data["result_source"] == "last_tool_result"
    assert "max_tool_calls" in data["note"]
    assert update["step_results"][0]["result"] == "4"


def test_repeated_identical_call_reuses_the_earlier_result() -> None:
    counter = Counter()
    lookup = make_lookup(counter)
    call = ToolCallScript("lookup", {"city": "Lyon", "year": 2020})
    fake = FakeChatModel(
        responses=[call, ToolCallScript("lookup", {"year": 2020, "city": "Lyon"}), "x"]
    )
    update = run(fake, [lookup])
    assert len(counter.calls) == 1
    data = event(update)
    assert data["ended_by"] == "repeated_call"
    assert data["tool_calls"][1]["repeated"] is True
    assert data["tool_calls"][1]["result"] == data["tool_calls"][0]["result"]
    assert json.loads(update["step_results"][0]["result"])["population"] == 1200


def test_empty_final_answer_falls_back_to_the_last_tool_result() -> None:
    fake = FakeChatModel(responses=[ToolCallScript("calculator", {"expression": "12*7"}), "  "])
    update = run(fake, [calculator])
    data = event(update)
    assert update["step_results"][0]["result"] == "84"
    assert data["result_source"] == "last_tool_result"
    assert "no final answer" in data["note"]


def test_non_string_results_are_json() -> None:
    @tool
    def stats(n: Annotated[int, "A number."]) -> list[float]:
        """Return statistics."""
        return [n / 2, float(n)]

    fake = FakeChatModel(responses=[ToolCallScript("stats", {"n": 3}), "done"])
    update = run(fake, [stats])
    assert json.loads(event(update)["tool_calls"][0]["result"]) == [1.5, 3.0]


def test_async_tools_run() -> None:
    @tool
    async def later(n: Annotated[int, "A number."]) -> int:
        """Double a number, asynchronously."""
        return 2 * n

    fake = FakeChatModel(responses=[ToolCallScript("later", {"n": 21}), "42"])
    assert event(run(fake, [later]))["tool_calls"][0]["result"] == "42"


def test_several_calls_in_one_reply_each_get_a_tool_message() -> None:
    reply = AIMessage(
        content="",
        tool_calls=[
            {"name": "calculator", "args": {"expression": "1+1"}, "id": None},
            {"name": "calculator", "args": {"expression": "2+2"}, "id": "b"},
        ],
    )
    fake = FakeChatModel(responses=[reply, "2 and 4"])
    run(fake, [calculator])
    messages = tool_messages(fake.calls[1])
    assert [m.content for m in messages] == ["2", "4"]
    ai = fake.calls[1][2]
    assert isinstance(ai, AIMessage)
    assert [m.tool_call_id for m in messages] == [c["id"] for c in ai.tool_calls]
    assert all(m.tool_call_id for m in messages)


# -- configuration --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "limits",
    [{"max_tool_calls": 0}, {"max_retries": -1}, {"tool_timeout": 0}, {"max_output_chars": 5}],
)
def test_bad_limits_are_config_errors(limits: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        make_execution_node(**limits)


def test_no_tools_or_bad_step_index_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="no tools"):
        run(FakeChatModel(responses=["x"]), [])
    plan = [{"index": 0, "instruction": "a", "needs_tool": True}]
    with pytest.raises(ConfigError, match="step 3, but the plan has 1"):
        run(FakeChatModel(responses=["x"]), [calculator], {"plan": plan, "step_index": 3})


def test_runs_as_a_node_of_a_compiled_graph() -> None:
    from langgraph.graph import END, START, StateGraph

    from lamina.graphs.state import AgentState

    graph = StateGraph(AgentState, context_schema=AgentContext)
    graph.add_node("execution", make_execution_node())  # type: ignore[call-overload]
    graph.add_edge(START, "execution")
    graph.add_edge("execution", END)
    fake = FakeChatModel(responses=[ToolCallScript("calculator", {"expression": "6*7"}), "42"])
    context = AgentContext(
        models=StaticModels({MODEL: fake}), default_model=MODEL, tools={"calculator": calculator}
    )
    out = graph.compile().invoke(
        {"messages": [HumanMessage("What is 6 times 7?")], "trace": []}, context=context
    )
    assert out["step_results"][0]["result"] == "42"
    assert out["trace"][-1]["data"]["tool_calls"][0]["result"] == "42"
