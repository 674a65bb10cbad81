"""Grammar construction from JSON schemas and choice lists (no model loads)."""

from __future__ import annotations

import enum
import re

import pytest
from pydantic import BaseModel, Field

from lamina.errors import ConfigError
from lamina.models.grammar import (
    choice_grammar,
    clean_schema,
    compile_grammar,
    grammar_rule_names,
    json_schema_grammar,
)


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Address(BaseModel):
    street: str
    zip_code: str = Field(pattern=r"^\d{5}$")


class Person(BaseModel):
    name: str
    email: str = Field(json_schema_extra={"format": "email"})
    colour: Colour
    tags: list[str]
    address: Address
    nickname: str | None = None


def _keys_anywhere(node: object) -> set[str]:
    if isinstance(node, dict):
        found = set(node)
        for value in node.values():
            found |= _keys_anywhere(value)
        return found
    if isinstance(node, list):
        return set().union(*(_keys_anywhere(item) for item in node)) if node else set()
    return set()


def test_clean_schema_inlines_defs_keeps_pattern_and_drops_format() -> None:
    schema = Person.model_json_schema()
    assert "$defs" in schema  # the test needs references to inline

    cleaned = clean_schema(schema)

    keys = _keys_anywhere(cleaned)
    assert "$ref" not in keys
    assert "$defs" not in keys
    assert "format" not in keys
    props = cleaned["properties"]
    assert props["colour"]["enum"] == ["red", "green"]
    assert props["address"]["properties"]["zip_code"]["pattern"]  # the grammar honours it
    assert props["tags"] == {"items": {"type": "string"}, "type": "array"}
    assert set(cleaned["required"]) == {"name", "email", "colour", "tags", "address"}
    assert "nickname" not in cleaned["required"]


def test_clean_schema_keeps_property_named_like_a_dropped_keyword() -> None:
    schema = {
        "type": "object",
        "properties": {
            "format": {"type": "string", "format": "date"},
            "pattern": {"type": "integer"},
        },
        "required": ["format"],
    }

    cleaned = clean_schema(schema)

    assert cleaned["properties"] == {"format": {"type": "string"}, "pattern": {"type": "integer"}}


def test_clean_schema_does_not_modify_its_input() -> None:
    schema = Person.model_json_schema()
    before = repr(schema)
    clean_schema(schema)
    assert repr(schema) == before


def test_clean_schema_rejects_recursive_and_unknown_refs() -> None:
    recursive = {
        "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
        "$ref": "#/$defs/Node",
    }
    with pytest.raises(ConfigError, match="recursive"):
        clean_schema(recursive)
    with pytest.raises(ConfigError, match="cannot be resolved"):
        clean_schema({"$ref": "#/$defs/Missing"})
    with pytest.raises(ConfigError, match="dict"):
        clean_schema(["not", "a", "schema"])  # type: ignore[arg-type]


def test_json_schema_grammar_covers_nested_objects_enums_arrays_and_optionals() -> None:
    grammar = json_schema_grammar(Person.model_json_schema())

    defined, referenced = grammar_rule_names(grammar)
    assert "root" in defined
    assert referenced <= defined
    assert '"\\"red\\""' in grammar
    assert '"\\"green\\""' in grammar
    assert "zip_code" in grammar  # the nested object's key
    assert '"["' in grammar  # the array
    assert "nickname" in grammar
    # The optional field sits inside an optional group; required ones do not.
    root_rule = next(line for line in grammar.splitlines() if line.startswith("root ::="))
    assert ")?" in root_rule


def test_json_schema_grammar_respects_array_bounds() -> None:
    grammar = json_schema_grammar(
        {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2}
    )
    root_rule = next(line for line in grammar.splitlines() if line.startswith("root ::="))
    assert "*" not in root_rule  # bounded: no open repetition


def test_json_schema_grammar_is_cached_by_schema() -> None:
    schema = Person.model_json_schema()
    assert json_schema_grammar(schema) is json_schema_grammar(Person.model_json_schema())


def test_choice_grammar_matches_exactly_the_options() -> None:
    grammar = choice_grammar(["get_weather", "final_answer", "get_weather"])

    assert grammar == 'root ::= "get_weather" | "final_answer"\n'


def test_choice_grammar_escapes_quotes_backslashes_and_newlines() -> None:
    grammar = choice_grammar(['say "hi"', "a\\b", "two\nlines"])

    literals = re.findall(r'"(?:[^"\\]|\\.)*"', grammar)
    assert literals == ['"say \\"hi\\""', '"a\\\\b"', '"two\\nlines"']


def test_choice_grammar_rejects_empty_input() -> None:
    with pytest.raises(ConfigError, match="at least one option"):
        choice_grammar([])
    with pytest.raises(ConfigError, match="non-empty"):
        choice_grammar(["a", ""])


def test_grammars_compile_with_llama_grammar_and_are_cached() -> None:
    from llama_cpp import LlamaGrammar

    for text in (
        choice_grammar([" search", " final_answer"]),
        json_schema_grammar(Person.model_json_schema()),
    ):
        compiled = compile_grammar(text)
        assert isinstance(compiled, LlamaGrammar)
        assert compiled._grammar == text
        assert compile_grammar(text) is compiled


def test_compile_grammar_rejects_undefined_rules() -> None:
    with pytest.raises(ConfigError, match="undefined rules"):
        compile_grammar('root ::= "a" missing\n')
    with pytest.raises(ConfigError, match="'root'"):
        compile_grammar('start ::= "a"\n')


def test_continuation_grammar_offers_another_call_or_the_end() -> None:
    from lamina.models.grammar import continuation_grammar

    grammar = continuation_grammar(["math.hypot", "say_hi", "math.hypot"], "Action:")
    assert grammar == 'root ::= ("\\nAction:" (" math.hypot" | " say_hi"))?\n'
    defined, referenced = grammar_rule_names(grammar)
    assert defined == {"root"}
    assert referenced <= defined
    with pytest.raises(ConfigError, match="at least one option"):
        continuation_grammar([], "Action:")


def test_a_sub_schema_without_a_type_allows_any_json_value() -> None:
    schema = {
        "type": "object",
        "properties": {
            "anything": {"description": "Any value."},
            "items": {"type": "array", "items": {}},
            "text": {"type": "string"},
        },
        "required": ["anything"],
    }
    cleaned = clean_schema(schema)
    every = ["string", "number", "boolean", "object", "array", "null"]
    assert cleaned["properties"]["anything"] == {"description": "Any value.", "type": every}
    assert cleaned["properties"]["items"]["items"] == {"type": every}
    assert cleaned["properties"]["text"] == {"type": "string"}
    grammar = json_schema_grammar(schema)  # llama.cpp's converter refuses a bare description
    assert "anything" in grammar
    assert "null" in grammar


def test_a_pattern_is_honoured_by_the_grammar() -> None:
    schema = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{3}$"}},
        "required": ["code"],
    }
    grammar = json_schema_grammar(schema)
    assert 'code ::= "\\"" code-1 code-1 "-" code-2 code-2 code-2 "\\""' in grammar
    assert "code-1 ::= [A-Z]" in grammar


def test_a_pattern_beyond_the_converter_is_dropped_not_fatal(caplog) -> None:
    schema = {
        "type": "object",
        "properties": {"word": {"type": "string", "pattern": "^(?=x)\\\\w+$"}},
        "required": ["word"],
    }
    grammar = json_schema_grammar(schema)
    assert "word-kv" in grammar
    assert "beyond llama.cpp's grammar" in caplog.text


def test_a_literal_with_an_escape_llama_cpp_cannot_parse_is_refused() -> None:
    # llama-cpp-python hands back a grammar that crashes the process for these
    with pytest.raises(ConfigError, match="cannot parse"):
        compile_grammar('root ::= "1\\." "0"')


def _gbnf_literals(grammar: str) -> list[str]:
    """The GBNF string literals of `grammar`, unescaped."""
    escapes = {"\\\\": "\\", '\\"': '"', "\\n": "\n", "\\r": "\r"}
    found = []
    for literal in re.findall(r'"((?:[^"\\]|\\.)*)"', grammar):
        found.append(re.sub(r"\\.", lambda m: escapes.get(m.group(), m.group()), literal))
    return found


def test_enum_and_const_strings_with_quotes_and_backslashes_are_valid_gbnf() -> None:
    import json

    values = ['7, "from_currency', "C:\\temp", "two\nlines", "caf\u00e9"]
    schema = {
        "type": "object",
        "properties": {
            "pick": {"type": "string", "enum": values},
            "fixed": {"const": 'say "hi"'},
        },
        "required": ["pick", "fixed"],
    }
    grammar = json_schema_grammar(schema)
    compile_grammar(grammar)  # no undefined rules (the converter's own literals had them)
    literals = _gbnf_literals(grammar)
    for value in [*values, 'say "hi"']:
        # each literal is the value's JSON text: what the model writes parses back to it
        assert json.dumps(value, ensure_ascii=False) in literals
