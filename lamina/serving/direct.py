"""A model talked to directly (by its name, not the agent): an OpenAI request as chat-model calls.

:func:`direct_call` checks everything a request asks of a model and turns it into one
:class:`DirectCall`; :func:`run_choices` runs it. Tool calling goes through the chat model's own
``bind_tools`` — for lamina's llama.cpp models the two-stage grammar built from each tool's whole
JSON schema — so a served tool call fits its schema exactly as an in-process one does; this
module writes no decoder of its own. What lamina cannot honour is a 400 that says so, never
ignored:

- `tools`: function tools only, at most 128, distinct names (``^[A-Za-z0-9_.-]{1,64}$``:
  OpenAI's, plus dots; not ``final_answer``, which lamina's models pick to answer in text), each
  schema valid JSON Schema that llama.cpp's grammar converter takes.
- `tool_choice`: ``"auto"`` (a call or a text answer), ``"none"`` (a text answer; the tools are
  not shown to the model), ``"required"`` (some tool) or ``{"type": "function", "function":
  {"name": ...}}`` (that tool). Only with `tools`, as OpenAI has it.
- `parallel_tool_calls`: when not sent, lamina's own default applies
  (:data:`lamina.models.llama.PARALLEL_TOOL_CALLS`, off: small models asked for two dependent
  calls tend to write the second at once with an invented input), not OpenAI's (on).
- `n`: up to :data:`~lamina.serving.protocol.MAX_CHOICES` choices, decoded one after the
  other; choice ``i`` samples with seed ``seed + i`` (a random base seed when none is sent), so
  choices differ when the temperature is above 0.
- the history: an assistant's `tool_calls` must be answered by `tool` messages with their ids,
  and a `tool` message must answer a call made before it.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lamina.errors import ConfigError, LaminaError
from lamina.models.grammar import json_schema_grammar
from lamina.models.tool_calls import FINAL_ANSWER
from lamina.serving.requests import DEFAULT_MAX_TOKENS, ApiError, api_error, to_langchain

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from lamina.serving.protocol import ChatCompletionRequest

__all__ = [
    "DirectCall",
    "choice_options",
    "direct_call",
    "new_base_seed",
    "run_choices",
    "runnable_for",
]


@dataclass(frozen=True)
class DirectCall:
    """What one direct request asks of a model.

    Attributes:
        messages: the conversation, as LangChain messages.
        options: the chat model's call options (max_tokens, temperature, top_p, seed,
            response_format).
        stop: the caller's stop sequences (None: the model's own).
        tools: OpenAI function tools (empty: none).
        tool_choice: "auto", "none", "required" or a tool's name (None without tools).
        parallel_tool_calls: the request's setting (None: the model's default).
        n: how many choices.
        include_usage: a stream ends with a usage chunk.
        tool_relevance: the relevance gate's decision on an ``"auto"`` choice (see
            :mod:`lamina.serving.tool_gate`; None: not weighed).
    """

    messages: list[BaseMessage]
    options: dict[str, Any]
    stop: list[str] | None
    tools: list[dict[str, Any]]
    tool_choice: str | None
    parallel_tool_calls: bool | None
    n: int
    include_usage: bool
    tool_relevance: dict[str, Any] | None = None

    @property
    def calls_tools(self) -> bool:
        """The model may (or must) answer with tool calls."""
        return bool(self.tools) and self.tool_choice != "none"

    def extension(self) -> dict[str, Any] | None:
        """The reply's `lamina` field: the relevance gate's decision, when it weighed one."""
        return None if self.tool_relevance is None else {"tool_relevance": self.tool_relevance}


class _FunctionDef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # OpenAI's pattern plus dots: dotted names (`math.factorial`) decode as well as any
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    description: str | None = Field(default=None, max_length=10_000)
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class _FunctionTool(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["function"]
    function: _FunctionDef


def direct_call(req: ChatCompletionRequest) -> DirectCall:
    """Check `req` and turn it into a :class:`DirectCall`.

    Raises:
        ApiError: 400 for anything the request asks that lamina cannot do, saying what.
    """
    messages = [to_langchain(m, i) for i, m in enumerate(req.messages)]
    _check_tool_history(req)
    tools = _tools(req.tools or [])
    choice = _tool_choice(req, [t["function"]["name"] for t in tools])
    if req.parallel_tool_calls is not None and not tools:
        raise ApiError(
            400,
            "Expected `parallel_tool_calls` only with `tools`; found it without tools. Fix: "
            "drop it or send `tools`.",
            param="parallel_tool_calls",
        )
    options: dict[str, Any] = {"max_tokens": req.token_limit() or DEFAULT_MAX_TOKENS}
    try:
        schema = req.json_schema()
    except ValueError as exc:
        raise ApiError(400, f"Invalid `response_format`: {exc}.", param="response_format") from None
    if schema is not None:
        _check_schema(schema, "response_format")
        if tools and choice != "none":
            raise ApiError(
                400,
                "Expected either `tools` or a JSON `response_format`; found both (lamina's "
                "models decode a reply under one grammar). Fix: send one, or `tool_choice: "
                '"none"` to answer in the format.',
                param="response_format",
            )
        # lamina's models decode under a grammar built from the schema
        options["response_format"] = {"schema": schema}
    for key in ("temperature", "top_p", "seed"):
        value = getattr(req, key)
        if value is not None:
            options[key] = value
    return DirectCall(
        messages=messages,
        options=options,
        stop=req.stops(),
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=req.parallel_tool_calls,
        n=req.n,
        include_usage=bool(req.stream_options and req.stream_options.include_usage),
    )


def runnable_for(chat_model: Any, call: DirectCall) -> Any:
    """`chat_model`, with the call's tools bound through its own ``bind_tools``."""
    if not call.calls_tools:
        return chat_model
    extra: dict[str, Any] = {}
    if call.parallel_tool_calls is not None:
        extra["parallel_tool_calls"] = call.parallel_tool_calls
    try:
        return chat_model.bind_tools(call.tools, tool_choice=call.tool_choice, **extra)
    except ConfigError as exc:  # the tools were checked; what is left is the request's too
        raise ApiError(400, str(exc), param="tools") from None


def choice_options(call: DirectCall, base_seed: int) -> list[dict[str, Any]]:
    """The call options of each of the `n` choices (their seeds differ)."""
    if call.n == 1:
        return [call.options]
    seed = call.options.get("seed")
    first = int(seed) if seed is not None else base_seed
    return [{**call.options, "seed": first + i} for i in range(call.n)]


def new_base_seed() -> int:
    """A random seed for the choices of a request that sent none."""
    return secrets.randbelow(2**31 - 1024)


def run_choices(chat_model: Any, call: DirectCall) -> list[Any]:
    """Each choice's reply (an `AIMessage`), one after the other.

    Raises:
        ApiError: the model failed, by whose fault (see :func:`api_error`).
    """
    runnable = runnable_for(chat_model, call)
    replies = []
    for options in choice_options(call, new_base_seed()):
        try:
            replies.append(runnable.invoke(call.messages, stop=call.stop, **options))
        except LaminaError as exc:
            raise api_error(exc) from None
    return replies


# -- checks ---------------------------------------------------------------------------------------
def _tools(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        try:
            tool = _FunctionTool.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(["tools", str(i), *(str(p) for p in first["loc"])])
            raise ApiError(
                400,
                f"Invalid `{where}`: {first['msg']}. Fix: send function tools, "
                '{"type": "function", "function": {"name": "...", "description": "...", '
                '"parameters": {...JSON schema...}}}.',
                param=where,
            ) from None
        function = tool.function
        if function.name == FINAL_ANSWER:
            raise ApiError(
                400,
                f"A tool may not be called {FINAL_ANSWER!r} on lamina serve (its models pick that "
                f"name to answer in text); found it at `tools.{i}`. Fix: rename the tool.",
                param=f"tools.{i}.function.name",
            )
        if any(t["function"]["name"] == function.name for t in tools):
            raise ApiError(
                400,
                f"Expected distinct tool names; found {function.name!r} twice. Fix: rename one.",
                param=f"tools.{i}.function.name",
            )
        parameters = function.parameters or {"type": "object", "properties": {}}
        _check_schema(parameters, f"tools.{i}.function.parameters")
        spec: dict[str, Any] = {"name": function.name, "parameters": parameters}
        if function.description:
            spec["description"] = function.description
        tools.append({"type": "function", "function": spec})
    return tools


def _check_schema(schema: dict[str, Any], where: str) -> None:
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ApiError(
            400,
            f"Expected a valid JSON schema at `{where}`; found one with an error: {exc.message}. "
            "Fix: correct the schema.",
            param=where,
        ) from None
    try:
        json_schema_grammar(schema)
    except ConfigError as exc:
        raise ApiError(400, f"Unsupported JSON schema at `{where}`: {exc}", param=where) from None


def _tool_choice(req: ChatCompletionRequest, names: list[str]) -> str | None:
    choice = req.tool_choice
    if not names:
        if choice is not None:
            raise ApiError(
                400,
                "Expected `tool_choice` only with `tools`; found it without tools. Fix: drop it "
                "or send `tools`.",
                param="tool_choice",
            )
        return None
    if choice is None:
        return "auto"
    if isinstance(choice, str):
        if choice in ("auto", "none", "required"):
            return choice
        raise ApiError(
            400,
            f"Expected `tool_choice` to be 'auto', 'none', 'required' or "
            f'{{"type": "function", "function": {{"name": ...}}}}; found {choice!r}. Fix: use '
            "one of these.",
            param="tool_choice",
        )
    function = choice.get("function")
    name = function.get("name") if isinstance(function, dict) else None
    if choice.get("type") != "function" or not isinstance(name, str):
        raise ApiError(
            400,
            f'Expected `tool_choice` {{"type": "function", "function": {{"name": ...}}}}; found '
            f"{json.dumps(choice)[:120]}. Fix: name one function of `tools` (other kinds of "
            "tool choice are not supported).",
            param="tool_choice",
        )
    if name not in names:
        raise ApiError(
            400,
            f"Expected `tool_choice` to name one of the tools {names}; found {name!r}. Fix: "
            "name a tool the request sends.",
            param="tool_choice",
        )
    return name


def _check_tool_history(req: ChatCompletionRequest) -> None:
    """Every assistant tool call is answered by a later `tool` message with its id, and every
    `tool` message answers a call made before it (OpenAI refuses the same)."""
    open_calls: dict[str, int] = {}
    for i, message in enumerate(req.messages):
        if message.role == "tool":
            call_id = message.tool_call_id
            if call_id is None or call_id not in open_calls:
                raise ApiError(
                    400,
                    f"Expected `messages.{i}` (role tool) to answer a tool call of an earlier "
                    f"assistant message by its id; found tool_call_id {call_id!r}, and the "
                    f"unanswered calls are {sorted(open_calls)}. Fix: send the assistant message "
                    "with its `tool_calls` before the results, each result with its call's id.",
                    param=f"messages.{i}.tool_call_id",
                )
            del open_calls[call_id]
            continue
        if open_calls:
            first = min(open_calls.values())
            raise ApiError(
                400,
                f"Expected the tool calls of `messages.{first}` to be answered by `tool` "
                f"messages before `messages.{i}`; found no answer for {sorted(open_calls)}. "
                "Fix: add a `tool` message with each call's id and result.",
                param=f"messages.{i}",
            )
        if message.tool_calls and message.role != "assistant":
            raise ApiError(
                400,
                f"Expected `tool_calls` on assistant messages only; found them on `messages.{i}` "
                f"(role {message.role}). Fix: move them to an assistant message.",
                param=f"messages.{i}.tool_calls",
            )
        for call in message.tool_calls or []:
            open_calls[call.id] = i
    if open_calls:
        raise ApiError(
            400,
            f"Expected `tool` messages answering the calls {sorted(open_calls)} at the end of "
            "`messages`; found none. Fix: run the tools and send their results.",
            param="messages",
        )
