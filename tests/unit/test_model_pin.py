"""`Agent(model=...)`: one model serves every route."""

from __future__ import annotations

import pytest

from lamina import Agent
from lamina.agents.model_pin import pin_model
from lamina.errors import ConfigError
from lamina.layers.router import Route
from lamina.layers.router.defaults import default_routes
from lamina.models.catalog import ModelSpec


def test_every_default_route_is_served_by_the_pinned_model() -> None:
    models, default, routes = pin_model("gemma3-270m", None, None, None)
    assert models == ["gemma3-270m"]
    assert default == "gemma3-270m"
    assert [r.name for r in routes] == [r.name for r in default_routes()]  # intents kept
    assert {r.model for r in routes} == {"gemma3-270m"}
    assert all(r.fallbacks == () for r in routes)
    assert [r.task for r in routes] == [r.task for r in default_routes()]  # summarise stays


def test_a_spec_and_own_routes_are_pinned_too() -> None:
    spec = ModelSpec(name="mine", path="/models/mine.gguf")
    own = [Route("maths", ["what is 2 + 2"], model="smollm2-135m-instruct", fallbacks=["x"])]
    models, default, routes = pin_model(spec, None, None, own)
    assert models == [spec]
    assert default == "mine"
    assert [(r.name, r.model, r.fallbacks) for r in routes] == [("maths", "mine", ())]
    assert pin_model("mine", None, None, [])[2] == []  # no routes stays no routes


@pytest.mark.parametrize("extra", [{"models": ["gemma3-270m"]}, {"default_model": "x"}])
def test_model_and_models_do_not_mix(extra: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="either model="):
        Agent(model="smollm2-135m-instruct", memory=False, **extra)  # type: ignore[arg-type]
