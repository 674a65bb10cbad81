"""How a CLI command reports lamina's errors: one line on stderr (and a JSON error object with
`--json`), exit code 1, never a traceback."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

__all__ = ["reporting_errors"]


@contextmanager
def reporting_errors(as_json: bool) -> Iterator[None]:
    """lamina's errors inside the block become one line on stderr (and a JSON error object) and
    exit code 1."""
    from lamina.errors import LaminaError

    try:
        yield
    except LaminaError as exc:
        from rich.console import Console
        from rich.text import Text

        if as_json:
            error = {"type": type(exc).__name__, "message": str(exc)}
            sys.stdout.write(json.dumps({"error": error}, ensure_ascii=False) + "\n")
        # Text, not markup: messages quote user text, which may hold `[...]` or `\[`.
        Console(stderr=True).print(Text.assemble(("error: ", "red"), str(exc)), soft_wrap=True)
        raise typer.Exit(1) from None
