"""Integer bounds (minimum, maximum, exclusive ones too) written into the grammar."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lamina.models.grammar import compile_grammar, json_schema_grammar
from lamina.models.grammar_bounds import int_bounds, int_range_gbnf


def _as_regex(expression: str) -> re.Pattern[str]:
    """The GBNF expression int_range_gbnf writes (literals, classes, |) as a Python regex."""
    pattern = expression.replace('"', "").replace(" ", "")
    return re.compile(pattern)


@given(st.integers(-20_000, 20_000), st.integers(0, 20_000))
def test_the_range_expression_matches_exactly_the_integers_in_range(lo, width):
    hi = lo + width
    regex = _as_regex(int_range_gbnf(lo, hi))
    rng = random.Random(lo * 31 + width)
    probes = {lo, hi, lo - 1, hi + 1, 0, -1, 1, *(rng.randint(lo - 50, hi + 50) for _ in range(40))}
    for n in probes:
        assert bool(regex.fullmatch(str(n))) == (lo <= n <= hi), (lo, hi, n)
    # no leading zeros, no "-0"
    assert not regex.fullmatch("-0")
    assert not regex.fullmatch("0" + str(abs(hi))) or hi == 0


def test_bounds_read_both_drafts():
    assert int_bounds({"type": "integer", "exclusiveMinimum": -1000, "exclusiveMaximum": 1000}) == (
        -999,
        999,
    )
    assert int_bounds({"type": "integer", "minimum": 1, "maximum": 5}) == (1, 5)
    assert int_bounds({"minimum": 1, "exclusiveMinimum": True, "maximum": 5}) == (2, 5)
    assert int_bounds({"minimum": 0.5}) == (1, None)
    assert int_bounds({"type": "integer"}) == (None, None)


def test_a_tool_with_exclusive_bounds_gets_them_in_its_grammar():
    # LangChain's standard-test tool: `Field(gt=-1000, lt=1000)`
    schema = {
        "type": "object",
        "properties": {
            "input": {"type": "integer", "exclusiveMinimum": -1000, "exclusiveMaximum": 1000}
        },
        "required": ["input"],
    }
    grammar = json_schema_grammar(schema)
    rule = next(line for line in grammar.splitlines() if line.startswith("input ::="))
    regex = _as_regex(rule.split("::=", 1)[1].removesuffix(" space").strip())
    assert regex.fullmatch("999")
    assert regex.fullmatch("-999")
    assert not regex.fullmatch("1000")
    assert not regex.fullmatch("-1000")
    compile_grammar(grammar)  # llama.cpp parses it


def test_an_open_bound_still_stops_at_the_converters_digit_limit():
    grammar = json_schema_grammar({"type": "integer", "minimum": 0})
    root = grammar.splitlines()[0] if grammar.startswith("root") else grammar
    assert '"-"' not in root
    compile_grammar(grammar)


def test_bounds_nobody_can_meet_are_a_config_error():
    from lamina.errors import ConfigError

    with pytest.raises(ConfigError, match="no integer fits"):
        json_schema_grammar({"type": "integer", "minimum": 5, "maximum": 4})
