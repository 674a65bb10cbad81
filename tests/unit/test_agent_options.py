"""`AgentOptions`: every node option reachable from `Agent` and `lamina.toml`, clear errors for
a wrong one, and the README's table of them in step with the class."""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lamina.agents.config_file import load_config
from lamina.config import AgentOptions, Guards, Settings, expected_type
from lamina.errors import ConfigError
from lamina.models.testing import FakeChatModel

README = Path(__file__).resolve().parents[2] / "README.md"

# node -> (module, factory); each layer's node.py exports its factory
FACTORIES = {
    "input": ("lamina.layers.input.node", "make_input_node"),
    "router": ("lamina.layers.router.node", "make_router_node"),
    "memory": ("lamina.layers.memory.node", "make_memory_node"),
    "reasoning": ("lamina.layers.reasoning.node", "make_reasoning_node"),
    "execution": ("lamina.layers.execution.node", "make_execution_node"),
    "remember": ("lamina.layers.memory.node", "make_memory_writeback_node"),
}

# where lamina's graph deliberately differs from a factory's own default
GRAPH_DEFAULTS = {
    # one Reasoning Cache attempt: refinement made the 135M/270M default models worse
    "rc_iterations": 1,
}

# a value different from the default for every option, as Python and as TOML
CHANGED: dict[str, tuple[Any, str]] = {
    "max_input_chars": (1000, "1000"),
    "memory_k": (5, "5"),
    "memory_min_score": (0.5, "0.5"),
    "memory_recency_weight": (0.2, "0.2"),
    "memory_half_life_days": (7.0, "7.0"),
    "memory_kinds": (("fact",), '["fact"]'),
    "memory_episodes": (True, "true"),
    "max_steps": (3, "3"),
    "max_plan_steps": (3, "3"),
    "rc_iterations": (2, "2"),
    "summariser_model": ("fake", '"fake"'),
    "prompts": (None, '"reasoning"'),  # filled in below (a PromptSet)
    "verifiers": ((), "[]"),
    "trust_model_answers": (True, "true"),
    "max_tool_calls": (2, "2"),
    "max_tool_calls_per_plan_step": (2, "2"),
    "max_retries": (1, "1"),
    "tool_timeout": (5.0, "5.0"),
    "max_output_chars": (500, "500"),
    "parallel_tool_calls": (True, "true"),
    "concurrent_tool_calls": (False, "false"),
    "guards": (Guards(grounding=False), "{ grounding = false }"),
}


def factory(node: str) -> Callable[..., Any]:
    module, name = FACTORIES[node]
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def changed_options() -> dict[str, Any]:
    from lamina.layers.reasoning.planning import load_prompts

    values = {name: value for name, (value, _) in CHANGED.items()}
    values["prompts"] = load_prompts("reasoning")
    return values


def test_agent_options_cover_every_parameter_of_every_node_factory() -> None:
    assert set(AgentOptions.NODE_PARAMS) == set(FACTORIES)
    for node, params in AgentOptions.NODE_PARAMS.items():
        signature = inspect.signature(factory(node)).parameters
        assert sorted(params.values()) == sorted(signature), node
        for option, param in params.items():
            default = GRAPH_DEFAULTS.get(option, signature[param].default)
            assert AgentOptions.model_fields[option].default == default, option
    mapped = [o for params in AgentOptions.NODE_PARAMS.values() for o in params]
    shared = {o for o in mapped if mapped.count(o) > 1}
    assert shared == {"guards"}  # the guards live in reasoning and execution; the rest in one
    assert sorted(set(mapped)) == sorted(AgentOptions.model_fields)
    assert set(CHANGED) == set(AgentOptions.model_fields)


def spy_on_factories(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """Record the keyword arguments each node factory is built with."""
    seen: dict[str, dict[str, Any]] = {}
    for node, (module_name, name) in FACTORIES.items():
        original = factory(node)

        def spy(*args: Any, _node: str = node, _original: Any = original, **kwargs: Any) -> Any:
            seen[_node] = dict(inspect.signature(_original).bind(*args, **kwargs).arguments)
            return _original(*args, **kwargs)

        for module in {module_name, module_name.rsplit(".", 1)[0]}:
            mod = importlib.import_module(module)
            if getattr(mod, name, None) is original:
                monkeypatch.setattr(mod, name, spy)
    return seen


def make_agent(**options: Any) -> Any:
    from lamina import Agent

    return Agent(
        chat_models={"fake": FakeChatModel(responses=[])},
        routes=[],
        memory=False,
        step_cache=False,
        checkpointer=":memory:",
        **options,
    )


def assert_every_option_reached(seen: dict[str, dict[str, Any]], values: dict[str, Any]) -> None:
    for node, params in AgentOptions.NODE_PARAMS.items():
        for option, param in params.items():
            got = seen[node].get(param)
            expected = values[option]
            assert (tuple(got) if isinstance(got, list) else got) == expected, option


def test_every_node_option_is_reachable_from_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = spy_on_factories(monkeypatch)
    values = changed_options()
    with make_agent(**values) as agent:
        assert agent.options == AgentOptions(**values)
    assert_every_option_reached(seen, values)


def test_every_node_option_is_reachable_from_lamina_toml(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "lamina.toml"
    path.write_text("".join(f"{k} = {toml}\n" for k, (_, toml) in CHANGED.items()))
    kwargs = load_config(path).build_agent_kwargs()
    seen = spy_on_factories(monkeypatch)
    for key in ("memory", "models", "routes", "tools"):
        kwargs.pop(key, None)
    with make_agent(**kwargs):
        pass
    assert_every_option_reached(seen, changed_options())


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"max_plan_step": 3}, r"Unknown option 'max_plan_step'.*rename it to 'max_plan_steps'"),
        ({"banana": 1}, r"expected one of: .*concurrent_tool_calls.*Fix"),
        ({"max_plan_steps": "5"}, r"'max_plan_steps'.*int >= 2.*found '5' \(str\).*Fix"),
        ({"max_plan_steps": 1}, r"int >= 2.*found 1 \(int\)"),
        ({"parallel_tool_calls": 1}, r"bool \| None.*found 1 \(int\)"),
        ({"verifiers": [object()]}, r"'verifiers'"),
        ({"memory_recency_weight": 2.0}, r"float in \[0.0, 1.0\].*found 2.0"),
    ],
)
def test_a_wrong_option_is_a_clear_config_error(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make_agent(**options)


def test_a_wrong_key_in_lamina_toml_is_a_clear_config_error(tmp_path: Path) -> None:
    path = tmp_path / "lamina.toml"
    for text, match in [
        ("max_plan_step = 3\n", r"Unknown key 'max_plan_step'.*rename it to 'max_plan_steps'"),
        ("max_plan_steps = 'five'\n", r"'max_plan_steps'.*int >= 2.*found 'five'"),
        ('verifiers = ["arithmatic"]\n', r"Unknown verifier 'arithmatic'.*'arithmetic'"),
        ("n_thread = 2\n", r"rename it to 'n_threads'"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=match):
            load_config(path)


def test_every_settings_field_is_a_settings_key_of_lamina_toml(tmp_path: Path) -> None:
    path = tmp_path / "lamina.toml"
    path.write_text('kv_cache = "off"\nallow_amx = true\nseed = 3\n')
    assert load_config(path).settings == {"kv_cache": "off", "allow_amx": True, "seed": 3}
    from lamina.agents.config_file import AgentConfig

    agent_keys = set(AgentConfig.model_fields) - {"settings", "options"}
    settings, options = set(Settings.model_fields), set(AgentOptions.model_fields)
    assert not (settings & options)
    assert not (settings & agent_keys)
    assert not (options & agent_keys)


# -- the README's table ----------------------------------------------------------------------
def options_table() -> str:
    """The README's table of agent options, as AgentOptions defines them."""
    where: dict[str, str] = {}
    for node, params in AgentOptions.NODE_PARAMS.items():
        for o in params:
            where[o] = f"{where[o]}, {node}" if o in where else node
    rows = [
        "| option | type | default | node | what it does |",
        "|---|---|---|---|---|",
    ]
    for name, field in AgentOptions.model_fields.items():
        kind = expected_type(field).replace("|", "\\|")
        rows.append(
            f"| `{name}` | {kind} | `{field.default!r}` | {where[name]} | {field.description} |"
        )
    return "\n".join(rows) + "\n"


def test_the_readme_table_matches_agent_options() -> None:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- agent-options:start -->\n(.*?)<!-- agent-options:end -->", text, re.S)
    assert found, "README.md needs the agent options table between agent-options markers."
    assert found.group(1) == options_table(), (
        "README.md's agent options table is out of date. Fix: replace it with:\n" + options_table()
    )
