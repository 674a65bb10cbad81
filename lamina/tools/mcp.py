"""Tools from MCP servers (the Model Context Protocol), as LangChain tools lamina's agent calls.

``Agent(tools=mcp_tools("python my_server.py"))`` starts the server over stdio and lists its
tools; ``mcp_tools("http://127.0.0.1:8000/mcp")`` talks to a running server over streamable
HTTP; ``[[mcp]]`` tables in lamina.toml do the same (:func:`mcp_tools_from_config`). The tools
come from `langchain-mcp-adapters` (install ``lamina[mcp]``); each call opens its own session
(a stdio server is started for the call), so a tool holds no connection between runs.

An MCP tool's input schema is its JSON schema as-is: the model writes its arguments under the
grammar built from it (enums, bounds, patterns), like any other tool's, and they are validated
against it before the call. Results become text (lamina's models read text); an MCP error
result is raised as :class:`~lamina.errors.ToolError`, so the execution layer hands it back to
the model like any failing tool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool

from lamina.errors import ConfigError, ToolError

__all__ = ["mcp_connection", "mcp_tools", "mcp_tools_from_config"]


def mcp_connection(
    server: str | Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The `langchain-mcp-adapters` connection for `server`.

    Args:
        server: an ``http(s)://`` URL of a streamable-HTTP server, or the command that starts a
            stdio server (a string split like a shell would, or a list of arguments).
        env: environment variables of a stdio server (None: the adapters' default).
        cwd: working directory of a stdio server.
        headers: HTTP headers of a streamable-HTTP server.

    Raises:
        ConfigError: an empty command, or HTTP options for a stdio server (or the reverse).
    """
    if isinstance(server, str) and server.startswith(("http://", "https://")):
        if env is not None or cwd is not None:
            raise ConfigError(
                f"MCP server {server!r} is a URL, which takes no env or cwd (those are for a "
                "command). Fix: drop them, or give the command that starts the server."
            )
        connection: dict[str, Any] = {"transport": "streamable_http", "url": server}
        if headers:
            connection["headers"] = dict(headers)
        return connection
    argv = shlex.split(server) if isinstance(server, str) else [str(a) for a in server]
    if not argv:
        raise ConfigError(
            "Expected an MCP server command (e.g. 'python my_server.py') or an http(s) URL, "
            f"found {server!r}."
        )
    if headers:
        raise ConfigError(
            f"MCP server {argv[0]!r} is a command, which takes no headers (those are for a URL)."
            " Fix: drop them."
        )
    connection = {"transport": "stdio", "command": argv[0], "args": argv[1:]}
    if env is not None:
        connection["env"] = dict(env)
    if cwd is not None:
        connection["cwd"] = cwd
    return connection


def mcp_tools(
    server: str | Sequence[str],
    *,
    name: str = "mcp",
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    headers: Mapping[str, str] | None = None,
    prefix: bool = False,
    include: Sequence[str] | None = None,
) -> list[BaseTool]:
    """The tools of one MCP server, ready for ``Agent(tools=...)`` or ``bind_tools``.

    Args:
        server: a command that starts a stdio server (``"python my_server.py"``) or the URL of
            a streamable-HTTP server (``"http://127.0.0.1:8000/mcp"``).
        name: the server's name (the prefix with `prefix`, and in messages).
        env: environment of a stdio server.
        cwd: working directory of a stdio server.
        headers: HTTP headers of a streamable-HTTP server.
        prefix: name the tools ``<name>_<tool>`` (for two servers with a tool of one name).
        include: keep only these tools (by their MCP name).

    Raises:
        ConfigError: the adapters are not installed, the server cannot be started or reached,
            or `include` names a tool the server does not have.
    """
    try:
        from langchain_mcp_adapters.tools import load_mcp_tools
    except ImportError as exc:
        raise ConfigError(
            f"MCP tools need langchain-mcp-adapters, which is not installed ({exc}). Fix: "
            "pip install 'lamina[mcp]'."
        ) from exc
    connection = mcp_connection(server, env=env, cwd=cwd, headers=headers)
    where = connection.get("url") or " ".join([connection["command"], *connection["args"]])

    async def load() -> list[BaseTool]:
        return await load_mcp_tools(
            None,
            connection=connection,  # type: ignore[arg-type]
            server_name=name,
            tool_name_prefix=prefix,
            handle_tool_errors=False,
        )

    try:
        loaded = _run(load())
    except Exception as exc:  # the SDK raises whatever the transport raised
        raise ConfigError(
            f"Could not list the tools of MCP server {name!r} ({where}): "
            f"{_innermost(exc)}. Fix: check the command runs (or the URL answers) on its own."
        ) from exc
    if include is not None:
        known = {t.name for t in loaded}
        missing = [n for n in include if (f"{name}_{n}" if prefix else n) not in known]
        if missing:
            raise ConfigError(
                f"MCP server {name!r} has no tools {missing}; known: {sorted(known)}. "
                "Fix: correct `include`."
            )
        wanted = {f"{name}_{n}" if prefix else n for n in include}
        loaded = [t for t in loaded if t.name in wanted]
    return [_text_tool(t, name) for t in loaded]


def mcp_tools_from_config(tables: Sequence[Mapping[str, Any]]) -> list[BaseTool]:
    """The tools of the ``[[mcp]]`` tables of lamina.toml.

    Each table has ``command`` (a string or a list) or ``url``, and optionally ``name``, ``env``,
    ``cwd``, ``headers``, ``prefix`` and ``include``.

    Raises:
        ConfigError: a table with neither or both of command and url, or an unknown key.
    """
    allowed = {"name", "command", "url", "env", "cwd", "headers", "prefix", "include"}
    tools: list[BaseTool] = []
    for i, table in enumerate(tables):
        unknown = set(table) - allowed
        if unknown:
            raise ConfigError(
                f"Unknown keys {sorted(unknown)} in [[mcp]] table {i + 1}; known: "
                f"{sorted(allowed)}."
            )
        if ("command" in table) == ("url" in table):
            raise ConfigError(
                f"Expected exactly one of `command` or `url` in [[mcp]] table {i + 1}, found "
                f"{sorted(k for k in ('command', 'url') if k in table) or 'neither'}. Fix: e.g. "
                "command = 'python my_server.py' or url = 'http://127.0.0.1:8000/mcp'."
            )
        tools.extend(
            mcp_tools(
                table.get("command") or table["url"],
                name=str(table.get("name", f"mcp{i + 1}")),
                env=table.get("env"),
                cwd=table.get("cwd"),
                headers=table.get("headers"),
                prefix=bool(table.get("prefix", False)),
                include=table.get("include"),
            )
        )
    return tools


def _text_tool(loaded: BaseTool, server: str) -> BaseTool:
    """`loaded` with its result as text and an MCP error result raised as ToolError."""
    from langchain_core.tools import ToolException

    if not isinstance(loaded, StructuredTool) or loaded.coroutine is None:
        return loaded
    call = loaded.coroutine

    async def run(**kwargs: Any) -> str:
        try:
            content, _artifact = await call(**kwargs)
        except ToolException as exc:  # the adapters' error for an MCP result with isError
            content = getattr(exc, "tool_content", None)
            detail = _text(content) if content is not None else str(exc)
            raise ToolError(
                f"MCP tool {loaded.name!r} of server {server!r} failed: {detail}"
            ) from None
        return _text(content)

    def run_sync(**kwargs: Any) -> str:  # `.invoke` works too, not only `.ainvoke`
        result: str = _run(run(**kwargs))
        return result

    return StructuredTool(
        name=loaded.name,
        description=loaded.description,
        args_schema=loaded.args_schema,
        func=run_sync,
        coroutine=run,
        metadata={**(loaded.metadata or {}), "mcp_server": server},
    )


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content if isinstance(content, list) else [content]:
        if isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif isinstance(block, dict):
            parts.append(f"[{block.get('type')} {block.get('mime_type') or ''}]".replace(" ]", "]"))
        else:
            parts.append(str(block))
    return "\n".join(parts)


def _run(coro: Any) -> Any:
    """Run `coro` to the end from sync code, also when this thread already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _innermost(exc: BaseException) -> str:
    """The first leaf of an exception group (anyio wraps the transport's error)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"
