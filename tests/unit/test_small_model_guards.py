"""Guards that keep small models from making a run worse: degenerate refinements, invented
extra tool calls inside a plan step, and restated tool results."""

from __future__ import annotations

from types import SimpleNamespace

from lamina.config.options import Guards
from lamina.core.context import AgentContext, StaticModels
from lamina.guards.degenerate import degenerate, empty
from lamina.layers.execution import make_execution_node
from lamina.layers.reasoning import make_reasoning_node, rc_solve
from lamina.models.testing import FakeChatModel, ToolCallScript
from lamina.tools.calculator import calculator


def test_degenerate_detects_echoes_and_loops():
    assert degenerate("")
    assert degenerate("(none)")
    assert degenerate("My latest attempt: x\nMy earlier summary: y")
    assert degenerate("The answer is 4.\nThe answer is 4.\nThe answer is 4.")
    assert not degenerate("I found that 2 + 2 is 4, so the answer is 4.")


def test_degenerate_summary_stops_refining_and_keeps_the_attempt():
    fake = FakeChatModel(responses=["Four.", "(none)\n(none)\n(none)"])
    result = rc_solve("What is 2 + 2?", fake, fake, 3, None)
    assert result.attempt == "Four."
    assert result.iterations == 1
    assert result.stopped is not None
    assert "summary" in result.stopped
    assert fake.remaining == 0


def test_degenerate_refinement_keeps_the_earlier_attempt():
    loop = "My latest attempt:\nMy earlier summary:\nMy latest attempt:"
    fake = FakeChatModel(responses=["Four.", "I answered four.", loop])
    result = rc_solve("What is 2 + 2?", fake, fake, 2, None)
    assert result.attempt == "Four."
    assert result.stopped is not None
    assert "attempt" in result.stopped


def test_with_the_guard_off_a_looping_refinement_is_kept_and_only_empty_output_is_dropped():
    loop = "My latest attempt:\nMy earlier summary:\nMy latest attempt:"
    fake = FakeChatModel(responses=["Four.", "I answered four.", loop])
    result = rc_solve("What is 2 + 2?", fake, fake, 2, None, unusable=empty)
    assert result.attempt == loop
    assert result.stopped is None
    fake = FakeChatModel(responses=["Four.", "  "])
    result = rc_solve("What is 2 + 2?", fake, fake, 3, None, unusable=empty)
    assert result.attempt == "Four."
    assert result.stopped is not None


def test_the_reasoning_node_takes_the_degenerate_output_guard_from_guards():
    loop = "It is Paris.\nIt is Paris.\nIt is Paris."
    state = {"task": "What is the capital of France?", "model": "fake", "messages": []}
    answers = {}
    for name, guards in (("on", Guards()), ("off", Guards(degenerate_output=False))):
        fake = FakeChatModel(responses=["Paris.", "I said Paris.", loop])
        node = make_reasoning_node(guards=guards, verifiers=(), rc_iterations=2)
        answers[name] = node(state, _runtime(fake))["answer"]  # type: ignore[arg-type]
    assert answers == {"on": "Paris.", "off": loop}


def _runtime(fake: FakeChatModel) -> SimpleNamespace:
    context = AgentContext(
        models=StaticModels({"fake": fake}), default_model="fake", tools={"calculator": calculator}
    )
    return SimpleNamespace(context=context)


def test_a_plan_step_ends_after_one_successful_call():
    fake = FakeChatModel(
        responses=[
            ToolCallScript("calculator", {"expression": "12 * 7"}),
            ToolCallScript("calculator", {"expression": "84 + 99"}),  # never requested
        ]
    )
    state = {
        "task": "First multiply 12 by 7, then add 15.",
        "model": "fake",
        "plan": [
            {"index": 0, "instruction": "Multiply 12 by 7", "needs_tool": True},
            {"index": 1, "instruction": "Add 15 to the result", "needs_tool": True},
        ],
        "step_index": 0,
        "step_results": [],
        "steps_taken": 0,
    }
    update = make_execution_node()(state, _runtime(fake))
    assert update["step_results"][0]["result"] == "84"
    assert len(update["step_results"][0]["tool_calls"]) == 1
    assert fake.remaining == 1


def test_tool_only_plans_answer_with_the_exact_values():
    fake = FakeChatModel(responses=[])  # no synthesis call may happen
    plan = [
        {"index": 0, "instruction": "Multiply 12 by 7", "needs_tool": True},
        {"index": 1, "instruction": "Add 15 to the result", "needs_tool": True},
    ]
    results = [
        {
            "index": 0,
            "instruction": plan[0]["instruction"],
            "result": "84",
            "model": "fake",
            "cached": False,
            "tool_calls": [{"name": "calculator"}],
            "status": "ok",
        },
        {
            "index": 1,
            "instruction": plan[1]["instruction"],
            "result": "99",
            "model": "fake",
            "cached": False,
            "tool_calls": [{"name": "calculator"}],
            "status": "ok",
        },
    ]
    state = {
        "task": "First multiply 12 by 7, then add 15.",
        "model": "fake",
        "plan": plan,
        "step_index": 2,
        "step_results": results,
        "steps_taken": 2,
    }
    update = make_reasoning_node()(state, _runtime(fake))
    assert update["answer"].endswith("Answer: 99")
    assert "84" in update["answer"]


def test_a_call_written_as_the_answer_and_cut_off_is_an_echo() -> None:
    from lamina.guards.tool_calls import echoes_instructions
    from lamina.tools.calculator import calculator

    tools = {"calculator": calculator}
    assert echoes_instructions('{"expression": "The arithmetic to compute, for exa', tools)
    assert not echoes_instructions('{"price": 2.0} is what I found', tools)
    # a call written as text after a label that names the tool
    assert echoes_instructions('Action: calculator\n{"expression": "132 + 132"}', tools)
    assert echoes_instructions('calculator {"expression": "126"}', tools)
    assert not echoes_instructions('The total is 126 {"expression": "126"}', tools)
    assert not echoes_instructions('Action: search\n{"expression": "126"}', tools)


def test_ignores_results_compares_figures_not_wording() -> None:
    from lamina.guards.tool_calls import ignores_results

    assert ignores_results("The answer is not provided.", ["Cairo: 31 °C, sunny"])
    assert not ignores_results("It is 31 degrees in Cairo.", ["Cairo: 31 °C, sunny"])
    assert not ignores_results("About 37.69 dollars.", ["37.6854"])  # rounded, still the result
    assert ignores_results("About 45 dollars.", ["37.6854"])  # not the result's figure
    assert not ignores_results("Sent it.", ["Message sent."])  # no figure to quote: no finding
    assert not ignores_results("It comes to 1,416.00.", ["1416"])
