"""Checking a reasoned step's result with the verifiers (:func:`check_step`), and refining it once
with the verifier's feedback when a check fails."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from lamina.core.context import StepCacheLike
from lamina.guards.degenerate import degenerate
from lamina.layers.reasoning.prompts import PromptSet, load_prompts
from lamina.layers.reasoning.rc_loop import (
    Tally,
    cached_call,
    is_completion_model,
    with_stop,
)
from lamina.layers.reasoning.verification import Verdict, Verifier, verify

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

logger = logging.getLogger(__name__)

__all__ = ["StepCheck", "check_step"]


@dataclass(frozen=True)
class StepCheck:
    """What verification did to one step's result.

    Attributes:
        result: the result to pass on (the attempt, its refinement, or the correction).
        verdict: the first check (None: no verifier applies to the step).
        refined: whether a refinement was asked for (the first check failed).
        after: the check of the refinement (None without one).
        corrected: whether the verifier's `correction` replaced a refinement that still failed.
    """

    result: str
    verdict: Verdict | None = None
    refined: bool = False
    after: Verdict | None = None
    corrected: bool = False

    @property
    def passed(self) -> bool | None:
        """Whether the result passed on holds up (None: not checked)."""
        if self.verdict is None:
            return None
        if self.corrected:
            return True
        final = self.after if self.after is not None else self.verdict
        return final.passed

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for the trace."""
        return {
            "verdict": self.verdict.to_dict() if self.verdict else None,
            "refined": self.refined,
            "after_refinement": self.after.to_dict() if self.after else None,
            "corrected": self.corrected,
            "passed": self.passed,
        }


def check_step(
    instruction: str,
    problem: str,
    result: str,
    solver: BaseChatModel,
    cache: StepCacheLike | None,
    verifiers: Sequence[Verifier],
    *,
    earlier: Sequence[dict[str, Any]] = (),
    prompts: PromptSet | None = None,
    tally: Tally | None = None,
    unusable: Callable[[str], bool] = degenerate,
) -> StepCheck:
    """Verify a reasoned step's result; on a failed check refine once, then correct if need be.

    Args:
        instruction: the step's instruction (what the verifiers read).
        problem: the step's full problem text (as `rc_solve` got it).
        result: the step's result so far.
        solver: the model that writes the refinement.
        cache: the step cache (the refinement is cached like any call).
        verifiers: checks to run, first applicable wins (empty: nothing is checked).
        earlier: results of earlier steps ("the result" in an instruction refers to them).
        prompts: the prompt file (default: lamina/prompts/reasoning.toml).
        tally: where the refinement's call is counted.
    """
    verdict = verify(verifiers, instruction, result, earlier) if verifiers else None
    if verdict is None or verdict.passed:
        return StepCheck(result=result, verdict=verdict)
    p = prompts or load_prompts()
    section = "verify_completion" if is_completion_model(solver) else "verify"
    text = p.render(section, "refine", problem=problem, feedback=verdict.feedback)
    if is_completion_model(solver):
        model = with_stop(solver, list(p.get("solve_completion", "stop")))
        messages: list[BaseMessage] = [HumanMessage(text)]
    else:
        model = solver
        messages = [SystemMessage(p.render("solve", "system")), HumanMessage(text)]
    refined, _ = cached_call(cache, model, messages, p.template_version("verify"), tally or Tally())
    after = verify(verifiers, instruction, refined, earlier)
    if unusable(refined) and (after is None or after.correction is None):
        # an echo or a loop is no better than the checked attempt; keep that, marked failed
        return StepCheck(result=result, verdict=verdict, refined=True, after=after)
    if after is None or after.passed:
        return StepCheck(result=refined, verdict=verdict, refined=True, after=after)
    if after.correction is not None:
        logger.info(
            "step %r: the refinement failed its check too (%s); passing on %s",
            instruction[:60],
            after.feedback,
            after.correction,
        )
        return StepCheck(
            result=after.correction, verdict=verdict, refined=True, after=after, corrected=True
        )
    return StepCheck(result=refined, verdict=verdict, refined=True, after=after)
