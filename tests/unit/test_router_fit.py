"""Fitting, evaluating, saving and loading the router, with the bag-of-words HashingEncoder."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest

import lamina.models.encoder as embeddings
from lamina.errors import ConfigError
from lamina.layers.router import IntentRouter, Route
from lamina.layers.router.fit import ABSTAIN, RouterReport, _percentile
from lamina.models.testing import HashingEncoder

DIM = 4096

# Word-overlap cosines (HashingEncoder), best route in brackets:
#   "add numbers"           maths   2/sqrt(6)  ≈ 0.816
#   "multiply two numbers"  maths   2/3        ≈ 0.667
#   "will it rain today"    weather 3/(2√3)    ≈ 0.866
#   "weather today please"  weather 2/3        ≈ 0.667
#   "add sugar"             maths   1/sqrt(6)  ≈ 0.408  (should abstain)
#   "numbers game"          maths   1/sqrt(6)  ≈ 0.408  (should abstain)
#   "it is today"           weather 1/3        ≈ 0.333  (should abstain)
TEXTS = [
    "add numbers",
    "multiply two numbers",
    "will it rain today",
    "weather today please",
    "add sugar",
    "numbers game",
    "it is today",
]
LABELS: list[str | None] = ["maths", "maths", "weather", "weather", None, None, None]


def _enc(identity: str = "bow-v1") -> HashingEncoder:
    return HashingEncoder(identity=identity, dim=DIM)


def _router(tmp_path: Path, threshold: float | None, **kwargs: object) -> IntentRouter:
    routes = [
        Route("maths", ["add two numbers", "multiply numbers together"], "m-maths", threshold),
        Route("weather", ["weather forecast today", "will it rain"], "m-weather", threshold),
    ]
    return IntentRouter(
        routes,
        encoder=kwargs.pop("encoder", _enc()),  # type: ignore[arg-type]
        default_model="m-default",
        cache_dir=tmp_path,
        **{"aggregate": "max", **kwargs},  # type: ignore[arg-type]
    )


# -- fit ----------------------------------------------------------------------------------


@pytest.mark.parametrize("start", [0.9, 0.3])
def test_fit_improves_accuracy_to_perfect(tmp_path: Path, start: float) -> None:
    router = _router(tmp_path, start)
    before = router.evaluate(TEXTS, LABELS).accuracy
    # Too strict: every positive abstains; too lax: every abstain case is routed.
    assert before == pytest.approx(3 / 7 if start == 0.9 else 4 / 7)

    fitted = router.fit(TEXTS, LABELS)

    assert set(fitted) == {"maths", "weather"}
    assert 1 / math.sqrt(6) < fitted["maths"] <= 2 / 3 + 1e-6
    assert 1 / 3 < fitted["weather"] <= 2 / 3 + 1e-6
    assert router.fitted_thresholds == fitted
    assert router.evaluate(TEXTS, LABELS).accuracy == 1.0
    # The configured thresholds stay on the routes; the fitted ones win.
    assert [r.threshold for r in router.routes] == [start, start]
    assert router.threshold_of(router.routes[0]) == fitted["maths"]


def test_fit_keeps_a_margin_to_the_scores(tmp_path: Path) -> None:
    # Any threshold in (0.408, 0.667] is perfect for maths; the fit takes the middle of the
    # best range, not the score of the weakest positive.
    fitted = _router(tmp_path, 0.9).fit(TEXTS, LABELS)
    assert 1 / math.sqrt(6) + 0.05 < fitted["maths"] < 2 / 3 - 0.05
    assert 1 / 3 + 0.05 < fitted["weather"] < 2 / 3 - 0.05


def test_fit_keeps_an_optimal_threshold(tmp_path: Path) -> None:
    assert _router(tmp_path, 0.5).fit(TEXTS, LABELS) == {"maths": 0.5, "weather": 0.5}


def test_fit_is_deterministic(tmp_path: Path) -> None:
    first = _router(tmp_path, 0.9).fit(TEXTS, LABELS)
    second = _router(tmp_path, 0.9).fit(TEXTS, LABELS)
    assert first == second
    again = _router(tmp_path, 0.9)
    again.fit(TEXTS, LABELS)
    assert again.fit(TEXTS, LABELS) == first  # refitting a fitted router changes nothing


def test_fit_can_switch_a_route_off(tmp_path: Path) -> None:
    # Every text on which "weather" scores best should abstain: its threshold goes above them.
    labels: list[str | None] = ["maths", "maths", None, None, None, None, None]
    router = _router(tmp_path, 0.5)
    fitted = router.fit(TEXTS, labels)
    assert fitted["weather"] > 3 / (2 * math.sqrt(3))
    assert router.route("will it rain today").abstained
    assert router.evaluate(TEXTS, labels).accuracy == 1.0


def test_route_never_best_keeps_its_threshold(tmp_path: Path) -> None:
    router = _router(tmp_path, 0.7)
    fitted = router.fit(TEXTS[:2], LABELS[:2])
    assert fitted["weather"] == 0.7
    assert fitted["maths"] != 0.7


def test_clearing_fitted_thresholds(tmp_path: Path) -> None:
    router = _router(tmp_path, 0.9)
    router.fit(TEXTS, LABELS)
    router.set_fitted_thresholds({})
    assert router.fitted_thresholds == {}
    assert router.threshold_of(router.routes[0]) == 0.9


@pytest.mark.parametrize(
    ("texts", "labels", "fragment"),
    [
        ([], [], "found none"),
        (["a"], [None, None], "1 texts and 2 labels"),
        (["add numbers"], ["nope"], "Unknown route label(s) 'nope'; known: maths, weather"),
    ],
)
def test_fit_rejects_bad_data(
    tmp_path: Path, texts: list[str], labels: list[str | None], fragment: str
) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        _router(tmp_path, 0.5).fit(texts, labels)


def test_set_fitted_thresholds_validates(tmp_path: Path) -> None:
    router = _router(tmp_path, 0.5)
    with pytest.raises(ConfigError, match="unknown route 'x'"):
        router.set_fitted_thresholds({"x": 0.5})
    with pytest.raises(ConfigError, match="between -1 and 1"):
        router.set_fitted_thresholds({"maths": 3.0})


# -- evaluate -----------------------------------------------------------------------------


def _three_routes(tmp_path: Path) -> IntentRouter:
    routes = [
        Route("maths", ["add two numbers", "multiply numbers together"], "m-maths"),
        Route("weather", ["weather forecast today", "will it rain"], "m-weather"),
        Route("greet", ["hello there", "good morning"], "m-greet"),
    ]
    return IntentRouter(routes, encoder=_enc(), cache_dir=tmp_path, aggregate="max")


def test_evaluate_hand_computed(tmp_path: Path) -> None:
    texts = [
        "add two numbers",  # maths → maths
        "will it rain",  # weather → weather
        "hello there",  # greet → greet
        "good morning",  # weather → greet
        "quantum physics",  # abstain → abstain
        "multiply numbers together",  # abstain → maths
        "purple elephants",  # maths → abstain
    ]
    labels: list[str | None] = ["maths", "weather", "greet", "weather", None, None, "maths"]
    report = _three_routes(tmp_path).evaluate(texts, labels)

    assert report.n == 7
    assert report.accuracy == pytest.approx(4 / 7)
    assert report.confusion == {
        "maths": {"maths": 1, "weather": 0, "greet": 0, ABSTAIN: 1},
        "weather": {"maths": 0, "weather": 1, "greet": 1, ABSTAIN: 0},
        "greet": {"maths": 0, "weather": 0, "greet": 1, ABSTAIN: 0},
        ABSTAIN: {"maths": 1, "weather": 0, "greet": 0, ABSTAIN: 1},
    }
    m, w, g, a = (*report.per_route.values(), report.abstention)
    assert (m.precision, m.recall, m.support, m.predicted) == (0.5, 0.5, 2, 2)
    assert (w.precision, w.recall, w.support, w.predicted) == (1.0, 0.5, 2, 1)
    assert (g.precision, g.recall, g.support, g.predicted) == (0.5, 1.0, 1, 2)
    assert (a.precision, a.recall, a.support, a.predicted) == (0.5, 0.5, 2, 2)
    assert w.f1 == pytest.approx(2 / 3)
    assert report.macro_f1 == pytest.approx((0.5 + 2 / 3 + 2 / 3 + 0.5) / 4)
    assert 0.0 <= report.latency_p50_ms <= report.latency_p95_ms


def test_report_is_frozen_and_json_safe(tmp_path: Path) -> None:
    report = _three_routes(tmp_path).evaluate(["hello there", "xyz"], ["greet", None])
    assert isinstance(report, RouterReport)
    with pytest.raises(AttributeError):
        report.accuracy = 0.0  # type: ignore[misc]
    data = json.loads(json.dumps(report.to_dict()))
    assert data["accuracy"] == 1.0
    assert data["per_route"]["greet"]["recall"] == 1.0
    assert data["abstention"]["support"] == 1
    assert data["confusion"][ABSTAIN][ABSTAIN] == 1
    # Classes absent from both labels and predictions do not dilute the macro-F1.
    assert data["macro_f1"] == 1.0


def test_warm_up_on_a_cache_hit_loads_the_encoder_once(tmp_path: Path) -> None:
    _router(tmp_path, 0.5).warm_up()  # fills the disk cache
    enc = _enc()
    router = _router(tmp_path, 0.5, encoder=enc)
    router.warm_up()
    router.warm_up()
    assert router.cache_hit is True
    # One short encode, so that evaluate() times routing and not the encoder's model load.
    assert enc.calls == [["warm up"]]


def test_percentile_interpolates() -> None:
    assert _percentile([4.0, 1.0, 3.0, 2.0], 50) == pytest.approx(2.5)
    assert _percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert _percentile([7.0], 95) == 7.0


# -- save / load --------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path: Path) -> None:
    router = _router(tmp_path, 0.9, aggregate="mean_topk", top_k=2, default_threshold=0.45)
    router.fit(TEXTS, LABELS)
    path = tmp_path / "out" / "router.json"
    router.save(path)

    loaded = IntentRouter.load(path, encoder=_enc(), cache_dir=tmp_path)
    assert loaded.routes == router.routes
    assert loaded.fitted_thresholds == router.fitted_thresholds
    assert (loaded.aggregate, loaded.top_k, loaded.default_threshold) == ("mean_topk", 2, 0.45)
    assert loaded.default_model == "m-default"
    for text in [*TEXTS, "hello"]:
        a, b = router.route(text), loaded.route(text)
        assert (a.route, a.model, a.candidates, a.threshold) == (
            b.route,
            b.model,
            b.candidates,
            b.threshold,
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["encoder"] == "bow-v1"
    assert data["routes"][0]["fallbacks"] == []


def test_load_with_another_encoder_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "router.json"
    _router(tmp_path, 0.5).save(path)
    with caplog.at_level(logging.WARNING, logger="lamina.layers.router"):
        IntentRouter.load(path, encoder=_enc("other-v2"), cache_dir=tmp_path)
    assert "'bow-v1'" in caplog.text
    assert "'other-v2'" in caplog.text


def test_load_with_default_encoder_checks_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "router.json"
    _router(tmp_path, 0.5).save(path)
    monkeypatch.setattr(embeddings, "default_encoder", lambda: _enc("default-v9"))
    loaded = IntentRouter.load(path, cache_dir=tmp_path)
    assert "default-v9" not in caplog.text  # the encoder is not created before first use
    with caplog.at_level(logging.WARNING, logger="lamina.layers.router"):
        loaded.route("add numbers")
    assert "'bow-v1'" in caplog.text
    assert "'default-v9'" in caplog.text


def test_load_same_encoder_does_not_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "router.json"
    _router(tmp_path, 0.5).save(path)
    with caplog.at_level(logging.WARNING):
        IntentRouter.load(path, encoder=_enc(), cache_dir=tmp_path).route("add numbers")
    assert caplog.text == ""


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "found no file"),
        ("{not json", "invalid JSON"),
        ('{"kind": "something"}', "without kind 'lamina-router'"),
        ('{"kind": "lamina-router", "format": 99}', "format 99"),
        ('{"kind": "lamina-router", "format": 1, "routes": "x"}', "not a list of objects"),
        ('{"kind": "lamina-router", "format": 1, "routes": [{"name": "a"}]}', "no 'utterances'"),
        (
            '{"kind": "lamina-router", "format": 1, "routes": '
            '[{"name": "a", "utterances": ["x"], "model": "m"}], "fitted_thresholds": {"a": 5}}',
            "invalid content",
        ),
    ],
)
def test_load_corrupt_file(tmp_path: Path, content: str | None, fragment: str) -> None:
    path = tmp_path / "router.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        IntentRouter.load(path, encoder=_enc(), cache_dir=tmp_path)
    msg = str(info.value)
    assert fragment in msg
    assert str(path) in msg
    assert "Fix:" in msg
