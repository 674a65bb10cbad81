"""The router's LLM fallback: scripted choice scorers, and the token-trie scorer on a fake llama."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lamina.models.llama.scoring as llama_scoring
from lamina.config import get_settings
from lamina.errors import ConfigError, ModelError, ModelOutputError
from lamina.layers.router import IntentRouter, Route
from lamina.layers.router.llm_fallback import (
    NONE_CHOICE,
    ChoiceScorer,
    LlamaChoiceScorer,
    LLMFallback,
    routing_prompt,
)
from lamina.models.catalog import ModelSpec
from lamina.models.pool import ModelPool
from lamina.models.testing import FakeChatModel, HashingEncoder


class ScriptedScorer:
    """A ChoiceScorer that returns scripted weights and records every call."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        self.weights = dict(weights)
        self.calls: list[tuple[str, str, list[str]]] = []

    def choice_probabilities(
        self, system: str, user: str, choices: Sequence[str]
    ) -> dict[str, float]:
        self.calls.append((system, user, list(choices)))
        return {c: self.weights.get(c, 0.0) for c in choices}


def _routes() -> list[Route]:
    return [
        Route("maths", ["add two numbers", "multiply numbers together"], "m-maths"),
        Route(
            "weather",
            ["weather forecast today", "will it rain"],
            "m-weather",
            description="Weather questions.",
        ),
        Route("greet", ["hello there", "good morning"], "m-greet"),
    ]


def _router(tmp_path: Path, scorer: ChoiceScorer, band: float = 0.2, **kw: Any) -> IntentRouter:
    return IntentRouter(
        _routes(),
        encoder=HashingEncoder(dim=4096),
        default_model="m-default",
        cache_dir=tmp_path,
        llm_fallback=LLMFallback(scorer, band=band, **kw),
    )


# -- the prompt and the band ----------------------------------------------------------------


def test_prompt_lists_every_route_then_none() -> None:
    text = routing_prompt(_routes(), examples_per_route=1)
    lines = text.splitlines()
    assert [line.split(":")[0] for line in lines[1:5]] == [
        "- maths",
        "- weather",
        "- greet",
        "- none",
    ]
    assert '"add two numbers"' in text
    assert "multiply numbers together" not in text  # one example per route
    assert "Weather questions." in text
    assert lines[-1] == "Reply with the name of one route only."


def test_band_is_inclusive_around_the_threshold() -> None:
    fallback = LLMFallback(ScriptedScorer({}), band=0.1)
    assert fallback.in_band(0.5, 0.5)
    assert fallback.in_band(0.4, 0.5)
    assert fallback.in_band(0.6, 0.5)
    assert not fallback.in_band(0.39, 0.5)
    assert not fallback.in_band(0.61, 0.5)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"band": -0.1}, "band"),
        ({"band": 1.0}, "band"),
        ({"max_choices": 0}, "max_choices"),
        ({"examples_per_route": -1}, "examples_per_route"),
        ({"max_request_chars": 0}, "max_request_chars"),
    ],
)
def test_fallback_options_are_checked(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        LLMFallback(ScriptedScorer({}), **kwargs)


def test_a_chat_model_without_logits_is_refused() -> None:
    with pytest.raises(ConfigError, match="LlamaChatModel"):
        LLMFallback(FakeChatModel(responses=["maths"]))


def test_a_route_called_none_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'none'"):
        IntentRouter(
            [Route(NONE_CHOICE, ["x"], "m")],
            encoder=HashingEncoder(),
            cache_dir=tmp_path,
            llm_fallback=LLMFallback(ScriptedScorer({})),
        )


# -- choosing -------------------------------------------------------------------------------


def test_choose_renormalises_and_orders_the_probabilities() -> None:
    scorer = ScriptedScorer({"maths": 3.0, "weather": 1.0, "greet": 0.0, NONE_CHOICE: 1.0})
    choice = LLMFallback(scorer).choose("add it up", _routes(), [])
    assert choice.route == "maths"
    assert choice.probability == pytest.approx(0.6)
    assert [c for c, _ in choice.probabilities] == ["maths", "weather", "none", "greet"]
    assert sum(p for _, p in choice.probabilities) == pytest.approx(1.0)
    assert scorer.calls[0][1] == "add it up"
    assert scorer.calls[0][2] == ["maths", "weather", "greet", NONE_CHOICE]
    json.dumps(choice.to_dict())


def test_choosing_none_means_no_route() -> None:
    choice = LLMFallback(ScriptedScorer({NONE_CHOICE: 0.9, "maths": 0.1})).choose(
        "book a flight", _routes(), []
    )
    assert choice.route is None
    assert choice.probabilities[0] == (NONE_CHOICE, pytest.approx(0.9))


def test_max_choices_offers_the_best_scoring_routes_only() -> None:
    scorer = ScriptedScorer({"weather": 1.0})
    LLMFallback(scorer, max_choices=1).choose(
        "rain?", _routes(), [("weather", 0.5), ("maths", 0.1), ("greet", 0.0)]
    )
    system, _, choices = scorer.calls[0]
    assert choices == ["weather", NONE_CHOICE]
    assert "- maths:" in system  # every route is still described


def test_long_requests_are_cut() -> None:
    scorer = ScriptedScorer({"maths": 1.0})
    LLMFallback(scorer, max_request_chars=10).choose("x" * 50, _routes(), [])
    assert scorer.calls[0][1] == "x" * 10 + " …"


@pytest.mark.parametrize(
    "weights",
    [
        {"maths": 1.0},  # choices missing
        {"maths": -1.0, "weather": 1.0, "greet": 1.0, NONE_CHOICE: 1.0},
        {"maths": math.nan, "weather": 1.0, "greet": 1.0, NONE_CHOICE: 1.0},
        {"maths": 0.0, "weather": 0.0, "greet": 0.0, NONE_CHOICE: 0.0},
    ],
)
def test_unusable_probabilities_are_a_model_output_error(weights: dict[str, float]) -> None:
    class Raw:
        def choice_probabilities(
            self, system: str, user: str, choices: Sequence[str]
        ) -> dict[str, float]:
            return weights

    with pytest.raises(ModelOutputError, match="expected a non-negative probability"):
        LLMFallback(Raw()).choose("x", _routes(), [])


# -- in the router ----------------------------------------------------------------------------


def test_router_asks_the_llm_inside_the_band(tmp_path: Path) -> None:
    scorer = ScriptedScorer({"weather": 0.83, NONE_CHOICE: 0.17})
    router = _router(tmp_path, scorer, band=0.2)
    plain = IntentRouter(_routes(), encoder=HashingEncoder(dim=4096), cache_dir=tmp_path)
    text = "will numbers rain"
    similarity = plain.route(text)
    assert similarity.threshold is not None
    assert abs(similarity.score - similarity.threshold) <= 0.2  # the case is in the band

    decision = router.route(text)
    assert len(scorer.calls) == 1
    assert decision.method == "llm"
    assert decision.route == "weather"
    assert decision.model == "m-weather"
    assert not decision.abstained
    assert decision.reason.startswith("llm fallback p=0.83")
    assert "within 0.20 of threshold" in decision.reason
    assert dict(decision.probabilities) == pytest.approx(
        {"weather": 0.83, NONE_CHOICE: 0.17, "maths": 0.0, "greet": 0.0}
    )
    assert decision.score == dict(decision.candidates)["weather"]
    data = json.loads(json.dumps(decision.to_dict()))
    assert data["probabilities"][0] == ["weather", 0.83]


def test_llm_choosing_none_abstains_to_the_default_model(tmp_path: Path) -> None:
    router = _router(tmp_path, ScriptedScorer({NONE_CHOICE: 0.7, "maths": 0.3}), band=0.2)
    decision = router.route("will numbers rain")
    assert decision.abstained
    assert decision.route is None
    assert decision.model == "m-default"
    assert decision.reason.startswith("llm fallback p=0.70: none of the routes")


def test_clear_decisions_never_ask_the_llm(tmp_path: Path) -> None:
    scorer = ScriptedScorer({"greet": 1.0})
    router = _router(tmp_path, scorer, band=0.05)
    assert router.route("add two numbers").route == "maths"  # similarity 1.0
    assert router.route("quantum chromodynamics lecture").abstained  # similarity 0.0
    assert scorer.calls == []


def test_warm_up_reads_the_prompt_once(tmp_path: Path) -> None:
    scorer = ScriptedScorer({"maths": 1.0})
    router = _router(tmp_path, scorer)
    router.warm_up()
    assert len(scorer.calls) == 1
    assert scorer.calls[0][0] == router.llm_fallback.prompt(router.routes)  # type: ignore[union-attr]


def test_evaluate_counts_llm_decisions(tmp_path: Path) -> None:
    router = _router(tmp_path, ScriptedScorer({"weather": 1.0}), band=0.2)
    report = router.evaluate(["will numbers rain", "add two numbers"], ["weather", "maths"])
    assert report.accuracy == 1.0


# -- the token-trie scorer on a fake llama.cpp model -------------------------------------------


class FakeLlama:
    """Characters are tokens; logits are a fixed pseudo-random function of the whole history."""

    N_VOCAB = 128

    def __init__(self) -> None:
        self.metadata: dict[str, str] = {}
        self.input_ids = np.zeros(4096, dtype=np.intc)
        self.n_tokens = 0
        self.evals: list[list[int]] = []

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return [min(ord(c), self.N_VOCAB - 1) for c in text.decode("utf-8")]

    def token_bos(self) -> int:
        return 1

    def token_eos(self) -> int:
        return 2

    def n_ctx(self) -> int:
        return 4096

    def n_vocab(self) -> int:
        return self.N_VOCAB

    def eval(self, tokens: Sequence[int]) -> None:
        self.input_ids[self.n_tokens : self.n_tokens + len(tokens)] = tokens
        self.n_tokens += len(tokens)
        self.evals.append(list(tokens))

    def close(self) -> None:
        pass

    @classmethod
    def logits_after(cls, history: Sequence[int]) -> np.ndarray:
        seed = hash(tuple(int(t) for t in history)) % (2**32)
        return np.random.default_rng(seed).normal(0.0, 3.0, cls.N_VOCAB)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    return x - (x.max() + np.log(np.exp(x - x.max()).sum()))


@pytest.fixture
def fake_llama(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FakeLlama, Any]:
    llama = FakeLlama()
    # The real function reads llama.cpp's logits buffer; the fake derives them from the history,
    # so a wrong rewind of n_tokens gives wrong numbers.
    monkeypatch.setattr(
        llama_scoring,
        "last_logits",
        lambda ll: FakeLlama.logits_after(ll.input_ids[: ll.n_tokens].tolist()),
    )
    pool = ModelPool(get_settings(home=tmp_path), loader=lambda spec, path, settings: llama)
    pool.register(ModelSpec(name="fake-base", path=tmp_path / "x.gguf", prompt_format="completion"))
    return llama, pool.chat_model("fake-base")


def test_trie_scorer_matches_brute_force(fake_llama: tuple[FakeLlama, Any]) -> None:
    llama, model = fake_llama
    scorer = LlamaChoiceScorer(model)
    choices = ["maths", "mathematics", "weather", NONE_CHOICE]
    probs = scorer.choice_probabilities("Pick one.", "add 2 and 2", choices)

    prompt = "Pick one.\n\nUser: add 2 and 2\nAssistant:"
    base = llama.tokenize(prompt.encode())
    expected: dict[str, float] = {}
    for choice in choices:
        path = llama.tokenize(f" {choice}\n".encode())
        expected[choice] = sum(
            float(_log_softmax(FakeLlama.logits_after(base + path[:i]))[path[i]])
            for i in range(len(path))
        )
    top = max(expected.values())
    total = sum(math.exp(v - top) for v in expected.values())
    assert probs == pytest.approx({c: math.exp(v - top) / total for c, v in expected.items()})
    assert sum(probs.values()) == pytest.approx(1.0)
    # One eval for the prompt, then one token per inner node of the choices' trie: the shared
    # " math" of two choices is evaluated once, not twice.
    paths = [llama.tokenize(f" {c}\n".encode()) for c in choices]
    inner = {tuple(p[:k]) for p in paths for k in range(1, len(p))}
    assert len(llama.evals) == 1 + len(inner)
    assert all(len(e) == 1 for e in llama.evals[1:])


def test_trie_scorer_reuses_the_cached_prompt_prefix(fake_llama: tuple[FakeLlama, Any]) -> None:
    llama, model = fake_llama
    scorer = LlamaChoiceScorer(model)
    system = "A long routing prompt that stays the same for every request. " * 3
    first = scorer.choice_probabilities(system, "first request", ["a", "b"])
    prompt_evals = len(llama.evals)
    again = scorer.choice_probabilities(system, "second request", ["a", "b"])
    second_prompt_eval = llama.evals[prompt_evals]
    full = len(llama.tokenize(f"{system}\n\nUser: second request\nAssistant:".encode()))
    assert len(second_prompt_eval) < full - len(system)  # only the request part is new
    assert first != again
    # Scoring the same request from a cold state gives the same numbers.
    cold = LlamaChoiceScorer(model)
    llama.n_tokens = 0
    assert cold.choice_probabilities(system, "second request", ["a", "b"]) == pytest.approx(again)


def test_trie_scorer_refuses_a_prompt_longer_than_the_context(
    fake_llama: tuple[FakeLlama, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    llama, model = fake_llama
    monkeypatch.setattr(llama, "n_ctx", lambda: 16)
    with pytest.raises(ModelError, match=re.escape("context holds 16")):
        LlamaChoiceScorer(model).choice_probabilities("system", "user", ["a", "b"])


@pytest.mark.parametrize("choices", [[], ["a", "a"], ["a", " "]])
def test_trie_scorer_checks_the_choices(
    fake_llama: tuple[FakeLlama, Any], choices: list[str]
) -> None:
    _, model = fake_llama
    with pytest.raises(ConfigError, match="choices"):
        LlamaChoiceScorer(model).choice_probabilities("s", "u", choices)


def test_fallback_over_the_fake_llama_picks_a_choice(fake_llama: tuple[FakeLlama, Any]) -> None:
    _, model = fake_llama
    choice = LLMFallback(model).choose("add 2 and 2", _routes(), [])
    names = {"maths", "weather", "greet", NONE_CHOICE}
    assert {c for c, _ in choice.probabilities} == names
    assert choice.probabilities[0][1] == choice.probability
    assert (choice.route or NONE_CHOICE) == choice.probabilities[0][0]
