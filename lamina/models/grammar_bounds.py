"""Integer bounds in grammars: `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`.

llama-cpp-python's JSON-schema converter ignores a number's bounds (its source says "TODO"), so
a model under its grammar may write ``{"input": 5000}`` for ``Field(lt=1000)``, and the call then
fails validation. For integers the bounds are a finite set of digit patterns, so this module
writes them into the grammar: :class:`BoundedSchemaConverter` is the converter with integer
bounds honoured. (Bounds of non-integer numbers still go unenforced by the grammar; the value
is validated afterwards.) This is lamina's one contact with the converter's internals
(`SchemaConverter.visit`, `_add_rule`, `RESERVED_NAMES`), pinned by
`tests/unit/test_grammar_bounds.py`.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["MAX_DIGITS", "bounded_json_schema_to_gbnf", "int_bounds", "int_range_gbnf"]

MAX_DIGITS = 16
"""The most digits llama.cpp's converter lets an integer have; an open bound stops there."""

_LIMIT = 10**MAX_DIGITS - 1


def int_bounds(schema: dict[str, Any]) -> tuple[int | None, int | None]:
    """The smallest and largest integer `schema` allows (None: unbounded on that side).

    Reads draft 6+ numeric `exclusiveMinimum`/`exclusiveMaximum` and draft 4's boolean form.
    """
    lo: int | None = None
    hi: int | None = None
    minimum, maximum = _number(schema.get("minimum")), _number(schema.get("maximum"))
    ex_min, ex_max = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if minimum is not None:
        lo = math.floor(minimum) + 1 if ex_min is True else math.ceil(minimum)
    if (bound := _number(ex_min)) is not None:
        lo = max(lo if lo is not None else -_LIMIT, math.floor(bound) + 1)
    if maximum is not None:
        hi = math.ceil(maximum) - 1 if ex_max is True else math.floor(maximum)
    if (bound := _number(ex_max)) is not None:
        hi = min(hi if hi is not None else _LIMIT, math.ceil(bound) - 1)
    return lo, hi


def _number(value: Any) -> float | None:
    """`value` if it is a finite number (a boolean is draft 4's flag, not a bound)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return value
    return None


def int_range_gbnf(lo: int, hi: int) -> str:
    """A GBNF expression for the decimal integers in [lo, hi], without leading zeros.

    The range is split into pieces of one digit count whose numbers share a prefix and then
    run through whole digit classes (``[1-9][0-9]``, ``4[0-2]``), so the expression has a
    few alternatives per digit of the bounds, however wide the range.
    """
    if lo > hi:
        raise ValueError(f"empty integer range [{lo}, {hi}]")
    alternatives: list[str] = []
    if lo < 0:
        negative = _nonnegative_patterns(max(1, -hi), -lo)
        alternatives.extend(f'"-" {p}' for p in negative)
    if hi >= 0:
        alternatives.extend(_nonnegative_patterns(max(lo, 0), hi))
    return "(" + " | ".join(alternatives) + ")"


def _nonnegative_patterns(lo: int, hi: int) -> list[str]:
    patterns: list[str] = []
    start = lo
    for stop in _split(lo, hi):
        patterns.append(_digits_pattern(str(start), str(stop)))
        start = stop + 1
    return patterns


def _split(lo: int, hi: int) -> list[int]:
    """The ends of the pieces of [lo, hi] (each piece is prefix + digit classes)."""
    stops = {hi}
    nines = 1
    stop = _fill_nines(lo, nines)
    while lo <= stop < hi:
        stops.add(stop)
        nines += 1
        stop = _fill_nines(lo, nines)
    zeros = 1
    stop = _fill_zeros(hi + 1, zeros) - 1
    while lo < stop <= hi:
        stops.add(stop)
        zeros += 1
        stop = _fill_zeros(hi + 1, zeros) - 1
    return sorted(stops)


def _fill_nines(n: int, count: int) -> int:
    text = str(n)
    return int(text[:-count] + "9" * count) if count <= len(text) else int(10**count - 1)


def _fill_zeros(n: int, count: int) -> int:
    return int(n - n % 10**count)


def _digits_pattern(start: str, stop: str) -> str:
    if len(start) != len(stop):  # cannot happen after _split; kept as a guard for the grammar
        raise ValueError(f"unsplit range {start}..{stop}")
    parts: list[str] = []
    for a, b in zip(start, stop, strict=True):
        parts.append(f'"{a}"' if a == b else f"[{a}-{b}]")
    return " ".join(parts)


def bounded_json_schema_to_gbnf(schema_text: str) -> str:
    """llama.cpp's `json_schema_to_gbnf`, with integer bounds honoured and `enum`/`const`
    strings that hold a double quote or a backslash written as valid GBNF.

    llama-cpp-python's converter escapes the quotes of the JSON text of a constant but not its
    backslashes, so `7, "from_currency` (JSON `"7, \\"from_currency"`) ended its GBNF literal
    early and left `from`, `currency` as undefined rules: a tool whose `enum` holds such a
    value could not be called at all.
    """
    from llama_cpp import llama_grammar

    class BoundedSchemaConverter(llama_grammar.SchemaConverter):  # type: ignore[misc]
        def _generate_constant_rule(self, value: Any) -> str:
            # the JSON text's own escapes are characters of the literal: backslashes first
            text = json.dumps(value, ensure_ascii=False)
            return str(self._format_literal(text.replace("\\", "\\\\")))

        def visit(self, schema: Any, name: str) -> Any:
            if isinstance(schema, dict) and schema.get("type") == "integer":
                lo, hi = int_bounds(schema)
                if lo is not None or hi is not None:
                    lo = -_LIMIT if lo is None else max(lo, -_LIMIT)
                    hi = _LIMIT if hi is None else min(hi, _LIMIT)
                    if lo > hi:
                        raise ValueError(
                            f"no integer fits the bounds of {json.dumps(schema)[:120]}"
                        )
                    reserved = name in llama_grammar.RESERVED_NAMES
                    rule_name = name + "-" if reserved else name or "root"
                    return self._add_rule(rule_name, int_range_gbnf(lo, hi) + " space")
            return super().visit(schema, name)

    schema = json.loads(schema_text)
    converter = BoundedSchemaConverter(
        prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False
    )
    schema = converter.resolve_refs(schema, "stdin")
    converter.visit(schema, "")
    return str(converter.format_grammar())
