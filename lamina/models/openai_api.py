"""The OpenAI-compatible HTTP API as the remote chat model speaks it.

:func:`post_completion` sends one request with retries and exponential backoff (connection
errors, timeouts, 429 and 5xx are retried; other errors are not) and checks the reply is a
completion; the other functions read a reply (its text, usage and finish reason) and shape a
request (the system turn, the schema of a `response_format`).
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage
from langchain_core.messages.ai import UsageMetadata

from lamina.errors import ConfigError, ModelError
from lamina.models.grammar import choice_grammar, json_schema_grammar
from lamina.models.tool_calls import ACTION_PREFIX

if TYPE_CHECKING:
    import httpx

__all__ = [
    "RETRY_STATUS",
    "add_usage",
    "choice_constraint",
    "chosen_tool",
    "post_completion",
    "reply_content",
    "reply_message",
    "schema_constraint",
    "schema_of_format",
    "usage_metadata",
    "with_instructions",
]

logger = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
"""HTTP statuses worth another try: the server is busy or briefly down, not refusing."""


def post_completion(
    client: httpx.Client,
    url: str,
    body: dict[str, Any],
    *,
    model_name: str,
    max_retries: int,
    backoff: float,
) -> dict[str, Any]:
    """POST `body` to `url` and return the completion, retrying what may pass on its own.

    Raises:
        ModelError: the server refused the request, answered something else than a
            completion, or could not be reached after `max_retries` retries.
    """
    import httpx

    problem = ""
    for attempt in range(max_retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            response = client.post(url, json=body)
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}"
            logger.warning("model %r at %s: %s", model_name, url, problem)
            continue
        if response.status_code in RETRY_STATUS:
            problem = f"HTTP {response.status_code}: {response.text[:200]}"
            logger.warning("model %r at %s: %s", model_name, url, problem)
            continue
        if response.status_code >= 400:
            raise ModelError(
                f"Model {model_name!r} at {url} refused the request: HTTP "
                f"{response.status_code} {response.text[:300]}. Fix: check the endpoint "
                "serves this model (remote_model) and takes these options."
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or not data.get("choices"):
            raise ModelError(
                f"Model {model_name!r} at {url} answered {response.text[:200]!r}; "
                "expected an OpenAI chat completion. Fix: point `endpoint` at an "
                "OpenAI-compatible /v1 base URL."
            )
        return data
    raise ModelError(
        f"Model {model_name!r} at {url} could not be reached after "
        f"{max_retries + 1} attempt(s): {problem}. Fix: start the server, check "
        "the endpoint URL, or give the route a fallback model."
    )


def schema_constraint(schema: dict[str, Any], *, grammar_field: bool) -> dict[str, Any]:
    """The request fields that constrain the reply to JSON fitting `schema`.

    A llama.cpp server takes a GBNF `grammar` field (`grammar_field`); others get OpenAI's
    `response_format` with the schema.
    """
    if grammar_field:
        return {"grammar": json_schema_grammar(schema)}
    return {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "lamina", "schema": schema, "strict": True},
        }
    }


def choice_constraint(options: list[str], *, grammar_field: bool) -> dict[str, Any]:
    """The request fields that constrain the reply to choosing one of `options`.

    With a grammar the reply is `Action: <option>`; without, `{"action": "<option>"}` (read
    back by :func:`chosen_tool`).
    """
    if grammar_field:
        return {"grammar": choice_grammar([f"{ACTION_PREFIX} {n}" for n in options])}
    schema = {"type": "object", "properties": {"action": {"enum": options}}, "required": ["action"]}
    return schema_constraint(schema, grammar_field=False)


def with_instructions(turns: list[dict[str, str]], instructions: str) -> list[dict[str, str]]:
    """`turns` with `instructions` appended to the system turn (one is added if none)."""
    if turns and turns[0]["role"] == "system":
        first = {"role": "system", "content": f"{turns[0]['content']}\n\n{instructions}"}
        return [first, *turns[1:]]
    return [{"role": "system", "content": instructions}, *turns]


def schema_of_format(fmt: Any) -> dict[str, Any]:
    """The JSON schema a `response_format` asks for (raises `ConfigError` if none)."""
    if isinstance(fmt, dict):
        schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema")
        if isinstance(schema, dict):
            return schema
        if fmt.get("type") == "json_object":
            return {"type": "object"}
    raise ConfigError(
        f"Expected response_format={{'schema': {{...}}}}; found {fmt!r}. Fix: pass a JSON schema."
    )


def reply_content(reply: dict[str, Any]) -> str:
    """The text of a chat completion's first choice."""
    message = reply["choices"][0].get("message") or {}
    return str(message.get("content") or "")


def chosen_tool(text: str, options: list[str], grammar: bool) -> str | None:
    """The tool a choice-stage reply names (`Action: x` or `{"action": "x"}`), if allowed."""
    if grammar:
        name = text.removeprefix(ACTION_PREFIX).strip()
    else:
        try:
            name = str(json.loads(text).get("action", ""))
        except (json.JSONDecodeError, AttributeError):
            return None
    return name if name in options else None


def add_usage(usage: list[int], reply: dict[str, Any]) -> None:
    """Add a reply's prompt and completion tokens to `usage` ([prompt, completion])."""
    u = reply.get("usage") or {}
    usage[0] += int(u.get("prompt_tokens") or 0)
    usage[1] += int(u.get("completion_tokens") or 0)


def usage_metadata(usage: list[int]) -> UsageMetadata:
    """LangChain's usage record for [prompt, completion] tokens."""
    return UsageMetadata(
        input_tokens=usage[0], output_tokens=usage[1], total_tokens=usage[0] + usage[1]
    )


def reply_message(reply: dict[str, Any], model_name: str) -> AIMessage:
    """A chat completion as an `AIMessage` (text, usage, finish reason)."""
    usage = [0, 0]
    add_usage(usage, reply)
    finish = reply["choices"][0].get("finish_reason") or "stop"
    return AIMessage(
        content=reply_content(reply),
        usage_metadata=usage_metadata(usage),
        response_metadata={"model_name": model_name, "finish_reason": finish},
    )
