"""What of a run may leave the server: a tool's own exception text never does.

An exception raised inside a tool says whatever the tool knew (a connection string, a path, a
token), and the run carries its text in several places: the tool call's `error`, the step's
"Last error: ..." answer, `RunResult.error` and its `tried`, and whatever the model copied from
it. The model needs the text inside the run (it may fix its arguments from it); a client of
`lamina serve` gets instead a sanitised line naming the tool, the exception's class and an error
id. The full text goes to the server log under that id (:func:`log_tool_errors`, at WARNING),
and the run's trace keeps it beside the id, so an operator finds it from the id a client
reports. (The execution layer made the id when the tool raised, and logged the traceback at
INFO: :func:`lamina.layers.execution.runner.tool_failure`.)

Errors lamina writes itself (invalid arguments, unknown tool, timeout) say what the caller or the
model got wrong and stay readable.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lamina.agents.result import RunResult

__all__ = ["MIN_REDACTED_CHARS", "log_tool_errors", "public_text", "redact", "redactions"]

logger = logging.getLogger(__name__)

MIN_REDACTED_CHARS = 6
"""An exception's bare message shorter than this is not searched for on its own (replacing
every "42" or "boom" in an answer would mangle it); its `Class: message` form always is."""

_CLASS_PREFIX = re.compile(r"^[A-Za-z_][\w.]*: ")


def public_text(tool: str, error: str, error_id: str) -> str:
    """The line a client sees in place of a tool's exception."""
    match = _CLASS_PREFIX.match(error)
    kind = match.group(0)[:-2].rsplit(".", 1)[-1] if match else "an error"
    return (
        f"{tool!r} raised {kind} (error id {error_id}); the details are in the server log "
        "under that id."
    )


def log_tool_errors(result: RunResult) -> None:
    """Log each tool exception of the run once, in full, under its error id."""
    logged: set[str] = set()
    for call in result.tool_calls:
        if call.error and call.error_id and call.error_id not in logged:
            logged.add(call.error_id)
            logger.warning(
                "tool %s raised (error id %s, thread %s): %s",
                call.name,
                call.error_id,
                result.thread_id,
                call.error,
            )


def redactions(result: RunResult) -> dict[str, str]:
    """Each tool exception text of the run (and its bare message) mapped to its public line."""
    table: dict[str, str] = {}
    for call in result.tool_calls:
        if not call.error or not call.error_id:
            continue
        public = public_text(call.name, call.error, call.error_id)
        table[call.error] = public
        match = _CLASS_PREFIX.match(call.error)
        bare = call.error[match.end() :] if match else ""
        if len(bare.strip()) >= MIN_REDACTED_CHARS:
            table.setdefault(bare, public)
    return table


def redact(value: Any, table: Mapping[str, str]) -> Any:
    """`value` (JSON-like: strings, lists, dicts) with every text of `table` replaced.

    One pass, longest text first: `ValueError: x` becomes one public line, not `ValueError: `
    and a public line, and no public line is searched again.
    """
    if not table:
        return value
    pattern = re.compile("|".join(re.escape(raw) for raw in sorted(table, key=len, reverse=True)))
    return _redact(value, pattern, table)


def _redact(value: Any, pattern: re.Pattern[str], table: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(lambda m: table[m.group(0)], value)
    if isinstance(value, list | tuple):
        return [_redact(item, pattern, table) for item in value]
    if isinstance(value, dict):
        return {key: _redact(item, pattern, table) for key, item in value.items()}
    return value
