"""bench/routing.py hands its options to the rows it measures (no encoder, no semantic-router)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "routing.py"
CSV = """split,example_type,utterance,expected_route
train,positive,my claim was denied,claims
validation,positive,why was my claim refused,claims
test,positive,claim status please,claims
test,negative,what is the weather,
"""


def load_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_routing_under_test", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_aggregate_and_gap_reach_the_similarity_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = load_bench()
    seen: dict[str, Any] = {}
    row = {"accuracy": 1.0, "macro_f1": 1.0, "p50_ms": 1.0, "p95_ms": 1.0}

    def fake_similarity(*args: Any, **kwargs: Any) -> tuple[list[dict[str, Any]], dict[str, float]]:
        seen.update(kwargs)
        return [dict(row, name="plain"), dict(row, name="fitted"), dict(row, name="sr")], {}

    monkeypatch.setattr(bench, "run_similarity", fake_similarity)
    data = tmp_path / "routing.csv"
    data.write_text(CSV, encoding="utf-8")
    argv = ["--data", str(data), "--json", "--no-llm", "--aggregate", "max", "--gap-ms", "5"]
    assert bench.main(argv) == 0
    assert seen["aggregate"] == "max"
    assert seen["gap_ms"] == 5.0
    assert seen["busy"] == 0
    assert json.loads(capsys.readouterr().out)["gap_ms"] == 5.0
