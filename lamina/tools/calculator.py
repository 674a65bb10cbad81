"""The built-in `calculator` tool: arithmetic parsed with `ast`, never `eval`.

Small models are poor at arithmetic and good at copying numbers, so the calculator is the first
tool every agent gets (:func:`default_tools`). It accepts what such models tend to write, and
refuses anything that is not arithmetic with a message saying what to send instead.

Accepted: `+ - * / // % **`, unary `-`/`+`, parentheses, integers and decimals, the constants
`pi` and `e`, and the functions `sqrt`, `abs`, `round`, `min`, `max`.

Leniency, applied before parsing (each a deliberate choice):

* `x`, `X`, `×` and `·` between operands mean multiplication (`12 x 7`, `12×7`); `÷` means `/`;
  `−` (Unicode minus) means `-`.
* `^` means power (`2^10` is 1024), as people and small models write it; Python's XOR is not
  arithmetic a user would ask for.
* The words `times`, `multiplied by`, `plus`, `minus`, `divided by` and `over` become operators.
* A share of a figure is a product: `17.5% of 2,340` and `17.5 percent of 2340` are
  `17.5 / 100 * 2340`; `half of 96`, `a third of 96` and `a quarter of 96` are `(1 / 2) * 96`,
  `(1 / 3) * 96` and `(1 / 4) * 96`. A `%` not followed by "of" is still the remainder.
* Powers in words: `7 squared` is `7 ** 2`, `5 cubed` is `5 ** 3`, `2 to the power of 10` is
  `2 ** 10`; `the square root of 196` is `sqrt(196)`.
* A trailing `=` or `?` and a leading "what is"/"calculate"/"compute" are dropped (`12 * 7 =`).
* Thousands separators: `1,200` and `1,234,567.5` are read as numbers when the expression calls no
  function. In an expression with a function call, commas separate arguments (`max(1,200)` is
  200), so write grouped numbers there without separators.
* `{...}` and `[...]` group like parentheses: small models copy template placeholders
  (`{12} * 7`).
* `$` and `€` signs and `_` digit separators are ignored.

Limits: at most 200 characters of input, exponents with `|exponent| <= 100`, integer results below
2**1024 in magnitude (about 1.8e308, the float range), and no `inf`/`nan`.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from typing import Annotated

from langchain_core.tools import BaseTool
from pydantic import Field

from lamina.errors import ToolError
from lamina.tools.decorator import tool

__all__ = [
    "CALCULATOR_NAME",
    "EXPRESSION_PATTERN",
    "FUNCTION_NAMES",
    "MAX_EXPONENT",
    "MAX_EXPRESSION_CHARS",
    "calculator",
    "default_tools",
    "evaluate",
    "format_number",
    "normalise_expression",
]

MAX_EXPRESSION_CHARS = 200
MAX_EXPONENT = 100
_MAX_INT_BITS = 1024

Number = int | float

_FUNCTIONS: dict[str, Callable[..., Number]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
}
FUNCTION_NAMES: tuple[str, ...] = tuple(_FUNCTIONS)
"""The functions an expression may call: `round(22.222, 1)`, `sqrt(144)`, `max(3, 9)`."""
_ARITY: dict[str, tuple[int, int]] = {
    "sqrt": (1, 1),
    "abs": (1, 1),
    "round": (1, 2),
    "min": (1, 20),
    "max": (1, 20),
}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_SYMBOL = {
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.MatMult: "@",
}

_WORDS = [
    (re.compile(pattern, re.IGNORECASE), symbol)
    for pattern, symbol in (
        # a share of a figure: "17.5% of 2,340" (SmolLM2 copies the request's words), "half of 96"
        (r"(?:%|\bper\s?cent)\s+of\b", " / 100 * "),
        (r"\b(?:(?:a|one)\s+)?half\s+of\b", "(1 / 2) * "),
        (r"\b(?:a|one)\s+third\s+of\b", "(1 / 3) * "),
        (r"\b(?:a|one)\s+quarter\s+of\b", "(1 / 4) * "),
        # powers and roots in words: "7 squared", "2 to the power of 10", "square root of 196"
        (r"\b(?:the\s+)?square\s+root\s+of\s+([\d.,]*\d)", r"sqrt(\1)"),
        (r"\bsquared\b", " ** 2"),
        (r"\bcubed\b", " ** 3"),
        (r"\bto\s+the\s+power\s+of\b", " ** "),
        (r"\bmultiplied\s+by\b", "*"),
        (r"\bdivided\s+by\b", "/"),
        (r"\btimes\b", "*"),
        (r"\bplus\b", "+"),
        (r"\bminus\b", "-"),
        (r"\bover\b", "/"),
    )
]
_LEADING_PHRASE = re.compile(r"^\s*(what\s+is|what's|calculate|compute|evaluate)\s+", re.I)
# "x" is a multiplication sign only between operands ("12 x 7", "3x(2+1)"), never inside a name.
_X_TIMES = re.compile(r"(?<=[\d.)\s])\s*[xX]\s*(?=[\d.(\s-])")
_GROUPED = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])")
_CALL = re.compile(r"[A-Za-z_]\w*\s*\(")


# an "=" that is not a keyword argument (`round(x, ndigits=1)`) nor a comparison
_RESULT_SIGN = re.compile(r"(?<![A-Za-z_=!<>])=(?!=)")


def normalise_expression(expression: str) -> str:
    """Rewrite the informal forms listed in the module docstring into Python arithmetic.

    Args:
        expression: What the model or user wrote.

    Returns:
        The expression `evaluate` parses.
    """
    text = expression.strip()
    text = _LEADING_PHRASE.sub("", text)
    text = text.rstrip(" \t\n=?.")
    # "6 * 9 = 54" or "a / b = a / b = ...": small models add their own (often wrong) result or
    # repeat themselves; the expression is what stands before the first "=".
    text = _RESULT_SIGN.split(text, maxsplit=1)[0].strip()
    for old, new in (
        ("×", "*"),
        ("·", "*"),
        ("÷", "/"),
        ("−", "-"),
        ("^", "**"),
        ("{", "("),
        ("}", ")"),
        ("[", "("),
        ("]", ")"),
    ):
        text = text.replace(old, new)
    text = text.replace("$", "").replace("€", "")
    for pattern, symbol in _WORDS:
        text = pattern.sub(f" {symbol} ", text)
    text = _X_TIMES.sub(" * ", text)
    if not _CALL.search(text):
        text = _GROUPED.sub(lambda m: m.group(0).replace(",", ""), text)
    return text.strip()


def evaluate(expression: str) -> Number:
    """Evaluate arithmetic safely (see the module docstring for what is accepted).

    Args:
        expression: An arithmetic expression such as `"(3 + 4) * 12"` or `"12 x 7"`.

    Returns:
        The value, an `int` or a `float`.

    Raises:
        ToolError: The input is too long, is not arithmetic, or its value is out of bounds.
    """
    if not isinstance(expression, str):
        raise ToolError(
            f"Expected the expression as text, found {type(expression).__name__}. "
            'Fix: send {"expression": "12 * 7"}.'
        )
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolError(
            f"Expression too long: {len(expression)} characters, the limit is "
            f"{MAX_EXPRESSION_CHARS}. Fix: split the calculation into smaller steps."
        )
    text = normalise_expression(expression)
    if not text:
        raise ToolError(
            f"Expected an arithmetic expression, found {expression!r}. Fix: send e.g. '12 * 7'."
        )
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ToolError(
            f"Could not read {expression!r} as arithmetic. Use numbers, + - * / // % ** and "
            "parentheses, e.g. '(3 + 4) * 12'."
        ) from None
    try:
        value = _eval(tree.body)
    except ZeroDivisionError:
        raise ToolError(f"Division by zero in {expression!r}.") from None
    except OverflowError:
        raise ToolError(f"The result of {expression!r} is too large to compute.") from None
    except (TypeError, ValueError) as exc:
        raise ToolError(f"Cannot compute {expression!r}: {exc}.") from None
    return _bounded(value, expression)


def format_number(value: Number) -> str:
    """Format a result for the model: whole floats without `.0`, others to 12 significant digits.

    Args:
        value: A calculator result.

    Returns:
        The number as text, e.g. `"84"`, `"0.333333333333"`.
    """
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.12g}"
    return str(value)


def _bounded(value: Number, expression: str) -> Number:
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError(f"The result of {expression!r} is not a finite number.")
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        raise ToolError(
            f"The result of {expression!r} is too large (over 2**{_MAX_INT_BITS}). "
            "Fix: use smaller numbers or exponents."
        )
    return value


def _eval(node: ast.expr) -> Number:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ToolError(
                f"Only numbers are allowed, found {node.value!r}. Fix: send digits, e.g. '12 * 7'."
            )
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _eval(node.operand)
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BinOp):
        op = type(node.op)
        if op not in _BINARY:
            symbol = _SYMBOL.get(op, op.__name__)
            raise ToolError(
                f"The operator {symbol!r} is not supported; "
                "use + - * / // % or ** (or ^ for power)."
            )
        left = _eval(node.left)
        right = _eval(node.right)
        if op is ast.Pow:
            _check_power(left, right)
        return _bounded(_BINARY[op](left, right), ast.unparse(node))
    if isinstance(node, ast.Call):
        return _call(node)
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise ToolError(
            f"Unknown name {node.id!r}: only numbers, the constants pi and e, and the functions "
            f"{', '.join(_FUNCTIONS)} are allowed. Fix: replace {node.id!r} by its value."
        )
    if isinstance(node, ast.Attribute):
        raise ToolError(
            f"Attribute access ({ast.unparse(node)!r}) is not allowed; the calculator only does "
            "arithmetic on numbers."
        )
    raise ToolError(
        f"{type(node).__name__} is not arithmetic ({ast.unparse(node)!r}); use numbers, "
        "+ - * / // % **, parentheses and sqrt/abs/round/min/max."
    )


def _check_power(base: Number, exponent: Number) -> None:
    if abs(exponent) > MAX_EXPONENT:
        raise ToolError(
            f"Exponent {format_number(exponent)} is too large; the limit is {MAX_EXPONENT} in "
            "magnitude."
        )
    # Refuse before computing: a large int power costs time and memory even when refused after.
    exact = isinstance(base, int) and isinstance(exponent, int) and exponent > 0
    if exact and (abs(int(base)).bit_length() - 1) * exponent > _MAX_INT_BITS:
        raise ToolError(
            f"{base} ** {exponent} is too large (over 2**{_MAX_INT_BITS}). "
            "Fix: use smaller numbers."
        )


def _call(node: ast.Call) -> Number:
    if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
        shown = ast.unparse(node.func)
        raise ToolError(
            f"Unknown function {shown!r}; allowed: {', '.join(_FUNCTIONS)}. "
            "Fix: rewrite it with these or with operators."
        )
    name = node.func.id
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise ToolError(f"{name}() takes plain numbers only, e.g. {name}(16).")
    low, high = _ARITY[name]
    if not low <= len(node.args) <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise ToolError(f"{name}() takes {expected} argument(s), found {len(node.args)}.")
    args = [_eval(a) for a in node.args]
    if name == "sqrt" and args[0] < 0:
        raise ToolError(f"sqrt of a negative number ({format_number(args[0])}) is not real.")
    if name == "round" and len(args) == 2 and (not isinstance(args[1], int) or abs(args[1]) > 15):
        raise ToolError("round(x, n) needs a whole number n between -15 and 15.")
    return _FUNCTIONS[name](*args)


EXPRESSION_PATTERN = r"^[0-9A-Za-z+*/().,%^{}\[\] -]+$"
"""What the tool's `expression` may hold: digits, letters (functions, `pi`, `times`), operators,
parentheses (braces and brackets group like them), spaces, and nothing else; the decoding
grammar honours it. Braces stay allowed on purpose: SmolLM2-135M writes `{15 + 84}` by habit,
and forbidding them made it write `15 + 15` instead (grounding, not this pattern, is what keeps
invented numbers such as `{12.5}` out)."""


@tool
def calculator(
    # The examples matter: on eight arithmetic prompts SmolLM2-135M wrote a valid expression for
    # 6 with them and 3 without (without, it wraps numbers in braces or writes nothing usable).
    expression: Annotated[
        str,
        Field(
            description="The arithmetic to compute, for example '12 * 7' or '(3 + 4) / 2'.",
            pattern=EXPRESSION_PATTERN,
        ),
    ],
) -> str:
    """Compute an arithmetic expression and return the number. Use it for any arithmetic."""
    return format_number(evaluate(expression))


CALCULATOR_NAME = calculator.name
"""The calculator tool's name, which plan steps name in `PlanStep.tools`."""


def default_tools() -> list[BaseTool]:
    """The tools every lamina agent gets unless told otherwise: `[calculator]`.

    Returns:
        A new list (callers may extend it).
    """
    return [calculator]
