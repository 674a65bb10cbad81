"""The reasoning layer on the real SmolLM2: a multi-step plan, then every step from the cache."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from lamina.graphs.context import AgentContext, StaticModels
from lamina.layers.reasoning import make_reasoning_node
from lamina.memory_store.step_cache import StepCache

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
