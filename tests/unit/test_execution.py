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

from lamina.config.options import Guards
from lamina.core.context import AgentContext, StaticModels
from lamina.errors import ConfigError, InputError, ToolError
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
        "task": "Multiply 12 by 7.",
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
    assert result["instruction"] == "Multiply 12 by 7."
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
    # 12 and 7 both went into the call: the next move was the answer, with no tool bound
    assert data["ended_by"] == "inputs_used"
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
    assert first[1].content == "Multiply 12 by 7."
    assert isinstance(second[2], AIMessage)
    assert second[2].tool_calls[0]["name"] == "calculator"
    (answer,) = tool_messages(second)
    assert answer.content == "84"
    assert answer.tool_call_id == second[2].tool_calls[0]["id"]


def test_a_percentage_used_as_written_ends_the_calls() -> None:
    @tool
    def add_tip(bill: float, tip_percent: float) -> str:
        """Add a tip to a bill.

        Args:
            bill: the bill.
            tip_percent: the tip in percent.
        """
        return f"total: {bill * (1 + tip_percent / 100):.2f}"

    # SmolLM2-135M tipped the tip three times when the 0.12 and 100 of "12%" were also wanted
    fake = FakeChatModel(
        responses=[
            ToolCallScript("add_tip", {"bill": 85, "tip_percent": 12}),
            ToolCallScript("add_tip", {"bill": 10.2, "tip_percent": 12}),
            "The total is 95.20.",
        ]
    )
    task = "I want to leave a 12% tip on 85 dollars. How much in total?"
    update = run(fake, [add_tip], {"task": task})
    (result,) = update["step_results"]
    assert [c["args"] for c in result["tool_calls"]] == [{"bill": 85, "tip_percent": 12}]
    assert event(update)["ended_by"] == "inputs_used"


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
    update = run(fake, [lookup], state={"task": "What was the population of Lyon in 2020?"})

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


def distance_tool(calls: list[str]) -> BaseTool:
    """A distance tool whose argument's description gives an example city (Lyon)."""

    @tool
    def distance(city: Annotated[str, "A French city, e.g. 'Lyon'."]) -> int:
        """Road distance from Paris to a city, in km."""
        calls.append(city)
        return {"lyon": 467, "nice": 932}[city.lower()]

    return distance


def test_an_argument_copied_from_the_tool_description_is_sent_back() -> None:
    calls: list[str] = []
    fake = FakeChatModel(
        responses=[
            ToolCallScript("distance", {"city": "Lyon"}),  # the example, not the task's city
            ToolCallScript("distance", {"city": "Nice"}),
            "932 km.",
        ]
    )
    update = run(fake, [distance_tool(calls)], {"task": "How far is Nice from Paris?"})

    assert calls == ["Nice"]  # the copied call never ran
    data = event(update)
    assert [c.get("kind") for c in data["tool_calls"]] == ["copied_example", None]
    assert "'Lyon' is the example" in data["tool_calls"][0]["error"]
    assert "with the city the task names" in str(tool_messages(fake.calls[1])[0].content)


PLAN_FROM_LYON = {
    "task": "I am in Lyon. How far is it from Paris, in miles?",
    "plan": [
        {"index": 0, "instruction": "Find the distance from Paris.", "needs_tool": True},
        {"index": 1, "instruction": "Convert it to miles.", "needs_tool": True},
    ],
    "step_index": 0,
}


@pytest.mark.parametrize(
    "state",
    [{"task": "How far is Lyon from Paris?"}, PLAN_FROM_LYON],
    ids=["the-task", "the-request-not-the-step"],
)
def test_a_value_from_the_description_is_fine_when_the_request_names_it(
    state: dict[str, Any],
) -> None:
    calls: list[str] = []
    fake = FakeChatModel(responses=[ToolCallScript("distance", {"city": "Lyon"}), "467 km."])
    update = run(fake, [distance_tool(calls)], state)

    assert calls == ["Lyon"]
    assert event(update)["retries"] == 0


@pytest.mark.parametrize(
    "echo",
    [
        '{"description": "The arithmetic to compute, for example 12 * 7"}',
        "Use calculator: the arithmetic to compute, for example '12 * 7' or '(3 + 4) / 2'.",
        'Action: calculator\n{"expression": "84 + 84"}',
    ],
)
def test_a_final_text_restating_the_instructions_gives_the_tool_result(echo: str) -> None:
    fake = FakeChatModel(responses=[ToolCallScript("calculator", {"expression": "12 * 7"}), echo])
    update = run(fake, [calculator])

    assert update["step_results"][0]["result"] == "84"
    data = event(update)
    assert data["result_source"] == "last_tool_result"
    assert "restated its tool instructions" in data["note"]


@pytest.mark.parametrize(
    ("final", "kept"),
    [
        ("The answer is not provided.", "84"),  # drops the figure: the result stands
        ("12 times 7 is 84.", "12 times 7 is 84."),  # quotes it: the text stands
        ("That comes to 84.0 in all.", "That comes to 84.0 in all."),
    ],
)
def test_a_final_text_quoting_no_result_gives_the_tool_result(final: str, kept: str) -> None:
    fake = FakeChatModel(responses=[ToolCallScript("calculator", {"expression": "12 * 7"}), final])
    update = run(fake, [calculator])

    assert update["step_results"][0]["result"] == kept
    if kept != final:
        data = event(update)
        assert data["result_source"] == "last_tool_result"
        assert "quoted none of the tool results" in data["note"]


def test_the_ignored_results_guard_switches_off() -> None:
    fake = FakeChatModel(
        responses=[ToolCallScript("calculator", {"expression": "12 * 7"}), "Not provided."]
    )
    update = run(fake, [calculator], guards=Guards(ignored_results=False))

    assert update["step_results"][0]["result"] == "Not provided."


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
    release, finished = threading.Event(), threading.Event()

    @tool
    def slow(n: Annotated[int, "A number."]) -> str:
        """Take a long time."""
        release.wait(60)
        finished.set()
        return "late"

    fake = FakeChatModel(responses=[ToolCallScript("slow", {"n": 1}), "gave up on slow"])
    try:
        update = run(fake, [slow], tool_timeout=0.2)
        returned_while_the_tool_ran = not finished.is_set()
    finally:
        release.set()

    assert returned_while_the_tool_ran
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
    # grounding off: with it, the step would end as soon as 2020 was used, before the repeat
    update = run(
        fake,
        [lookup],
        state={"task": "What was the population of Lyon in 2020?"},
        guards=Guards(grounding=False),
    )
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

    from lamina.core.state import AgentState

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


# -- several calls in one reply -------------------------------------------------------------
def _calls(*calls: tuple[str, dict[str, Any]]) -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[{"name": n, "args": a, "id": f"c{i}"} for i, (n, a) in enumerate(calls)],
    )


def make_sleeper(
    log: list[tuple[str, float, float]], together: threading.Barrier | None = None
) -> BaseTool:
    @tool
    def sleeper(
        label: Annotated[str, "A label."], seconds: Annotated[float, "How long to sleep."]
    ) -> str:
        """Sleep, then return the label."""
        start = time.perf_counter()
        if together is not None:
            together.wait()  # raises BrokenBarrierError if the others never start
        time.sleep(seconds)
        log.append((label, start, time.perf_counter()))
        return label.upper()

    return sleeper


def test_calls_of_one_reply_run_concurrently_and_answer_in_call_order() -> None:
    log: list[tuple[str, float, float]] = []
    together = threading.Barrier(3, timeout=30)  # broken unless all three run at once
    sleeper = make_sleeper(log, together)
    reply = _calls(
        ("sleeper", {"label": "slow", "seconds": 1.0}),
        ("sleeper", {"label": "fast", "seconds": 0.05}),
        ("sleeper", {"label": "mid", "seconds": 0.5}),
    )
    fake = FakeChatModel(responses=[reply, "done"])
    update = run(
        fake, [sleeper], {"task": "Sleep: slow for 1.0 s, fast for 0.05 s, mid for 0.5 s."}
    )

    assert not together.broken  # every call was running while the others were
    assert [label for label, _, _ in log] == ["fast", "mid", "slow"]  # finished in that order
    messages = tool_messages(fake.calls[1])
    assert [m.content for m in messages] == ["SLOW", "FAST", "MID"]  # the order of the calls
    assert [m.tool_call_id for m in messages] == ["c0", "c1", "c2"]
    records = event(update)["tool_calls"]
    assert [r["result"] for r in records] == ["SLOW", "FAST", "MID"]
    assert records[0]["seconds"] > records[1]["seconds"]


def test_sequential_mode_runs_one_call_after_another() -> None:
    log: list[tuple[str, float, float]] = []
    sleeper = make_sleeper(log)
    reply = _calls(
        ("sleeper", {"label": "a", "seconds": 0.2}), ("sleeper", {"label": "b", "seconds": 0.01})
    )
    fake = FakeChatModel(responses=[reply, "done"])
    run(
        fake,
        [sleeper],
        {"task": "Sleep a for 0.2 s, then b for 0.01 s."},
        concurrent_tool_calls=False,
    )
    (a, b) = log
    assert a[0] == "a"
    assert a[2] <= b[1]  # b started after a ended


def test_each_parallel_call_has_its_own_timeout() -> None:
    release, finished = threading.Event(), threading.Event()

    @tool(timeout=0.2)
    def hangs(n: Annotated[int, "A number."]) -> str:
        """Never finish in time."""
        release.wait(60)
        finished.set()
        return "late"

    @tool
    def quick(n: Annotated[int, "A number."]) -> str:
        """Answer at once."""
        return f"quick {n}"

    fake = FakeChatModel(responses=[_calls(("hangs", {"n": 1}), ("quick", {"n": 2})), "ok"])
    try:
        update = run(fake, [hangs, quick], tool_timeout=30.0)
        returned_while_the_tool_ran = not finished.is_set()
    finally:
        release.set()
    assert returned_while_the_tool_ran  # the 0.2 s timeout, not the 30 s one
    hung, fine = event(update)["tool_calls"]
    assert hung["kind"] == "timeout"
    assert "timed out after 0.2 s" in hung["error"]
    assert fine["result"] == "quick 2"
    assert [m.status for m in tool_messages(fake.calls[1])] == ["error", "success"]


def test_every_call_is_validated_before_any_runs() -> None:
    counter = Counter()
    lookup = make_lookup(counter)
    reply = _calls(
        ("lookup", {"city": "Lyon", "year": 2020}),
        ("lookup", {"city": "Nice", "year": "next"}),  # invalid: never runs
        ("nope", {}),
    )
    fake = FakeChatModel(responses=[reply, "done"])
    update = run(
        fake,
        [lookup],
        {"task": "Populations of Lyon in 2020 and of Nice next year?"},
        max_retries=5,
    )
    assert counter.calls == [{"city": "Lyon", "year": 2020}]
    kinds = [c.get("kind", "ok") for c in event(update)["tool_calls"]]
    assert kinds == ["ok", "invalid_arguments", "unknown_tool"]
    contents = [str(m.content) for m in tool_messages(fake.calls[1])]
    assert json.loads(contents[0])["city"] == "Lyon"
    assert contents[1].startswith("Tool call failed: invalid arguments for 'lookup'")
    assert contents[2].startswith("Tool call failed: there is no tool named 'nope'")


def test_calls_beyond_the_step_limit_are_not_run() -> None:
    counter = Counter()
    lookup = make_lookup(counter)
    reply = _calls(
        ("lookup", {"city": "A", "year": 1}),
        ("lookup", {"city": "B", "year": 2}),
        ("lookup", {"city": "C", "year": 3}),
    )
    fake = FakeChatModel(responses=[reply, "never asked"])
    update = run(
        fake, [lookup], {"task": "Look up towns A, B and C in years 1, 2, 3."}, max_tool_calls=2
    )
    assert [c["city"] for c in counter.calls] == ["A", "B"]
    data = event(update)
    assert data["ended_by"] == "max_tool_calls"
    assert data["skipped_calls"] == 1
    assert fake.remaining == 1


def test_the_same_call_twice_in_one_reply_runs_once() -> None:
    counter = Counter()
    lookup = make_lookup(counter)
    same = ("lookup", {"city": "Lyon", "year": 2020})
    fake = FakeChatModel(responses=[_calls(same, same), "done"])
    update = run(fake, [lookup], state={"task": "What was the population of Lyon in 2020?"})
    assert len(counter.calls) == 1
    first, second = event(update)["tool_calls"]
    assert second["repeated"] is True
    assert second["result"] == first["result"]
    assert len(tool_messages(fake.calls[1])) == 2


def test_a_failed_call_sent_again_is_not_run_again() -> None:
    """At temperature 0 a model may repeat a bad call; it gets the error back, not a rerun."""
    attempts: list[int] = []

    @tool
    def fragile(n: Annotated[int, "A number."]) -> str:
        """Fail on 3."""
        attempts.append(n)
        if n == 3:
            raise ToolError("3 is not allowed")
        return str(n)

    bad = ToolCallScript("fragile", {"n": 3})
    fake = FakeChatModel(responses=[bad, bad, ToolCallScript("fragile", {"n": 4}), "4"])
    update = run(fake, [fragile], max_retries=2)
    assert attempts == [3, 4]
    data = event(update)
    assert [c.get("kind", "ok") for c in data["tool_calls"]] == ["exception", "exception", "ok"]
    assert data["retries"] == 2
    # the model saw both failures, and the second says the exact call already failed
    messages = tool_messages(fake.calls[2])
    assert "3 is not allowed" in str(messages[0].content)
    assert "this exact call already failed" in str(messages[1].content)
    assert update["step_results"][0]["result"] == "4"


def test_failures_and_retries_reach_the_model_until_the_bound() -> None:
    """Every failed attempt is in the trace and in the model's next prompt, and the bound holds."""
    fake = FakeChatModel(
        responses=[ToolCallScript("calculator", {"expression": f"{i} +"}) for i in range(10)]
    )
    update = run(fake, [calculator], max_retries=3)
    data = event(update)
    assert data["ended_by"] == "max_retries"
    assert len(data["tool_calls"]) == 4  # max_retries + 1 attempts, all in the trace
    assert fake.remaining == 6
    for turn, prompt in enumerate(fake.calls):
        assert len(tool_messages(prompt)) == turn  # each earlier failure was sent back


def test_parallel_tool_calls_is_passed_to_bind_tools_only_when_set() -> None:
    seen: list[dict[str, Any]] = []

    class Recording(FakeChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            seen.append(kwargs)
            return super().bind_tools(tools, **kwargs)

    run(Recording(responses=["a"]), [calculator])
    run(Recording(responses=["b"]), [calculator], parallel_tool_calls=True)
    assert seen == [{}, {"parallel_tool_calls": True}]


# -- the tool-call ledger ---------------------------------------------------------------------
def test_a_call_in_the_ledger_is_replayed_not_run_again(tmp_path: Any) -> None:
    """A node re-run after a crash: the first call had finished (it is in the ledger), so only
    the second call runs; both results reach the model as before."""
    from lamina.stores.ledger import ToolLedger, call_id_for

    ran: list[str] = []

    @tool
    def append(line: Annotated[str, "A line to append."]) -> str:
        """Append a line to the log."""
        ran.append(line)
        return f"appended {line}"

    ledger = ToolLedger(tmp_path / "ledger.sqlite")
    task = [HumanMessage("Append a, then b.")]
    first_id = call_id_for("T", 0, 0, 0, "append", {"line": "a"})
    ledger.record(first_id, thread_id="T", name="append", args={"line": "a"}, result="appended a")

    fake = FakeChatModel(
        responses=[
            ToolCallScript("append", {"line": "a"}),
            ToolCallScript("append", {"line": "b"}),
            "Done.",
        ]
    )
    context = AgentContext(
        models=StaticModels({MODEL: fake}),
        default_model=MODEL,
        tools={"append": append},
        ledger=ledger,
    )
    state = {"messages": task, "task": "Append a, then b.", "thread_id": "T", "model": MODEL}
    update = make_execution_node()({**state, "trace": []}, Runtime(context=context))  # type: ignore[arg-type]

    assert ran == ["b"]  # "a" had finished before the crash
    calls = event(update)["tool_calls"]
    assert [c["result"] for c in calls] == ["appended a", "appended b"]
    assert [c.get("replayed", False) for c in calls] == [True, False]
    second_id = call_id_for("T", 0, 0, 1, "append", {"line": "b"})
    entry = ledger.get(second_id)
    assert entry is not None  # recorded as it finished
    assert entry.result == "appended b"
    assert ledger.forget("T") == 2
    ledger.close()


def test_after_a_failed_call_the_next_move_must_be_a_call() -> None:
    # the model is left its choice at first (no tool fits by meaning); once a call it tried
    # failed, it may not answer with text until a call works
    counter = Counter()
    lookup = make_lookup(counter)
    fake = FakeChatModel(
        responses=[
            ToolCallScript("lookup", {"city": "Lyon", "year": "next"}),  # invalid
            ToolCallScript("lookup", {"city": "Lyon", "year": 2020}),
            "Lyon had 1200 people in 2020.",
        ]
    )
    run(fake, [lookup], {"task": "Population of Lyon in 2020?"}, max_retries=3)
    assert counter.calls == [{"city": "Lyon", "year": 2020}]
    assert fake.tool_choices == [None, "required"]  # then a call worked: no choice forced
