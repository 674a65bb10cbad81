"""`lamina cache stats|clear` through Typer's CliRunner (no model files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lamina.cli.cache import app
from lamina.stores.step_cache import StepCache

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path))
    return tmp_path


def filled(path: Path) -> StepCache:
    cache = StepCache(path)
    cache.put("a", "one", tokens=10, seconds=1.5)
    cache.put("b", "two", tokens=5, seconds=0.5)
    cache.get("a")
    cache.get("missing")
    return cache


def test_stats_json_reports_the_default_file(home: Path) -> None:
    filled(home / "step_cache.sqlite").close()
    result = runner.invoke(app, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["path"] == str(home / "step_cache.sqlite")
    assert data["exists"] is True
    assert (data["entries"], data["hits"], data["misses"]) == (2, 1, 1)
    assert (data["saved_tokens"], data["saved_seconds"]) == (10, 1.5)
    assert data["hit_rate"] == 0.5
    assert data["semantic_hits"] == 0
    assert data["file_bytes"] > 0


def test_stats_table_and_a_missing_file(home: Path) -> None:
    result = runner.invoke(app, ["stats"])
    assert result.exit_code == 0, result.output
    assert "not created yet" in result.output
    assert not (home / "step_cache.sqlite").exists()  # reading stats creates nothing
    filled(home / "step_cache.sqlite").close()
    table = runner.invoke(app, ["stats"]).output
    assert "hit rate" in table
    assert "50.0%" in table


def test_clear_with_a_path_and_json(home: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "steps.sqlite"
    other.parent.mkdir()
    filled(other).close()
    result = runner.invoke(app, ["clear", "--path", str(other), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"path": str(other), "removed_entries": 2}
    stats = StepCache(other).stats()
    assert (stats.entries, stats.hits, stats.misses) == (0, 0, 0)


def test_clear_kv_removes_the_disk_prefix_states(home: Path) -> None:
    states = home / "kv_cache" / "smollm2-abc"
    states.mkdir(parents=True)
    (states / "cache.db").write_bytes(b"x" * 100)
    text = runner.invoke(app, ["clear", "--kv"])
    assert text.exit_code == 0, text.output
    assert "Cleared 0 cached step(s)" in text.output
    assert "100 bytes" in text.output
    assert not (home / "kv_cache").exists()


def test_a_corrupted_file_is_rebuilt_not_a_crash(home: Path) -> None:
    (home / "step_cache.sqlite").write_bytes(b"not sqlite " * 100)
    result = runner.invoke(app, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["entries"] == 0
    assert (home / "step_cache.sqlite.corrupt").exists()
