"""A chat model served by another process: any OpenAI-compatible endpoint.

`ModelSpec(name=..., endpoint="http://HOST:PORT/v1")` makes lamina talk to llama.cpp's server
(`python -m llama_cpp.server`, `llama-server`), vLLM, or another `lamina serve` instead of loading
a GGUF file. Tool calls and structured output keep their guarantees: the constraint travels —

- llama.cpp servers take a GBNF `grammar` field, so tool calls are lamina's two-stage grammar
  (choose `Action: <tool>|final_answer`, then the arguments under the tool's JSON-schema grammar),
  as in process;
- other servers (`grammar_field=False`) get the same two stages as JSON schemas through OpenAI's
  `response_format`;
- a server that answers OpenAI's `tools` with schema-valid calls itself (`native_tools=True`,
  `lamina serve`) gets them as they are (see :mod:`lamina.models.openai_tools`).

Every answer is still validated here (JSON schema of the tool's arguments). An endpoint that
cannot be reached is retried with exponential backoff, then raises :class:`ModelError`, which the
layers answer by escalating to the route's fallback model.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from pydantic import BaseModel, Field, PrivateAttr

from lamina.errors import ConfigError, ModelOutputError
from lamina.models.openai_api import (
    add_usage,
    choice_constraint,
    chosen_tool,
    post_completion,
    reply_content,
    reply_message,
    schema_constraint,
    schema_of_format,
    usage_metadata,
    with_instructions,
)
from lamina.models.openai_tools import call_id, parsed_arguments, tool_reply, tools_request
from lamina.models.prompting import PromptRenderer, to_turns
from lamina.models.structured import structured_output
from lamina.models.tool_calls import (
    ACTION_PREFIX,
    bound_tools,
    check_arguments,
    normalise_tool_choice,
    plan_tool_choice,
    reply_chunk,
    tools_instructions,
)

if TYPE_CHECKING:
    import httpx
    from langchain_core.tools import BaseTool

    from lamina.models.catalog import ModelSpec

__all__ = ["RemoteChatModel"]

_CALL_KEYS = frozenset(
    {
        "temperature",
        "max_tokens",
        "seed",
        "top_p",
        "tools",
        "tool_choice",
        "response_format",
        "parallel_tool_calls",  # a reply holds one call, which any setting allows
    }
)


class RemoteChatModel(BaseChatModel):
    """A LangChain chat model over an OpenAI-compatible `/v1/chat/completions` endpoint.

    Args:
        model_name: lamina's name for the model (routes and traces use it).
        endpoint: the base URL, ending in `/v1`.
        remote_model: the id the server expects in `model` (default: `model_name`).
        api_key: sent as a bearer token when set.
        grammar_field: the server takes llama.cpp's `grammar` field.
        native_tools: the server answers OpenAI's `tools` with calls that fit their schemas
            (`lamina serve`); tool requests go to it as they are instead of in two stages.
        prompt_format: "chat-template" sends messages to `/chat/completions` (the server applies
            the model's template); "completion" renders lamina's plain layout for base models and
            sends it to `/completions`, since a base model has no chat template to apply.
        request_timeout: seconds per HTTP request.
        max_retries: retries after a connection error, timeout, 429 or 5xx.
        backoff: the first retry's delay in seconds; each further retry doubles it.
    """

    model_name: str
    endpoint: str
    remote_model: str | None = None
    api_key: str | None = None
    grammar_field: bool = True
    prompt_format: Literal["chat-template", "completion"] = "chat-template"
    native_tools: bool = False
    request_timeout: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=2, ge=0)
    backoff: float = Field(default=0.5, ge=0)
    temperature: float = Field(default=0.0, ge=0.0)
    max_tokens: int = Field(default=512, ge=1)
    seed: int | None = 0
    stop: list[str] | None = None
    _client: Any = PrivateAttr(default=None)

    @classmethod
    def from_spec(cls, spec: ModelSpec, **settings: Any) -> RemoteChatModel:
        """The chat model for a `ModelSpec` with an `endpoint`.

        Raises:
            ConfigError: the spec has no endpoint, or its API-key variable is unset.
        """
        if spec.endpoint is None:
            raise ConfigError(
                f"Model {spec.name!r} has no endpoint. Fix: give ModelSpec(endpoint='http://"
                "HOST:PORT/v1') for a remote model, or a GGUF path for a local one."
            )
        api_key = None
        if spec.api_key_env:
            api_key = os.environ.get(spec.api_key_env)
            if not api_key:
                raise ConfigError(
                    f"Model {spec.name!r} reads its API key from ${spec.api_key_env}, which is "
                    f"unset. Fix: export {spec.api_key_env}=<key>, or drop api_key_env."
                )
        known = {k: v for k, v in settings.items() if k in cls.model_fields}
        return cls(
            model_name=spec.name,
            endpoint=spec.endpoint,
            remote_model=spec.remote_model,
            api_key=api_key,
            grammar_field=spec.grammar_field,
            native_tools=spec.native_tools,
            prompt_format=spec.prompt_format,
            request_timeout=spec.request_timeout,
            max_retries=spec.max_retries,
            **known,
        )

    @property
    def _llm_type(self) -> str:
        return "lamina-remote"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "endpoint": self.endpoint,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
        }

    # -- LangChain API ------------------------------------------------------------------------
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self._check_keys(kwargs)
        if self.prompt_format == "completion":
            message = self._complete_messages(messages, kwargs, stop)
            return ChatResult(generations=[ChatGeneration(message=message)])
        tools = kwargs.get("tools") or []
        if tools and self.native_tools:
            message = self._native_tool_call(messages, kwargs, stop)
            return ChatResult(generations=[ChatGeneration(message=message)])
        turns = _turns(messages, None)
        if tools:
            return ChatResult(generations=[ChatGeneration(message=self._tool_call(turns, kwargs))])
        body = self._body(turns, kwargs, stop)
        fmt = kwargs.get("response_format")
        if fmt is not None:
            body.update(self._constraint(schema_of_format(fmt)))
        reply = self._post(body)
        return ChatResult(
            generations=[ChatGeneration(message=reply_message(reply, self.model_name))]
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # One request, one chunk: the endpoints stream, but the answer's guarantees (grammar,
        # validation) hold for whole replies, and the agent's layers consume whole replies.
        # The chunk carries the reply's tool calls, as the non-streamed reply does.
        result = self._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
        chunk = ChatGenerationChunk(message=reply_chunk(result.generations[0].message))
        if run_manager is not None:
            run_manager.on_llm_new_token(chunk.text, chunk=chunk)
        yield chunk

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        parallel_tool_calls: bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools: each call chooses one tool (or `final_answer`) under a constraint, then
        writes its arguments under the tool's JSON schema (see the module docstring).

        A reply holds one call, which `parallel_tool_calls=True` allows too; `strict` is
        accepted for OpenAI's signature (arguments always fit the schema). A tool given twice
        (a class and its schema) is bound once.
        """
        formatted = bound_tools(tools)
        choice = normalise_tool_choice(tool_choice, [t["function"]["name"] for t in formatted])
        return self.bind(tools=formatted, tool_choice=choice, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        method: Literal["json_schema", "function_calling", "json_mode"] = "json_schema",
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """An instance of `schema`, constrained by the server (arguments: LlamaChatModel's)."""
        return structured_output(
            self,
            self.model_name,
            schema,
            method=method,
            include_raw=include_raw,
            strict=strict,
            bind_kwargs=kwargs,
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- internals ----------------------------------------------------------------------------
    def _check_keys(self, kwargs: dict[str, Any]) -> None:
        unknown = set(kwargs) - _CALL_KEYS
        if unknown:
            raise ConfigError(
                f"Unknown call options {sorted(unknown)} for RemoteChatModel; known: "
                f"{sorted(_CALL_KEYS)}."
            )

    def _body(
        self, turns: list[dict[str, str]], kwargs: dict[str, Any], stop: list[str] | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.remote_model or self.model_name,
            "messages": turns,
            "temperature": kwargs.get("temperature", self.temperature),
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
        }
        seed = kwargs.get("seed", self.seed)
        if seed is not None:
            body["seed"] = seed
        stops = stop if stop is not None else self.stop
        if stops:
            body["stop"] = list(stops)
        return body

    def _constraint(self, schema: dict[str, Any]) -> dict[str, Any]:
        return schema_constraint(schema, grammar_field=self.grammar_field)

    def _tool_call(self, turns: list[dict[str, str]], kwargs: dict[str, Any]) -> AIMessage:
        tools: list[dict[str, Any]] = kwargs["tools"]
        by_name = {t["function"]["name"]: t for t in tools}
        plan = plan_tool_choice(kwargs.get("tool_choice"), list(by_name))
        forced, options = plan.forced, plan.options
        allowed, answer = plan.allow_final_answer, plan.text_answer
        instructions = tools_instructions(tools, allow_final_answer=allowed, text_answer=answer)
        with_tools = with_instructions(turns, instructions)
        usage = [0, 0]
        if forced is not None:
            chosen = str(forced)
        else:
            body = self._body(with_tools, kwargs, None)
            body["max_tokens"] = max(len(n) for n in options) + len(ACTION_PREFIX) + 4
            body.update(choice_constraint(options, grammar_field=self.grammar_field))
            reply = self._post(body)
            add_usage(usage, reply)
            text = reply_content(reply).strip()
            picked = chosen_tool(text, options, self.grammar_field)
            if picked is None:
                raise ModelOutputError(
                    f"Model {self.model_name!r} at {self.endpoint} did not choose a tool: "
                    f"expected one of {options}, found {text[:120]!r}. Fix: check the server "
                    "honours the constraint (grammar_field), or raise max_tokens."
                )
            chosen = picked
        chosen_turn = {"role": "assistant", "content": f"{ACTION_PREFIX} {chosen}"}
        if chosen == plan.text_answer:
            # The answer is an ordinary reply to the conversation (tool results included); with
            # the tool protocol still in view small models answer with the protocol itself.
            reply = self._post(self._body(turns, kwargs, None))
            add_usage(usage, reply)
            return AIMessage(
                content=reply_content(reply).strip(),
                usage_metadata=usage_metadata(usage),
                response_metadata={"model_name": self.model_name, "finish_reason": "stop"},
            )
        parameters = by_name[chosen]["function"].get("parameters") or {"type": "object"}
        ask = {"role": "user", "content": f"Write the arguments of {chosen} as one JSON object."}
        body = self._body([*with_tools, chosen_turn, ask], kwargs, None)
        body.update(self._constraint(parameters))
        reply = self._post(body)
        add_usage(usage, reply)
        args = parsed_arguments(
            reply_content(reply), chosen, model_name=self.model_name, endpoint=self.endpoint
        )
        check_arguments(args, parameters, self.model_name, chosen)
        return AIMessage(
            content="",
            tool_calls=[{"name": chosen, "args": args, "id": call_id()}],
            usage_metadata=usage_metadata(usage),
            response_metadata={"model_name": self.model_name, "finish_reason": "tool_calls"},
        )

    def _native_tool_call(
        self, messages: list[BaseMessage], kwargs: dict[str, Any], stop: list[str] | None
    ) -> AIMessage:
        """One request with OpenAI's `tools`; the reply's calls are checked against the schemas."""
        body = self._body([], kwargs, stop) | tools_request(messages, kwargs)
        reply = self._post(body)
        tools = kwargs["tools"]
        return tool_reply(reply, tools, model_name=self.model_name, endpoint=self.endpoint)

    def _complete_messages(
        self, messages: list[BaseMessage], kwargs: dict[str, Any], stop: list[str] | None
    ) -> AIMessage:
        """Base models: lamina's completion layout through `/completions`, as in process."""
        renderer = PromptRenderer("completion")
        tools = kwargs.get("tools") or []
        if tools:
            raise ConfigError(
                f"Model {self.model_name!r} is a completion (base) model at {self.endpoint}; "
                "remote tool calls need a chat model. Fix: route tool steps to a chat model."
            )
        prompt = renderer.render(messages)
        body = self._body([], kwargs, None)
        del body["messages"]
        body["prompt"] = prompt.text
        body["stop"] = [*(stop if stop is not None else self.stop or []), *prompt.stop]
        fmt = kwargs.get("response_format")
        if fmt is not None:
            body.update(self._constraint(schema_of_format(fmt)))
        reply = self._post(body, path="/completions")
        usage = [0, 0]
        add_usage(usage, reply)
        choice = reply["choices"][0]
        return AIMessage(
            content=str(choice.get("text") or "").strip(),
            usage_metadata=usage_metadata(usage),
            response_metadata={
                "model_name": self.model_name,
                "finish_reason": choice.get("finish_reason") or "stop",
            },
        )

    def _http(self) -> httpx.Client:
        import httpx

        if self._client is None:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            self._client = httpx.Client(timeout=self.request_timeout, headers=headers)
        client: httpx.Client = self._client
        return client

    def _post(self, body: dict[str, Any], path: str = "/chat/completions") -> dict[str, Any]:
        return post_completion(
            self._http(),
            f"{self.endpoint}{path}",
            body,
            model_name=self.model_name,
            max_retries=self.max_retries,
            backoff=self.backoff,
        )


def _turns(messages: list[BaseMessage], instructions: str | None) -> list[dict[str, str]]:
    return to_turns(messages, instructions, tool_role=False)
