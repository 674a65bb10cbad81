"""The BFCL AST-style checker (bench/bfcl_checker.py), on hand-made cases in BFCL's format."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from bfcl_checker import check_case, check_irrelevance, standardise

TRIANGLE = {
    "name": "calculate_triangle_area",
    "description": "Calculate the area of a triangle.",
    "parameters": {
        "type": "dict",
        "properties": {
            "base": {"type": "integer", "description": "The base."},
            "height": {"type": "float", "description": "The height."},
            "unit": {"type": "string", "description": "The unit."},
        },
        "required": ["base", "height"],
    },
}
TRIANGLE_TRUTH = [
    {"calculate_triangle_area": {"base": [10], "height": [5.0], "unit": ["units", ""]}}
]


def call(name: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args}


def test_standardise_follows_the_readme() -> None:
    assert standardise("New York, N.Y.") == "newyorkny"
    assert standardise("San_Francisco-CA") == "sanfranciscoca"
    assert standardise("a*b^c/d") == "abcd"
    assert standardise("it's") == 'it"s'


def test_simple_call_passes_with_optional_left_out_or_given() -> None:
    assert check_case(
        [call("calculate_triangle_area", base=10, height=5.0)], TRIANGLE_TRUTH, [TRIANGLE]
    ).ok
    assert check_case(
        [call("calculate_triangle_area", base=10, height=5.0, unit="Units")],
        TRIANGLE_TRUTH,
        [TRIANGLE],
    ).ok


def test_int_is_accepted_for_a_float_but_not_a_float_for_an_int() -> None:
    assert check_case(
        [call("calculate_triangle_area", base=10, height=5)], TRIANGLE_TRUTH, [TRIANGLE]
    ).ok
    result = check_case(
        [call("calculate_triangle_area", base=10.0, height=5)], TRIANGLE_TRUTH, [TRIANGLE]
    )
    assert not result.ok
    assert "expected type 'integer'" in result.reason


def test_bool_is_not_a_number() -> None:
    result = check_case(
        [call("calculate_triangle_area", base=True, height=5)], TRIANGLE_TRUTH, [TRIANGLE]
    )
    assert not result.ok


@pytest.mark.parametrize(
    ("calls", "reason"),
    [
        ([call("calculate_triangle_area", base=10)], "required parameter 'height' missing"),
        ([call("calculate_triangle_area", base=11, height=5)], "base: 11 is not one of"),
        (
            [call("calculate_triangle_area", base=10, height=5, colour="red")],
            "unexpected parameter",
        ),
        ([call("triangle_area", base=10, height=5)], "expected function"),
        ([call("calculate_triangle_area", base=10, height=5, unit="cm")], "unit: 'cm'"),
        ([], "expected 1 call(s), found 0"),
        (
            [call("calculate_triangle_area", base=10, height=5)] * 2,
            "expected 1 call(s), found 2",
        ),
    ],
)
def test_wrong_calls_fail_with_a_reason(calls: list[dict[str, Any]], reason: str) -> None:
    result = check_case(calls, TRIANGLE_TRUTH, [TRIANGLE])
    assert not result.ok
    assert reason in result.reason


def test_a_param_the_truth_needs_but_the_schema_calls_optional_must_be_given() -> None:
    truth = [{"calculate_triangle_area": {"base": [10], "height": [5], "unit": ["cm"]}}]
    result = check_case([call("calculate_triangle_area", base=10, height=5)], truth, [TRIANGLE])
    assert not result.ok
    assert "parameter 'unit' missing" in result.reason


def test_parallel_calls_match_in_any_order_one_to_one() -> None:
    play = {
        "name": "spotify.play",
        "parameters": {
            "type": "dict",
            "properties": {"artist": {"type": "string"}, "duration": {"type": "integer"}},
            "required": ["artist", "duration"],
        },
    }
    truth = [
        {"spotify.play": {"artist": ["Taylor Swift"], "duration": [20]}},
        {"spotify.play": {"artist": ["Maroon 5"], "duration": [15]}},
    ]
    swapped = [
        call("spotify.play", artist="maroon 5", duration=15),
        call("spotify.play", artist="taylor swift", duration=20),
    ]
    assert check_case(swapped, truth, [play]).ok
    twice = [call("spotify.play", artist="Taylor Swift", duration=20)] * 2
    assert not check_case(twice, truth, [play]).ok


def test_lists_and_nested_dicts() -> None:
    schema = {
        "name": "search",
        "parameters": {
            "type": "dict",
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "budget": {"type": "dict"},
                "points": {"type": "array", "items": {"type": "float"}},
            },
            "required": ["columns"],
        },
    }
    truth = [
        {
            "search": {
                "columns": [["email", "ssn"], ["ssn", "email"]],
                "budget": [{"min": [300000], "max": [400000], "currency": ["USD", ""]}],
                "points": [[1.5, 2], ""],
            }
        }
    ]
    good = call("search", columns=["SSN", "Email"], budget={"min": 300000, "max": 400000})
    assert check_case([good], truth, [schema]).ok
    assert check_case([{**good, "args": {**good["args"], "points": [1.5, 2]}}], truth, [schema]).ok
    wrong_order = call("search", columns=["email"], budget={"min": 300000, "max": 400000})
    assert not check_case([wrong_order], truth, [schema]).ok
    missing_key = call("search", columns=["email", "ssn"], budget={"min": 300000})
    assert not check_case([missing_key], truth, [schema]).ok
    extra_key = call(
        "search", columns=["email", "ssn"], budget={"min": 300000, "max": 400000, "x": 1}
    )
    assert not check_case([extra_key], truth, [schema]).ok
    bad_item_type = call("search", columns=["email", 3])
    assert not check_case([bad_item_type], truth, [schema]).ok


def test_irrelevance_passes_only_without_calls() -> None:
    assert check_irrelevance([]).ok
    result = check_irrelevance([call("determine_body_mass_index", weight=1.0, height=2.0)])
    assert not result.ok
    assert "determine_body_mass_index" in result.reason


def test_checks_the_real_data_format() -> None:
    """The first simple_python case and its answer, exactly as the data files hold them."""
    import json

    case = json.loads(
        '{"id": "simple_python_0", "question": [[{"role": "user", "content": "Find the area of '
        'a triangle with a base of 10 units and height of 5 units."}]], "function": [{"name": '
        '"calculate_triangle_area", "description": "Calculate the area of a triangle given its '
        'base and height.", "parameters": {"type": "dict", "properties": {"base": {"type": '
        '"integer", "description": "The base of the triangle."}, "height": {"type": "integer", '
        '"description": "The height of the triangle."}, "unit": {"type": "string", '
        '"description": "The unit of measure (defaults to \'units\' if not specified)"}}, '
        '"required": ["base", "height"]}}]}'
    )
    answer = json.loads(
        '{"id": "simple_python_0", "ground_truth": [{"calculate_triangle_area": {"base": [10], '
        '"height": [5], "unit": ["units", ""]}}]}'
    )
    good = [call("calculate_triangle_area", base=10, height=5, unit="units")]
    assert check_case(good, answer["ground_truth"], case["function"]).ok
    bad = [call("calculate_triangle_area", base=5, height=10)]
    assert not check_case(bad, answer["ground_truth"], case["function"]).ok


# -- schema conversion (bench/bfcl.py) ----------------------------------------------------------
def test_bfcl_schemas_become_json_schema_the_grammar_takes() -> None:
    from bfcl import convert_schema, openai_tools

    from lamina.models.grammar import grammar_rule_names, json_schema_grammar

    bfcl_params = {
        "type": "dict",
        "properties": {
            "coords": {"type": "tuple", "items": {"type": "float"}, "description": "lat, lon"},
            "options": {
                "type": "dict",
                "properties": {"deep": {"type": "boolean", "optional": True}},
            },
            "anything": {"type": "any", "description": "Any value."},
            "unit": {"type": "string", "enum": ["km", "mi"], "default": "km"},
            "count": {"type": "integer", "format": "int32"},
        },
        "required": ["coords"],
    }
    converted = convert_schema(bfcl_params)
    assert converted["type"] == "object"
    props = converted["properties"]
    assert props["coords"] == {
        "type": "array",
        "items": {"type": "number"},
        "description": "lat, lon",
    }
    assert props["options"] == {"type": "object", "properties": {"deep": {"type": "boolean"}}}
    assert props["anything"] == {"description": "Any value."}
    assert props["unit"]["enum"] == ["km", "mi"]
    assert converted["required"] == ["coords"]
    assert bfcl_params["type"] == "dict"  # the input is not modified

    (wrapped,) = openai_tools(
        [{"name": "geo.find", "description": "Find.", "parameters": bfcl_params}]
    )
    assert wrapped["function"]["name"] == "geo.find"
    grammar = json_schema_grammar(wrapped["function"]["parameters"])
    defined, referenced = grammar_rule_names(grammar)
    assert referenced <= defined
    assert '"\\"km\\""' in grammar  # the enum survives into the grammar


def test_valid_calls_need_known_names_and_fitting_arguments() -> None:
    from bfcl import openai_tools, valid_calls

    tools = openai_tools([TRIANGLE])
    assert valid_calls([call("calculate_triangle_area", base=1, height=2.5)], tools)
    assert not valid_calls([], tools)
    assert not valid_calls([call("other", base=1, height=2)], tools)
    assert not valid_calls([call("calculate_triangle_area", base="one", height=2)], tools)
    assert not valid_calls([call("calculate_triangle_area", base=1)], tools)
