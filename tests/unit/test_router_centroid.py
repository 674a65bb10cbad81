"""Unit tests of issue 20's router changes: the "centroid" aggregate, fitting with the route
utterances held out, the query fast path and the encoder load kept out of routing time."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from lamina.core.context import AgentContext, StaticModels
from lamina.errors import ConfigError
from lamina.layers.router import IntentRouter, Route, make_router_node
from lamina.layers.router import intent_router as intent_router_module
from lamina.layers.router.types import QueryEncoder
from lamina.models.lean_encoder import LeanBertEncoder
from lamina.models.testing import HashingEncoder


class TableEncoder:
    """Fixed 2-D vectors per text, so that every score is known in advance."""

    identity = "table-v1"

    def __init__(self, table: dict[str, tuple[float, float]]) -> None:
        self.table = table

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.asarray([self.table[t] for t in texts], dtype=np.float32)


def _unit(angle_deg: float) -> tuple[float, float]:
    a = np.deg2rad(angle_deg)
    return (float(np.cos(a)), float(np.sin(a)))


def test_centroid_scores_the_normalised_mean_of_a_routes_utterances(tmp_path: Path) -> None:
    table = {"a1": _unit(0), "a2": _unit(60), "b1": _unit(180), "q": _unit(30)}
    routes = [Route("a", ["a1", "a2"], "m"), Route("b", ["b1"], "m")]
    centroid = IntentRouter(
        routes, encoder=TableEncoder(table), cache_dir=tmp_path, aggregate="centroid"
    )
    nearest = IntentRouter(routes, encoder=TableEncoder(table), cache_dir=tmp_path, aggregate="max")
    # q lies on the bisector of a1 and a2: the centroid is q itself, the nearest utterance 30° off.
    assert centroid.score("q")[0] == ("a", pytest.approx(1.0))
    assert nearest.score("q")[0] == ("a", pytest.approx(np.cos(np.deg2rad(30))))
    assert centroid.default_threshold == 0.4
    assert nearest.default_threshold == 0.5


def test_held_out_scores_leave_the_utterance_out_of_its_own_route(tmp_path: Path) -> None:
    table = {"a1": _unit(0), "a2": _unit(90), "b1": _unit(10), "b2": _unit(20), "c1": _unit(5)}
    routes = [Route("a", ["a1", "a2"], "m"), Route("b", ["b1", "b2"], "m"), Route("c", ["c1"], "m")]
    for aggregate in ("max", "centroid"):
        router = IntentRouter(
            routes, encoder=TableEncoder(table), cache_dir=tmp_path, aggregate=aggregate
        )
        held = dict((name, dict(scores)) for name, scores in router.held_out_scores()[:1])
        # a1 without itself: route a is a2 alone (90° away), route c (5°) is closer.
        assert held["a"]["a"] == pytest.approx(0.0, abs=1e-6)
        assert held["a"]["c"] == pytest.approx(np.cos(np.deg2rad(5)))
        # c has one utterance: nothing stands for it once it is held out, so it is skipped.
        assert [name for name, _ in router.held_out_scores()] == ["a", "a", "b", "b"]


def test_fit_with_utterances_keeps_a_threshold_below_the_routes_own_phrasing(
    tmp_path: Path,
) -> None:
    # Route "a" has utterances at 0°, 20° and 40°; labelled data: one request at 25° that should
    # take "a", and two vague mentions at 10° and 30° that should abstain.
    table = {
        "a1": _unit(0),
        "a2": _unit(20),
        "a3": _unit(40),
        "b1": _unit(180),
        "b2": _unit(200),
        "ok": _unit(25),
        "vague1": _unit(10),
        "vague2": _unit(30),
    }
    routes = [Route("a", ["a1", "a2", "a3"], "m"), Route("b", ["b1", "b2"], "m")]
    texts, labels = ["ok", "vague1", "vague2"], ["a", None, None]
    router = IntentRouter(routes, encoder=TableEncoder(table), cache_dir=tmp_path)
    alone = router.fit(texts, labels, with_utterances=False)
    held_out_a = [dict(s)["a"] for name, s in router.held_out_scores() if name == "a"]
    # On the labelled data alone the best threshold sits above the vague requests, and above
    # what the route's own utterances reach when held out:
    assert alone["a"] > min(held_out_a)
    router.set_fitted_thresholds({})
    with_utterances = router.fit(texts, labels, with_utterances=True)
    assert with_utterances["a"] <= min(held_out_a)
    assert router.route("ok").route == "a"


class _ClockEncoder:
    """Its first encode stands for loading a model: it moves the fake clock on by 5 s."""

    def __init__(self, clock: list[float]) -> None:
        self.identity = "clock-v1"
        self.clock = clock
        self.inner = HashingEncoder(identity="clock-v1", dim=256)
        self.loaded = False

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not self.loaded:
            self.loaded = True
            self.clock[0] += 5.0
        return self.inner.encode(texts)


def test_route_latency_does_not_count_loading_the_encoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [100.0]
    monkeypatch.setattr(intent_router_module.time, "perf_counter", lambda: clock[0])
    router = IntentRouter(
        [Route("a", ["add numbers", "sum these"], "m")],
        encoder=_ClockEncoder(clock),
        cache_dir=tmp_path,
    )
    decision = router.route("add two numbers")
    assert clock[0] == 105.0  # the load happened inside route()
    assert decision.latency_ms == 0.0  # ... but before the decision's clock started


def test_router_node_traces_loading_the_encoder_as_its_own_step(tmp_path: Path) -> None:
    router = IntentRouter(
        [Route("a", ["add numbers", "sum these"], "m")],
        encoder=HashingEncoder(identity="h", dim=256),
        default_model="m",
        cache_dir=tmp_path,
    )
    ctx = AgentContext(models=StaticModels({}), router=router, default_model="m")
    node = make_router_node()
    runtime: Any = SimpleNamespace(context=ctx)
    first = node({"task": "add two numbers"}, runtime)
    second = node({"task": "add two numbers"}, runtime)
    assert [e["layer"] for e in first["trace"]] == ["loading encoder", "router"]
    assert [e["layer"] for e in second["trace"]] == ["router"]


class _FastPathEncoder(HashingEncoder):
    def __init__(self) -> None:
        super().__init__(identity="fast", dim=256)
        self.query_calls: list[list[str]] = []

    def encode_queries(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.query_calls.append(list(texts))
        return self.encode(texts)


def test_router_embeds_through_the_query_fast_path_when_the_encoder_has_one(
    tmp_path: Path,
) -> None:
    enc = _FastPathEncoder()
    assert isinstance(enc, QueryEncoder)
    router = IntentRouter(
        [Route("a", ["add numbers", "sum these"], "m")], encoder=enc, cache_dir=tmp_path
    )
    router.route("add two numbers")
    assert ["add two numbers"] in enc.query_calls


def test_lean_encoder_refuses_a_model_it_cannot_run(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "gpt2", "hidden_act": "gelu_new"}')
    with pytest.raises(ConfigError, match="lean encoder runs BERT models"):
        LeanBertEncoder(tmp_path)
