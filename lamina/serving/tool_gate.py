"""The relevance gate of `tool_choice="auto"` on a model served directly.

Under ``"auto"`` a small model almost always calls a tool, fitting or not: SmolLM2-135M served
by ``lamina serve`` called one for 96 % of BFCL's `irrelevance` requests (no offered function
fits them), where llama.cpp's own server abstained more than half the time. The agent decides
whether a step needs a tool before the model sees any
(:func:`lamina.guards.tool_shortlist.step_needs_tool`, weighed by meaning with the agent's
:class:`~lamina.guards.tool_relevance.ToolRelevance`); the gate asks the same question of a
direct request:

- only under ``"auto"`` (sent or implied), and only when the conversation ends with a user
  message (after tool results the model is mid-task: it decides);
- the last user message needs a tool when it names one, holds arithmetic, is fitted by a tool on
  meaning alone (similarity at least `fits_above`), or holds a tool-name or lookup word while a
  tool is close enough (`supports_above`): the agent's rule and thresholds, unchanged;
- a follow-up ("And in Rome?" after "Weather in Paris?") may say too little on its own: when
  there are earlier user messages, the user messages read together are weighed too;
- if neither needs a tool, the reply is a text answer with no tools shown to the model (as
  ``"none"``); otherwise the model chooses, as before.

Measured through HTTP with the `openai` client (SmolLM2-135M, temperature 0; BFCL cases the
agent's thresholds were not chosen on): `irrelevance` 0-49, correct abstentions 0.04 → 0.58
(llama.cpp's server: 0.60 abstentions, 0.50 correct, its timeouts counted wrong);
`simple_python` 0-99, accuracy 0.58 and valid calls 1.00 with the gate and without (no case
gated).

``"required"`` and a named function are never gated: the caller has decided. The decision is
reported in the completion's ``lamina.tool_relevance`` (scores, thresholds, outcome). It is on
by default; ``lamina serve --no-relevance-gate`` or ``create_app(..., relevance_gate=False)``
switches it off, and so does an agent without tool relevance (``[tool_relevance] enabled =
false``, ``Agent(tool_relevance=False)``), which has nothing to weigh tools with.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from langchain_core.messages import HumanMessage

from lamina.core.serialise import message_text
from lamina.guards.tool_shortlist import step_needs_tool

if TYPE_CHECKING:
    from lamina.core.context import ToolWeigher
    from lamina.serving.direct import DirectCall

__all__ = ["gate_auto_tools"]


def gate_auto_tools(call: DirectCall, weigher: ToolWeigher) -> DirectCall:
    """`call`, answered in text (``tool_choice="none"``) when no offered tool fits its request.

    Returns `call` unchanged unless its choice is ``"auto"`` and its last message is the user's;
    otherwise `call` with `tool_relevance` set to the decision (and, when gated, the choice
    ``"none"``).
    """
    if call.tool_choice != "auto" or not call.messages:
        return call
    if not isinstance(call.messages[-1], HumanMessage):
        return call
    said = [message_text(m) for m in call.messages if isinstance(m, HumanMessage)]
    names = [t["function"]["name"] for t in call.tools]
    weighed = "last user message"
    fit = weigher.assess(said[-1], call.tools)
    needs = step_needs_tool(said[-1], names, fit=fit)
    if not needs and len(said) > 1:
        together = " ".join(said)
        fit_together = weigher.assess(together, call.tools)
        if step_needs_tool(together, names, fit=fit_together):
            needs, fit, weighed = True, fit_together, "user messages together"
    decision: dict[str, Any] = {
        "weighed": weighed,
        "scores": {name: round(float(score), 4) for name, score in fit.scores.items()},
        "best": round(float(fit.best), 4),
        "fits_above": fit.fits_above,
        "supports_above": fit.supports_above,
        "outcome": "model chooses" if needs else "text answer",
    }
    if needs:
        return dataclasses.replace(call, tool_relevance=decision)
    return dataclasses.replace(call, tool_choice="none", tool_relevance=decision)
