"""Unit tests of the router layer, with a deterministic bag-of-words encoder (no model loads)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import FrozenInstanceError
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from lamina.core.context import AgentContext, StaticModels
from lamina.errors import ConfigError, InputError
from lamina.layers.router import IntentRouter, Route, RouteDecision, make_router_node
from lamina.layers.router.defaults import DEFAULT_MODEL, default_routes
from lamina.models.catalog import known_model_names
from lamina.models.testing import HashingEncoder

DIM = 4096


def BagOfWords(identity: str = "bow-v1") -> HashingEncoder:  # noqa: N802 - a stand-in class
    # deliberately not normalised: the router must normalise
    return HashingEncoder(identity=identity, dim=DIM, normalise=False)


def _routes() -> list[Route]:
    return [
        Route("maths", ["add two numbers", "multiply numbers together"], "m-maths"),
        Route("weather", ["weather forecast today", "will it rain"], "m-weather", threshold=0.6),
        Route("greet", ["hello there", "good morning"], "m-greet"),
    ]


@pytest.fixture
def enc() -> HashingEncoder:
    return BagOfWords()


@pytest.fixture
def router(enc: HashingEncoder, tmp_path: Path) -> IntentRouter:
    return IntentRouter(
        _routes(), encoder=enc, default_model="m-default", cache_dir=tmp_path, aggregate="max"
    )


# -- Route -------------------------------------------------------------------------------


def test_route_stores_tuples_and_is_frozen() -> None:
    r = Route("x", ["a b", "c"], "m", fallbacks=["m2"])
    assert r.utterances == ("a b", "c")
    assert r.fallbacks == ("m2",)
    with pytest.raises(FrozenInstanceError):
        r.name = "y"  # type: ignore[misc]
    assert json.loads(json.dumps(r.to_dict()))["utterances"] == ["a b", "c"]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"name": "", "utterances": ["a"], "model": "m"}, "non-empty string"),
        ({"name": "x", "utterances": [], "model": "m"}, "at least one example utterance"),
        ({"name": "x", "utterances": ["ok", "  "], "model": "m"}, "positions [1]"),
        ({"name": "x", "utterances": "just one string", "model": "m"}, "list of example"),
        ({"name": "x", "utterances": ["a"], "model": ""}, "model"),
        ({"name": "x", "utterances": ["a"], "model": "m", "threshold": 1.5}, "between -1 and 1"),
        ({"name": "x", "utterances": ["a"], "model": "m", "fallbacks": "m2"}, "fallbacks"),
    ],
)
def test_route_validation(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(fragment)) as info:
        Route(**kwargs)
    assert "Fix:" in str(info.value)


# -- IntentRouter construction -----------------------------------------------------------


def test_duplicate_route_names(enc: HashingEncoder, tmp_path: Path) -> None:
    routes = [*_routes(), Route("maths", ["sum"], "m-other")]
    with pytest.raises(ConfigError, match="duplicates: maths"):
        IntentRouter(routes, encoder=enc, cache_dir=tmp_path, aggregate="max")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"aggregate": "median"},
        {"top_k": 0},
        {"default_threshold": 2.0},
    ],
)
def test_bad_router_options(enc: HashingEncoder, tmp_path: Path, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="expected"):
        IntentRouter(_routes(), encoder=enc, cache_dir=tmp_path, **kwargs)


def test_no_routes(enc: HashingEncoder, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least one Route"):
        IntentRouter([], encoder=enc, cache_dir=tmp_path, aggregate="max")


def test_encoder_is_lazy(router: IntentRouter, enc: HashingEncoder) -> None:
    assert enc.calls == []
    router.warm_up()
    # All utterances in one batch, in route order.
    assert enc.calls == [[u for r in _routes() for u in r.utterances]]


# -- scoring -----------------------------------------------------------------------------


def test_exact_match_scores_one_and_wins(router: IntentRouter) -> None:
    d = router.route("add two numbers")
    assert d.route == "maths"
    assert d.model == "m-maths"
    assert not d.abstained
    assert d.score == pytest.approx(1.0)
    assert d.reason == "similarity 1.00 ≥ threshold 0.50"
    assert d.latency_ms >= 0.0


def test_candidates_best_first_and_complete(router: IntentRouter) -> None:
    d = router.route("hello will it rain")
    names = [n for n, _ in d.candidates]
    scores = [s for _, s in d.candidates]
    assert sorted(names) == ["greet", "maths", "weather"]
    assert scores == sorted(scores, reverse=True)
    assert d.candidates[0] == (d.route, d.score)
    # "will it rain" shares 3 of 4 words: cos = 3 / (2 * sqrt(3)); "hello there" shares 1 word.
    assert dict(d.candidates)["weather"] == pytest.approx(3 / (2 * math.sqrt(3)), abs=1e-5)
    assert dict(d.candidates)["greet"] == pytest.approx(1 / (2 * math.sqrt(2)), abs=1e-5)
    assert dict(d.candidates)["maths"] == pytest.approx(0.0, abs=1e-6)


def test_mean_topk_aggregate(enc: HashingEncoder, tmp_path: Path) -> None:
    routes = [Route("a", ["alpha beta", "alpha", "zeta"], "m"), Route("b", ["omega"], "m")]
    mx = IntentRouter(routes, encoder=enc, cache_dir=tmp_path, aggregate="max")
    mean2 = IntentRouter(routes, encoder=enc, cache_dir=tmp_path, aggregate="mean_topk", top_k=2)
    mean9 = IntentRouter(routes, encoder=enc, cache_dir=tmp_path, aggregate="mean_topk", top_k=9)
    # sims of "alpha beta": 1.0, 1/sqrt(2), 0.0
    assert dict(mx.score("alpha beta"))["a"] == pytest.approx(1.0)
    assert dict(mean2.score("alpha beta"))["a"] == pytest.approx((1 + 2**-0.5) / 2)
    # top_k larger than the route: the mean of all its utterances
    assert dict(mean9.score("alpha beta"))["a"] == pytest.approx((1 + 2**-0.5) / 3)


def test_abstains_when_nothing_matches(router: IntentRouter) -> None:
    d = router.route("quantum chromodynamics lecture")
    assert d.abstained
    assert d.route is None
    assert d.model == "m-default"
    assert d.reason.startswith("no route above threshold")


def test_route_threshold_overrides_default(tmp_path: Path) -> None:
    # cos("weather tomorrow", "weather forecast today") = 1 / (sqrt(2) * sqrt(3)) ≈ 0.41: above the
    # router's default of 0.1 but below the weather route's own 0.6, which is what counts.
    low = IntentRouter(
        _routes(), encoder=BagOfWords(), default_threshold=0.1, cache_dir=tmp_path, aggregate="max"
    )
    d = low.route("weather tomorrow")
    assert d.candidates[0][0] == "weather"
    assert d.candidates[0][1] == pytest.approx(1 / math.sqrt(6), abs=1e-5)
    assert d.abstained
    assert d.threshold == pytest.approx(0.6)
    assert "< threshold 0.60" in d.reason


@pytest.mark.parametrize(("threshold", "chosen"), [(0.49, "a"), (0.51, None)])
def test_threshold_decides(
    enc: HashingEncoder, tmp_path: Path, threshold: float, chosen: str | None
) -> None:
    r = IntentRouter(
        [Route("a", ["alpha beta"], "m", threshold=threshold)],
        encoder=enc,
        cache_dir=tmp_path,
        aggregate="max",
    )
    d = r.route("alpha gamma")  # cos = 0.5
    assert d.score == pytest.approx(0.5, abs=1e-6)
    assert d.route == chosen
    assert d.abstained is (chosen is None)


def test_abstain_without_default_model_leaves_model_none(
    enc: HashingEncoder, tmp_path: Path
) -> None:
    r = IntentRouter(_routes(), encoder=enc, cache_dir=tmp_path, aggregate="max")
    d = r.route("nothing in common")
    assert d.abstained
    assert d.model is None


def test_history_rescues_a_short_follow_up(router: IntentRouter) -> None:
    alone = router.route("and tomorrow")
    assert alone.abstained
    d = router.route("and tomorrow", history=["hello", "weather forecast today"])
    assert d.route == "weather"
    assert d.method == "similarity+history"
    assert "previous turn" in d.reason


def test_instruction_head_is_scored_on_its_own(router: IntentRouter) -> None:
    # The payload has many words of its own, so the full text matches "weather" only weakly;
    # the instruction before the colon matches it exactly.
    text = "will it rain: sandwich tomato lettuce cheese bread butter pepper salt onion"
    d = router.route(text)
    assert d.route == "weather"
    assert d.score == pytest.approx(1.0)
    assert "instruction" in d.reason


@pytest.mark.parametrize(
    "text",
    [
        "set the alarm for 6:30",  # no space after the colon: not a head
        "will it rain:",  # nothing after the colon
        "x" * 200 + ": payload",  # too long to be an instruction
    ],
)
def test_no_instruction_head(router: IntentRouter, enc: HashingEncoder, text: str) -> None:
    router.warm_up()
    enc.calls.clear()
    router.route(text)
    assert enc.calls == [[text]]


def test_blank_text_is_an_input_error(router: IntentRouter) -> None:
    with pytest.raises(InputError, match="non-empty"):
        router.route("   ")


def test_decision_to_dict_is_json_safe(router: IntentRouter) -> None:
    data = router.route("good morning").to_dict()
    again = json.loads(json.dumps(data))
    assert again["route"] == "greet"
    assert again["candidates"][0] == ["greet", pytest.approx(1.0)]
    assert set(again) >= {"route", "model", "score", "candidates", "abstained", "reason"}


# -- model validation --------------------------------------------------------------------


def test_validate_models_ok(router: IntentRouter) -> None:
    router.validate_models(["m-maths", "m-weather", "m-greet", "m-default"])


def test_validate_models_lists_unknown_and_known(enc: HashingEncoder, tmp_path: Path) -> None:
    routes = [*_routes()[:2], Route("greet", ["hi"], "m-greet", fallbacks=["m-nope"])]
    r = IntentRouter(
        routes, encoder=enc, default_model="m-default", cache_dir=tmp_path, aggregate="max"
    )
    with pytest.raises(ConfigError) as info:
        r.validate_models(["m-maths", "m-greet", "m-default"])
    msg = str(info.value)
    assert "route 'weather' model 'm-weather'" in msg
    assert "route 'greet' fallback 'm-nope'" in msg
    assert "known: m-default, m-greet, m-maths" in msg
    assert "m-default'" not in msg.split("known:")[0]


def test_validate_models_checks_router_default(router: IntentRouter) -> None:
    with pytest.raises(ConfigError, match="default_model 'm-default'"):
        router.validate_models(["m-maths", "m-weather", "m-greet"])


# -- disk cache --------------------------------------------------------------------------


def test_second_router_reads_embeddings_from_disk(tmp_path: Path) -> None:
    first_enc = BagOfWords()
    first = IntentRouter(_routes(), encoder=first_enc, cache_dir=tmp_path, aggregate="max")
    first.route("hello there")
    assert first.cache_hit is False
    assert first.cache_path.exists()

    second_enc = BagOfWords()
    second = IntentRouter(_routes(), encoder=second_enc, cache_dir=tmp_path, aggregate="max")
    d = second.route("hello there")
    assert second.cache_hit is True
    assert second_enc.calls == [["hello there"]]  # only the query was embedded
    assert d.route == "greet"
    assert d.score == pytest.approx(1.0)


def test_changed_utterances_invalidate_the_cache(tmp_path: Path) -> None:
    IntentRouter(_routes(), encoder=BagOfWords(), cache_dir=tmp_path, aggregate="max").warm_up()
    changed = [*_routes()[:2], Route("greet", ["hello there", "good evening"], "m-greet")]
    enc = BagOfWords()
    r = IntentRouter(changed, encoder=enc, cache_dir=tmp_path, aggregate="max")
    r.warm_up()
    assert r.cache_hit is False
    assert enc.calls == [[u for route in changed for u in route.utterances]]


def test_changed_encoder_invalidates_the_cache(tmp_path: Path) -> None:
    IntentRouter(_routes(), encoder=BagOfWords("v1"), cache_dir=tmp_path, aggregate="max").warm_up()
    enc = BagOfWords("v2")
    r = IntentRouter(_routes(), encoder=enc, cache_dir=tmp_path, aggregate="max")
    r.warm_up()
    assert r.cache_hit is False
    assert len(enc.calls) == 1


def test_damaged_cache_file_is_recomputed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = IntentRouter(_routes(), encoder=BagOfWords(), cache_dir=tmp_path, aggregate="max")
    first.cache_path.parent.mkdir(parents=True, exist_ok=True)
    first.cache_path.write_bytes(b"not an npz file")
    enc = BagOfWords()
    r = IntentRouter(_routes(), encoder=enc, cache_dir=tmp_path, aggregate="max")
    assert r.route("good morning").route == "greet"
    assert r.cache_hit is False
    assert "unreadable router cache" in caplog.text


def test_default_cache_dir_is_under_lamina_home(enc: HashingEncoder) -> None:
    from lamina.config import get_settings

    r = IntentRouter(_routes(), encoder=enc, aggregate="max")
    assert r.cache_path.parent == get_settings().home / "router_cache"


# -- graph node --------------------------------------------------------------------------


def _runtime(router: IntentRouter | None, default_model: str = "ctx-default") -> Any:
    ctx = AgentContext(models=StaticModels({}), default_model=default_model, router=router)
    return SimpleNamespace(context=ctx)


def test_node_routes_the_task(router: IntentRouter) -> None:
    node = make_router_node()
    state: Any = {"task": "multiply numbers together", "messages": [], "trace": []}
    out = node(state, _runtime(router))
    assert set(out) == {"route", "model", "trace"}
    assert out["model"] == "m-maths"
    assert out["route"]["route"] == "maths"
    # The first request also prepares the router (embeds its utterances): a step of its own.
    loading, event = out["trace"]
    assert loading["layer"] == "loading encoder"
    assert event["layer"] == "router"
    assert event["seconds"] >= 0.0
    assert event["data"] == out["route"]
    json.dumps(out["route"])


def test_node_without_router_uses_context_default() -> None:
    out = make_router_node()({"task": "anything", "messages": []}, _runtime(None))  # type: ignore[typeddict-item]
    assert out["model"] == "ctx-default"
    assert out["route"]["route"] is None
    assert out["route"]["reason"] == "no router configured"


def test_node_abstention_falls_back_to_context_default(enc: HashingEncoder, tmp_path: Path) -> None:
    r = IntentRouter(_routes(), encoder=enc, cache_dir=tmp_path, aggregate="max")
    out = make_router_node()({"task": "unrelated words", "messages": []}, _runtime(r))  # type: ignore[typeddict-item]
    assert out["model"] == "ctx-default"
    assert out["route"]["abstained"] is True
    assert "default model" in out["route"]["reason"]


def test_node_passes_earlier_user_turns_as_history(router: IntentRouter) -> None:
    state: Any = {
        "task": "and tomorrow",
        "messages": [
            HumanMessage("weather forecast today"),
            AIMessage("Sunny."),
            HumanMessage("and tomorrow"),
        ],
    }
    out = make_router_node()(state, _runtime(router))
    assert out["route"]["route"] == "weather"
    assert out["route"]["method"] == "similarity+history"


def test_node_without_task_is_a_config_error(router: IntentRouter) -> None:
    with pytest.raises(ConfigError, match="input node"):
        make_router_node()({"messages": []}, _runtime(router))  # type: ignore[typeddict-item]


def test_node_runs_in_a_real_langgraph_graph(router: IntentRouter) -> None:
    from langgraph.graph import END, START, StateGraph

    from lamina.core.state import AgentState

    graph = StateGraph(AgentState, context_schema=AgentContext)
    graph.add_node("router", make_router_node())
    graph.add_edge(START, "router")
    graph.add_edge("router", END)
    app = graph.compile()
    ctx = AgentContext(models=StaticModels({}), default_model="ctx-default", router=router)
    out = app.invoke(
        {"messages": [HumanMessage("good morning")], "task": "good morning", "trace": []},
        context=ctx,
    )
    assert out["model"] == "m-greet"
    assert out["route"]["route"] == "greet"
    assert [e["layer"] for e in out["trace"]] == ["loading encoder", "router"]


def test_router_decision_is_frozen() -> None:
    d = RouteDecision("a", "m", 1.0, (("a", 1.0),), False, "r", 0.1)
    with pytest.raises(FrozenInstanceError):
        d.route = "b"  # type: ignore[misc]


# -- default routes ----------------------------------------------------------------------


def test_default_routes_are_valid_for_default_models(tmp_path: Path) -> None:
    routes = default_routes()
    assert [r.name for r in routes] == ["arithmetic", "summarise", "recall", "chat"]
    assert all(len(r.utterances) >= 10 for r in routes)
    assert all(r.threshold is not None and 0.0 < r.threshold < 1.0 for r in routes)
    r = IntentRouter(
        routes,
        encoder=BagOfWords(),
        default_model=DEFAULT_MODEL,
        cache_dir=tmp_path,
        aggregate="max",
    )
    r.validate_models(known_model_names())
    assert {rt.name: rt.model for rt in routes}["summarise"] == "gemma3-270m"


class _LoadingModels(StaticModels):
    """StaticModels that, like the model pool, load a model on first use."""

    def __init__(self) -> None:
        super().__init__({})
        self.loads: list[str] = []

    def load(self, name: str) -> bool:
        if name in self.loads:
            return False
        self.loads.append(name)
        return True


def test_the_chosen_models_first_load_is_a_step_of_its_own(router: IntentRouter) -> None:
    models = _LoadingModels()
    ctx = AgentContext(models=models, default_model="ctx-default", router=router)
    runtime = SimpleNamespace(context=ctx)
    state: Any = {"messages": [HumanMessage("good morning")], "task": "good morning"}

    first = make_router_node()(state, runtime)  # type: ignore[arg-type]
    second = make_router_node()(state, runtime)  # type: ignore[arg-type]

    assert models.loads == ["m-greet"]
    assert [e["layer"] for e in first["trace"]][-2:] == ["router", "loading model"]
    assert first["trace"][-1]["data"] == {"model": "m-greet"}
    assert [e["layer"] for e in second["trace"]] == ["router"]
