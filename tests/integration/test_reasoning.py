"""The reasoning layer on the real SmolLM2: a multi-step plan, then every step from the cache."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from lamina.core.context import AgentContext, StaticModels
from lamina.layers.reasoning import make_reasoning_node
from lamina.stores.step_cache import StepCache

MODEL = "smollm2-135m-instruct"
TASK = "First list three primary colours, then write one sentence about each."


def _event(update: dict[str, Any]) -> dict[str, Any]:
    (event,) = update["trace"]
    assert event["layer"] == "reasoning"
    data: dict[str, Any] = event["data"]
    return data


def test_multi_step_task_is_planned_and_cached(pool: Any, tmp_path: Path) -> None:
    # short answers and a two-step plan keep this test quick on two shared cores
    smollm2 = pool.chat_model(MODEL, temperature=0.0, seed=0, max_tokens=48)
    cache = StepCache(tmp_path / "steps.sqlite")
    context = AgentContext(
        models=StaticModels({MODEL: smollm2}), default_model=MODEL, step_cache=cache
    )
    runtime = SimpleNamespace(context=context)
    node = make_reasoning_node(rc_iterations=2, max_plan_steps=2)
    state = {"task": TASK, "model": MODEL, "plan": [], "trace": []}

    first = node(state, runtime)
    data = _event(first)
    assert len(first["plan"]) >= 2, data
    assert data["plan_source"] in ("model", "fallback")
    if data["plan_source"] == "fallback":
        assert data["plan_note"]  # a fallback is never silent
    assert len(first["step_results"]) == len(first["plan"])
    assert all(r["result"] for r in first["step_results"])
    assert first["answer"].strip()
    assert data["cache_hits"] == 0
    assert data["cache_misses"] > 0
    assert data["tokens"] > 0
    assert all(s["iterations"] == 2 for s in data["steps"])

    second = node(state, runtime)
    again = _event(second)
    assert again["cache_misses"] == 0
    assert again["cache_hits"] == data["cache_misses"]
    assert all(s["cached"] for s in again["steps"])
    assert second["plan"] == first["plan"]
    assert second["answer"] == first["answer"]
    stats = cache.stats()
    assert stats.hits == again["cache_hits"]
    assert stats.saved_tokens == data["tokens"]


def test_kv_prefix_cache_skips_a_repeated_prefix(pool: Any) -> None:
    from langchain_core.messages import HumanMessage, SystemMessage

    model = pool.chat_model(MODEL, temperature=0.0, seed=0, max_tokens=8)
    with pool.use(MODEL) as llama:
        assert llama.cache is not None  # the pool attached llama.cpp's prefix cache
    solve = SystemMessage(
        "You are a helpful assistant. Do the step you are given. Answer briefly and clearly. "
        "Use plain words and short sentences."
    )
    other = SystemMessage("Summarise an attempt in the first person, in two short paragraphs.")

    def evaluated(system: SystemMessage, question: str) -> tuple[int, int]:
        usage = model.invoke([system, HumanMessage(question)]).usage_metadata
        assert usage is not None
        read = usage["input_token_details"]["cache_read"]
        return usage["input_tokens"], usage["input_tokens"] - read

    evaluated(solve, "Name a colour.")
    evaluated(other, "I said red.")  # another prompt in between: llama.cpp alone would
    # reuse only the chat template's first tokens of the next prompt
    sent, done = evaluated(solve, "Name a fruit.")
    assert done < sent - 20, (sent, done)  # the system prompt came from the prefix cache


def test_a_list_task_reuses_shared_steps_and_counts_evaluated_tokens(
    pool: Any, tmp_path: Path
) -> None:
    smollm2 = pool.chat_model(MODEL, temperature=0.0, seed=0, max_tokens=24)
    cache = StepCache(tmp_path / "steps.sqlite")
    context = AgentContext(
        models=StaticModels({MODEL: smollm2}), default_model=MODEL, step_cache=cache
    )
    runtime = SimpleNamespace(context=context)
    node = make_reasoning_node(rc_iterations=1)
    given = "Anna buys 4 boxes of 12 eggs."
    task = f"{given}\n1. Multiply 4 by 12.\n2. Subtract 7 from the result."
    first = _event(node({"task": task, "model": MODEL, "plan": [], "trace": []}, runtime))
    assert first["plan_source"] == "list"
    assert first["cache_misses"] > 0
    assert 0 < first["prompt_tokens_evaluated"] < first["prompt_tokens"]
    step = first["steps"][0]
    assert step["verification"]["passed"] is True  # checked (refined or corrected if wrong)

    warm = _event(node({"task": task, "model": MODEL, "plan": [], "trace": []}, runtime))
    assert warm["cache_misses"] == 0
    assert all(s["cached"] for s in warm["steps"])
    assert warm["prompt_tokens_evaluated"] == 0

    overlap = f"{given}\n1. Multiply 4 by 12.\n2. Add 10 to the result."
    shared = _event(node({"task": overlap, "model": MODEL, "plan": [], "trace": []}, runtime))
    assert [s["cached"] for s in shared["steps"]] == [True, False]
