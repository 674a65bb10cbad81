"""The whole five-layer graph, driven by the scripted fake model (no model files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lamina import Agent, ConfigError, InputError, UnknownModelError
from lamina.graph import build_agent_graph, insert_after
from lamina.layers.router import Route
from lamina.models.testing import FakeChatModel, ToolCallScript
from lamina.tools.calculator import calculator

SNAPSHOT = Path(__file__).parent / "snapshots" / "agent_graph.mmd"


def make_agent(fake: FakeChatModel, **kwargs) -> Agent:
    options = {
        "routes": [],
        "tools": [calculator],
        "memory": False,
        "step_cache": False,
        "checkpointer": ":memory:",
        "rc_iterations": 1,
    }
    options.update(kwargs)
    options = {k: v for k, v in options.items() if v is not None}
    return Agent(chat_models={"fake": fake}, **options)


def layers(result) -> list[str]:
    return [e["layer"] for e in result.trace]


def test_tool_task_goes_through_every_layer():
    # the step writes its arithmetic ("12 times 7"), so the first call is lamina's; the model
    # only answers from the result
    fake = FakeChatModel(responses=["84"])
    with make_agent(fake) as agent:
        result = agent.run("What is 12 times 7?")
    assert result.answer == "84"
    assert [(c.name, c.arguments) for c in result.tool_calls] == [
        ("calculator", {"expression": "12 * 7"})
    ]
    assert result.tool_calls[0].result == "84"
    assert layers(result) == [
        "input",
        "router",
        "memory",
        "reasoning",
        "execution",
        "reasoning",
        "respond",
        "memory_write",
    ]
    assert result.models_used == ["fake"]
    assert fake.remaining == 0
    json.dumps(result.to_dict())


def test_plain_answer_needs_no_tool():
    fake = FakeChatModel(responses=["Paris is the capital of France."])
    with make_agent(fake) as agent:
        result = agent.run("Tell me about Paris.")
    assert result.answer == "Paris is the capital of France."
    assert result.tool_calls == []
    assert "execution" not in layers(result)


def test_bad_tool_call_is_fed_back_and_retried():
    fake = FakeChatModel(
        responses=[
            ToolCallScript("no_such_tool", {"x": 1}),
            ToolCallScript("calculator", {"expression": "6 * 7"}),
            "42",
        ]
    )
    with make_agent(fake) as agent:
        result = agent.run("Multiply 6 by 7.")
    assert result.answer == "42"
    assert [c.name for c in result.tool_calls] == ["no_such_tool", "calculator"]
    assert result.tool_calls[0].error is not None
    assert "no_such_tool" in result.tool_calls[0].error
    assert result.tool_calls[1].result == "42"
    # the model saw the failure as a tool message before it retried
    second_call = fake.calls[1]
    assert any(m.type == "tool" and "no_such_tool" in str(m.content) for m in second_call)


def test_max_steps_reached_gives_a_clear_result():
    plan = {
        "steps": [
            {"instruction": "Compute 1 + 1", "needs_tool": True},
            {"instruction": "Compute 2 + 2", "needs_tool": True},
            {"instruction": "Compute 3 + 3", "needs_tool": True},
        ]
    }
    fake = FakeChatModel(
        responses=[plan, ToolCallScript("calculator", {"expression": "1 + 1"}), "2"]
    )
    with make_agent(fake, max_steps=1) as agent:
        result = agent.run("First compute 1 + 1, then compute 2 + 2, then compute 3 + 3.")
    assert len(result.reasoning["plan"]) == 3
    assert len(result.tool_calls) == 1
    assert "step" in result.answer.lower()
    assert result.answer.strip() != ""


def test_thread_continues_the_conversation():
    fake = FakeChatModel(responses=["Hello Ada.", "You said hello."])
    with make_agent(fake) as agent:
        agent.run("Hello, I am Ada.", thread_id="t1")
        agent.run("What did I say?", thread_id="t1")
        state = agent.graph.get_state({"configurable": {"thread_id": "t1"}}).values
    texts = [m.content for m in state["messages"]]
    assert texts == ["Hello, I am Ada.", "Hello Ada.", "What did I say?", "You said hello."]


def test_input_errors_surface_as_input_error():
    with make_agent(FakeChatModel(responses=[])) as agent:
        with pytest.raises(InputError, match="empty"):
            agent.run("   ")
        with pytest.raises(InputError, match="at most"):
            agent.run("x" * 40_000)


def test_unknown_models_are_config_errors_at_build_time():
    fake = FakeChatModel(responses=[])
    with pytest.raises(UnknownModelError, match="known: fake"):
        make_agent(fake, default_model="qwen")
    with pytest.raises(ConfigError, match="qwen"):
        make_agent(fake, routes=[Route(name="r", utterances=["hi"], model="qwen")])


def test_graph_drawing_matches_snapshot():
    with make_agent(FakeChatModel(responses=[])) as agent:
        drawing = agent.graph.get_graph().draw_mermaid()
    assert drawing == SNAPSHOT.read_text(encoding="utf-8")


def test_user_node_can_be_inserted():
    def audit(state):
        return {"trace": [{"layer": "audit", "seconds": 0.0, "data": {"answer": state["answer"]}}]}

    graph = insert_after(build_agent_graph(rc_iterations=1), "respond", "audit", audit)
    fake = FakeChatModel(responses=["done"])
    with make_agent(fake, graph=graph, rc_iterations=None) as agent:
        result = agent.run("Say done.")
    assert layers(result)[-2:] == ["audit", "memory_write"]
    with pytest.raises(ConfigError, match="no node"):
        insert_after(build_agent_graph(), "nope", "x", audit)
    with pytest.raises(ConfigError, match="one plain outgoing edge"):
        insert_after(build_agent_graph(), "reasoning", "x", audit)


def test_graph_and_graph_options_do_not_mix():
    with pytest.raises(ConfigError, match="rc_iterations"):
        make_agent(FakeChatModel(responses=[]), graph=build_agent_graph())
