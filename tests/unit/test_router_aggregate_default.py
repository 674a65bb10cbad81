"""Which aggregate a router gets: "centroid" for an `IntentRouter` of your own, "max" for an
agent's router (the built-in routes' thresholds), or what `Agent(router_aggregate=)` /
`[router] aggregate` say."""

from __future__ import annotations

from pathlib import Path

from lamina import Agent
from lamina.layers.router import IntentRouter, Route
from lamina.layers.router.defaults import DEFAULT_AGGREGATE, aggregate_for
from lamina.models.testing import FakeChatModel, HashingEncoder


def _agent(tmp_path: Path, **kwargs: object) -> Agent:
    return Agent(
        chat_models={"smollm2-135m-instruct": FakeChatModel(responses=["hi"])},
        memory=False,
        step_cache=False,
        checkpointer=":memory:",
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_router_of_your_own_routes_defaults_to_the_centroid(tmp_path: Path) -> None:
    router = IntentRouter(
        [Route("a", ["one", "two"], "m")], encoder=HashingEncoder(dim=64), cache_dir=tmp_path
    )
    assert router.aggregate == DEFAULT_AGGREGATE == "centroid"
    assert router.default_threshold == 0.4


def test_an_agent_router_keeps_max_unless_told() -> None:
    assert aggregate_for(None) == "max"
    assert aggregate_for("centroid") == "centroid"


def test_the_agent_router_uses_max_unless_router_aggregate_says_otherwise(
    tmp_path: Path,
) -> None:
    built_in = _agent(tmp_path)
    yours = _agent(tmp_path, routes=[Route("chat", ["hello there"], "smollm2-135m-instruct")])
    chosen = _agent(tmp_path, router_aggregate="mean_topk")
    try:
        assert built_in.context.router is not None
        assert built_in.context.router.aggregate == "max"
        assert yours.context.router is not None
        assert yours.context.router.aggregate == "max"
        assert chosen.context.router is not None
        assert chosen.context.router.aggregate == "mean_topk"
    finally:
        for agent in (built_in, yours, chosen):
            agent.close()


def test_the_router_table_of_lamina_toml_sets_the_aggregate(tmp_path: Path) -> None:
    path = tmp_path / "lamina.toml"
    path.write_text('[router]\naggregate = "centroid"\n', encoding="utf-8")
    agent = Agent.from_config(
        path,
        chat_models={"smollm2-135m-instruct": FakeChatModel(responses=["hi"])},
        memory=False,
        step_cache=False,
        checkpointer=":memory:",
    )
    try:
        assert agent.context.router is not None
        assert agent.context.router.aggregate == "centroid"
    finally:
        agent.close()
