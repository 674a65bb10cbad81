"""The router with the real all-MiniLM-L6-v2 encoder and lamina's default routes.

`data/router_labelled.csv` was written before the default routes were tuned: one request per row
with the route it should take, or an empty route where the router must abstain (requests that no
default route covers: translation, code, actions in the world).
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lamina.layers.router import IntentRouter
from lamina.layers.router.defaults import DEFAULT_MODEL, DEFAULT_ROUTES_AGGREGATE, default_routes

DATA = Path(__file__).parent / "data" / "router_labelled.csv"


@pytest.fixture(scope="module")
def router(encoder: Any, tmp_path_factory: pytest.TempPathFactory) -> IntentRouter:
    r = IntentRouter(
        default_routes(),
        aggregate=DEFAULT_ROUTES_AGGREGATE,
        encoder=encoder,
        default_model=DEFAULT_MODEL,
        cache_dir=tmp_path_factory.mktemp("router_cache"),
    )
    r.warm_up()
    return r


def _labelled() -> list[tuple[str, str | None]]:
    with DATA.open(newline="", encoding="utf-8") as fh:
        return [(row["utterance"], row["expected_route"] or None) for row in csv.DictReader(fh)]


def test_labelled_set_is_big_enough() -> None:
    rows = _labelled()
    assert len(rows) >= 40
    assert sum(1 for _, expected in rows if expected is None) >= 0.2 * len(rows)
    known = {r.name for r in default_routes()}
    assert {expected for _, expected in rows if expected is not None} <= known


def test_accuracy_on_labelled_set(router: IntentRouter) -> None:
    rows = _labelled()
    wrong: list[str] = []
    per_label: Counter[str] = Counter()
    right_per_label: Counter[str] = Counter()
    for text, expected in rows:
        decision = router.route(text)
        label = expected or "(abstain)"
        per_label[label] += 1
        if decision.route == expected:
            right_per_label[label] += 1
        else:
            wrong.append(
                f"{text[:50]!r}: expected {expected}, got {decision.route} ({decision.reason})"
            )
    accuracy = sum(right_per_label.values()) / len(rows)
    report = "\n".join(wrong)
    assert accuracy >= 0.80, f"accuracy {accuracy:.2f} < 0.80; misrouted:\n{report}"
    # A router that never abstains must not pass on the strength of the routed rows alone.
    abstain_accuracy = right_per_label["(abstain)"] / per_label["(abstain)"]
    assert abstain_accuracy >= 0.75, f"abstained on {abstain_accuracy:.2f}; misrouted:\n{report}"


@pytest.mark.parametrize(
    ("text", "expected", "model"),
    [
        ("What is 17 times 23?", "arithmetic", "smollm2-135m-instruct"),
        (
            "Summarise this paragraph: The committee reviewed three proposals for the new "
            "library. The first was too expensive, the second too small, and the third was "
            "approved after a short vote.",
            "summarise",
            "gemma3-270m",
        ),
        ("What is my favourite colour?", "recall", "smollm2-135m-instruct"),
    ],
)
def test_default_routes(router: IntentRouter, text: str, expected: str, model: str) -> None:
    decision = router.route(text)
    assert decision.route == expected, decision.reason
    assert decision.model == model
    assert not decision.abstained
    assert decision.candidates[0][0] == expected
    assert decision.score >= (decision.threshold or 0.0)
    assert "≥ threshold" in decision.reason


def test_off_topic_request_abstains_to_default_model(router: IntentRouter) -> None:
    decision = router.route("Book a table for two at an Italian restaurant on Saturday.")
    assert decision.abstained, decision.reason
    assert decision.model == DEFAULT_MODEL
    assert decision.reason.startswith("no route above threshold")


def test_second_router_reuses_cached_embeddings(router: IntentRouter, encoder: Any) -> None:
    again = IntentRouter(
        default_routes(),
        aggregate=DEFAULT_ROUTES_AGGREGATE,
        encoder=encoder,
        default_model=DEFAULT_MODEL,
        cache_dir=router.cache_path.parent,
    )
    again.warm_up()
    assert again.cache_hit is True
    text = "How much is 120 divided by 4?"
    first, second = router.route(text), again.route(text)
    assert [n for n, _ in second.candidates] == [n for n, _ in first.candidates]
    assert [s for _, s in second.candidates] == pytest.approx([s for _, s in first.candidates])
