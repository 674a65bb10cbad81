"""lamina's `@tool`: LangChain's `@tool`, plus the checks a small model needs, at decoration time.

A small model sees a tool only through its name, its description and its argument schema. A
parameter without a type hint becomes an untyped blob the argument grammar cannot constrain, and a
parameter without a description leaves the model guessing, so both are refused when the function
is decorated (as smolagents does), not discovered mid-run:

    >>> from lamina.tools.decorator import tool
    >>> @tool
    ... def add(a: int, b: int) -> int:
    ...     '''Add two integers.
    ...
    ...     Args:
    ...         a: The first number.
    ...         b: The second number.
    ...     '''
    ...     return a + b
    >>> add.invoke({"a": 2, "b": 3})
    5

Parameter descriptions come from the docstring's Google-style `Args:` section, or from
`Annotated[type, "description"]`. The result is an ordinary LangChain `StructuredTool`, so it works
anywhere LangChain tools do.
"""

from __future__ import annotations

import inspect
import math
import re
import typing
from collections.abc import Callable
from typing import Any, overload

from langchain_core.tools import BaseTool
from langchain_core.tools import tool as langchain_tool
from pydantic import BaseModel

from lamina.errors import ConfigError

__all__ = ["TOOL_NAME_PATTERN", "tool", "tool_source", "tool_timeout"]

TOOL_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
"""Tool names: what chat-template tool formats and the choice grammar accept."""

ToolFunction = Callable[..., Any]

# LangChain injects these itself; they never reach the model's argument schema.
_INJECTED_NAMES = frozenset({"callbacks", "run_manager", "config"})


@overload
def tool(func: ToolFunction, /) -> BaseTool: ...


@overload
def tool(
    func_or_name: str | None = None,
    /,
    *,
    name: str | None = None,
    requires_approval: bool = False,
    timeout: float | None = None,
) -> Callable[[ToolFunction], BaseTool]: ...


def tool(
    func_or_name: ToolFunction | str | None = None,
    /,
    *,
    name: str | None = None,
    requires_approval: bool = False,
    timeout: float | None = None,
) -> BaseTool | Callable[[ToolFunction], BaseTool]:
    """Turn a typed, documented function into a LangChain tool, refusing incomplete ones.

    Use it bare (`@tool`) or with options (`@tool(name="lookup", timeout=5.0)`).

    Args:
        func_or_name: The function (bare use) or the tool's name (`@tool("lookup")`).
        name: The tool's name as the model sees it; defaults to the function's name.
        requires_approval: Marks a tool whose calls a human should approve; stored in
            `tool.metadata["requires_approval"]`.
        timeout: Seconds this tool may run before the execution layer gives up on it (overrides
            the layer's default); stored in `tool.metadata["timeout"]`.

    Returns:
        A `StructuredTool` (bare use), or a decorator that makes one.

    Raises:
        ConfigError: The function has no docstring, a parameter has no type hint or no
            description, the docstring's `Args:` section names a parameter the function does not
            have, or an option is invalid.
    """
    if callable(func_or_name):
        return _make_tool(func_or_name, name=name, requires_approval=False, timeout=None)
    if func_or_name is not None and name is not None:
        raise ConfigError(
            f"@tool got two names ({func_or_name!r} and name={name!r}); expected one. "
            "Fix: pass only name=..."
        )
    chosen = name if name is not None else func_or_name
    _check_options(chosen, timeout)

    def decorate(func: ToolFunction) -> BaseTool:
        return _make_tool(func, name=chosen, requires_approval=requires_approval, timeout=timeout)

    return decorate


def tool_timeout(t: BaseTool, default: float) -> float:
    """The timeout of tool `t`: its own (`@tool(timeout=...)`) or `default`."""
    value = (t.metadata or {}).get("timeout")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return default


def tool_source(t: BaseTool) -> str:
    """Where a tool was defined (`module.function` or `module.Class`), for error messages."""
    func = getattr(t, "func", None) or getattr(t, "coroutine", None)
    owner: Any = func if func is not None else type(t)
    module = getattr(owner, "__module__", "?")
    qualname = getattr(owner, "__qualname__", getattr(owner, "__name__", repr(owner)))
    return f"{module}.{qualname}"


def _check_options(name: str | None, timeout: float | None) -> None:
    if name is not None and not TOOL_NAME_PATTERN.match(name):
        raise ConfigError(
            f"Invalid tool name {name!r}; expected 1-64 characters of letters, digits, '_' or "
            "'-', starting with a letter or '_'. Fix: rename the tool, e.g. 'unit_convert'."
        )
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise ConfigError(
            f"Invalid tool timeout {timeout!r}; expected a positive number of seconds or None. "
            "Fix: @tool(timeout=10.0)."
        )


def _make_tool(
    func: ToolFunction, *, name: str | None, requires_approval: bool, timeout: float | None
) -> BaseTool:
    label = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    if label is None or not inspect.isfunction(inspect.unwrap(func)):
        raise ConfigError(
            f"@tool expected a function, found {type(func).__name__} {func!r}. "
            "Fix: decorate a `def` (or subclass langchain_core.tools.BaseTool)."
        )
    tool_name = name if name is not None else func.__name__
    _check_options(tool_name, timeout)
    doc = inspect.getdoc(func)
    if not doc or not doc.strip():
        raise ConfigError(
            f"Tool function {label!r} has no docstring; expected one saying what the tool does "
            "(the model reads it to decide when to call the tool). Fix: add a docstring with a "
            "summary line and an 'Args:' section describing each parameter."
        )
    _check_type_hints(func, label)

    has_args_section = re.search(r"^\s*Args:\s*$", doc, flags=re.MULTILINE) is not None
    try:
        made = langchain_tool(
            tool_name,
            parse_docstring=True,
            # Without an Args section the descriptions must come from Annotated[...]; LangChain
            # would call such a docstring invalid, so only insist on a well-formed one if present.
            error_on_invalid_docstring=has_args_section,
        )(func)
    except ValueError as exc:
        raise ConfigError(
            f"Tool function {label!r}: its docstring could not be read ({exc}). Expected a "
            "summary line, a blank line, then 'Args:' with one 'name: description' line per "
            "parameter of the function. Fix the docstring to match the signature."
        ) from exc

    _check_descriptions(made, label)
    made.metadata = {
        **(made.metadata or {}),
        "requires_approval": bool(requires_approval),
        "timeout": timeout,
        "lamina_tool": True,
    }
    return made


def _check_type_hints(func: ToolFunction, label: str) -> None:
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except (NameError, TypeError) as exc:
        raise ConfigError(
            f"Tool function {label!r}: its type hints cannot be resolved ({exc}). "
            "Fix: import every type the hints name at module level."
        ) from exc
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ConfigError(
                f"Tool function {label!r} takes *{param.name}/**{param.name}; expected named "
                "parameters only (the model fills a fixed argument schema). "
                "Fix: replace it with explicit, typed parameters."
            )
        if param.name not in hints:
            raise ConfigError(
                f"Tool function {label!r}: parameter {param.name!r} has no type hint; expected "
                "one on every parameter (it becomes the argument schema the model must follow). "
                f"Fix: e.g. `{param.name}: str`."
            )


def _check_descriptions(made: BaseTool, label: str) -> None:
    schema = made.tool_call_schema
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        return  # a JSON-schema dict was given explicitly; its author owns its descriptions
    for field_name, info in schema.model_fields.items():
        if field_name in _INJECTED_NAMES:
            continue
        if not (info.description and info.description.strip()):
            raise ConfigError(
                f"Tool function {label!r}: parameter {field_name!r} has no description; expected "
                "one for every parameter (the model reads it to fill the argument). Fix: add "
                f"'{field_name}: <what it is>' under 'Args:' in the docstring, or annotate it as "
                f'Annotated[<type>, "<what it is>"].'
            )
