"""The reasoning layer with scripted fake models: planning, the RC loop, the node's contract."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from langchain_core.tools import tool

from lamina.core.context import AgentContext, StaticModels
from lamina.core.text import render_step_results
from lamina.errors import ConfigError
from lamina.guards.tool_shortlist import step_needs_tool
from lamina.layers.reasoning import RC_ITERATIONS, make_reasoning_node, rc_solve
from lamina.layers.reasoning.plan import PlanStep
from lamina.layers.reasoning.planning import make_plan, plan_task, with_max_tokens
from lamina.layers.reasoning.prompts import load_prompts
from lamina.layers.reasoning.rc_loop import capped
from lamina.layers.reasoning.task_split import (
    explicit_steps,
    is_multi_step,
    split_task,
    task_preamble,
)
from lamina.models.testing import FakeChatModel
from lamina.stores.step_cache import StepCache

COLOURS = "First list three primary colours, then write one sentence about each."
PLAN_REPLY = {
    "steps": [
        {"instruction": "List three primary colours.", "needs_tool": False},
        {"instruction": "Write one sentence about each colour.", "needs_tool": False},
    ]
}


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression.

    Args:
        expression: e.g. "12 * 7".
    """
    return expression


class Bounded(FakeChatModel):
    max_tokens: int | None = None


def text_of(messages: list[BaseMessage]) -> str:
    return "\n".join(str(m.content) for m in messages)


def runtime(
    models: dict[str, FakeChatModel],
    cache: StepCache | None,
    *,
    tools: bool = False,
    default: str = "fake",
) -> SimpleNamespace:
    ctx = AgentContext(
        models=StaticModels(models),
        default_model=default,
        step_cache=cache,
        tools={"calculator": calculator} if tools else {},
    )
    return SimpleNamespace(context=ctx)


@pytest.fixture
def cache(tmp_path: Path) -> StepCache:
    return StepCache(tmp_path / "steps.sqlite")


def reasoning_event(update: dict[str, Any]) -> dict[str, Any]:
    (event,) = update["trace"]
    assert event["layer"] == "reasoning"
    assert event["seconds"] >= 0
    data: dict[str, Any] = event["data"]
    return data


# -- the deterministic split and the tool heuristic ------------------------------------------
@pytest.mark.parametrize(
    ("task", "steps"),
    [
        (COLOURS, ["List three primary colours", "Write one sentence about each."]),
        ("What is 2+3? Then multiply it by 4.", ["What is 2+3?", "Multiply it by 4."]),
        ("Add 2 and 3 and then double it", ["Add 2 and 3", "Double it"]),
        (
            "Summarise this text. After that, translate it. Finally, count the words.",
            ["Summarise this text.", "Translate it.", "Count the words."],
        ),
        ("Do this:\n1. Name a dog breed\n2. Describe it", ["Name a dog breed", "Describe it"]),
        ("Plan:\n- buy milk\n- cook rice\n- eat", ["Buy milk", "Cook rice", "Eat"]),
        ("Explain gravity. Give an example.", ["Explain gravity.", "Give an example."]),
    ],
)
def test_split_task_on_sequencing(task: str, steps: list[str]) -> None:
    assert split_task(task) == steps
    assert is_multi_step(task)


@pytest.mark.parametrize(
    "task",
    [
        "Tell me about cats.",
        "If it rains then take an umbrella.",
        "What happened then?",
        "I have 3 apples. I buy 2 more. How many do I have?",
        "What is the next prime after 7?",
        # a question with nothing of its own to work on belongs to the one before it
        "Do we still have water bottles? How many?",
        "How much is a webcam? In dollars?",
    ],
)
def test_single_step_tasks(task: str) -> None:
    assert split_task(task) == [task]
    assert not is_multi_step(task)


def test_split_merges_beyond_max_steps() -> None:
    task = "Name a cat. Then name a dog. Then name a bird. Then name a fish."
    assert split_task(task, max_steps=2) == ["Name a cat.", "Name a dog. Name a bird. Name a fish."]


@pytest.mark.parametrize(
    ("instruction", "expected"),
    [
        ("What is 12 * 7?", True),
        ("Multiply 5 by 4", True),
        ("Use the calculator on the total", True),
        ("Look up the weather in Paris", True),
        ("Write a poem about the sea", False),
        ("Name three colours", False),
    ],
)
def test_step_needs_tool(instruction: str, expected: bool) -> None:
    assert step_needs_tool(instruction, [calculator]) is expected
    assert step_needs_tool(instruction, []) is False  # never without tools


@pytest.mark.parametrize(
    ("instruction", "expected"),
    [
        ("Get the distance from Paris to Nice in km.", True),  # "distance" of get_distance
        ("Convert that to miles", True),  # "miles" of km_to_miles
        ("Find the cheapest flights to Rome", True),  # "flights" of searchFlights
        ("Get the answer from the text", False),  # only generic words ("get") in common
        ("Write a poem about the sea", False),
    ],
)
def test_a_telling_word_of_a_tool_name_marks_a_tool_step(instruction: str, expected: bool) -> None:
    assert (
        step_needs_tool(instruction, ["get_distance", "km_to_miles", "searchFlights"]) is expected
    )


# -- planning --------------------------------------------------------------------------------
def test_single_step_plan_makes_no_model_call() -> None:
    fake = FakeChatModel(responses=[])
    outcome = make_plan(fake, "Tell me about cats.", [])
    assert outcome.source == "single"
    assert outcome.steps == (PlanStep(0, "Tell me about cats.", False),)
    assert fake.calls == []


def test_multi_step_plan_comes_from_the_model_as_json() -> None:
    fake = FakeChatModel(responses=[PLAN_REPLY])
    steps = plan_task(fake, COLOURS, [])
    assert [s.instruction for s in steps] == [s["instruction"] for s in PLAN_REPLY["steps"]]
    assert [s.index for s in steps] == [0, 1]
    prompt = text_of(fake.calls[0])
    assert COLOURS in prompt
    assert '"steps"' in prompt  # the few-shot example


def test_model_plan_needs_tool_follows_tools() -> None:
    reply = {
        "steps": [
            {"instruction": "Compute 12 * 7.", "needs_tool": False},
            {"instruction": "Write a haiku about it.", "needs_tool": False},
        ]
    }
    task = "Compute 12 * 7, then a haiku."
    with_tools = make_plan(FakeChatModel(responses=[reply]), task, [calculator])
    assert [s.needs_tool for s in with_tools.steps] == [True, False]
    flagged = {"steps": [{**reply["steps"][0], "needs_tool": True}, reply["steps"][1]]}
    without = make_plan(FakeChatModel(responses=[flagged]), task, [])
    assert [s.needs_tool for s in without.steps] == [False, False]


@pytest.mark.parametrize(
    "reply",
    [
        {"steps": [{"instruction": "Only one step.", "needs_tool": False}]},  # fails minItems 2
        {
            "steps": [
                {"instruction": " ", "needs_tool": False},
                {"instruction": "x.", "needs_tool": False},
            ]
        },
        {"plan": "not the schema"},
        {  # the few-shot example's step, copied by a small model
            "steps": [
                {"instruction": "List three primary colours.", "needs_tool": False},
                {"instruction": "Describe the taste of each fruit.", "needs_tool": False},
            ]
        },
    ],
)
def test_unusable_model_plan_falls_back_and_says_so(reply: dict[str, Any]) -> None:
    outcome = make_plan(FakeChatModel(responses=[reply]), COLOURS, [])
    assert outcome.source == "fallback"
    assert outcome.note
    assert [s.instruction for s in outcome.steps] == split_task(COLOURS)


def test_long_model_plan_is_bounded_by_the_schema() -> None:
    reply = {"steps": [{"instruction": f"Step {i}.", "needs_tool": False} for i in range(6)]}
    outcome = make_plan(FakeChatModel(responses=[reply]), COLOURS, [], max_steps=3)
    assert outcome.source == "fallback"  # maxItems is part of the grammar's schema
    assert len(outcome.steps) <= 3


def test_prompts_are_versioned_data() -> None:
    prompts = load_prompts()
    assert prompts.version
    assert prompts.template_version("solve") == f"reasoning/{prompts.version}/solve"
    with pytest.raises(ConfigError, match=r"uses \{problem\}"):
        prompts.render("solve", "first")  # {problem} not given
    with pytest.raises(ConfigError, match="nope"):
        prompts.get("nope", "system")


# -- the RC loop -----------------------------------------------------------------------------
def test_rc_loop_carries_the_summary_and_drops_the_attempt(cache: StepCache) -> None:
    fake = FakeChatModel(responses=["ATTEMPT-ONE", "SUMMARY-ONE", "ATTEMPT-TWO"])
    result = rc_solve("What is a rainbow?", fake, fake, 2, cache)
    assert result.attempt == "ATTEMPT-TWO"
    assert result.summaries == ("SUMMARY-ONE",)
    assert (result.calls, result.iterations, result.misses, result.hits) == (3, 2, 3, 0)
    first_solve, summarise, second_solve = (text_of(c) for c in fake.calls)
    assert "What is a rainbow?" in first_solve
    assert "ATTEMPT-ONE" in summarise
    assert "SUMMARY-ONE" in second_solve
    assert "ATTEMPT-ONE" not in second_solve


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_rc_loop_makes_2n_minus_1_calls(n: int) -> None:
    solver = FakeChatModel(responses=[f"attempt {i}" for i in range(n)])
    summariser = FakeChatModel(responses=[f"summary {i}" for i in range(n - 1)])
    result = rc_solve("p", solver, summariser, n, None)
    assert len(solver.calls) == n
    assert len(summariser.calls) == n - 1
    assert result.attempt == f"attempt {n - 1}"
    assert result.calls == 2 * n - 1
    if n >= 3:  # each summary builds on the previous one
        assert "summary 0" in text_of(summariser.calls[1])
        assert "summary 1" in text_of(solver.calls[2])
        assert "summary 0" not in text_of(solver.calls[2])


def test_rc_loop_rejects_zero_iterations() -> None:
    with pytest.raises(ConfigError, match="at least 1"):
        rc_solve("p", FakeChatModel(responses=[]), FakeChatModel(responses=[]), 0, None)


def test_plan_call_gets_its_own_token_budget() -> None:
    budget = int(load_prompts().get("plan", "max_tokens"))
    small = Bounded(responses=[], max_tokens=16)
    assert getattr(with_max_tokens(small, budget, cap_only=False), "max_tokens", None) == budget
    assert small.max_tokens == 16  # the routed model itself is untouched
    assert with_max_tokens(small, budget, cap_only=True) is small


def test_summaries_are_bounded() -> None:
    bound = int(load_prompts().get("summarise", "max_tokens"))
    loose = Bounded(responses=[], max_tokens=None)
    assert getattr(capped(loose, bound), "max_tokens", None) == bound
    tight = Bounded(responses=[], max_tokens=8)
    assert capped(tight, bound) is tight
    plain = FakeChatModel(responses=[])
    assert capped(plain, bound) is plain


# -- the node --------------------------------------------------------------------------------
def test_single_step_task_without_tools(cache: StepCache) -> None:
    fake = FakeChatModel(responses=["first try", "my summary", "Cats are small felines."])
    node = make_reasoning_node(rc_iterations=2)
    state = {
        "task": "Tell me about cats.",
        "model": "fake",
        "memories": [{"text": "The user has a cat called Tom.", "created_at": "2025-01-02T10:00"}],
        "plan": [],  # the input layer resets it to an empty list
        "trace": [],
    }
    update = node(state, runtime({"fake": fake}, cache))
    assert update["answer"] == "Cats are small felines."
    assert update["plan"] == [
        {"index": 0, "instruction": "Tell me about cats.", "needs_tool": False}
    ]
    assert update["step_index"] == 1
    (result,) = update["step_results"]
    assert result == {
        "index": 0,
        "instruction": "Tell me about cats.",
        "result": "Cats are small felines.",
        "model": "fake",
        "cached": False,
        "tool_calls": [],
    }
    assert len(fake.calls) == 3  # no plan call for a single step
    assert "Tom" in text_of(fake.calls[0])  # memories reach the prompt
    data = reasoning_event(update)
    assert data["plan_source"] == "single"
    assert (data["cache_hits"], data["cache_misses"]) == (0, 3)
    assert data["steps"] == [
        {
            "index": 0,
            "model": "fake",
            "route": None,
            "cached": False,
            "iterations": 2,
            "calls": 3,
            "summariser_model": "fake",
        }
    ]
    assert data["tokens"] == 6


def test_multi_step_plan_from_the_model(cache: StepCache) -> None:
    fake = FakeChatModel(
        responses=[
            PLAN_REPLY,
            "red, blue, yellow",
            "sum1",
            "Red, blue and yellow.",
            "a",
            "sum2",
            "Red is warm. Blue is calm. Yellow is bright.",
            "FINAL ANSWER",
        ]
    )
    update = make_reasoning_node(rc_iterations=2)(
        {"task": COLOURS, "model": "fake"}, runtime({"fake": fake}, cache)
    )
    assert [s["instruction"] for s in update["plan"]] == [
        "List three primary colours.",
        "Write one sentence about each colour.",
    ]
    assert update["answer"] == "FINAL ANSWER"
    assert [r["result"] for r in update["step_results"]] == [
        "Red, blue and yellow.",
        "Red is warm. Blue is calm. Yellow is bright.",
    ]
    # step 2 sees step 1's result; the synthesis sees both
    step2_prompt = text_of(fake.calls[4])
    assert render_step_results(update["step_results"][:1]) in step2_prompt
    assert "Step 2 of 2" in step2_prompt
    synthesis_prompt = text_of(fake.calls[7])
    assert render_step_results(update["step_results"]) in synthesis_prompt
    assert COLOURS in synthesis_prompt
    data = reasoning_event(update)
    assert data["plan_source"] == "model"
    assert data["cache_misses"] == 8
    assert [s["index"] for s in data["steps"]] == [0, 1]
    assert fake.remaining == 0


def test_fallback_plan_is_recorded_in_the_trace(cache: StepCache) -> None:
    fake = FakeChatModel(responses=[{"steps": []}, "one", "two", "final"])
    update = make_reasoning_node(rc_iterations=1)(
        {"task": COLOURS, "model": "fake"}, runtime({"fake": fake}, cache)
    )
    data = reasoning_event(update)
    assert data["plan_source"] == "fallback"
    assert "plan" in data["plan_note"]
    assert [s["instruction"] for s in update["plan"]] == split_task(COLOURS)
    assert update["answer"] == "final"


def test_tool_step_hands_over_to_execution(cache: StepCache) -> None:
    fake = FakeChatModel(responses=[])
    node = make_reasoning_node()
    rt = runtime({"fake": fake}, cache, tools=True)
    update = node({"task": "What is 12 * 7?", "model": "fake"}, rt)
    assert "answer" not in update
    assert update["plan"] == [{"index": 0, "instruction": "What is 12 * 7?", "needs_tool": True}]
    assert update["step_index"] == 0
    assert reasoning_event(update)["handoff"] == 0
    assert fake.calls == []
    # execution ran the step and came back: the single result is the answer, no model call
    done = {
        "task": "What is 12 * 7?",
        "model": "fake",
        **update,
        "step_index": 1,
        "steps_taken": 1,
        "step_results": [
            {
                "index": 0,
                "instruction": "What is 12 * 7?",
                "result": "84",
                "model": "fake",
                "cached": False,
                "tool_calls": [{"name": "calculator"}],
            }
        ],
    }
    final = node(done, rt)
    assert final["answer"] == "84"
    assert fake.calls == []


def test_tool_step_in_the_middle_of_a_plan(cache: StepCache) -> None:
    # no clause refers back ("about the result" would make the clauses the plan, no model call)
    task = "Compute 12 * 7, then write a haiku about numbers."
    plan_reply = {
        "steps": [
            {"instruction": "Compute 12 * 7.", "needs_tool": True},
            {"instruction": "Write a haiku about numbers.", "needs_tool": False},
        ]
    }
    fake = FakeChatModel(responses=[plan_reply, "Eighty-four, a haiku.", "It is 84; haiku."])
    node = make_reasoning_node(rc_iterations=1)
    rt = runtime({"fake": fake}, cache, tools=True)
    first = node({"task": task, "model": "fake"}, rt)
    assert "answer" not in first
    assert first["step_index"] == 0
    after_tool = {
        "task": task,
        "model": "fake",
        "plan": first["plan"],
        "step_index": 1,
        "steps_taken": 1,
        "step_results": [
            {
                "index": 0,
                "instruction": "Compute 12 * 7.",
                "result": "84",
                "model": "fake",
                "cached": False,
                "tool_calls": [{"name": "calculator"}],
            }
        ],
    }
    second = node(after_tool, rt)
    assert second["answer"] == "It is 84; haiku."
    assert [r["result"] for r in second["step_results"]] == ["84", "Eighty-four, a haiku."]
    assert "84" in text_of(fake.calls[1])  # the tool's result reached the next step
    assert "plan_source" not in reasoning_event(second)  # no re-planning on later visits


def test_step_budget_stops_with_an_answer(cache: StepCache) -> None:
    fake = FakeChatModel(responses=[])
    plan = [
        {"index": i, "instruction": f"Compute {i} + {i}.", "needs_tool": True} for i in range(3)
    ]
    state = {
        "task": "Compute several sums.",
        "model": "fake",
        "plan": plan,
        "step_index": 1,
        "steps_taken": 2,
        "step_results": [
            {
                "index": 0,
                "instruction": "Compute 0 + 0.",
                "result": "zero-sum-result",
                "model": "fake",
                "cached": False,
                "tool_calls": [],
            }
        ],
    }
    update = make_reasoning_node(max_steps=2)(state, runtime({"fake": fake}, cache, tools=True))
    answer = update["answer"]
    assert "step budget ran out" in answer
    assert "2 of 2" in answer
    assert "Compute 0 + 0." in answer
    assert "zero-sum-result" in answer
    assert "Compute 2 + 2." in answer  # what was not
    assert reasoning_event(update)["stopped"] == "max_steps"
    assert fake.calls == []


def test_second_identical_run_hits_the_cache_for_every_step(cache: StepCache) -> None:
    script = [PLAN_REPLY, "a1", "s1", "a2", "b1", "s2", "b2", "final"]
    node = make_reasoning_node(rc_iterations=2)
    state = {"task": COLOURS, "model": "fake"}
    first = node(state, runtime({"fake": FakeChatModel(responses=script)}, cache))
    first_data = reasoning_event(first)
    assert first_data["cache_hits"] == 0

    silent = FakeChatModel(responses=[])  # any model call would raise
    second = node(state, runtime({"fake": silent}, cache))
    data = reasoning_event(second)
    assert data["cache_misses"] == 0
    assert data["cache_hits"] == first_data["cache_misses"] == 8
    assert data["tokens"] == 0
    assert data["tokens_saved"] == first_data["tokens"]
    assert all(s["cached"] for s in data["steps"])
    assert all(r["cached"] for r in second["step_results"])
    assert second["answer"] == first["answer"] == "final"
    assert second["plan"] == first["plan"]
    assert silent.calls == []


def test_a_new_prompt_version_is_never_served_old_entries(cache: StepCache) -> None:
    state = {"task": "Tell me about cats.", "model": "fake"}
    make_reasoning_node(rc_iterations=1)(
        state, runtime({"fake": FakeChatModel(responses=["v1 answer"])}, cache)
    )
    bumped = dataclasses.replace(load_prompts(), version="test-next")
    update = make_reasoning_node(rc_iterations=1, prompts=bumped)(
        state, runtime({"fake": FakeChatModel(responses=["v2 answer"])}, cache)
    )
    assert update["answer"] == "v2 answer"
    assert reasoning_event(update)["cache_misses"] == 1


def test_summariser_model_is_used_for_summaries(cache: StepCache) -> None:
    solver = FakeChatModel(responses=["attempt 1", "attempt 2"])
    summariser = FakeChatModel(responses=["short summary"], model_name="summ")
    node = make_reasoning_node(rc_iterations=2, summariser_model="summ")
    update = node(
        {"task": "Tell me about cats.", "model": "solver"},
        runtime({"solver": solver, "summ": summariser}, cache, default="solver"),
    )
    assert update["answer"] == "attempt 2"
    assert len(solver.calls) == 2
    assert len(summariser.calls) == 1
    assert "short summary" in text_of(solver.calls[1])


def test_works_without_a_step_cache() -> None:
    fake = FakeChatModel(responses=["answer"])
    update = make_reasoning_node(rc_iterations=1)(
        {"task": "Tell me about cats."}, runtime({"fake": fake}, None)
    )
    assert update["answer"] == "answer"  # default_model used when the router set none
    assert reasoning_event(update)["cache_misses"] == 1


def test_empty_model_output_still_ends_the_loop(cache: StepCache) -> None:
    update = make_reasoning_node(rc_iterations=1)(
        {"task": "Tell me about cats.", "model": "fake"},
        runtime({"fake": FakeChatModel(responses=["   "])}, cache),
    )
    assert update["answer"]  # a falsy answer would send the graph back to execution
    assert reasoning_event(update)["answer_note"]


@pytest.mark.parametrize("kwargs", [{"rc_iterations": 0}, {"max_steps": 0}, {"max_plan_steps": 1}])
def test_bad_bounds_are_config_errors(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        make_reasoning_node(**kwargs)


def test_missing_task_is_a_wiring_error(cache: StepCache) -> None:
    with pytest.raises(ConfigError, match="task"):
        make_reasoning_node()(
            {"model": "fake"}, runtime({"fake": FakeChatModel(responses=[])}, cache)
        )


def test_node_runs_inside_a_langgraph_graph(cache: StepCache) -> None:
    from langgraph.graph import END, START, StateGraph

    from lamina.core.state import AgentState

    graph = StateGraph(AgentState, context_schema=AgentContext)
    graph.add_node("reasoning", make_reasoning_node(rc_iterations=1))
    graph.add_edge(START, "reasoning")
    graph.add_edge("reasoning", END)
    fake = FakeChatModel(responses=["Cats purr."])
    context = AgentContext(
        models=StaticModels({"fake": fake}), default_model="fake", step_cache=cache
    )
    out = graph.compile().invoke(
        {"messages": [], "task": "Tell me about cats.", "trace": []}, context=context
    )
    assert out["answer"] == "Cats purr."
    assert [e["layer"] for e in out["trace"]] == ["reasoning"]


# -- defaults, list plans, overlap, verification, KV counts ----------------------------------
def test_the_default_is_the_published_n(cache: StepCache) -> None:
    assert RC_ITERATIONS == 3
    fake = FakeChatModel(responses=["a1", "s1", "a2", "s2", "a3"])
    update = make_reasoning_node()(
        {"task": "Tell me about cats.", "model": "fake"}, runtime({"fake": fake}, cache)
    )
    assert update["answer"] == "a3"
    assert reasoning_event(update)["steps"][0]["iterations"] == 3
    result = rc_solve(
        "p", FakeChatModel(responses=["x", "y", "z", "w", "v"]), FakeChatModel(responses=["s", "t"])
    )
    assert result.iterations == 3  # rc_solve's default N is the same


LIST_TASK = "Anna buys 4 boxes of 12 eggs.\n1. Multiply 4 by 12.\n2. Subtract 7 from the result."


def test_a_list_task_is_its_own_plan(cache: StepCache) -> None:
    fake = FakeChatModel(responses=["48", "41"])
    update = make_reasoning_node(rc_iterations=1)(
        {"task": LIST_TASK, "model": "fake"}, runtime({"fake": fake}, cache)
    )
    data = reasoning_event(update)
    assert data["plan_source"] == "list"  # no plan call: the first call is step 1
    assert [s["instruction"] for s in update["plan"]] == [
        "Multiply 4 by 12.",
        "Subtract 7 from the result.",
    ]
    first, second = text_of(fake.calls[0]), text_of(fake.calls[1])
    assert "Given: Anna buys 4 boxes of 12 eggs." in first
    assert "Subtract" not in first  # a step's prompt holds only what it depends on
    assert "Results so far" in second
    assert "48" in second
    # both results passed the arithmetic check: the answer states them, no synthesis call
    assert update["answer"].endswith("Answer: 41")
    assert reasoning_event(update)["synthesis"]["source"] == "exact results"
    assert fake.remaining == 0


def test_a_shared_step_of_another_task_is_served_from_the_cache(cache: StepCache) -> None:
    node = make_reasoning_node(rc_iterations=1)
    node(
        {"task": LIST_TASK, "model": "fake"},
        runtime({"fake": FakeChatModel(responses=["48", "41", "final"])}, cache),
    )
    overlap = "Anna buys 4 boxes of 12 eggs.\n1. Multiply 4 by 12.\n2. Add 10 to the result."
    fake = FakeChatModel(responses=["58"])  # step 1 is never asked again
    update = node({"task": overlap, "model": "fake"}, runtime({"fake": fake}, cache))
    steps = reasoning_event(update)["steps"]
    assert [s["cached"] for s in steps] == [True, False]
    assert update["step_results"][0]["result"] == "48"
    assert update["answer"].endswith("Answer: 58")
    assert len(fake.calls) == 1


def test_a_wrong_arithmetic_step_is_refined_and_the_verdict_traced(cache: StepCache) -> None:
    fake = FakeChatModel(responses=["4 * 12 = 46", "4 * 12 = 48", "48 - 7 = 41"])
    update = make_reasoning_node(rc_iterations=1)(
        {"task": LIST_TASK, "model": "fake"}, runtime({"fake": fake}, cache)
    )
    first, second = update["step_results"]
    assert (first["result"], first["verified"]) == ("4 * 12 = 48", True)
    assert "46" in text_of(fake.calls[1])  # the refinement saw the feedback
    assert "4 * 12 = 48" in text_of(fake.calls[2])  # step 2 builds on the refined value
    steps = reasoning_event(update)["steps"]
    v1 = steps[0]["verification"]
    assert (v1["verdict"]["passed"], v1["refined"], v1["corrected"], v1["passed"]) == (
        False,
        True,
        False,
        True,
    )
    assert steps[0]["calls"] == 2
    assert (second["result"], second["verified"]) == ("48 - 7 = 41", True)
    assert update["answer"].endswith("Answer: 41")
    assert fake.remaining == 0


def test_a_still_wrong_step_passes_the_correction_on(cache: StepCache) -> None:
    fake = FakeChatModel(responses=["46", "47", "41"])
    update = make_reasoning_node(rc_iterations=1)(
        {"task": LIST_TASK, "model": "fake"}, runtime({"fake": fake}, cache)
    )
    assert update["step_results"][0]["result"] == "48"  # never 46 or 47
    verification = reasoning_event(update)["steps"][0]["verification"]
    assert verification["corrected"] is True
    assert verification["after_refinement"]["found"] == "47"
    assert "48" in text_of(fake.calls[2])


def test_verifiers_can_be_switched_off(cache: StepCache) -> None:
    fake = FakeChatModel(responses=["46", "39", "final"])
    update = make_reasoning_node(rc_iterations=1, verifiers=())(
        {"task": LIST_TASK, "model": "fake"}, runtime({"fake": fake}, cache)
    )
    assert update["step_results"][0]["result"] == "46"
    assert "verified" not in update["step_results"][0]
    assert "verification" not in reasoning_event(update)["steps"][0]


class KVFake(FakeChatModel):
    """Reports 20 prompt tokens of which its KV cache supplied 15."""

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
        result = super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
        result.generations[0].message.usage_metadata = {
            "input_tokens": 20,
            "output_tokens": 2,
            "total_tokens": 22,
            "input_token_details": {"cache_read": 15},
        }
        return result


def test_the_trace_counts_prompt_tokens_evaluated_and_seconds_saved(cache: StepCache) -> None:
    node = make_reasoning_node(rc_iterations=2)
    state = {"task": "Tell me about cats.", "model": "fake"}
    first = reasoning_event(
        node(state, runtime({"fake": KVFake(responses=["a", "s", "b"])}, cache))
    )
    assert (first["prompt_tokens"], first["prompt_tokens_evaluated"]) == (60, 15)
    assert first["cache_semantic_hits"] == 0
    warm = reasoning_event(node(state, runtime({"fake": KVFake(responses=[])}, cache)))
    assert (warm["cache_hits"], warm["prompt_tokens"], warm["prompt_tokens_evaluated"]) == (3, 0, 0)
    assert warm["seconds_saved"] >= 0.0
    # a model that does not report it leaves the count unknown rather than 0
    plain = reasoning_event(
        make_reasoning_node(rc_iterations=1)(
            state, runtime({"fake": FakeChatModel(responses=["x"])}, None)
        )
    )
    assert plain["prompt_tokens_evaluated"] is None


def test_a_semantic_hit_is_marked_in_the_trace(tmp_path: Path) -> None:
    from lamina.models.testing import HashingEncoder

    cache = StepCache(tmp_path / "s.sqlite", semantic_threshold=0.97, encoder=HashingEncoder())
    node = make_reasoning_node(rc_iterations=1)
    node(
        {"task": "Tell me about cats.", "model": "fake"},
        runtime({"fake": FakeChatModel(responses=["Cats purr."])}, cache),
    )
    update = node(
        {"task": "tell me about cats!", "model": "fake"},
        runtime({"fake": FakeChatModel(responses=[])}, cache),
    )
    data = reasoning_event(update)
    assert data["cache_semantic_hits"] == 1
    assert data["steps"][0]["semantic_hits"] == 1
    assert update["answer"] == "Cats purr."


def test_explicit_steps_and_preamble() -> None:
    assert explicit_steps(LIST_TASK) == ["Multiply 4 by 12.", "Subtract 7 from the result."]
    assert task_preamble(LIST_TASK) == "Anna buys 4 boxes of 12 eggs."
    assert explicit_steps(COLOURS) == []
    assert task_preamble(COLOURS) == ""
    assert task_preamble("- a cat\n- a dog") == ""
    outcome = make_plan(FakeChatModel(responses=[]), "- name a cat\n- name a dog", [])
    assert (outcome.source, outcome.cached) == ("list", None)


def test_the_exact_value_is_passed_on_not_the_text(cache: StepCache) -> None:
    fake = FakeChatModel(responses=["48 eggs, in 4 boxes", "41 eggs, from 48"])
    update = make_reasoning_node(rc_iterations=1)(
        {"task": LIST_TASK, "model": "fake"}, runtime({"fake": fake}, cache)
    )
    first, second = update["step_results"]
    assert (first["value"], second["value"]) == ("48", "41")
    assert update["answer"].endswith("Answer: 41")  # not "Answer: 41 eggs, from 48"
    assert fake.remaining == 0  # step 2 checked 48 - 7, not 4 - 7


@pytest.mark.parametrize(
    "task",
    ["Sort these:\n- 10\n- 30\n- 20", "Buy these today:\n- apples\n- pears"],
)
def test_a_list_of_data_is_not_a_plan(task: str) -> None:
    assert explicit_steps(task) == []
