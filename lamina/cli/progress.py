"""Signs of life for CLI commands that can take seconds (loading the encoder or a model).

A spinner on stderr when stderr is a terminal; nothing with `--json` or when output is piped,
so scripts read exactly what they read before.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["working"]


def working(
    message: str, *, as_json: bool, console: Console | None = None
) -> AbstractContextManager[object]:
    """A spinner saying `message` while the block runs (plain text: `[...]` is not markup).

    Args:
        message: what is going on ("loading the encoder and storing 2 memories").
        as_json: the command prints JSON: no spinner.
        console: where to draw it (default: stderr).
    """
    if as_json:
        return nullcontext()
    from rich.console import Console
    from rich.text import Text

    out = console or Console(stderr=True)
    if not out.is_terminal:
        return nullcontext()
    return out.status(Text(message))
