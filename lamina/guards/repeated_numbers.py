"""A call that uses one of the step's numbers twice while another goes unused
(:func:`repeated_while_unused`): "15 + 15" for "Compute 84 plus 15"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lamina.guards.numbers import canonical, grounded_numbers, written_numbers

__all__ = ["repeated_while_unused"]


def repeated_while_unused(args: Mapping[str, Any], step: str) -> str | None:
    """A call that uses one of the step's numbers twice while another goes unused, as a
    finding ("15 + 15" for "Compute 84 plus 15"), or None.

    Grounding lets each given number occur any number of times; a small model steered away
    from its first choice sometimes repeats the number it just wrote. Sent back, the call is
    decoded again with the failure in view (the identical call is never resent).
    """
    wanted = {canonical(v) for v in grounded_numbers([step])[0]}
    if len(wanted) < 2:
        return None
    used: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, int | float):
            used.append(canonical(float(value)))
        elif isinstance(value, str):
            used.extend(canonical(v) for _, v in written_numbers(value))
        elif isinstance(value, Mapping):
            for item in value.values():
                visit(item)
        elif isinstance(value, list | tuple):
            for item in value:
                visit(item)

    visit(dict(args))
    twice = sorted({u for u in used if used.count(u) > 1 and u in wanted})
    unused = sorted(wanted - set(used))
    if twice and unused:
        return (
            f"{', '.join(twice)} is used twice while {', '.join(unused)} from the step is not "
            "used at all"
        )
    return None
