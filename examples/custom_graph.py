"""Add a node of your own to lamina's five-layer graph.

The builder returns an uncompiled LangGraph `StateGraph`; here a node that flags answers which
mention a number is inserted between `respond` and `remember`.

Run: .venv/bin/python examples/custom_graph.py
"""

from __future__ import annotations

import re
import time
from typing import Any

from lamina import Agent
from lamina.core.state import AgentState
from lamina.graph import build_agent_graph, insert_after


def number_check(state: AgentState) -> dict[str, Any]:
    """Record whether the answer contains a number (a user-defined layer)."""
    start = time.perf_counter()
    has_number = bool(re.search(r"\d", state.get("answer", "")))
    event = {
        "layer": "number_check",
        "seconds": time.perf_counter() - start,
        "data": {"has_number": has_number},
    }
    return {"trace": [event]}


def build_graph():  # type: ignore[no-untyped-def]
    graph = build_agent_graph(max_steps=4)
    return insert_after(graph, "respond", "number_check", number_check)


def main() -> None:
    with Agent(graph=build_graph(), memory=False) as agent:
        result = agent.run("What is 6 times 7?")
        print("answer:", result.answer)
        check = next(e for e in result.trace if e["layer"] == "number_check")
        print("number_check:", check["data"])
        print(agent.graph.get_graph().draw_mermaid())
        assert result.ok, result.error
        assert "42" in result.answer, f"expected 42, got {result.answer!r}"
        assert check["data"]["has_number"] is True


if __name__ == "__main__":
    main()
