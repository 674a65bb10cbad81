"""The plan as data: its steps (:class:`PlanStep`), the outcome of planning (:class:`PlanOutcome`)
and the JSON schema a model writes a plan in (:class:`Plan`, :func:`plan_schema`)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from lamina.core.records import written_call
from lamina.errors import ConfigError

__all__ = ["Plan", "PlanOutcome", "PlanSource", "PlanStep", "PlanStepModel", "plan_schema"]

PlanSource = Literal[
    "single",
    "list",
    "model",
    "fallback",
    "reference",
    "conversion",
    "combination",
    "choice",
    "stock",
    "basket",
    "threshold",
    "percent",
    "clauses",
]


@dataclass(frozen=True)
class PlanStep:
    """One step of a plan, as it goes into graph state (`to_dict`)."""

    index: int
    instruction: str
    needs_tool: bool
    # step-level routing (lamina.layers.escalation.step_model): the model for this step, the
    # route that chose it, and why; None until the reasoning layer routes the step
    model: str | None = None
    route: str | None = None
    route_reason: str | None = None
    # why the step was added after planning (lamina.layers.reasoning.continuation), or None
    added_for: str | None = None
    # the tools the step may call (None: any the agent has)
    tools: tuple[str, ...] | None = None
    # the unit the step's result is in, when the step says (a conversion's target unit)
    unit: str | None = None
    # the call the step writes itself, (tool, argument, value): its first move, not the model's
    call: tuple[str, str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: {"index", "instruction", "needs_tool"}, once routed "model", "route"
        and "route_reason", "added_for" for a step added after planning, "tools" when the
        step may call only those, "unit" when its result is in a known unit, and "call"
        (`[tool, argument, value]`) when the step writes its call itself."""
        data: dict[str, Any] = {
            "index": self.index,
            "instruction": self.instruction,
            "needs_tool": self.needs_tool,
        }
        if self.model is not None:
            data.update(model=self.model, route=self.route, route_reason=self.route_reason)
        if self.added_for is not None:
            data["added_for"] = self.added_for
        if self.tools is not None:
            data["tools"] = list(self.tools)
        if self.unit is not None:
            data["unit"] = self.unit
        if self.call is not None:
            data["call"] = list(self.call)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], position: int) -> PlanStep:
        """Read a step from state; raises `ConfigError` when a node wrote a malformed plan."""
        instruction = data.get("instruction") if isinstance(data, Mapping) else None
        if not isinstance(instruction, str) or not instruction.strip():
            raise ConfigError(
                f"Plan step {position} in state is {data!r:.120}; expected a dict with a "
                "non-empty 'instruction'. Fix: write plan steps as PlanStep(...).to_dict()."
            )
        return cls(
            index=int(data.get("index", position)),
            instruction=instruction,
            needs_tool=bool(data.get("needs_tool", False)),
            model=_optional_str(data.get("model")),
            route=_optional_str(data.get("route")),
            route_reason=_optional_str(data.get("route_reason")),
            added_for=_optional_str(data.get("added_for")),
            tools=None if data.get("tools") is None else tuple(map(str, data["tools"])),
            unit=_optional_str(data.get("unit")),
            call=written_call(data.get("call")),
        )


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class PlanOutcome:
    """A plan and how it was made.

    Attributes:
        steps: the plan.
        source: "single" (one step, no model call), "list" (the task's own numbered or
            bulleted list, no model call), "model" (the model's JSON plan), "fallback" (the
            model's plan was unusable; the deterministic split was used) or "reference" (a
            follow-up that asks for the thread's last figure in another unit: its conversion,
            see lamina.layers.reasoning.continuation) or "conversion" (a one-step task whose
            quantity is converted first into the unit the tool that fits takes) or "combination"
            (a one-step task that gives a value of one thing and a count of those things: their
            product first, see lamina.layers.reasoning.combination) or "choice" (a question
            that picks one of two things by a comparative: one lookup per thing, see
            lamina.layers.reasoning.lookup_answers) or "stock" (a question how many of a thing
            we have: one count per thing, same module) or "basket" (a question what several
            things cost, each with its count: one price lookup per thing, see
            lamina.layers.reasoning.baskets) or "threshold" (a yes-or-no question whether a
            thing's price or our stock of it passes a limit: its lookup, see
            lamina.layers.reasoning.thing_lookups) or "percent" (a percentage off or on a
            thing's price: its lookup, same module) or "clauses" (the request's own clauses,
            when a later one refers to what an earlier one gave: "..., then double it").
        cached: whether the model's plan came from the step cache (None: no model call).
        tokens: tokens spent (miss) or saved (hit) on the model call.
        note: why the fallback was taken ("" otherwise).
        prompt_tokens: prompt tokens the plan call sent (0 on a hit or without a call).
        prompt_tokens_evaluated: of those, the ones the model evaluated (the rest came from
            llama.cpp's KV prefix cache; None when the model does not report it).
    """

    steps: tuple[PlanStep, ...]
    source: PlanSource
    cached: bool | None = None
    tokens: int = 0
    note: str = ""
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for the trace."""
        return {
            "steps": [s.to_dict() for s in self.steps],
            "source": self.source,
            "cached": self.cached,
            "tokens": self.tokens,
            "note": self.note,
            "prompt_tokens": self.prompt_tokens,
            "prompt_tokens_evaluated": self.prompt_tokens_evaluated,
        }


class PlanStepModel(BaseModel):
    """One step as the model writes it."""

    model_config = ConfigDict(extra="forbid")

    instruction: str = Field(min_length=1, description="One short imperative sentence.")
    needs_tool: bool = Field(description="True when the step must calculate or look up.")


class Plan(BaseModel):
    """The model's plan: at least two steps, in order."""

    model_config = ConfigDict(extra="forbid")

    steps: list[PlanStepModel] = Field(min_length=2)


@functools.cache
def plan_schema(max_steps: int) -> type[Plan]:
    """:class:`Plan` with at most `max_steps` steps (so the grammar bounds the plan's length)."""
    schema: type[Plan] = create_model(
        "Plan",
        __base__=Plan,
        steps=(list[PlanStepModel], Field(min_length=2, max_length=max_steps)),
    )
    return schema
