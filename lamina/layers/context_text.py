"""Text blocks that several layers put into a model's prompt (one rendering, used everywhere)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["render_memories", "render_step_results"]


def render_memories(memories: Sequence[Mapping[str, Any]]) -> str:
    """Retrieved memories as dated lines, or "" when there are none.

    Each memory is a dict with at least `text`; `created_at` (ISO date-time) is shown when present.
    """
    if not memories:
        return ""
    lines = ["What you remember about this user:"]
    for m in memories:
        date = str(m.get("created_at", ""))[:10]
        lines.append(f"- ({date}) {m['text']}" if date else f"- {m['text']}")
    return "\n".join(lines)


def render_step_results(results: Sequence[Mapping[str, Any]]) -> str:
    """Results of earlier plan steps, so the next step can use them; "" when there are none."""
    if not results:
        return ""
    lines = ["Results so far:"]
    for r in results:
        lines.append(f"- Step {int(r['index']) + 1} ({r['instruction']}): {r['result']}")
    return "\n".join(lines)
