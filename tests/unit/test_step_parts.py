"""The parts of one step's tool loop, each on its own: what the step works from
(`step_inputs`), what its calls did (`CallLog`), the ledger's call ids (`reply_calls`) and
what the step hands on (`step_report`)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool

from lamina.config import Guards
from lamina.core.records import ToolCallRecord
from lamina.errors import ConfigError
from lamina.layers.execution.call_log import CallLog
from lamina.layers.execution.calls import CallError
from lamina.layers.execution.limits import Limits
from lamina.layers.execution.reply_calls import with_ledger_ids
from lamina.layers.execution.step_inputs import call_limit, step_model, step_tools
from lamina.layers.execution.step_report import set_aside, step_result


@tool
def lookup(name: str) -> str:
    """Look a thing up by name."""
    return name


@tool
def double(x: float) -> float:
    """Double a number."""
    return 2 * x


LIMITS = Limits(
    max_tool_calls=5,
    max_retries=2,
    tool_timeout=1.0,
    max_output_chars=100,
    max_tool_calls_per_plan_step=1,
)


def test_a_step_of_a_longer_plan_is_one_call_and_sees_the_tools_the_plan_gave_it() -> None:
    tools: dict[str, Any] = {"lookup": lookup, "double": double}
    plan = [{"instruction": "a", "tools": ["double"]}, {"instruction": "b", "model": "m2"}]
    state: Any = {"plan": plan, "step_index": 0, "model": "m1"}
    assert list(step_tools(state, tools)) == ["double"]
    assert list(step_tools({**state, "step_index": 1}, tools)) == ["lookup", "double"]
    assert call_limit(state, LIMITS) == 1
    assert call_limit({"plan": plan[:1]}, LIMITS) == 5
    # a step whose call the plan writes is one call, alone in its plan too
    written = [{"instruction": "count: chairs", "call": ["lookup", "thing", "chairs"]}]
    assert call_limit({"plan": written, "step_index": 0}, LIMITS) == 1
    assert step_model(state, 0, "default") == ("m1", None)
    assert step_model(state, 1, "default") == ("m2", None)
    assert step_model({}, 0, "default") == ("default", None)
    with pytest.raises(ConfigError, match="no tools to call"):
        step_tools(state, {})


def test_a_failed_call_withdraws_its_value_and_keeps_the_values_its_error_lists() -> None:
    log = CallLog()
    failure = CallError("exception", "lookup failed", "Unknown 'the'; known: kettle, toaster", "")
    log.record_failure("lookup", {"name": "the"}, 0.1, failure)
    log.exclude("lookup", {"name": "the"}, failure)
    assert (log.failures, log.last_error, log.successes()) == (1, failure.error, 0)
    assert log.excluded == {"lookup": {"name": {"the"}}}
    assert log.listed == {"lookup": {"name": ["kettle", "toaster"]}}


def test_results_count_only_calls_that_worked_and_only_read() -> None:
    log = CallLog()
    log.records.append(ToolCallRecord("double", {"x": 2}, 0.0, 1, result="4"))
    log.records.append(ToolCallRecord("double", {"x": 2}, 0.0, 2, result="4", repeated=True))
    assert log.successes() == 1
    assert log.results({"double": double}) == ["4", "4"]
    assert log.successful_args() == [{"x": 2}, {"x": 2}]


def test_ledger_ids_are_the_same_each_time_the_same_call_is_reached() -> None:
    reply = AIMessage(content="", tool_calls=[{"name": "double", "args": {"x": 2}, "id": "r1"}])
    state: Any = {"thread_id": "t", "messages": [HumanMessage("q")]}
    first = with_ledger_ids(reply, state, 0, 0).tool_calls[0]["id"]
    assert first == with_ledger_ids(reply, state, 0, 0).tool_calls[0]["id"]
    assert first != "r1"
    assert first != with_ledger_ids(reply, state, 1, 0).tool_calls[0]["id"]  # another step


def test_a_step_result_says_where_it_came_from() -> None:
    log = CallLog()
    assert step_result("final_answer", "It is 4.", 0, log, 2, {}) == ("It is 4.", "final_answer")
    text, source = step_result("ungrounded", "", 1, log, 2, {"double": ["x"]})
    assert source == "none"
    assert text.startswith("Step 2 could not be done: double needs x")
    log.last_success = "4"
    assert step_result("final_answer", "", 0, log, 2, {}) == ("4", "last_tool_result")


def test_a_final_text_that_drops_the_result_is_set_aside() -> None:
    log = CallLog()
    log.records.append(ToolCallRecord("double", {"x": 2}, 0.0, 1, result="4"))
    log.last_success = "4"
    tools: dict[str, Any] = {"double": double}
    assert set_aside("The answer is 4.", "final_answer", tools, log, Guards()) == ""
    assert set_aside("The answer is not provided.", "final_answer", tools, log, Guards()) == (
        "ignored"
    )
    off = Guards(ignored_results=False)
    assert set_aside("The answer is not provided.", "final_answer", tools, log, off) == ""
