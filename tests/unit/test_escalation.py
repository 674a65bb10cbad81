"""Escalation to a route's fallbacks and step-level routing (scripted models, no model files)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult

from lamina.core.context import AgentContext, StaticModels
from lamina.errors import AllModelsFailedError, ModelError, ModelFileError
from lamina.graph import build_agent_graph
from lamina.layers.escalation import fallback_chain, run_with_escalation, step_model
from lamina.layers.execution import make_execution_node
from lamina.layers.reasoning import make_reasoning_node
from lamina.layers.router import IntentRouter, Route
from lamina.models.testing import FakeChatModel, HashingEncoder, ToolCallScript
from lamina.tools.calculator import calculator


class BrokenModel(BaseChatModel):
    """A model whose every call fails the way a missing or corrupt GGUF does."""

    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "broken"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.calls += 1
        raise ModelFileError("model file is truncated (test)")

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self


# -- run_with_escalation ---------------------------------------------------------------------
def test_first_working_model_in_order_answers() -> None:
    tried: list[str] = []

    def attempt(name: str) -> str:
        tried.append(name)
        if name != "c":
            raise ModelError(f"{name} is down")
        return f"answer from {name}"

    result, used, moves = run_with_escalation(["a", "b", "c"], attempt, layer="reasoning")
    assert (result, used) == ("answer from c", "c")
    assert tried == ["a", "b", "c"]
    assert [(m["from"], m["to"]) for m in moves] == [("a", "b"), ("b", "c")]
    assert "a is down" in moves[0]["error"]


def test_every_model_failing_names_each_one() -> None:
    def attempt(name: str) -> str:
        raise ModelError(f"{name} exploded")

    with pytest.raises(AllModelsFailedError) as info:
        run_with_escalation(["a", "b"], attempt, layer="execution")
    message = str(info.value)
    assert "a: ModelError: a exploded" in message
    assert "b: ModelError: b exploded" in message
    assert "Fix:" in message


def test_a_chain_of_one_raises_the_models_own_error() -> None:
    def attempt(name: str) -> str:
        raise ModelFileError("missing file")

    with pytest.raises(ModelFileError, match="missing file"):
        run_with_escalation(["a"], attempt, layer="reasoning")


def test_other_exceptions_are_not_escalated() -> None:
    def attempt(name: str) -> str:
        raise ValueError("a bug, not a model failure")

    with pytest.raises(ValueError, match="a bug"):
        run_with_escalation(["a", "b"], attempt, layer="reasoning")


def test_a_failed_result_escalates_and_the_last_result_stands() -> None:
    results = {"a": "bad", "b": "bad too"}
    out, used, moves = run_with_escalation(
        ["a", "b"], results.__getitem__, layer="execution", failed=lambda r: f"{r} output"
    )
    assert (out, used) == ("bad too", "b")  # nothing left to try: the last result stands
    assert moves == [{"from": "a", "to": "b", "error": "bad output"}]


# -- chains and step models ------------------------------------------------------------------
def router(tmp_path: Path) -> IntentRouter:
    return IntentRouter(
        [
            Route("sums", ["add numbers together", "compute a sum"], "tool-model", fallbacks=["b"]),
            Route("summary", ["summarise this text", "write a summary"], "summary-model"),
        ],
        encoder=HashingEncoder(),
        cache_dir=tmp_path,
        default_threshold=0.3,
    )


def test_fallback_chain_follows_the_route_without_repeats(tmp_path: Path) -> None:
    ctx = SimpleNamespace(router=router(tmp_path), default_model="d")
    state = {"model": "tool-model", "route": {"route": "sums"}}
    assert fallback_chain(ctx, state, "tool-model", None) == ["tool-model", "b"]
    assert fallback_chain(ctx, state, "b", "sums") == ["b"]
    assert fallback_chain(ctx, state, "summary-model", "summary") == ["summary-model"]
    assert fallback_chain(SimpleNamespace(router=None), state, "x", None) == ["x"]


def test_each_step_of_a_plan_is_routed_on_its_own(tmp_path: Path) -> None:
    ctx = SimpleNamespace(router=router(tmp_path), default_model="d")
    state = {"model": "run-model", "route": {"route": None}}
    summary = step_model(ctx, state, "summarise this text", plan_length=2)
    assert (summary.model, summary.route) == ("summary-model", "summary")
    sums = step_model(ctx, state, "compute a sum of the numbers", plan_length=2)
    assert (sums.model, sums.route) == ("tool-model", "sums")
    other = step_model(ctx, state, "zebra giraffe", plan_length=2)
    assert (other.model, other.route) == ("run-model", None)
    single = step_model(ctx, state, "summarise this text", plan_length=1)
    assert single.model == "run-model"  # a one-step plan is the request, already routed


# -- the layers ------------------------------------------------------------------------------
def test_reasoning_escalates_to_the_routes_fallback(tmp_path: Path) -> None:
    broken = BrokenModel()
    backup = FakeChatModel(responses=["The answer."])
    routes = [Route("chat", ["hello there"], "broken", fallbacks=["backup"])]
    ctx = AgentContext(
        models=StaticModels({"broken": broken, "backup": backup}),
        default_model="broken",
        router=IntentRouter(routes, encoder=HashingEncoder(), cache_dir=tmp_path),
    )
    node = make_reasoning_node(rc_iterations=1)
    state: dict[str, Any] = {
        "messages": [],
        "task": "hello there",
        "model": "broken",
        "route": {"route": "chat"},
        "trace": [],
    }
    update = node(state, SimpleNamespace(context=ctx))  # type: ignore[arg-type]
    assert update["answer"] == "The answer."
    assert broken.calls == 1
    (event,) = update["trace"]
    (move,) = event["data"]["escalations"]
    assert (move["from"], move["to"], move["stage"]) == ("broken", "backup", "step 0")
    assert "truncated" in move["error"]
    assert update["step_results"][0]["model"] == "backup"


def test_execution_escalates_when_calls_still_fail_after_retries(tmp_path: Path) -> None:
    bad = FakeChatModel(responses=[ToolCallScript("no_such_tool", {})] * 3)
    good = FakeChatModel(responses=[ToolCallScript("calculator", {"expression": "2 + 3"}), "5"])
    routes = [Route("sums", ["add numbers"], "bad", fallbacks=["good"])]
    ctx = AgentContext(
        models=StaticModels({"bad": bad, "good": good}),
        default_model="bad",
        router=IntentRouter(routes, encoder=HashingEncoder(), cache_dir=tmp_path),
        tools={"calculator": calculator},
    )
    node = make_execution_node(max_retries=2)
    state: dict[str, Any] = {
        "messages": [],
        "task": "add 2 and 3",
        "model": "bad",
        "route": {"route": "sums"},
        "trace": [],
    }
    update = node(state, SimpleNamespace(context=ctx))  # type: ignore[arg-type]
    (event,) = update["trace"]
    data = event["data"]
    assert data["model"] == "good"
    assert [(m["from"], m["to"]) for m in data["escalations"]] == [("bad", "good")]
    assert "retries" in data["escalations"][0]["error"]
    # every failed attempt of the first model stays in the trace, then the good call
    names = [c["name"] for c in data["tool_calls"]]
    assert names == ["no_such_tool"] * 3 + ["calculator"]
    assert update["step_results"][0]["result"] == "5"
    assert bad.remaining == 0
    assert good.remaining == 0


def test_the_whole_graph_reports_escalations_and_step_models(tmp_path: Path) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from lamina.agents.result import RunResult

    plan = {
        "steps": [
            {"instruction": "summarise this text about cats", "needs_tool": False},
            {"instruction": "compute a sum of 2 and 3", "needs_tool": True},
        ]
    }
    planner = FakeChatModel(responses=[plan, "Cats sleep a lot.", "Done: cats sleep; 5."])
    summary = BrokenModel()
    tools = FakeChatModel(responses=[ToolCallScript("calculator", {"expression": "2 + 3"}), "5"])
    routes = [
        Route("sums", ["add numbers together", "compute a sum"], "tools"),
        Route("summary", ["summarise this text"], "summary", fallbacks=["planner"]),
    ]
    ctx = AgentContext(
        models=StaticModels({"planner": planner, "summary": summary, "tools": tools}),
        default_model="planner",
        router=IntentRouter(
            routes, encoder=HashingEncoder(), cache_dir=tmp_path, default_threshold=0.3
        ),
        tools={"calculator": calculator},
    )
    graph = build_agent_graph(rc_iterations=1).compile(checkpointer=InMemorySaver())
    task = "First tell me about felines, then tally 2 and 3."  # matches no route
    config = {"configurable": {"thread_id": "t"}}
    graph.invoke({"messages": [("user", task)]}, config, context=ctx)
    state = graph.get_state(config).values
    result = RunResult.from_state(state, thread_id="t", user_id="u")
    plan_models = [s["model"] for s in state["plan"]]
    assert plan_models == ["summary", "tools"]
    assert [s["model"] for s in state["step_results"]] == ["planner", "tools"]
    assert result.escalations == [
        {
            "layer": "reasoning",
            "stage": "step 0",
            "from": "summary",
            "to": "planner",
            "error": "ModelFileError: model file is truncated (test)",
        }
    ]
    assert set(result.models_used) >= {"tools", "planner"}
    assert result.tool_calls[0].result == "5"
