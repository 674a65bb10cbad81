"""Verification: check a reasoned step's result before it is passed on.

A small model writes "4 * 12 = 46" with confidence, and every later step builds on the wrong
value. A :class:`Verifier` looks at a step's instruction and result and, when it knows how to
check that kind of step, returns a :class:`Verdict`; the reasoning layer then asks the model for
one refinement with the verdict's feedback, checks again, and when the refinement still fails and
the verifier knows the right value (`correction`) passes that on instead of a wrong one.

:class:`ArithmeticVerifier` (the default) checks steps that are arithmetic it can evaluate
deterministically with the calculator: an expression ("What is 12 * 7?", "Compute 3 x (4 + 5)")
or a one-operation word problem ("Multiply 4 by 12", "Subtract 7 from the result", "What is 15%
of 80?", "the sum of 3, 4 and 5"). "The result"/"it" stand for the previous step's number. A step
whose numbers the pattern does not all use ("Compute 3 * 12 for 5 people") is not checked:
a verifier that guesses would be worse than none.

    >>> verifier = ArithmeticVerifier()
    >>> verifier.check("Multiply 4 by 12.", "4 times 12 is 46.").passed
    False
    >>> verifier.check("Multiply 4 by 12.", "The answer is 48.").passed
    True
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

from lamina.errors import ToolError
from lamina.tools.calculator import evaluate, format_number

__all__ = [
    "ArithmeticVerifier",
    "Verdict",
    "Verifier",
    "default_verifiers",
    "final_number",
    "numbers_in",
    "verify",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one step's result.

    Attributes:
        verifier: the verifier's name, e.g. "arithmetic".
        passed: whether the result holds up.
        check: what was checked, e.g. "4 * 12".
        expected: the value the check computed ("" when it computes none).
        found: what the result said ("" when it said nothing checkable).
        feedback: one sentence for the refinement prompt (why the result failed).
        correction: a result known to be right, passed on when a refinement still fails
            (None: the verifier cannot tell the right result).
    """

    verifier: str
    passed: bool
    check: str = ""
    expected: str = ""
    found: str = ""
    feedback: str = ""
    correction: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for the trace."""
        return asdict(self)


@runtime_checkable
class Verifier(Protocol):
    """Checks steps of a kind it recognises; returns None for any other step."""

    name: str

    def check(
        self, instruction: str, result: str, *, earlier: Sequence[Mapping[str, Any]] = ()
    ) -> Verdict | None:
        """Check `result` of the step `instruction` (`earlier`: results of earlier steps).

        Returns:
            A verdict, or None when this verifier does not apply to the step.
        """
        ...


def verify(
    verifiers: Sequence[Verifier],
    instruction: str,
    result: str,
    earlier: Sequence[Mapping[str, Any]] = (),
) -> Verdict | None:
    """The first verdict any of `verifiers` gives (None: no verifier applies)."""
    for verifier in verifiers:
        verdict = verifier.check(instruction, result, earlier=earlier)
        if verdict is not None:
            return verdict
    return None


def default_verifiers() -> tuple[Verifier, ...]:
    """The verifiers the reasoning layer uses unless told otherwise: arithmetic."""
    return (ArithmeticVerifier(),)


# -- numbers in text -------------------------------------------------------------------------
_NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])|(?<![\w.])-?\.\d+")


def _to_float(text: str) -> float:
    return float(text.replace(",", ""))


def numbers_in(text: str) -> list[float]:
    """Every number written in digits in `text` ("1,200" is 1200; "-3.5" is -3.5)."""
    values: list[float] = []
    for match in _NUMBER.finditer(text):
        try:
            values.append(_to_float(match.group(0)))
        except ValueError:  # pragma: no cover - the pattern only matches numbers
            continue
    return values


_CLAIM = re.compile(r"=\s*\$?\s*(-?[\d,]*\.?\d+)")


def final_number(text: str) -> float | None:
    """The number a result states as its answer: after its last "=", else its last number."""
    claims = _CLAIM.findall(text)
    if claims:
        try:
            return _to_float(claims[-1])
        except ValueError:
            pass
    values = numbers_in(text)
    return values[-1] if values else None


def _close(found: float, expected: float) -> bool:
    """Equal, or equal to the precision the result was written with (3.33 for 10 / 3)."""
    if math.isclose(found, expected, rel_tol=1e-9, abs_tol=1e-9):
        return True
    text = repr(found)
    decimals = len(text.split(".", 1)[1]) if "." in text and "e" not in text else 0
    return 0 < decimals <= 6 and math.isclose(round(expected, decimals), found, abs_tol=1e-12)


# -- the arithmetic verifier -----------------------------------------------------------------
_NUM = r"(-?\d[\d,]*(?:\.\d+)?)"
_LIST = r"(-?\d[\d,]*(?:\.\d+)?(?:\s*(?:,|and|,\s*and)\s*-?\d[\d,]*(?:\.\d+)?)+)"
_REF = re.compile(
    r"\b(?:that|the|this|the previous|the last|the above|your|our) "
    r"(?:result|number|value|answer|total|sum|product|difference)\b|\bit\b",
    re.IGNORECASE,
)


def _join(op: str) -> Callable[[list[str]], str]:
    return lambda nums: f" {op} ".join(nums)


_WORD_PROBLEMS: list[tuple[re.Pattern[str], Callable[[list[str]], str]]] = [
    (re.compile(rf"\badd\s+{_NUM}\s+to\s+{_NUM}", re.I), lambda n: f"{n[1]} + {n[0]}"),
    (re.compile(rf"\badd\s+{_NUM}\s+and\s+{_NUM}", re.I), _join("+")),
    (re.compile(rf"\bsubtract\s+{_NUM}\s+from\s+{_NUM}", re.I), lambda n: f"{n[1]} - {n[0]}"),
    (
        re.compile(rf"\btake\s+{_NUM}\s+(?:away\s+)?from\s+{_NUM}", re.I),
        lambda n: f"{n[1]} - {n[0]}",
    ),
    (re.compile(rf"\bmultiply\s+{_NUM}\s+(?:by|and|with)\s+{_NUM}", re.I), _join("*")),
    (re.compile(rf"\bdivide\s+{_NUM}\s+by\s+{_NUM}", re.I), _join("/")),
    (re.compile(rf"\bdivide\s+{_NUM}\s+into\s+{_NUM}", re.I), lambda n: f"{n[1]} / {n[0]}"),
    (
        re.compile(rf"{_NUM}\s*(?:%|percent)\s+of\s+{_NUM}", re.I),
        lambda n: f"{n[0]} / 100 * {n[1]}",
    ),
    (re.compile(rf"\bdouble\s+{_NUM}", re.I), lambda n: f"2 * {n[0]}"),
    (re.compile(rf"\btriple\s+{_NUM}", re.I), lambda n: f"3 * {n[0]}"),
    (re.compile(rf"\b(?:halve|half\s+of)\s+{_NUM}", re.I), lambda n: f"{n[0]} / 2"),
    (re.compile(rf"\bsquare\s+of\s+{_NUM}|\bsquare\s+{_NUM}", re.I), lambda n: f"{n[0]} ** 2"),
    (
        re.compile(rf"\bdifference\s+between\s+{_NUM}\s+and\s+{_NUM}", re.I),
        lambda n: f"abs({n[0]} - {n[1]})",
    ),
]
_LIST_PROBLEMS: list[tuple[re.Pattern[str], Callable[[list[str]], str]]] = [
    (re.compile(rf"\b(?:sum|total)\s+of\s+{_LIST}", re.I), _join("+")),
    (re.compile(rf"\badd\s+(?:up\s+)?{_LIST}", re.I), _join("+")),
    (re.compile(rf"\bproduct\s+of\s+{_LIST}", re.I), _join("*")),
    (re.compile(rf"\bmultiply\s+{_LIST}", re.I), _join("*")),
    (
        re.compile(rf"\b(?:average|mean)\s+of\s+{_LIST}", re.I),
        lambda n: f"({' + '.join(n)}) / {len(n)}",
    ),
]
# an expression: numbers joined by operators, with optional parentheses around parts
_EXPRESSION = re.compile(
    r"[(\[]*\s*-?\d[\d,]*(?:\.\d+)?\s*[)\]]*"
    r"(?:\s*(?:\*\*|[-+*/%^×÷])\s*[(\[]*\s*-?\d[\d,]*(?:\.\d+)?\s*[)\]]*)+"
)
_OPERATOR_WORDS = [
    (re.compile(r"\bmultiplied\s+by\b", re.I), "*"),
    (re.compile(r"\bdivided\s+by\b", re.I), "/"),
    (re.compile(r"\btimes\b", re.I), "*"),
    (re.compile(r"\bplus\b", re.I), "+"),
    (re.compile(r"\bminus\b", re.I), "-"),
    (re.compile(r"(?<=\d)\s*[xX]\s*(?=[\d(])"), "*"),
]


_CUE = re.compile(
    r"\b(?:what\s+is|what's|compute|calculate|evaluate|work\s+out|how\s+much|solve)\b|=",
    re.IGNORECASE,
)


def _list_numbers(text: str) -> list[str]:
    # "1,200" is one number; "3,4" and "3, 4" are two
    pattern = r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
    return [m.group(0).replace(",", "") for m in re.finditer(pattern, text)]


class ArithmeticVerifier:
    """Checks steps that are arithmetic the calculator can evaluate (see the module docstring).

    A result passes when the value appears among its numbers and the number after its last
    "=" (if it writes one) is that value, so "4 * 12 = 46" fails even though it mentions 4 and
    12. `correction` is the computed value, so a wrong number is never passed on.
    """

    name = "arithmetic"

    def expression_for(
        self, instruction: str, earlier: Sequence[Mapping[str, Any]] = ()
    ) -> str | None:
        """The arithmetic `instruction` asks for, as a calculator expression, or None.

        "The result", "that number" or "it" become the previous step's number (its verified
        `value`, else its last "=" value, else its last number); without one such a step is not
        arithmetic we can check.
        """
        text = instruction
        if earlier and _REF.search(text):
            previous = _value_of(earlier[-1])
            if previous is None:
                return None
            text = _REF.sub(format_number(_whole(previous)), text)
        for pattern, build in _LIST_PROBLEMS:
            match = pattern.search(text)
            if match:
                numbers = _list_numbers(match.group(1))
                if len(numbers) >= 2:
                    return self._if_complete(build(numbers), text)
        for pattern, build in _WORD_PROBLEMS:
            match = pattern.search(text)
            if match:
                numbers = [g.replace(",", "") for g in match.groups() if g is not None]
                return self._if_complete(build(numbers), text)
        spoken = text
        for pattern, symbol in _OPERATOR_WORDS:
            spoken = pattern.sub(f" {symbol} ", spoken)
        matches = [m.group(0).strip() for m in _EXPRESSION.finditer(spoken)]
        if len(matches) != 1:
            return None  # none, or several calculations in one step: not a single check
        expression = matches[0]
        # "2024-01-02" or "555-1234" is not a subtraction: "-" and "/" alone need a cue word,
        # and a number with a leading zero is never an operand
        if re.search(r"(?<![\d.])0\d", expression):
            return None
        if not re.search(r"\*|\+|%|\^|×|÷", expression) and not _CUE.search(text):
            return None
        return self._if_complete(expression, spoken)

    @staticmethod
    def _if_complete(expression: str, text: str) -> str | None:
        """`expression` when it uses every number of the step, else None (a partial reading)."""
        used = {abs(_to_float(n)) for n in _list_numbers(expression)}
        mentioned = {abs(_to_float(n)) for n in _list_numbers(text)}
        return expression if mentioned <= used else None

    def check(
        self, instruction: str, result: str, *, earlier: Sequence[Mapping[str, Any]] = ()
    ) -> Verdict | None:
        """Check `result` against the calculator's value of `instruction` (None: not arithmetic)."""
        expression = self.expression_for(instruction, earlier)
        if expression is None:
            return None
        try:
            value = evaluate(expression)
        except ToolError as exc:
            logger.debug("arithmetic verifier: cannot evaluate %r (%s)", expression, exc)
            return None
        expected = float(value)
        shown = format_number(value)
        claims = _CLAIM.findall(result)
        claim = _to_float(claims[-1]) if claims else None
        values = numbers_in(result)
        present = any(_close(v, expected) for v in values)
        claim_ok = claim is None or _close(claim, expected)
        passed = present and claim_ok
        found_value = claim if claim is not None else (values[-1] if values else None)
        found = "" if found_value is None else format_number(_whole(found_value))
        feedback = ""
        if not passed:
            said = f"my answer said {found}" if found else "my answer gave no number"
            feedback = f"{expression} = {shown}, but {said}."
        return Verdict(
            verifier=self.name,
            passed=passed,
            check=expression,
            expected=shown,
            found=found,
            feedback=feedback,
            correction=shown,
        )


def _value_of(step: Mapping[str, Any]) -> float | None:
    """A step's number: its verified `value` when it has one, else what its result states."""
    value = step.get("value")
    if value is not None:
        try:
            return _to_float(str(value))
        except ValueError:
            pass
    return final_number(str(step.get("result", "")))


def _whole(value: float) -> float | int:
    return int(value) if float(value).is_integer() and abs(value) < 1e15 else value
