"""Checkpointers and memory stores chosen by a string in config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lamina.errors import ConfigError
from lamina.scaleout.backends import is_postgres_url, make_checkpointer
from lamina.scaleout.servers import free_port


def test_memory_and_sqlite_checkpointers(tmp_path: Path) -> None:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.checkpoint.sqlite import SqliteSaver

    saver, close = make_checkpointer(":memory:", default_path=tmp_path / "unused.sqlite")
    assert isinstance(saver, InMemorySaver)
    close()
    saver, close = make_checkpointer("", default_path=tmp_path / "d" / "cp.sqlite")
    assert isinstance(saver, SqliteSaver)
    assert (tmp_path / "d" / "cp.sqlite").exists()
    close()
    saver, close = make_checkpointer(tmp_path / "own.sqlite", default_path=tmp_path / "x")
    assert (tmp_path / "own.sqlite").exists()
    close()


def test_postgres_urls_are_recognised() -> None:
    assert is_postgres_url("postgresql://u@h:5432/db")
    assert is_postgres_url("postgres://h/db")
    assert not is_postgres_url("/var/lib/cp.sqlite")
    assert not is_postgres_url(None)


def test_an_unreachable_postgres_is_a_clear_config_error(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(ConfigError, match=f"127.0.0.1:{port}") as info:
        make_checkpointer(
            f"postgresql://postgres@127.0.0.1:{port}/db", default_path=tmp_path, connect_timeout=1
        )
    assert "Fix:" in str(info.value)


def test_the_scale_out_example_config_is_valid() -> None:
    from lamina.agents.config_file import load_config

    root = Path(__file__).resolve().parents[2]
    config = load_config(root / "examples" / "scale_out" / "lamina.toml")
    routes = {r.name: r for r in config.build_routes()}
    assert routes["arithmetic"].model == "smollm2-remote"
    assert routes["arithmetic"].fallbacks == ("smollm2-135m-instruct",)
    assert routes["arithmetic"].utterances  # taken from the default route of that name
    assert all(m.is_remote for m in config.models)
    assert is_postgres_url(config.checkpointer)
    assert str(config.memory).startswith("http://")


def test_a_route_without_utterances_must_be_a_default_one() -> None:
    from lamina.agents.config_file import RouteConfig

    with pytest.raises(ConfigError, match="only lamina's default routes"):
        RouteConfig(name="billing", model="m").to_route()


def test_the_router_table_turns_on_affinity_and_the_llm_fallback(tmp_path: Path) -> None:
    from lamina import Agent
    from lamina.agents.config_file import load_config
    from lamina.config import get_settings
    from lamina.models.testing import FakeChatModel

    path = tmp_path / "lamina.toml"
    path.write_text('[router]\naffinity_margin = 0.1\nllm_fallback = "fake"\nband = 0.03\n')
    kwargs = load_config(path).build_agent_kwargs()
    assert kwargs["affinity_margin"] == 0.1
    assert kwargs["router_llm"] == "fake"
    assert kwargs["router_band"] == 0.03

    from lamina.errors import UnknownModelError
    from lamina.layers.router import Route

    route = Route(name="maths", model="fake", utterances=["what is 2 plus 2"])

    def agent(**router: Any) -> Agent:
        return Agent(
            chat_models={"fake": FakeChatModel(responses=[])},
            routes=[route],
            memory=False,
            step_cache=False,
            checkpointer=":memory:",
            settings=get_settings(home=tmp_path),
            **router,
        )

    assert agent(affinity_margin=0.1).context.router.affinity_margin == 0.1
    assert agent().context.router.llm_fallback is None  # off by default
    # the fallback scores choices from llama.cpp logits: a scripted model cannot serve it
    with pytest.raises(ConfigError, match="expected a LlamaChatModel"):
        agent(router_llm="fake", router_band=0.03)
    with pytest.raises(UnknownModelError):
        agent(router_llm="nope")
    path.write_text("[router]\nllm = 'fake'\n")
    with pytest.raises(ConfigError, match="llm"):
        load_config(path)
