"""One precedence for settings everywhere: flags > `LAMINA_*` environment > config file > defaults.

`lamina run`, `lamina resume`, `lamina serve`, `Agent.from_config` and `get_settings` each resolve
the same setting given by any subset of the four sources, and `--config X` reads X alone (never
`./lamina.toml` too).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lamina.agents.agent import Agent
from lamina.agents.config_file import load_config
from lamina.cli import app
from lamina.config import Settings, available_cores, get_settings
from lamina.errors import ConfigError

FILE, ENV, FLAG = "3", "5", "7"  # n_threads from each source; the default is the core count
SOURCES = ("file", "env", "flag")
CASES = [combo for n in range(len(SOURCES) + 1) for combo in itertools.combinations(SOURCES, n)]


def _expected(sources: tuple[str, ...]) -> int:
    for source, value in (("flag", FLAG), ("env", ENV), ("file", FILE)):
        if source in sources:
            return int(value)
    return available_cores()


class _StopError(ConfigError):
    """Raised by the recording Agent so no model, store or checkpointer is built."""


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """The settings each `Agent(...)` is built with (the agent itself is not built)."""
    settings: list[Settings] = []

    def record(self: Agent, *args: Any, **kwargs: Any) -> None:
        settings.append(kwargs["settings"])
        raise _StopError("recorded")

    monkeypatch.setattr(Agent, "__init__", record)
    return settings


def _arrange(
    sources: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, dict[str, str]]:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "conf" / "agent.toml"
    config.parent.mkdir()
    config.write_text(f"n_threads = {FILE}\n" if "file" in sources else "max_steps = 4\n")
    monkeypatch.delenv("LAMINA_N_THREADS", raising=False)
    if "env" in sources:
        monkeypatch.setenv("LAMINA_N_THREADS", ENV)
    return config, ({"n_threads": FLAG} if "flag" in sources else {})


@pytest.mark.parametrize("sources", CASES, ids=lambda c: "+".join(c) or "default")
def test_get_settings_and_from_config_follow_the_precedence(
    sources: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seen: list[Settings]
) -> None:
    config, flags = _arrange(sources, tmp_path, monkeypatch)
    assert get_settings(config, **flags).n_threads == _expected(sources)
    if not flags:  # Agent.from_config has no flags: its settings come from env, file, defaults
        with pytest.raises(_StopError):
            Agent.from_config(config)
        assert seen[-1].n_threads == _expected(sources)


@pytest.mark.parametrize("command", ["run", "resume", "serve"])
@pytest.mark.parametrize("sources", CASES, ids=lambda c: "+".join(c) or "default")
def test_commands_follow_the_precedence(
    command: str,
    sources: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    seen: list[Settings],
) -> None:
    config, flags = _arrange(sources, tmp_path, monkeypatch)
    args = {"run": ["run", "hello"], "resume": ["resume", "T1"], "serve": ["serve"]}[command]
    args = [*args, "--config", str(config)]
    for name, value in flags.items():
        args += ["--set", f"{name}={value}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output  # the recording Agent stops the command
    assert "recorded" in result.output
    assert [s.n_threads for s in seen] == [_expected(sources)]


def test_config_names_the_only_file_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seen: list[Settings]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lamina.toml").write_text('seed = 9\nkv_cache = "off"\n')
    other = tmp_path / "other.toml"
    other.write_text("n_threads = 2\n")
    assert (get_settings().seed, get_settings().kv_cache) == (9, "off")  # ./lamina.toml
    chosen = get_settings(other)
    assert (chosen.seed, chosen.kv_cache, chosen.n_threads) == (0, "ram", 2)
    with pytest.raises(_StopError):
        Agent.from_config(other)
    result = CliRunner().invoke(app, ["run", "hello", "--config", str(other)])
    assert result.exit_code == 1, result.output
    for settings in seen:
        assert (settings.seed, settings.kv_cache, settings.n_threads) == (0, "ram", 2)
    result = CliRunner().invoke(app, ["run", "hello"])  # no --config: ./lamina.toml
    assert result.exit_code == 1, result.output
    assert (seen[-1].seed, seen[-1].kv_cache) == (9, "off")


# a value of every setting, as lamina.toml holds it, and what `Settings` makes of it
EVERY_SETTING: dict[str, tuple[Any, Any]] = {
    "home": ("~/state", Path.home() / "state"),
    "models_dir": ("/srv/gguf", Path("/srv/gguf")),
    "index_url": ("https://index.example/simple", "https://index.example/simple"),
    "n_threads": (2, 2),
    "seed": (11, 11),
    "memory_budget_bytes": (1024, 1024),
    "context_memory_bytes": (67108864, 67108864),
    "allow_amx": (True, True),
    "kv_cache": ("disk", "disk"),
    "kv_cache_bytes": (4096, 4096),
    "step_cache_max_entries": (50, 50),
    "step_cache_ttl_seconds": (60.0, 60.0),
    "step_cache_semantic_threshold": (0.99, 0.99),
    "thread_wait_seconds": (1.5, 1.5),
}


def test_every_setting_is_accepted_in_lamina_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert set(EVERY_SETTING) == set(Settings.model_fields)  # a new setting joins this table
    for name in Settings.model_fields:
        monkeypatch.delenv(f"LAMINA_{name.upper()}", raising=False)
    path = tmp_path / "lamina.toml"
    lines = [f"{name} = {_toml(value)}" for name, (value, _) in EVERY_SETTING.items()]
    path.write_text("\n".join(lines) + "\n")
    assert load_config(path).settings == {n: v for n, (v, _) in EVERY_SETTING.items()}
    settings = get_settings(path)
    for name, (_, expected) in EVERY_SETTING.items():
        assert getattr(settings, name) == expected, name


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f'"{value}"' if isinstance(value, str) else repr(value)


def test_every_setting_the_readme_lists_is_a_setting() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("```", 1)[0]
    for name in Settings.model_fields:
        assert f"`{name}`" in section, name


@pytest.mark.parametrize(
    ("flag", "match"),
    [("n_threads", r"Expected --set NAME=VALUE"), ("nthreads=2", r"rename it to 'n_threads'")],
)
def test_a_bad_set_flag_is_a_clear_error(flag: str, match: str) -> None:
    result = CliRunner().invoke(app, ["run", "hello", "--set", flag])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert re.search(match, " ".join(result.output.split()))


def test_a_wrong_value_names_the_source_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "agent.toml"
    path.write_text('n_threads = "lots"\n')
    with pytest.raises(ConfigError, match=rf"'lots' in `n_threads = \.\.\.` in {path}"):
        get_settings(path)
    monkeypatch.setenv("LAMINA_N_THREADS", "many")
    with pytest.raises(ConfigError, match="'many' in the environment variable LAMINA_N_THREADS"):
        get_settings(path)
    with pytest.raises(ConfigError, match=r"'x' in the flag or argument n_threads="):
        get_settings(path, n_threads="x")
