"""A step's first move (:func:`opening_move`): the tools it is offered until a call succeeds,
the `tool_choice`, and the call the step writes itself, if any."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_core.messages import AIMessage
from langchain_core.tools import BaseTool

from lamina.guards.tool_shortlist import by_name_words, named_tools, shortlist_tools
from lamina.guards.written_arithmetic import written_expressions
from lamina.layers.execution.step_inputs import planned_call
from lamina.models.tool_calls import to_openai_tool

if TYPE_CHECKING:
    from lamina.config import Guards
    from lamina.core.context import ToolWeigher
    from lamina.core.state import AgentState
    from lamina.guards.tool_relevance import ToolFit

__all__ = ["FirstMove", "Opening", "opening_move", "written_call_message"]


@dataclass(frozen=True)
class Opening:
    """A step's first move, until a call succeeds: the tools offered and the `tool_choice`
    (``"required"`` when a tool fits the step; None: the model's default)."""

    tools: Mapping[str, BaseTool]
    tool_choice: str | None = None
    # may the other tools be offered when none of these can be called with what was given? Not
    # when these fit the step by meaning: "how many days are in a week?" fits `days_between`,
    # which needs dates nobody gave, and widened, SmolLM2 sent the words to the calculator
    widens: bool = True


@dataclass(frozen=True)
class FirstMove:
    """What :func:`opening_move` decided.

    Attributes:
        tools: the step's tools, the closest to it first.
        opening: the first move's tools and tool choice.
        fit: how well each tool fits the step by meaning (None without tool relevance).
        written: (tool, argument, text), the call the step writes itself: arithmetic one tool
            takes as it stands, or a call the plan wrote; the first move is that call, not the
            model's (which rewrote "(1250 - 380) / 6" as "{1250} * {380}").
    """

    tools: dict[str, BaseTool]
    opening: Opening
    fit: ToolFit | None
    written: tuple[str, str, str] | None


def opening_move(
    state: AgentState,
    index: int,
    instruction: str,
    tools: dict[str, BaseTool],
    relevance: ToolWeigher | None,
    guards: Guards,
) -> FirstMove:
    """The first move of step `index` (`instruction`) among `tools`."""
    if len(state.get("plan") or []) > 1 and guards.name_shortlist:
        # One action per step: a 135M model picks the first tool it sees unless the step's
        # words single one out, so a clear winner by name is the only tool it is offered.
        tools = {n: tools[n] for n in shortlist_tools(instruction, list(tools))}
    fit: ToolFit | None = (
        relevance.assess(instruction, tools) if relevance is not None and tools else None
    )
    opening = Opening(tools)
    if fit is not None:
        # Offered several tools, a small model often starts with the wrong one: its first
        # move sees the tools that fit the step (and those it names); later moves see all.
        # Every list it sees puts the closest tools first (see ToolFit.ranked).
        tools = {n: tools[n] for n in fit.ranked()}
        keep = by_name_words(
            instruction, fit.shortlist(named=named_tools(instruction, list(tools)))
        )
        opening = Opening({n: tools[n] for n in keep}, fit.tool_choice(), not fit.fits)
    chosen: tuple[str, str, str] | None = None
    written = written_expressions(instruction, tools)
    if written:
        # the step writes arithmetic a tool takes as it stands: that tool, and a call first
        opening = Opening({n: tools[n] for n in dict.fromkeys(w[0] for w in written)}, "required")
        if len(written) == 1 and guards.grounding:
            chosen = written[0]
    planned = planned_call(state.get("plan") or [], index)
    if planned is not None and planned[0] in tools:
        # the plan wrote the call itself (a lookup about a thing an earlier call named)
        opening, chosen = Opening({planned[0]: tools[planned[0]]}, "required"), planned
    return FirstMove(tools, opening, fit, chosen)


def written_call_message(
    written: tuple[str, str, str] | None, offered: Mapping[str, BaseTool]
) -> AIMessage | None:
    """The call the step writes itself (`FirstMove.written`) as the model's reply, when its
    tool is offered and needs no other argument."""
    if written is None or written[0] not in offered:
        return None
    name, arg, text = written
    parameters = to_openai_tool(offered[name])["function"].get("parameters") or {}
    if not set(parameters.get("required") or ()) <= {arg}:
        return None
    return AIMessage(content="", tool_calls=[{"name": name, "args": {arg: text}, "id": ""}])
