"""The `loop_retry` guard: JSON that loops until max_tokens is decoded once more with a repeat
penalty, unless the chat model's `retry_loops` (an agent's `Guards.loop_retry`) is off.

Driven by the scripted llama.cpp stand-in of test_tool_calls (no model files).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from lamina import Agent
from lamina.config import Guards, get_settings
from lamina.errors import ModelOutputError
from lamina.models.catalog import ModelSpec
from lamina.models.pool import ModelPool
from tests.unit.test_tool_calls import LOOP, QUESTION, ScriptedLlama, chat, route

FIXED = '{"start": "SF", "stops": ["Santa Barbara", "Monterey"]}'
SCHEMA = {
    "type": "object",
    "properties": {"start": {"type": "string"}, "stops": {"type": "array"}},
}


@pytest.mark.parametrize("retry_loops", [True, False])
def test_looping_arguments_are_retried_only_when_the_model_says_so(retry_loops: bool) -> None:
    model, llama = chat([" route", (LOOP, "length"), FIXED])
    bound = model.model_copy(update={"retry_loops": retry_loops}).bind_tools([route])
    if retry_loops:
        reply = bound.invoke(QUESTION)
        assert reply.tool_calls[0]["args"]["stops"] == ["Santa Barbara", "Monterey"]
        assert [o["repeat_penalty"] for o in llama.options[1:]] == [1.0, 1.3]
    else:
        with pytest.raises(ModelOutputError, match="cut off by max_tokens"):
            bound.invoke(QUESTION)
        assert len(llama.prompts) == 2  # the choice and one decode of the arguments
        assert llama.script == [FIXED]  # the retry's answer was never asked for


@pytest.mark.parametrize("retry_loops", [True, False])
def test_looping_structured_output_is_retried_only_when_the_model_says_so(
    retry_loops: bool,
) -> None:
    model, llama = chat([(LOOP, "length"), FIXED])
    structured = model.model_copy(update={"retry_loops": retry_loops}).with_structured_output(
        SCHEMA
    )
    if retry_loops:
        assert structured.invoke(QUESTION)["stops"] == ["Santa Barbara", "Monterey"]
        assert len(llama.prompts) == 2
    else:
        with pytest.raises(ModelOutputError, match="cut off by max_tokens"):
            structured.invoke(QUESTION)
        assert len(llama.prompts) == 1


def test_a_chat_model_retries_loops_by_default() -> None:
    model, _ = chat([])
    assert model.retry_loops is True
    assert model._identifying_params["retry_loops"] is True


def scripted_pool(script: list[str | tuple[str, str]]) -> tuple[ModelPool, ScriptedLlama]:
    llama = ScriptedLlama(script)
    pool = ModelPool(get_settings(), loader=lambda spec, path, settings: llama)
    pool.register(ModelSpec(name="scripted", path=Path("/nowhere/scripted.gguf")))
    return pool, llama


LEAN: dict[str, Any] = {
    "routes": [],
    "memory": False,
    "step_cache": False,
    "checkpointer": ":memory:",
    "tool_relevance": False,
}
"""An agent with nothing but its pool's models: no router, memory, cache or encoder."""


def agent_over(pool: ModelPool, **options: Any) -> Agent:
    return Agent(models=[pool.spec("scripted")], pool=pool, **LEAN, **options)


@pytest.mark.parametrize(
    ("guards", "retried"),
    [(None, True), (Guards(), True), (Guards(loop_retry=False), False), (Guards.off(), False)],
)
def test_the_agents_guards_reach_the_chat_models_of_its_pool(
    guards: Guards | None, retried: bool
) -> None:
    pool, llama = scripted_pool([" route", (LOOP, "length"), FIXED])
    with agent_over(pool, guards=guards) as agent:
        model = agent.context.models.chat_model("scripted")
        assert model.retry_loops is retried  # type: ignore[attr-defined]
        bound = model.bind_tools([route])  # type: ignore[attr-defined]
        if retried:
            assert bound.invoke(QUESTION).tool_calls[0]["args"]["stops"][-1] == "Monterey"
        else:
            with pytest.raises(ModelOutputError, match="cut off by max_tokens"):
                bound.invoke(QUESTION)
            assert len(llama.prompts) == 2


def test_loop_retry_is_switched_off_from_lamina_toml(tmp_path: Path) -> None:
    path = tmp_path / "lamina.toml"
    path.write_text("[guards]\nloop_retry = false\n", encoding="utf-8")
    pool, _ = scripted_pool([])
    with Agent.from_config(path, models=[pool.spec("scripted")], pool=pool, **LEAN) as agent:
        assert agent.options.guards == Guards(loop_retry=False)
        model = agent.context.models.chat_model("scripted")
        assert model.retry_loops is False  # type: ignore[attr-defined]


def test_model_settings_cannot_switch_the_retry_back_on_when_the_guard_is_off() -> None:
    pool, _ = scripted_pool([])
    with agent_over(pool, guards=Guards.off(), model_settings={"retry_loops": True}) as agent:
        assert agent.context.models.chat_model("scripted").retry_loops is False  # type: ignore[attr-defined]


def test_the_readmes_guards_table_names_every_guard() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "[guards]" in b]
    assert len(blocks) == 1, "README.md needs one toml example with a [guards] table"
    table = tomllib.loads(blocks[0])["guards"]
    assert sorted(table) == sorted(Guards.model_fields)  # every guard, none unknown
    assert Guards(**table) == Guards()  # each shown at its default
