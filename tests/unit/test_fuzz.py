"""Property-based tests: whatever arrives, the input layer and the tool-call path end in a clean
result or a clear `LaminaError`, never another exception or a hang."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langgraph.checkpoint.sqlite import SqliteSaver

from lamina.agents.result import RunResult
from lamina.core.context import AgentContext, StaticModels
from lamina.errors import InputError, LaminaError
from lamina.graph import build_agent_graph
from lamina.layers.input import normalise_task, to_messages
from lamina.models.testing import FakeChatModel, ToolCallScript
from lamina.tools.calculator import calculator

# one compiled graph for all examples, with the SQLite checkpointer the Agent uses, so the state
# goes through the same serialiser
GRAPH = build_agent_graph(rc_iterations=1).compile(
    checkpointer=SqliteSaver(sqlite3.connect(":memory:", check_same_thread=False))
)

CONTROL = st.characters(min_codepoint=0, max_codepoint=0x1F) | st.characters(
    categories=["Cc", "Cf", "Zs", "Zl", "Zp"]
)
TEXT = st.text(alphabet=st.characters() | CONTROL, max_size=300)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(task=TEXT | st.binary(max_size=300))
def test_normalise_task_returns_clean_text_or_an_input_error(task: str | bytes) -> None:
    try:
        text = normalise_task(task, max_chars=200)
    except InputError as exc:
        error = str(exc)
    else:
        error = ""
    if error:
        assert "Expected" in error
        assert "Fix" in error
        return
    assert text
    assert text == text.strip()
    assert len(text) <= 200
    assert not any(ord(ch) < 32 and ch not in "\n\t" for ch in text)


@settings(max_examples=200, deadline=None)
@given(task=JSON | st.lists(JSON | st.tuples(st.text(max_size=10), JSON), max_size=3))
def test_to_messages_takes_any_shape_or_says_what_it_expected(task: Any) -> None:
    try:
        messages = to_messages(task)
    except InputError as exc:
        messages = str(exc)
    if isinstance(messages, str):
        assert "Expected" in messages
        return
    assert isinstance(messages, list)


def test_a_huge_task_is_refused_not_truncated() -> None:
    huge = "word " * 2_000_000
    with pytest.raises(InputError, match="at most"):
        normalise_task(huge)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(args=JSON, name=st.sampled_from(["calculator", "nope", ""]))
def test_any_tool_arguments_end_in_a_result_or_a_recorded_failure(args: Any, name: str) -> None:
    fake = FakeChatModel(
        responses=[
            ToolCallScript(name, args) if isinstance(args, dict) else _raw_call(name, args),
            ToolCallScript(name, args) if isinstance(args, dict) else _raw_call(name, args),
            ToolCallScript(name, args) if isinstance(args, dict) else _raw_call(name, args),
            "I could not compute it.",
        ]
    )
    ctx = AgentContext(
        models=StaticModels({"fake": fake}),
        default_model="fake",
        tools={"calculator": calculator},
    )
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    try:
        GRAPH.invoke({"messages": [("user", "What is 12 times 7?")]}, config, context=ctx)
    except LaminaError as exc:  # a clear error is acceptable; anything else is not
        failure = str(exc)
    else:
        failure = None
    if failure is not None:
        assert "Fix" in failure
        return
    state = GRAPH.get_state(config).values
    result = RunResult.from_state(state, thread_id="t", user_id="u")
    assert isinstance(result.answer, str)
    for call in result.tool_calls:
        assert (call.result is None) != (call.error is None)


def _raw_call(name: str, args: Any) -> Any:
    from langchain_core.messages import AIMessage

    # LangChain's tool_call type wants a dict; a model's parser could still hand over anything,
    # so the non-dict arguments travel in invalid_tool_calls-free form as a wrapped value.
    return AIMessage(content="", tool_calls=[{"name": name, "args": {"value": args}, "id": "c1"}])
