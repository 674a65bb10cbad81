"""The router's LLM fallback with the real SmolLM2-135M-Instruct (structure, not accuracy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lamina.layers.router import IntentRouter
from lamina.layers.router.defaults import DEFAULT_MODEL, DEFAULT_ROUTES_AGGREGATE, default_routes
from lamina.layers.router.llm_fallback import NONE_CHOICE, LlamaChoiceScorer, LLMFallback

NAMES = {r.name for r in default_routes()} | {NONE_CHOICE}


def test_fallback_gives_a_probability_to_every_choice(smollm2: Any) -> None:
    choice = LLMFallback(smollm2).choose("What is 17 times 23?", default_routes(), [])
    probabilities = dict(choice.probabilities)
    assert set(probabilities) == NAMES
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    assert all(0.0 <= p <= 1.0 for p in probabilities.values())
    assert (choice.route or NONE_CHOICE) == choice.probabilities[0][0]
    assert choice.probability == max(probabilities.values())


def test_router_records_the_llm_decision(smollm2: Any, encoder: Any, tmp_path: Path) -> None:
    # A band of 0.99 sends every request to the model, so this one surely asks it.
    router = IntentRouter(
        default_routes(),
        aggregate=DEFAULT_ROUTES_AGGREGATE,
        encoder=encoder,
        default_model=DEFAULT_MODEL,
        cache_dir=tmp_path,
        llm_fallback=LLMFallback(smollm2, band=0.99, max_choices=2),
    )
    decision = router.route("Work out 15 percent of 80.")
    assert decision.method == "llm"
    assert decision.reason.startswith("llm fallback p=")
    offered = {name for name, _ in decision.probabilities}
    assert offered == {decision.candidates[0][0], decision.candidates[1][0], NONE_CHOICE}
    assert sum(p for _, p in decision.probabilities) == pytest.approx(1.0, abs=1e-6)
    assert decision.route in {*offered, None} - {NONE_CHOICE}
    assert decision.abstained == (decision.route is None)
    assert decision.model is not None


def test_scoring_leaves_the_chat_model_usable(smollm2: Any) -> None:
    question = [("human", "Name a colour.")]
    before = smollm2.invoke(question, max_tokens=8).content
    scorer = LlamaChoiceScorer(smollm2)
    first = scorer.choice_probabilities("Answer yes or no.", "Is the sky blue?", ["yes", "no"])
    again = scorer.choice_probabilities("Answer yes or no.", "Is the sky blue?", ["yes", "no"])
    assert again == pytest.approx(first, abs=1e-4)  # from the KV cache or not, same numbers
    after = smollm2.invoke(question, max_tokens=8).content
    assert after == before
