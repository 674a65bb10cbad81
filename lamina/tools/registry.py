"""The tool registry: every tool an agent may call, by unique name.

It takes lamina tools (:func:`lamina.tools.decorator.tool`), LangChain `@tool` functions and any
other `BaseTool` unchanged; plain functions are converted with lamina's strict `@tool`. Two tools
with one name would leave the model's choice ambiguous, so a clash is a `ConfigError` naming where
both tools come from.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from langchain_core.tools import BaseTool

from lamina.errors import ConfigError
from lamina.tools.decorator import TOOL_NAME_PATTERN, tool, tool_source

__all__ = ["ToolLike", "ToolRegistry"]

ToolLike = BaseTool | Callable[..., Any]
"""What the registry accepts: a `BaseTool`, or a typed, documented function."""


class ToolRegistry:
    """Tools by name, in registration order.

    Args:
        tools: The tools to register (see :meth:`add`).

    Raises:
        ConfigError: Two tools share a name, or an entry is not a tool.

    Examples:
        >>> from lamina.tools.calculator import calculator
        >>> ToolRegistry([calculator]).names()
        ['calculator']
    """

    def __init__(self, tools: Iterable[ToolLike] = ()) -> None:
        self._tools: dict[str, BaseTool] = {}
        for t in tools:
            self.add(t)

    def add(self, item: ToolLike) -> BaseTool:
        """Register one tool.

        Args:
            item: A `BaseTool` (LangChain's `@tool`, lamina's `@tool`, a subclass), or a plain
                function, which is converted with lamina's strict `@tool`.

        Returns:
            The registered `BaseTool`.

        Raises:
            ConfigError: The name is taken or invalid, or `item` is not a tool or a function.
        """
        if isinstance(item, BaseTool):
            made = item
        elif inspect.isfunction(item):
            made = tool(item)
        else:
            raise ConfigError(
                f"Expected a tool (a BaseTool or a typed, documented function), found "
                f"{type(item).__name__} {item!r}. Fix: decorate it with lamina's @tool."
            )
        if not TOOL_NAME_PATTERN.match(made.name):
            raise ConfigError(
                f"Tool {made.name!r} from {tool_source(made)} has an invalid name; expected 1-64 "
                "letters, digits, '_' or '-', starting with a letter or '_'. Fix: rename it."
            )
        existing = self._tools.get(made.name)
        if existing is not None and existing is not made:
            raise ConfigError(
                f"Two tools are named {made.name!r}: one from {tool_source(existing)}, one from "
                f"{tool_source(made)}. Expected unique names (the model chooses tools by name). "
                "Fix: rename one, e.g. @tool(name='...')."
            )
        self._tools[made.name] = made
        return made

    def get(self, name: str) -> BaseTool:
        """The tool called `name`.

        Raises:
            ConfigError: No tool has that name (the message lists the known ones).
        """
        try:
            return self._tools[name]
        except KeyError:
            raise ConfigError(
                f"Unknown tool {name!r}; known: {', '.join(self._tools) or '(none)'}."
            ) from None

    def names(self) -> list[str]:
        """Tool names in registration order."""
        return list(self._tools)

    def as_dict(self) -> dict[str, BaseTool]:
        """A new dict of the tools by name (what `AgentContext.tools` takes)."""
        return dict(self._tools)

    def as_list(self) -> list[BaseTool]:
        """The tools in registration order."""
        return list(self._tools.values())

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[BaseTool]:
        return iter(list(self._tools.values()))

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"ToolRegistry({self.names()!r})"
