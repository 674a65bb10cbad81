"""`Agent(tools=mcp_tools("python server.py"))`: the agent calls a real MCP server's tool (stdio)
with the real SmolLM2-135M, the arguments written under the grammar of the MCP schema."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from lamina import Agent
from lamina.config import get_settings
from lamina.stores.memory import MemoryStore
from lamina.tools.mcp import mcp_tools

SERVER = Path(__file__).resolve().parents[1] / "mcp_servers" / "arith_server.py"


@pytest.fixture(scope="module")
def agent(pool, encoder, tmp_path_factory):
    home = tmp_path_factory.mktemp("mcp_agent")
    a = Agent(
        pool=pool,
        settings=get_settings(home=home, seed=0),
        memory=MemoryStore(home / "memory", encoder=encoder),
        checkpointer=":memory:",
        tools=mcp_tools([sys.executable, str(SERVER)], name="arith", include=["add_numbers"]),
        model_settings={"max_tokens": 96},
    )
    yield a
    a.context.memory.close()


def test_the_agent_calls_the_mcp_tool_and_answers_with_its_result(agent):
    result = agent.run("Add 12 and 30.")
    calls = [c for c in result.tool_calls if c.name == "add_numbers"]
    assert calls, result.to_dict()
    assert {float(v) for v in calls[0].arguments.values()} == {12.0, 30.0}
    assert calls[0].result == "42"
    assert "42" in re.findall(r"\d+", result.answer or "")
