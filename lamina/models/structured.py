"""Structured output shared by the chat models: schemas in, validated JSON out.

:func:`json_schema_of` turns what `with_structured_output` accepts (a pydantic class, a JSON
schema, a TypedDict, an OpenAI function dict) into a JSON schema; :func:`parse_structured` turns
a model's reply back into a pydantic instance or a dict; :func:`validate_json` checks a value
against a schema and says what did not fit.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ValidationError

from lamina.errors import ConfigError, ModelOutputError

__all__ = ["json_schema_of", "parse_structured", "validate_json"]


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
    pydantic_class: type[BaseModel] | None,
    json_schema: dict[str, Any],
    model_name: str,
) -> dict[str, Any] | BaseModel:
    """The structured answer in `message`: an instance of `pydantic_class`, or a checked dict.

    Raises:
        ModelOutputError: the text is not JSON, does not fit the schema, or is not an object.
    """
    text = message.content if isinstance(message.content, str) else str(message.content)
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
