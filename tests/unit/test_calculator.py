"""The calculator: right values, informal formats small models write, and clear refusals."""

from __future__ import annotations

import math

import pytest

from lamina.errors import ToolError
from lamina.tools.calculator import (
    MAX_EXPRESSION_CHARS,
    calculator,
    default_tools,
    evaluate,
    format_number,
    normalise_expression,
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("12 * 7", 84),
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("7 % 3", 1),
        ("2 ** 10", 1024),
        ("-3 + 5", 2),
        ("-(2 + 3)", -5),
        ("+4", 4),
        ("2 ** -2", 0.25),
        ("1.5 * 4", 6.0),
        ("sqrt(16)", 4.0),
        ("abs(-3)", 3),
        ("round(2.567, 2)", 2.57),
        ("min(4, 2, 9)", 2),
        ("max(4, 2, 9)", 9),
        ("2 * pi", 2 * math.pi),
    ],
)
def test_evaluates_arithmetic(expression: str, expected: float) -> None:
    assert evaluate(expression) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("12 x 7", 84),
        ("12x7", 84),
        ("12 X 7", 84),
        ("12×7", 84),
        ("12 · 7", 84),
        ("84 ÷ 7", 12),
        ("12 * 7 =", 84),
        ("12 * 7 = ?", 84),
        ("What is 12 times 7?", 84),
        ("12 multiplied by 7", 84),
        ("10 plus 5 minus 3", 12),
        ("84 divided by 7", 12),
        ("2^10", 1024),
        ("1,200 + 1", 1201),
        ("1,234,567.5 * 2", 2469135),
        ("$1,200 / 4", 300),
        ("3x(2+1)", 9),
        ("5 − 2", 3),
        ("{12} * 7", 84),
        ("[2 + 3] * {4}", 20),
        ("17.5% of 2,340", 409.5),
        ("15 percent of 80", 12),
        ("20 per cent of 45", 9),
        ("half of 96", 48),
        ("a third of 96", 32),
        ("one quarter of 96", 24),
        ("10 % 3", 1),  # a % not followed by "of" is still the remainder
        ("7 squared", 49),
        ("the square root of 196", 14),
        ("square root of 2.25", 1.5),
        ("5 cubed", 125),
        ("2 to the power of 10", 1024),
    ],
)
def test_tolerates_small_model_formats(expression: str, expected: float) -> None:
    assert evaluate(expression) == pytest.approx(expected)


def test_commas_in_function_calls_separate_arguments() -> None:
    # The documented choice: with a function call present, "1,200" is two arguments.
    assert evaluate("max(1,200)") == 200
    assert normalise_expression("1,200 + 3") == "1200 + 3"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os')", "Unknown function"),
        ("x + 1", "Unknown name 'x'"),
        ("(1).__class__", "Attribute access"),
        ("math.sqrt(4)", "Unknown function"),
        ("2 ** 1000", "Exponent 1000 is too large"),
        ("10 ** 10 ** 10", "too large"),
        ("99999999999 ** 100", "too large"),
        ("1e308 * 10", "not a finite number"),
        ("1 / 0", "Division by zero"),
        ("'a' * 3", "Only numbers"),
        ("True + 1", "Only numbers"),
        ("(1, 2)", "not arithmetic"),
        ("max([1, 2])", "not arithmetic"),
        ("1 & 3", "operator '&' is not supported"),
        ("sqrt(-1)", "not real"),
        ("sqrt(1, 2)", "takes 1 argument"),
        ("round(1.5, ndigits=1)", "plain numbers"),
        ("1 +", "Could not read"),
        ("", "Expected an arithmetic expression"),
        ("lambda: 1", "not arithmetic"),
    ],
)
def test_refuses_with_a_clear_message(expression: str, message: str) -> None:
    with pytest.raises(ToolError, match=message.replace("(", r"\(").replace("*", r"\*")):
        evaluate(expression)


def test_refuses_long_input() -> None:
    text = "+".join(["1"] * (MAX_EXPRESSION_CHARS // 2 + 1))
    assert len(text) > MAX_EXPRESSION_CHARS
    with pytest.raises(ToolError, match="too long"):
        evaluate(text)


def test_format_number() -> None:
    assert format_number(84) == "84"
    assert format_number(3.0) == "3"
    assert format_number(1 / 3) == "0.333333333333"
    assert format_number(1e20) == "1e+20"


def test_calculator_tool_returns_text_and_has_a_described_schema() -> None:
    assert calculator.invoke({"expression": "12 x 7"}) == "84"
    assert calculator.name == "calculator"
    schema = calculator.tool_call_schema.model_json_schema()  # type: ignore[union-attr]
    assert schema["required"] == ["expression"]
    assert schema["properties"]["expression"]["description"]
    with pytest.raises(ToolError, match="Unknown name"):
        calculator.invoke({"expression": "os"})


def test_default_tools() -> None:
    tools = default_tools()
    assert [t.name for t in tools] == ["calculator"]
    tools.append(calculator)
    assert len(default_tools()) == 1  # a fresh list each time


def test_text_after_an_equals_sign_is_ignored():
    # small models append their own result ("6 * 9 = 54") or repeat themselves
    assert evaluate("6 * 9 = 54") == 54
    assert evaluate("{144} / 12 = {144} / 12 = {144}") == 12
