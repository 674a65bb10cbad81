"""Verification of reasoned steps: the arithmetic verifier and the refine-once contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from lamina.layers.reasoning import check_step
from lamina.layers.reasoning.verification import (
    ArithmeticVerifier,
    Verdict,
    Verifier,
    default_verifiers,
    final_number,
    numbers_in,
    verify,
)
from lamina.models.testing import FakeChatModel
from lamina.stores.step_cache import StepCache

ARITH = ArithmeticVerifier()


def text_of(messages: list[BaseMessage]) -> str:
    return "\n".join(str(m.content) for m in messages)


# -- reading numbers -------------------------------------------------------------------------
def test_numbers_in_text() -> None:
    assert numbers_in("1,200 apples, -3.5 degrees, 12-7 and $48.") == [1200, -3.5, 12, 7, 48]
    assert numbers_in("no digits here") == []


@pytest.mark.parametrize(
    ("text", "value"),
    [("4 * 12 = 48.", 48), ("It is 48, I think 3", 3), ("x = 1,200", 1200), ("none", None)],
)
def test_final_number(text: str, value: float | None) -> None:
    assert final_number(text) == value


# -- which steps are arithmetic --------------------------------------------------------------
@pytest.mark.parametrize(
    ("instruction", "earlier", "expression"),
    [
        ("What is 12 * 7?", [], "12 * 7"),
        ("Compute 3 x (4 + 5).", [], "3 * (4 + 5)"),
        ("What is 25 minus 8?", [], "25  -  8"),
        ("Multiply 4 by 12.", [], "4 * 12"),
        ("Add 15 to 27.", [], "27 + 15"),
        ("Subtract 7 from 48.", [], "48 - 7"),
        ("Divide 84 by 4.", [], "84 / 4"),
        ("What is 15% of 80?", [], "15 / 100 * 80"),
        ("Find the sum of 3, 4 and 5.", [], "3 + 4 + 5"),
        ("Add 1,200 and 5.", [], "1200 + 5"),
        ("Subtract 7 from the result.", [{"result": "4 * 12 = 48"}], "48 - 7"),
        ("Double it.", [{"result": "21"}], "2 * 21"),
    ],
)
def test_arithmetic_steps_are_recognised(
    instruction: str, earlier: list[dict[str, Any]], expression: str
) -> None:
    assert ARITH.expression_for(instruction, earlier) == expression


@pytest.mark.parametrize(
    ("instruction", "earlier"),
    [
        ("Write a poem about the sea.", []),
        ("Find the events of 2024-01-02.", []),  # a date, not a subtraction
        ("Call 555-1234 after 5.", []),
        ("Compute 3 * 12 for 5 people.", []),  # a number the expression leaves out
        ("Compute 2 * 3, then 4 * 5.", []),  # two calculations in one step
        ("Subtract 7 from the result.", [{"result": "no number here"}]),
    ],
)
def test_other_steps_are_not_checked(instruction: str, earlier: list[dict[str, Any]]) -> None:
    assert ARITH.expression_for(instruction, earlier) is None
    assert ARITH.check(instruction, "anything 42", earlier=earlier) is None


# -- verdicts --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("result", "passed"),
    [
        ("48", True),
        ("The answer is 48.", True),
        ("4 * 12 = 48", True),
        ("4 * 12 = 46", False),  # mentions 4 and 12, claims a wrong value
        ("4 times 12 is 46.", False),
        ("I cannot tell.", False),
        ("48 = 46", False),  # the claim after "=" decides
    ],
)
def test_arithmetic_verdicts(result: str, passed: bool) -> None:
    verdict = ARITH.check("Multiply 4 by 12.", result)
    assert verdict is not None
    assert verdict.passed is passed
    assert (verdict.verifier, verdict.check, verdict.expected) == ("arithmetic", "4 * 12", "48")
    assert verdict.correction == "48"
    assert bool(verdict.feedback) is not passed
    if not passed:
        assert "48" in verdict.feedback


def test_rounded_results_pass_at_their_precision() -> None:
    verdict = ARITH.check("Divide 10 by 3.", "10 / 3 = 3.33")
    assert verdict is not None
    assert verdict.passed
    wrong = ARITH.check("Divide 10 by 3.", "10 / 3 = 3.5")
    assert wrong is not None
    assert not wrong.passed


def test_verify_takes_the_first_applicable_verdict() -> None:
    class Never:
        name = "never"

        def check(self, instruction: str, result: str, *, earlier: Any = ()) -> Verdict | None:
            return None

    class Always:
        name = "always"

        def check(self, instruction: str, result: str, *, earlier: Any = ()) -> Verdict | None:
            return Verdict(verifier="always", passed=True)

    assert isinstance(ARITH, Verifier)
    assert isinstance(Always(), Verifier)
    assert verify([Never(), Always()], "Write a poem.", "ok") == Verdict("always", True)
    assert verify([Never()], "What is 2 * 3?", "6") is None
    verdict = verify(default_verifiers(), "What is 2 * 3?", "6")
    assert verdict is not None
    assert verdict.verifier == "arithmetic"
    assert verdict.to_dict()["passed"] is True


# -- refine once, then correct ---------------------------------------------------------------
def test_a_passing_result_is_not_refined(tmp_path: Path) -> None:
    solver = FakeChatModel(responses=[])  # any call would raise
    check = check_step("Multiply 4 by 12.", "P", "48", solver, None, default_verifiers())
    assert (check.result, check.refined, check.passed) == ("48", False, True)
    assert check.verdict is not None
    assert check.verdict.passed


def test_a_failed_check_triggers_one_refinement_with_the_feedback(tmp_path: Path) -> None:
    solver = FakeChatModel(responses=["You are right: 4 * 12 = 48."])
    check = check_step("Multiply 4 by 12.", "PROBLEM", "46", solver, None, default_verifiers())
    assert len(solver.calls) == 1
    prompt = text_of(solver.calls[0])
    assert "PROBLEM" in prompt
    assert "4 * 12 = 48" in prompt
    assert "46" in prompt
    assert check.result == "You are right: 4 * 12 = 48."
    assert (check.refined, check.corrected, check.passed) == (True, False, True)
    assert check.verdict is not None
    assert not check.verdict.passed
    assert check.after is not None
    assert check.after.passed
    data = check.to_dict()
    assert data["verdict"]["found"] == "46"
    assert data["after_refinement"]["passed"] is True


def test_a_refinement_that_still_fails_is_replaced_by_the_correction() -> None:
    solver = FakeChatModel(responses=["It is 46.", "never asked"])
    check = check_step("Multiply 4 by 12.", "P", "46", solver, None, default_verifiers())
    assert len(solver.calls) == 1  # one refinement, not a loop
    assert check.result == "48"  # the wrong value is not passed on
    assert (check.refined, check.corrected, check.passed) == (True, True, True)
    assert check.after is not None
    assert not check.after.passed


def test_no_verifiers_checks_nothing() -> None:
    check = check_step("Multiply 4 by 12.", "P", "46", FakeChatModel(responses=[]), None, ())
    assert (check.result, check.verdict, check.passed) == ("46", None, None)


def test_the_refinement_is_cached(tmp_path: Path) -> None:
    cache = StepCache(tmp_path / "steps.sqlite")
    solver = FakeChatModel(responses=["4 * 12 = 48"])
    first = check_step("Multiply 4 by 12.", "P", "46", solver, cache, default_verifiers())
    again = check_step("Multiply 4 by 12.", "P", "46", solver, cache, default_verifiers())
    assert first.result == again.result == "4 * 12 = 48"
    assert len(solver.calls) == 1
    assert cache.stats().hits == 1


def test_a_verified_value_wins_over_the_numbers_of_the_text() -> None:
    earlier = [{"result": "45 is the cost of 15 pens at 3 dollars", "value": "45"}]
    assert ARITH.expression_for("Add 5 to the result.", earlier) == "45 + 5"
    assert ARITH.expression_for("Add 5 to the result.", [{"result": earlier[0]["result"]}]) == (
        "3 + 5"  # without a verified value: the number the text states last
    )


def test_a_degenerate_refinement_keeps_the_checked_attempt() -> None:
    class NoCorrection:
        name = "strict"

        def check(self, instruction: str, result: str, *, earlier: Any = ()) -> Verdict | None:
            return Verdict(verifier="strict", passed=False, feedback="try again")

    solver = FakeChatModel(responses=["(none)"])
    check = check_step("Write a haiku.", "P", "An attempt.", solver, None, [NoCorrection()])
    assert check.result == "An attempt."
    assert (check.refined, check.corrected, check.passed) == (True, False, False)
