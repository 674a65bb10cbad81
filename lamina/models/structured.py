"""Structured output shared by the chat models: schemas in, validated JSON out.

:func:`structured_output` is `with_structured_output` for both chat models;
:func:`json_schema_of` turns what it accepts (a pydantic class, v2 or v1, a JSON schema, a
TypedDict, an OpenAI function dict) into a JSON schema; :func:`parse_structured` turns a model's
reply back into a pydantic instance or a dict; :func:`validate_json` checks a value against a
schema and says what did not fit.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel, ValidationError

from lamina.errors import ConfigError, ModelOutputError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel, LanguageModelInput

__all__ = [
    "STRUCTURED_METHODS",
    "json_schema_of",
    "parse_structured",
    "pydantic_class_of",
    "structured_output",
    "validate_json",
]

STRUCTURED_METHODS = ("json_schema", "function_calling", "json_mode")
"""The `method`s of `with_structured_output`: all decode JSON under a grammar; `json_mode` takes
any JSON object (the prompt must say which keys), the others the schema's shape."""

JSON_MODE_SCHEMA: dict[str, Any] = {"type": "object"}
"""The schema of JSON mode: any object. A prompt never shows it (a small model copies it)."""


def pydantic_class_of(schema: Any) -> type | None:
    """`schema` if it is a pydantic class (v2, or v1 through `pydantic.v1`), else None."""
    return schema if isinstance(schema, type) and is_basemodel_subclass(schema) else None


def structured_output(
    model: BaseChatModel,
    model_name: str,
    schema: dict[str, Any] | type,
    *,
    method: str,
    include_raw: bool,
    strict: bool | None,
    bind_kwargs: dict[str, Any],
) -> Runnable[LanguageModelInput, Any]:
    """`with_structured_output` for lamina's chat models (both decode under a JSON grammar).

    The output always fits the schema (a grammar, then validation), so `strict=True` is what
    every call does and `strict=False` does not loosen it; `strict` is accepted for LangChain's
    and OpenAI's signature. The schema and method reach callbacks as LangChain's
    `ls_structured_output_format`.

    Raises:
        ConfigError: an unknown `method`, or a schema that cannot become a grammar.
    """
    from lamina.models.grammar import json_schema_grammar

    if method not in STRUCTURED_METHODS:
        raise ConfigError(
            f"Unknown structured-output method {method!r}; known: {', '.join(STRUCTURED_METHODS)}."
        )
    if strict is not None and not isinstance(strict, bool):
        raise ConfigError(f"Expected strict=True, False or None; found {strict!r}.")
    pydantic_class = pydantic_class_of(schema)
    json_schema = json_schema_of(schema)
    grammar_schema = JSON_MODE_SCHEMA if method == "json_mode" else json_schema
    json_schema_grammar(grammar_schema)  # fail at build time, not on the first call
    traced: dict[str, Any] = {"method": method}
    if strict is not None:
        traced["strict"] = strict
    llm = model.bind(
        response_format={"schema": grammar_schema},
        ls_structured_output_format={"kwargs": traced, "schema": schema},
        **bind_kwargs,
    )

    def parse(message: BaseMessage) -> Any:
        return parse_structured(message, pydantic_class, json_schema, model_name)

    if not include_raw:
        return llm | RunnableLambda(parse, name="lamina_structured_parser")

    def with_raw(message: BaseMessage) -> dict[str, Any]:
        try:
            return {"raw": message, "parsed": parse(message), "parsing_error": None}
        except ModelOutputError as exc:
            return {"raw": message, "parsed": None, "parsing_error": exc}

    return llm | RunnableLambda(with_raw, name="lamina_structured_parser_raw")


def validate_json(value: Any, schema: dict[str, Any], model_name: str, what: str) -> None:
    """Check `value` (what `model_name` wrote as `what`) against the JSON `schema`.

    Raises:
        ModelOutputError: the value does not fit the schema.
        ConfigError: the schema itself is not valid.
    """
    import jsonschema

    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as exc:
        raise ModelOutputError(
            f"Model {model_name!r} wrote {what} that do not fit the schema: {exc.message} "
            f"(at {'/'.join(str(p) for p in exc.absolute_path) or 'the top'}); found "
            f"{json.dumps(value)[:200]}. Fix: loosen the schema or use a larger model."
        ) from exc
    except jsonschema.SchemaError as exc:
        raise ConfigError(
            f"The JSON schema for {what} is not valid ({exc.message}). Fix: correct the schema."
        ) from exc


def parse_structured(
    message: BaseMessage,
    pydantic_class: type | None,
    json_schema: dict[str, Any],
    model_name: str,
) -> Any:
    """The structured answer in `message`: an instance of `pydantic_class` (a pydantic v2 or v1
    class), or a checked dict.

    Raises:
        ModelOutputError: the text is not JSON, does not fit the schema, or is not an object.
    """
    text = message.text if not isinstance(message.content, str) else message.content
    if pydantic_class is not None and not issubclass(pydantic_class, BaseModel):
        return _parse_pydantic_v1(text, pydantic_class, model_name)
    if pydantic_class is not None:
        try:
            return pydantic_class.model_validate_json(text)
        except ValidationError as exc:
            raise ModelOutputError(
                f"Model {model_name!r} wrote output that does not fit {pydantic_class.__name__}: "
                f"{exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}; found {text[:200]!r}. "
                "Fix: loosen the schema or use a larger model."
            ) from exc
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelOutputError(
            f"Model {model_name!r} wrote structured output that is not JSON ({exc.msg}); "
            f"found {text[:200]!r}. Fix: raise max_tokens."
        ) from exc
    validate_json(value, json_schema, model_name, "structured output")
    if not isinstance(value, dict):
        raise ModelOutputError(
            f"Model {model_name!r} wrote a {type(value).__name__}; expected a JSON object. "
            "Fix: give with_structured_output an object schema."
        )
    return value


def _parse_pydantic_v1(text: str, pydantic_class: Any, model_name: str) -> Any:
    from pydantic.v1 import ValidationError as ValidationErrorV1

    try:
        return pydantic_class.parse_raw(text)
    except ValidationErrorV1 as exc:
        error = exc.errors()[0]
        raise ModelOutputError(
            f"Model {model_name!r} wrote output that does not fit {pydantic_class.__name__}: "
            f"{error['msg']} at {error['loc']}; found {text[:200]!r}. Fix: loosen the schema or "
            "use a larger model."
        ) from exc


def json_schema_of(schema: dict[str, Any] | type) -> dict[str, Any]:
    """The JSON schema of a pydantic class, a JSON-schema dict, a TypedDict or a function dict.

    Raises:
        ConfigError: `schema` cannot be turned into a JSON schema.
    """
    from langchain_core.utils.function_calling import convert_to_openai_tool

    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_json_schema()
    if isinstance(schema, dict) and (
        "type" in schema or "properties" in schema or "$ref" in schema
    ):
        return schema
    try:
        parameters = convert_to_openai_tool(schema)["function"].get("parameters")
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"Cannot turn {schema!r} into a JSON schema ({exc}). Fix: pass a pydantic class or "
            "a JSON-schema dict."
        ) from exc
    return dict(parameters or {"type": "object"})
