"""The reasoning node's update for a request answered in one step, without a model: a summary
(:mod:`~lamina.layers.reasoning.summarise`), an identifier (:mod:`~lamina.layers.reasoning.
identifiers`) or a quote (:mod:`~lamina.layers.reasoning.quotes`)."""

from __future__ import annotations

import time
from typing import Any

from lamina.layers.reasoning.plan import PlanStep

__all__ = ["answered_in_one_step"]


def answered_in_one_step(
    task: str, answer: str, start: float, kind: str, record: dict[str, Any]
) -> dict[str, Any]:
    """The update whose plan is the request as one step, answered with `answer`; `record` (how
    it was made) is kept under `kind` ("summary", "extracted", "quote") in the step result and
    the trace event, whose time runs from `start`."""
    step = PlanStep(index=0, instruction=task, needs_tool=False)
    result = {
        "index": 0,
        "instruction": task,
        "result": answer,
        "model": None,
        "cached": False,
        "tool_calls": [],
        kind: record,
    }
    data = {"plan": [step.to_dict()], "steps": [], kind: record}
    return {
        "plan": [step.to_dict()],
        "step_index": 1,
        "step_results": [result],
        "answer": answer,
        "trace": [{"layer": "reasoning", "seconds": time.perf_counter() - start, "data": data}],
    }
