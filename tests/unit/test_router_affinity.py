"""Session affinity: a thread keeps its route unless a new message moves away from it clearly."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lamina.core.context import AgentContext, StaticModels
from lamina.errors import ConfigError
from lamina.layers.router import IntentRouter, Route, RouteDecision, make_router_node
from lamina.models.testing import FakeChatModel, HashingEncoder

# "rain" and "numbers" each match one route; the weather route wins on the extra "will".
MIXED = "will it rain numbers"


def _routes(model_of_maths: str = "m-maths", model_of_weather: str = "m-weather") -> list[Route]:
    return [
        Route("maths", ["add two numbers", "multiply numbers together"], model_of_maths),
        Route("weather", ["weather forecast today", "will it rain"], model_of_weather),
    ]


def _router(tmp_path: Path, margin: float | None, **kw: Any) -> IntentRouter:
    return IntentRouter(
        kw.pop("routes", _routes()),
        encoder=HashingEncoder(dim=4096),
        default_model="m-default",
        cache_dir=tmp_path,
        affinity_margin=margin,
        **kw,
        aggregate="max",
    )


def _scores(tmp_path: Path, text: str) -> dict[str, float]:
    return dict(_router(tmp_path, None).score(text))


def _previous(route: str | None) -> dict[str, Any]:
    return {"route": route, "model": "whatever", "method": "similarity"}


@pytest.mark.parametrize("margin", [-0.1, 2.5, True, "0.1"])
def test_affinity_margin_is_checked(tmp_path: Path, margin: Any) -> None:
    with pytest.raises(ConfigError, match="affinity_margin"):
        _router(tmp_path, margin)


def test_without_affinity_the_previous_route_is_ignored(tmp_path: Path) -> None:
    decision = _router(tmp_path, None).route(MIXED, previous=_previous("maths"))
    assert decision.route == "weather"
    assert decision.method == "similarity"


def test_same_route_is_unchanged(tmp_path: Path) -> None:
    plain = _router(tmp_path, None).route(MIXED)
    kept = _router(tmp_path, 0.5).route(MIXED, previous=_previous("weather"))
    assert kept.route == plain.route == "weather"
    assert kept.reason == plain.reason
    assert kept.method == "similarity"


def test_a_close_call_keeps_the_previous_route(tmp_path: Path) -> None:
    scores = _scores(tmp_path, MIXED)
    gap = scores["weather"] - scores["maths"]
    assert 0 < gap < 1.0
    decision = _router(tmp_path, gap + 0.01).route(MIXED, previous=_previous("maths"))
    assert decision.route == "maths"
    assert decision.model == "m-maths"
    assert not decision.abstained
    assert decision.method == "affinity"
    assert decision.score == pytest.approx(scores["maths"])
    assert decision.reason.startswith("session affinity kept 'maths'")
    assert f"margin {gap:.2f} < affinity margin {gap + 0.01:.2f}" in decision.reason
    json.dumps(decision.to_dict())


def test_a_clear_margin_moves_the_thread(tmp_path: Path) -> None:
    scores = _scores(tmp_path, MIXED)
    gap = scores["weather"] - scores["maths"]
    decision = _router(tmp_path, gap - 0.01).route(MIXED, previous=_previous("maths"))
    assert decision.route == "weather"
    assert decision.model == "m-weather"
    assert decision.method == "similarity"
    assert "left 'maths'" in decision.reason


def test_moving_to_abstention_needs_the_previous_route_to_miss_clearly(tmp_path: Path) -> None:
    # No word in common with any route: the maths score is 0, its threshold 0.5.
    text = "quantum chromodynamics lecture"
    kept = _router(tmp_path, 0.6).route(text, previous=_previous("maths"))
    assert kept.route == "maths"
    assert kept.method == "affinity"
    assert "vs its threshold 0.50" in kept.reason
    moved = _router(tmp_path, 0.4).route(text, previous=_previous("maths"))
    assert moved.abstained
    assert moved.model == "m-default"
    assert "left 'maths'" in moved.reason


def test_leaving_an_abstention_needs_a_clear_margin_over_the_threshold(tmp_path: Path) -> None:
    scores = _scores(tmp_path, MIXED)
    above = scores["weather"] - 0.5  # the default threshold
    assert above > 0
    kept = _router(tmp_path, above + 0.01).route(MIXED, previous=_previous(None))
    assert kept.abstained
    assert kept.route is None
    assert kept.model == "m-default"
    assert kept.method == "affinity"
    assert kept.reason.startswith("session affinity kept the thread's abstention")
    moved = _router(tmp_path, above - 0.01).route(MIXED, previous=_previous(None))
    assert moved.route == "weather"


def test_a_previous_route_that_no_longer_exists_is_ignored(tmp_path: Path) -> None:
    decision = _router(tmp_path, 2.0).route(MIXED, previous=_previous("retired-route"))
    assert decision.route == "weather"
    assert decision.method == "similarity"


def test_previous_may_be_a_decision_object(tmp_path: Path) -> None:
    previous = RouteDecision("maths", "m-maths", 1.0, (("maths", 1.0),), False, "r", 0.1)
    decision = _router(tmp_path, 2.0).route(MIXED, previous=previous)
    assert decision.route == "maths"
    assert decision.method == "affinity"


def test_affinity_is_saved_and_loaded(tmp_path: Path) -> None:
    router = _router(tmp_path, 0.15)
    router.save(tmp_path / "router.json")
    loaded = IntentRouter.load(
        tmp_path / "router.json", encoder=HashingEncoder(dim=4096), cache_dir=tmp_path
    )
    assert loaded.affinity_margin == 0.15


# -- the graph node and a thread's checkpointed state --------------------------------------------


def _runtime(router: IntentRouter) -> Any:
    ctx = AgentContext(models=StaticModels({}), default_model="ctx-default", router=router)
    return SimpleNamespace(context=ctx)


def test_node_passes_the_threads_previous_decision(tmp_path: Path) -> None:
    node = make_router_node()
    state: Any = {"task": MIXED, "messages": [], "route": _previous("maths")}
    out = node(state, _runtime(_router(tmp_path, 2.0)))
    assert out["route"]["route"] == "maths"
    assert out["route"]["method"] == "affinity"
    # A previous run without a router leaves nothing to stay on.
    state["route"] = {"route": None, "model": "x", "method": "none"}
    out = node(state, _runtime(_router(tmp_path, 2.0)))
    assert out["route"]["route"] == "weather"


def test_affinity_across_runs_of_a_checkpointed_thread(tmp_path: Path) -> None:
    from lamina import Agent

    maths_model = FakeChatModel(responses=["4", "sure", "again"])
    weather_model = FakeChatModel(responses=["rainy"])
    with Agent(
        chat_models={"m-maths": maths_model, "m-weather": weather_model},
        default_model="m-maths",
        routes=[],
        tools=[],
        memory=False,
        step_cache=False,
        checkpointer=":memory:",
    ) as agent:
        agent.context.router = _router(tmp_path, 2.0)
        first = agent.run("add two numbers", thread_id="t1")
        second = agent.run(MIXED, thread_id="t1")
        other = agent.run(MIXED, thread_id="t2")
    assert first.route == "maths"
    assert second.route == "maths"  # the same thread stays on its route
    assert second.model == "m-maths"
    router_event = next(e for e in second.trace if e["layer"] == "router")
    assert router_event["data"]["method"] == "affinity"
    assert "session affinity kept 'maths'" in router_event["data"]["reason"]
    assert other.route == "weather"  # a new thread has nothing to stay on
    assert other.model == "m-weather"
