"""`RunResult.ok` and `error`: a run says when its answer cannot be trusted."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from lamina.agents.result import RunResult
from lamina.agents.verdict import judge_run
from lamina.core.records import ApprovalRequest

TASK = "My bike lock costs 15 dollars. First compute 12 times 7, then compute that result plus 15"


def _state(answer: str, **extra: Any) -> dict[str, Any]:
    return {
        "task": TASK,
        "answer": answer,
        "messages": [HumanMessage(TASK), AIMessage(answer)],
        **extra,
    }


def _tool_step(
    index: int, result: str, status: str = "ok", expression: str = "12 * 7"
) -> dict[str, Any]:
    call = {"name": "calculator", "args": {"expression": expression}, "result": result}
    if status == "failed":
        call = {**call, "result": None, "error": "bad expression"}
    return {
        "index": index,
        "instruction": "Compute 12 times 7",
        "result": result,
        "tool_calls": [call],
        "status": status,
    }


def test_an_answer_from_tool_results_is_ok() -> None:
    state = _state(
        "- Step 1 (Compute 12 times 7): 84\n- Step 2 (plus 15): 99\nAnswer: 99",
        plan=[{"instruction": "Compute 12 times 7"}, {"instruction": "plus 15"}],
        step_results=[_tool_step(0, "84"), _tool_step(1, "99", expression="84 + 15")],
    )
    assert judge_run(state) is None
    result = RunResult.from_state(state, thread_id="t", user_id="u")
    assert result.ok
    assert result.to_dict()["ok"] is True


def test_a_figure_no_tool_gave_is_flagged() -> None:
    state = _state("17 pencils at 3 dollars cost 54 dollars.", task="17 pencils at 3 dollars?")
    state["messages"][0] = HumanMessage("17 pencils at 3 dollars?")
    error = judge_run(state)
    assert error is not None
    assert error.kind == "unsupported_figure"
    assert error.tried == ("54",)
    result = RunResult.from_state(state, thread_id="t", user_id="u")
    assert not result.ok
    assert result.to_dict()["error"]["kind"] == "unsupported_figure"


def test_a_rounded_tool_result_is_still_sourced() -> None:
    state = _state(
        "About 8.05 km.",
        task="How far is 5 miles in km?",
        step_results=[_tool_step(0, "8.04672", expression="5 * 1.609344")],
    )
    assert judge_run(state) is None


def test_a_failed_step_fails_the_run_with_what_was_tried() -> None:
    state = _state(
        "Step 1 could not be completed: 3 tool call(s) failed",
        step_results=[_tool_step(0, "Step 1 could not be completed", status="failed")],
    )
    error = judge_run(state)
    assert error is not None
    assert error.kind == "step_failed"
    assert error.step == 0
    assert error.tried == ("calculator({'expression': '12 * 7'}) error: bad expression",)


def test_a_paused_or_empty_run_is_not_ok() -> None:
    pending = ApprovalRequest("write_file", {"path": "a.txt"}, "c1", 0, "m")
    error = judge_run(_state("anything"), pending)
    assert error is not None
    assert error.kind == "awaiting_approval"
    no_answer = judge_run(_state(""))
    assert no_answer is not None
    assert no_answer.kind == "no_answer"


def test_figures_from_memories_and_the_thread_are_sourced() -> None:
    state = _state(
        "Your lock cost 15 dollars and the total was 99.",
        task="How much was my lock?",
        memories=[{"text": "My bike lock costs 15 dollars."}],
        messages=[
            HumanMessage("What is 84 plus 15?"),
            AIMessage("99"),
            HumanMessage("How much was my lock?"),
            AIMessage("Your lock cost 15 dollars and the total was 99."),
        ],
    )
    assert judge_run(state) is None


def test_a_request_number_no_call_used_means_the_task_was_only_partly_done() -> None:
    # "per month ... and for 12 months": the model converted 3,200 and stopped there
    task = "I'm paid 3,200 USD a month. What do I earn in 12 months, in euros?"
    call = {"name": "convert_currency", "args": {"amount": 3200, "to": "EUR"}, "result": "2962.96"}
    step = {"index": 0, "instruction": task, "result": "2962.96", "tool_calls": [call]}
    state = _state("2962.96 EUR", task=task, step_results=[step])
    error = judge_run(state)
    assert error is not None
    assert error.kind == "unused_input"
    assert error.tried == ("12",)
    # every number used (a percentage as its fraction, a date's digits inside a string): ok
    done = {**call, "args": {"expression": "3200 * 12 * 0.926"}, "result": "35558.4"}
    state["step_results"] = [{**step, "tool_calls": [done], "result": "35558.4"}]
    state["answer"] = "35558.4 EUR"
    assert judge_run(state) is None
    tip = "Tip 18% on 2025-06-01's bill of 240"
    call = {
        "name": "tip",
        "args": {"bill": 240, "rate": 0.18, "day": "2025-06-01"},
        "result": "43.2",
    }
    state = _state("43.2", task=tip, step_results=[{**step, "tool_calls": [call]}])
    assert judge_run(state) is None


def test_figures_inside_a_text_a_tool_worked_on_are_used_only_in_a_given_passage() -> None:
    # SmolLM2-135M counted the words of the request itself: 19 and 21 went into no arithmetic
    task = "What's 19 times 21?"
    call = {"name": "word_count", "args": {"text": "What's 19 times 21"}, "result": "4"}
    step = {"index": 0, "instruction": task, "result": "4", "tool_calls": [call]}
    error = judge_run(_state("4", task=task, step_results=[step]))
    assert error is not None
    assert (error.kind, error.tried) == ("unused_input", ("19", "21"))
    # a text the request quotes is a passage: counting it uses the figures in it
    task = "How many words: 'call 3 times before 9'"
    call = {"name": "word_count", "args": {"text": "call 3 times before 9"}, "result": "5"}
    step = {"index": 0, "instruction": task, "result": "5", "tool_calls": [call]}
    assert judge_run(_state("5", task=task, step_results=[step])) is None


def test_numbers_are_not_required_to_be_used_when_no_tool_ran() -> None:
    state = _state("Paris.", task="What is the capital of France, in 2 words?", step_results=[])
    assert judge_run(state) is None


def test_an_answer_resting_on_the_model_alone_is_unverified_unless_trusted() -> None:
    from types import SimpleNamespace

    from lamina.core.context import AgentContext, StaticModels
    from lamina.layers.reasoning import make_reasoning_node
    from lamina.models.testing import FakeChatModel

    state: dict[str, Any] = {
        "task": "What do blue and yellow paint make?",
        "model": "fake",
        "messages": [HumanMessage("What do blue and yellow paint make?")],
    }
    for trusted in (False, True):
        fake = FakeChatModel(responses=["A shade of blue."] * 3)  # SmolLM2-135M's answer
        runtime = SimpleNamespace(
            context=AgentContext(models=StaticModels({"fake": fake}), default_model="fake")
        )
        node = make_reasoning_node(trust_model_answers=trusted, verifiers=(), rc_iterations=1)
        update = node(state, runtime)  # type: ignore[arg-type]
        assert update["answer"] == "A shade of blue."
        assert update["answer_unchecked"] is not trusted
        error = judge_run({**state, **update})
        assert (error.kind if error else None) == (None if trusted else "unverified")
    # a tool's result or a verifier's check supports it
    tool_backed = _state(
        "84", task="What is 12 times 7?", step_results=[_tool_step(0, "84")], answer_unchecked=False
    )
    assert judge_run(tool_backed) is None


def test_a_number_written_as_a_word_counts_as_given() -> None:
    task = "We're splitting a 240 dollar bill four ways and tipping 18%. What does each pay?"
    call = {"name": "add_tip", "args": {"bill": 240, "tip_percent": 18}, "result": "283.20"}
    step = {"index": 0, "instruction": task, "result": "283.20", "tool_calls": [call]}
    error = judge_run(_state("283.20", task=task, step_results=[step]))
    assert error is not None
    assert error.tried == ("four",)
    split = {"name": "calculator", "args": {"expression": "283.20 / 4"}, "result": "70.8"}
    step = {**step, "tool_calls": [call, split], "result": "70.8"}
    assert judge_run(_state("70.8", task=task, step_results=[step])) is None
    # idioms are not inputs: "double-check" asks for no doubling
    task = "Please double-check: what is 12 times 7?"
    call = {"name": "calculator", "args": {"expression": "12 * 7"}, "result": "84"}
    step = {"index": 0, "instruction": task, "result": "84", "tool_calls": [call]}
    assert judge_run(_state("84", task=task, step_results=[step])) is None


def test_the_markers_of_a_numbered_list_are_not_inputs() -> None:
    task = "1. Open a ticket for the broken printer.\n2. Close ticket T-4711."
    opened = {"name": "open_ticket", "args": {"title": "broken printer"}, "result": "T-1001"}
    closed = {"name": "close_ticket", "args": {"ticket": "T-4711"}, "result": "closed"}
    steps = [
        {"index": 0, "instruction": "Open a ticket", "result": "T-1001", "tool_calls": [opened]},
        {"index": 1, "instruction": "Close T-4711", "result": "closed", "tool_calls": [closed]},
    ]
    assert judge_run(_state("Opened T-1001; closed T-4711.", task=task, step_results=steps)) is None
    steps[1]["tool_calls"] = [{**closed, "args": {"ticket": "T-1001"}}]  # the wrong ticket
    error = judge_run(_state("Closed T-1001.", task=task, step_results=steps))
    assert error is not None
    assert error.tried == ("4711",)


def test_an_answer_that_takes_a_fact_from_a_recalled_memory_is_supported() -> None:
    from lamina.layers.reasoning.answer import rests_on_the_model

    state = {
        "task": "Where does my sister live?",
        "memories": [{"id": "m1", "text": "My sister lives in Lyon."}],
    }
    assert not rests_on_the_model([], "Your sister lives in Lyon.", state)
    assert rests_on_the_model([], "Your sister lives in Paris.", state)  # not from the memory
    assert rests_on_the_model([], "Your sister lives in Lyon.", {**state, "memories": []})


def test_the_plan_steps_are_typed_on_the_result() -> None:
    reasoned = {"index": 2, "instruction": "Say why", "result": "Because.", "model": "m"}
    checked = {**reasoned, "index": 3, "verified": True}
    state = _state(
        "99",
        step_results=[
            _tool_step(0, "84"),
            _tool_step(1, "Step 2 could not be completed", status="failed"),
            reasoned,
            checked,
        ],
    )
    result = RunResult.from_state(state, thread_id="t", user_id="u")
    assert [(s.index, s.status, s.source) for s in result.steps] == [
        (0, "ok", "tool"),
        (1, "failed", "model"),  # its only call failed: nothing came from a tool
        (2, "ok", "model"),
        (3, "ok", "verified"),
    ]
    assert result.steps[0].tool_calls[0].name == "calculator"
    assert result.steps[0].tool_calls[0].result == "84"
    assert result.steps[1].tool_calls[0].error == "bad expression"
    assert result.steps[2].model == "m"
    assert result.to_dict()["steps"][0]["source"] == "tool"


def test_a_plan_whose_last_step_the_model_did_alone_is_unverified() -> None:
    from lamina.layers.reasoning.answer import rests_on_the_model

    converted = {
        "index": 0,
        "instruction": "Convert 72 Fahrenheit to Celsius",
        "result": "22.222",
        "tool_calls": [{"name": "convert_units", "result": "22.222", "error": None}],
    }
    rounded = {"index": 1, "instruction": "Round it", "result": "22.222", "model": "m"}
    assert rests_on_the_model([converted, rounded], "22.222 degrees celsius")
    assert not rests_on_the_model([converted], "22.222 degrees celsius")
    assert not rests_on_the_model([converted, {**rounded, "verified": True}], "22")
    state = {"task": "Convert F to C, then round it", "step_results": [converted, rounded]}
    error = judge_run({**state, "answer": "22.222 Celsius", "answer_unchecked": True})
    assert error is not None
    assert (error.kind, error.step) == ("unverified", 1)
    assert "last step (Round it) was done by the model alone" in error.message


def test_an_answer_that_picks_neither_thing_of_a_choice_is_unfinished() -> None:
    task = "Which city is windier, Denver or Reykjavik?"
    listed = "Denver: 8 °C, windy, wind 32 km/h; Reykjavik: 2 °C, rain, wind 27 km/h"
    calls = [
        {"name": "weather", "args": {"city": c}, "result": r, "error": None}
        for c, r in zip(("Denver", "Reykjavik"), listed.split("; "), strict=True)
    ]
    steps = [
        {"index": i, "instruction": "", "result": c["result"], "tool_calls": [c], "status": "ok"}
        for i, c in enumerate(calls)
    ]
    state = {
        "task": task,
        "answer": listed,
        "messages": [HumanMessage(task)],
        "step_results": steps,
    }
    error = judge_run(state)
    assert error is not None
    assert (error.kind, error.tried) == ("unfinished", ("Denver", "Reykjavik"))
    picked = "Denver is windier than Reykjavik (27 km/h): 32 km/h."
    assert judge_run({**state, "answer": picked}) is None


def test_a_date_on_the_wrong_side_of_the_date_counted_from_is_contradicted() -> None:
    task = "What's the date 10 days before 2026-01-05?"
    call = {"name": "add_days", "args": {"date": "2026-01-05", "days": 10}}
    steps = [{"index": 0, "instruction": task, "status": "ok", "tool_calls": [call]}]
    state = {"task": task, "messages": [HumanMessage(task)], "step_results": steps}
    added = "The tool returned 2026-01-15."
    steps[0] |= {"result": added}
    call |= {"result": "2026-01-15"}
    error = judge_run({**state, "answer": added})
    assert error is not None
    assert error.kind == "contradicted"
    assert "2026-01-15 is not before" in error.message
    taken_off = "The tool returned 2025-12-26."
    steps[0] |= {"result": taken_off}
    call |= {"args": {"date": "2026-01-05", "days": -10}, "result": "2025-12-26"}
    assert judge_run({**state, "answer": taken_off}) is None
