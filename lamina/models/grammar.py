"""GBNF grammars for constrained decoding: a choice among fixed strings, JSON that fits a schema.

Small models rarely write a well-formed tool call or JSON object on their own; under a grammar
they cannot write anything else. llama.cpp's JSON-schema converter takes a subset of JSON Schema,
so :func:`clean_schema` first inlines references and drops the keywords it cannot take (or that
would make the grammar needlessly large, like string ``format``s). A ``pattern`` is kept, so the
grammar honours it, unless the converter cannot read that regex.

Compiled :class:`llama_cpp.LlamaGrammar` objects are cached by their grammar text.
"""

from __future__ import annotations

import json
import logging
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from lamina.errors import ConfigError

if TYPE_CHECKING:
    from llama_cpp import LlamaGrammar

logger = logging.getLogger(__name__)

__all__ = [
    "DROPPED_KEYWORDS",
    "check_literals",
    "choice_grammar",
    "clean_schema",
    "compile_grammar",
    "continuation_grammar",
    "grammar_rule_names",
    "json_schema_grammar",
]

DROPPED_KEYWORDS: frozenset[str] = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "$anchor",
        "title",
        "examples",
        "format",
        "patternProperties",
        "propertyNames",
        "contentEncoding",
        "contentMediaType",
        "contentSchema",
        "not",
        "if",
        "then",
        "else",
        "dependentRequired",
        "dependentSchemas",
        "dependencies",
        "unevaluatedProperties",
        "unevaluatedItems",
        "contains",
        "minContains",
        "maxContains",
        "uniqueItems",
        "multipleOf",
        "minProperties",
        "maxProperties",
        "readOnly",
        "writeOnly",
        "deprecated",
        "discriminator",
    }
)
"""Keywords :func:`clean_schema` removes: llama.cpp's converter cannot take them, or they would
blow up the grammar (string formats). Values are still validated afterwards
against the full schema where the caller keeps it."""

# Keywords whose value is one sub-schema, a list of sub-schemas, or a map of name -> sub-schema.
_SUBSCHEMA = frozenset({"items", "additionalProperties"})
_SUBSCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
_SUBSCHEMA_MAPS = frozenset({"properties"})
_DEFINITION_KEYS = ("$defs", "definitions")
# Keywords that say what a value is; a sub-schema with none of them allows any JSON value.
_SHAPE_KEYWORDS = frozenset(
    {"type", "enum", "const", "anyOf", "oneOf", "allOf", "properties", "items", "prefixItems"}
)
_ANY_TYPE = ["string", "number", "boolean", "object", "array", "null"]


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Turn a JSON schema into the subset llama.cpp's grammar converter takes.

    Local ``$ref``s (``#/$defs/...``, ``#/definitions/...``) are inlined and the definitions
    removed; the keywords in :data:`DROPPED_KEYWORDS` are dropped at every level; types, enums,
    consts, nested objects, arrays (with ``minItems``/``maxItems``), ``required`` and unions stay.
    A sub-schema that says nothing about its value (``{}``, or only a description) allows any
    JSON value, spelled as a list of every type: llama.cpp's converter would read it as an object.

    Args:
        schema: a JSON schema (e.g. from ``Model.model_json_schema()``). It is not modified.

    Returns:
        A new, self-contained schema.

    Raises:
        ConfigError: the schema is not a dict, holds a non-local or unknown ``$ref``, or is
            recursive (a grammar for it would have no end).
    """
    if not isinstance(schema, dict):
        raise ConfigError(
            f"Expected a JSON schema as a dict, found {type(schema).__name__}. Fix: pass "
            "Model.model_json_schema() or a dict such as {'type': 'object', 'properties': {...}}."
        )
    defs: dict[str, Any] = {}
    for key in _DEFINITION_KEYS:
        found = schema.get(key)
        if isinstance(found, dict):
            defs.update({f"#/{key}/{name}": value for name, value in found.items()})
    cleaned: dict[str, Any] = _clean(schema, defs, ())
    return cleaned


def _any_value(node: dict[str, Any]) -> dict[str, Any]:
    """`node`, with every JSON type allowed when it does not say what its value is."""
    if _SHAPE_KEYWORDS.isdisjoint(node):
        return {**node, "type": list(_ANY_TYPE)}
    return node


def _clean(node: Any, defs: dict[str, Any], resolving: tuple[str, ...]) -> Any:
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref not in defs:
            raise ConfigError(
                f"Schema reference {ref!r} cannot be resolved: expected a local reference to one "
                f"of {sorted(defs) or '(no definitions)'}. Fix: put the definition under $defs."
            )
        if ref in resolving:
            raise ConfigError(
                f"Schema reference {ref!r} is recursive ({' -> '.join((*resolving, ref))}); a "
                "grammar for it would have no end. Fix: give the model a non-recursive schema."
            )
        target = _clean(defs[ref], defs, (*resolving, ref))
        # Sibling keywords of $ref (pydantic puts 'description'/'default' there) refine it.
        siblings = {
            key: _clean_value(key, value, defs, resolving)
            for key, value in node.items()
            if key != "$ref" and key not in DROPPED_KEYWORDS and key not in _DEFINITION_KEYS
        }
        return {**target, **siblings} if isinstance(target, dict) else target
    cleaned: dict[str, Any] = {}
    for key, value in node.items():
        if key in DROPPED_KEYWORDS or key in _DEFINITION_KEYS or key.startswith("x-"):
            continue  # "x-..." extension keywords are annotations, not constraints
        cleaned[key] = _clean_value(key, value, defs, resolving)
    return cleaned


def _clean_value(key: str, value: Any, defs: dict[str, Any], resolving: tuple[str, ...]) -> Any:
    if key in _SUBSCHEMA:
        return _sub(value, defs, resolving)
    if key in _SUBSCHEMA_LISTS and isinstance(value, list):
        return [_sub(item, defs, resolving) for item in value]
    if key in _SUBSCHEMA_MAPS and isinstance(value, dict):
        return {name: _sub(sub, defs, resolving) for name, sub in value.items()}
    # Data, not schema: enum/const/required/default/description stay as they are.
    return value


def _sub(node: Any, defs: dict[str, Any], resolving: tuple[str, ...]) -> Any:
    cleaned = _clean(node, defs, resolving)
    return _any_value(cleaned) if isinstance(cleaned, dict) else cleaned


_GBNF_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _gbnf_literal(text: str) -> str:
    out = []
    for char in text:
        if char in _GBNF_ESCAPES:
            out.append(_GBNF_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def choice_grammar(options: list[str]) -> str:
    """A GBNF grammar that matches exactly one of `options`.

    Args:
        options: the allowed strings, non-empty; duplicates are ignored.

    Raises:
        ConfigError: no options, or an empty option.
    """
    if not options:
        raise ConfigError(
            "choice_grammar expected at least one option, found none. Fix: pass the names "
            "the model may choose from."
        )
    if any(not option for option in options):
        raise ConfigError(
            f"choice_grammar expected non-empty options, found {options!r}. "
            "Fix: remove the empty string."
        )
    unique = list(dict.fromkeys(options))
    return "root ::= " + " | ".join(_gbnf_literal(option) for option in unique) + "\n"


def continuation_grammar(names: list[str], prefix: str) -> str:
    """What may follow a tool call's arguments: another call's header, or nothing.

    The header is a newline, `prefix` and one of `names` after a space (``"\\nAction: add"``).
    The empty alternative lets the model end its turn: llama.cpp allows the end-of-turn token
    only where the grammar may end, so the model chooses between the two, and nothing else.

    Args:
        names: the tool names the model may call next, non-empty.
        prefix: what a call's header starts with (``"Action:"``).

    Raises:
        ConfigError: no names, or an empty name.
    """
    choices = choice_grammar([f" {name}" for name in names]).split("::=", 1)[1].strip()
    return f"root ::= ({_gbnf_literal(chr(10) + prefix)} ({choices}))?\n"


def json_schema_grammar(schema: dict[str, Any]) -> str:
    """A GBNF grammar for JSON values that fit `schema` (cleaned with :func:`clean_schema`).

    Raises:
        ConfigError: the schema cannot be cleaned or converted (the message names the problem).
    """
    cleaned = clean_schema(schema)
    # Key order matters for the converter (it keeps property order), so no sort_keys here.
    try:
        grammar = _schema_text_to_gbnf(json.dumps(_readable_patterns(cleaned), ensure_ascii=False))
        check_literals(grammar)
        return grammar
    except ConfigError:
        unpatterned = _without_patterns(cleaned)
        if unpatterned == cleaned:
            raise
    # A regex the converter cannot read (lookarounds, backreferences): the grammar goes without
    # it, and the value is still validated against the full schema after decoding.
    logger.warning("a `pattern` in a JSON schema is beyond llama.cpp's grammar; decoding without")
    return _schema_text_to_gbnf(json.dumps(unpatterned, ensure_ascii=False))


_CLASS_SHORTHANDS = {r"\d": "[0-9]", r"\w": "[A-Za-z0-9_]", r"\s": "[ \t]"}


def _readable_patterns(node: Any) -> Any:
    """Patterns with the shorthand classes llama.cpp's converter copies verbatim into the
    grammar (`\\d`, `\\w`, `\\s`, outside brackets) spelled as explicit classes."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                for short, spelled in _CLASS_SHORTHANDS.items():
                    value = re.sub(rf"(?<!\\)(?<!\[){re.escape(short)}", spelled, value)
                out[key] = value
            elif key in ("enum", "const", "default"):
                out[key] = value
            else:
                out[key] = _readable_patterns(value)
        return out
    if isinstance(node, list):
        return [_readable_patterns(item) for item in node]
    return node


def _without_patterns(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (v if k in ("enum", "const", "default") else _without_patterns(v))
            for k, v in node.items()
            if k != "pattern"
        }
    if isinstance(node, list):
        return [_without_patterns(item) for item in node]
    return node


@lru_cache(maxsize=256)
def _schema_text_to_gbnf(schema_text: str) -> str:
    from lamina.models.grammar_bounds import bounded_json_schema_to_gbnf

    try:
        grammar = bounded_json_schema_to_gbnf(schema_text)
    except (AssertionError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"llama.cpp cannot turn this JSON schema into a grammar ({type(exc).__name__}: "
            f"{exc}); schema: {schema_text[:300]}. Fix: use plain types (object, array, string, "
            "number, integer, boolean, enum) in the schema."
        ) from exc
    return _strict_json_chars(grammar)


# llama-cpp-python's converter lets a JSON string hold raw control characters (a newline, say),
# which no JSON parser accepts: small models then write arguments that cannot be parsed.
_LOOSE_CHAR = r'char ::= [^"\\] |'
_STRICT_CHAR = r'char ::= [^"\\\x7F\x00-\x1F] |'


def _strict_json_chars(grammar: str) -> str:
    """Forbid raw control characters inside JSON strings, as JSON itself does."""
    return grammar.replace(_LOOSE_CHAR, _STRICT_CHAR)


_RULE_DEF = re.compile(r"^([a-zA-Z0-9-]+)\s*::=", re.MULTILINE)
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\[(?:[^\]\\]|\\.)*\]')
_RULE_REF = re.compile(r"(?<![a-zA-Z0-9-])([a-zA-Z][a-zA-Z0-9-]*)")


def grammar_rule_names(grammar: str) -> tuple[set[str], set[str]]:
    """The rule names a GBNF grammar defines and the ones it references (a cheap sanity check).

    llama.cpp parses a grammar only when a sampler is built from it with a model's vocabulary;
    this check finds the most common mistake (a rule used but never defined) without a model.
    """
    defined = set(_RULE_DEF.findall(grammar))
    referenced: set[str] = set()
    for line in grammar.splitlines():
        if "::=" not in line:
            continue
        body = _QUOTED.sub(" ", line.split("::=", 1)[1])
        body = re.sub(r"\{[0-9,\s]*\}", " ", body)
        referenced.update(_RULE_REF.findall(body))
    return defined, referenced


_LITERAL = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_BAD_ESCAPE = re.compile(r'\\[^nrt"\\xuU\[\]]')


@lru_cache(maxsize=256)
def compile_grammar(grammar: str) -> LlamaGrammar:
    """A :class:`llama_cpp.LlamaGrammar` for `grammar`, cached by the grammar text.

    Raises:
        ConfigError: the grammar has no ``root`` rule or uses a rule it does not define.
    """
    from llama_cpp import LlamaGrammar

    defined, referenced = grammar_rule_names(grammar)
    if "root" not in defined:
        raise ConfigError(
            f"Expected a GBNF grammar with a 'root' rule, found rules {sorted(defined)}. "
            "Fix: name the start rule 'root'."
        )
    missing = referenced - defined
    if missing:
        raise ConfigError(
            f"GBNF grammar uses undefined rules {sorted(missing)}; defined: {sorted(defined)}. "
            "Fix: define them or correct the names."
        )
    check_literals(grammar)
    return LlamaGrammar.from_string(grammar, verbose=False)


def check_literals(grammar: str) -> None:
    """Refuse a literal with an escape llama.cpp cannot parse: llama-cpp-python would hand back
    a grammar that crashes the process when it is sampled.

    Raises:
        ConfigError: naming the literal and the escape.
    """
    for literal in _LITERAL.findall(grammar):
        bad = _BAD_ESCAPE.search(literal)
        if bad:
            raise ConfigError(
                f"GBNF literal {literal[:60]!r} holds the escape {bad.group()!r}, which llama.cpp "
                'cannot parse; expected only \\n \\r \\t \\\\ \\" \\xHH \\uHHHH. Fix: write the '
                "character itself, or a character class such as [.]."
            )
