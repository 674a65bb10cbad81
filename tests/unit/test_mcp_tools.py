"""MCP tools (`lamina.tools.mcp`) against a real MCP server written with the `mcp` SDK.

The server (`tests/mcp_servers/arith_server.py`) runs as a child process over stdio and over
streamable HTTP on a free loopback port. No model is needed: the tools are listed, bound (their
schemas become grammars) and called.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lamina.agents.config_file import AgentConfig
from lamina.errors import ConfigError, ToolError
from lamina.models.grammar import json_schema_grammar
from lamina.models.tool_calls import bound_tools
from lamina.tools.mcp import mcp_connection, mcp_tools, mcp_tools_from_config
from lamina.tools.registry import ToolRegistry

SERVER = Path(__file__).resolve().parents[1] / "mcp_servers" / "arith_server.py"
COMMAND = [sys.executable, str(SERVER)]


@pytest.fixture(scope="module")
def stdio_tools():
    return mcp_tools(COMMAND, name="arith")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [*COMMAND, "http", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"MCP server did not start: {proc.stderr.read()[:500]!r}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_stdio_server_tools_are_listed_and_called(stdio_tools):
    by_name = {t.name: t for t in stdio_tools}
    assert set(by_name) == {"add_numbers", "paint", "always_fails"}
    assert by_name["add_numbers"].description == "Add two numbers and return their sum."
    assert ToolRegistry(stdio_tools).names() == ["add_numbers", "paint", "always_fails"]
    # results come back as text, as lamina's models read them (an async tool, run to the end)
    import asyncio

    assert asyncio.run(by_name["add_numbers"].ainvoke({"a": 12, "b": 30})) == "42"
    assert by_name["add_numbers"].invoke({"a": 12, "b": 30}) == "42"  # sync callers too


def test_an_mcp_error_result_is_a_tool_error(stdio_tools):
    import asyncio

    failing = next(t for t in stdio_tools if t.name == "always_fails")
    with pytest.raises(ToolError, match="refused: no reason"):
        asyncio.run(failing.ainvoke({"reason": "no reason"}))


def test_mcp_schemas_go_through_the_grammar_path(stdio_tools):
    paint = next(t for t in bound_tools(stdio_tools) if t["function"]["name"] == "paint")
    parameters = paint["function"]["parameters"]
    assert parameters["properties"]["color"]["enum"] == ["red", "green", "blue"]
    grammar = json_schema_grammar(parameters)
    assert '"\\"red\\""' in grammar  # the enum is in the grammar
    coats = next(line for line in grammar.splitlines() if line.startswith("coats"))
    assert "[1-3]" in coats  # so are the bounds (gt=0, lt=4)


def test_include_keeps_the_named_tools():
    import asyncio

    tools = mcp_tools(COMMAND, include=["add_numbers"])
    assert [t.name for t in tools] == ["add_numbers"]
    assert asyncio.run(tools[0].ainvoke({"a": 2, "b": 2.5})) == "4.5"


def test_streamable_http_server_tools_are_listed_and_called(http_url):
    import asyncio

    tools = mcp_tools(http_url, name="arith", prefix=True)
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {"arith_add_numbers", "arith_paint", "arith_always_fails"}
    assert asyncio.run(by_name["arith_paint"].ainvoke({"color": "red", "coats": 2})) == (
        "painted red x2"
    )


def test_mcp_tables_in_lamina_toml_become_tools():
    config = AgentConfig.model_validate(
        {"mcp": [{"name": "arith", "command": COMMAND, "include": ["paint"]}]}
    )
    tools = config.build_agent_kwargs()["tools"]
    assert [t.name for t in tools] == ["paint"]


def test_bad_servers_and_tables_are_config_errors():
    with pytest.raises(ConfigError, match="Could not list the tools of MCP server 'broken'"):
        mcp_tools([sys.executable, "-c", "raise SystemExit(3)"], name="broken")
    with pytest.raises(ConfigError, match="exactly one of `command` or `url`"):
        mcp_tools_from_config([{"name": "x"}])
    with pytest.raises(ConfigError, match="Unknown keys"):
        mcp_tools_from_config([{"command": "x", "comand": "y"}])
    with pytest.raises(ConfigError, match="no tools"):
        mcp_tools(COMMAND, include=["nope"])
    with pytest.raises(ConfigError, match="takes no headers"):
        mcp_connection("python s.py", headers={"a": "b"})
    assert mcp_connection("python s.py --x 'a b'") == {
        "transport": "stdio",
        "command": "python",
        "args": ["s.py", "--x", "a b"],
    }
