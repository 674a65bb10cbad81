"""A LangChain chat model over an in-process llama.cpp model held by a :class:`ModelHost`.

Plain answers, token streaming, grammar-constrained tool calls and structured output. How the
constrained answers are decoded (two-stage tool calls, JSON under a schema's grammar) is in
:mod:`lamina.models.llama.decoding`; one completion and its usage in
:mod:`lamina.models.llama.completion`; the tool-call protocol shared with the remote chat model in
:mod:`lamina.models.tool_calls`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from lamina.errors import ConfigError
from lamina.models.host import ModelHost
from lamina.models.llama.completion import (
    CallOptions,
    check_prompt_fits,
    complete,
    eval_probe,
    response_metadata,
    tokenize,
    usage,
)
from lamina.models.llama.decoding import decode_structured, decode_tool_calls
from lamina.models.prompting import ChatTemplate, Prompt, PromptRenderer
from lamina.models.structured import structured_output
from lamina.models.tool_calls import bound_tools, normalise_tool_choice, reply_chunk

__all__ = ["PARALLEL_TOOL_CALLS", "LlamaChatModel"]

_SAMPLING_KEYS = frozenset(
    {"temperature", "max_tokens", "top_p", "top_k", "repeat_penalty", "seed"}
)
_CALL_KEYS = (
    frozenset({"tools", "tool_choice", "response_format", "parallel_tool_calls"}) | _SAMPLING_KEYS
)
PARALLEL_TOOL_CALLS = False
"""Whether one reply may hold several tool calls when `bind_tools` does not say. Off by default:
small models asked for two dependent calls tend to write the second at once, with an invented
input, instead of waiting for the first call's result."""


class LlamaChatModel(BaseChatModel):
    """A chat model over the pooled llama.cpp model `model_name`.

    Build it with ``pool.chat_model(name, **settings)`` or ``lamina.models.chat_model(name)``.
    A prompt longer than the model's context is refused before any decoding with an
    `InputError` that gives both lengths in tokens and the fixes.

    Tool-call arguments and structured output cut off by `max_tokens` in a loop (a piece
    repeated to the end) are decoded once more with a repeat penalty; ``retry_loops=False``
    reports them as cut off instead (an agent sets it from its `loop_retry` guard). Measured
    on ``bench/bfcl.py --quick`` (SmolLM2-135M, 24 cases, two lamina systems): 5 decodes looped;
    retried, each gave a call that fits its schema; not retried, each was a `ModelOutputError`.
    Accuracy was the same either way.

    Examples:
        >>> llm = pool.chat_model("smollm2-135m-instruct", max_tokens=64)  # doctest: +SKIP
        >>> llm.invoke("What is the capital of France?").content  # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    pool: ModelHost = Field(exclude=True, repr=False)
    model_name: str
    temperature: float = Field(default=0.0, ge=0.0)
    max_tokens: int = Field(default=512, ge=1)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    top_k: int = Field(default=40, ge=0)
    repeat_penalty: float = Field(default=1.0, gt=0.0)
    seed: int | None = None
    stop: list[str] | None = None
    retry_loops: bool = True

    _renderer: PromptRenderer | None = PrivateAttr(default=None)

    @property
    def prompt_format(self) -> str:
        """'chat-template' (an instruct model) or 'completion' (a base model: prompts that a
        text continues read better than instructions)."""
        return self.pool.spec(self.model_name).prompt_format

    # -- LangChain plumbing ----------------------------------------------------------------
    @property
    def _llm_type(self) -> str:
        return "lamina-llama-cpp"

    @property
    def _identifying_params(self) -> Mapping[str, Any]:
        return {
            "model_name": self.model_name,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "repeat_penalty": self.repeat_penalty,
            "seed": self.seed,
            "stop": self.stop,
            "retry_loops": self.retry_loops,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "llama-cpp"
        params["ls_model_name"] = kwargs.get("model") or self.model_name
        params["ls_temperature"] = kwargs.get("temperature", self.temperature)
        params["ls_max_tokens"] = kwargs.get("max_tokens", self.max_tokens)
        return params

    # -- generation ------------------------------------------------------------------------
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = self._call_options(kwargs)
        with self.pool.use(self.model_name) as llama:
            renderer = self._get_renderer(llama)
            if call.tools and call.tool_choice != "none":
                message = decode_tool_calls(
                    llama, renderer, messages, call, self._caller_stops(stop), self.model_name
                )
            elif call.response_format is not None:
                message = decode_structured(llama, renderer, messages, call, self.model_name)
            else:
                prompt = renderer.render(messages)
                done = complete(
                    llama,
                    prompt.text,
                    call,
                    stop=self._stops(stop, prompt),
                    model_name=self.model_name,
                )
                message = AIMessage(
                    content=done.text,
                    usage_metadata=usage(
                        done.prompt_tokens, done.completion_tokens, done.prompt_evaluated
                    ),
                    response_metadata=self._metadata(done.finish_reason),
                )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        call = self._call_options(kwargs)
        if (call.tools and call.tool_choice != "none") or call.response_format is not None:
            # A constrained answer is only useful whole: one chunk after validation.
            result = self._generate(messages, stop=stop, **kwargs)
            whole = result.generations[0].message
            chunk = ChatGenerationChunk(message=reply_chunk(whole))
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
            return
        with self.pool.use(self.model_name) as llama:
            prompt = self._get_renderer(llama).render(messages)
            tokens = tokenize(llama, prompt.text)
            check_prompt_fits(llama, len(tokens), call.sampling["max_tokens"], self.model_name)
            finish_reason = "length"
            pieces: list[str] = []
            probe = eval_probe(llama)
            if probe is not None:
                probe.arm()
            stream = llama.create_completion(
                tokens, stream=True, stop=self._stops(stop, prompt), **call.sampling_args()
            )
            for part in stream:
                choice = part["choices"][0]
                text = choice["text"]
                if choice.get("finish_reason"):
                    finish_reason = choice["finish_reason"]
                if not text:
                    continue
                pieces.append(text)
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                if run_manager is not None:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk
            # llama.cpp's stream carries no usage; counting the text costs microseconds.
            generated = "".join(pieces)
            output_tokens = len(tokenize(llama, generated, bos=False)) if generated else 0
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=usage(
                    len(tokens), output_tokens, probe.evaluated if probe is not None else None
                ),
                response_metadata=self._metadata(finish_reason),
                chunk_position="last",
            )
        )

    # -- tools and structured output -------------------------------------------------------
    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        parallel_tool_calls: bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools; the model then answers with grammar-constrained tool calls or text.

        Args:
            tools: LangChain tools (``@tool`` functions, ``BaseTool``), pydantic classes, or
                OpenAI-format tool dicts. A tool given twice (a class and its schema) is bound
                once.
            tool_choice: ``None``/``"auto"`` (a tool or a plain answer), ``"required"``/
                ``"any"``/``True`` (some tool), a tool name (that tool), or ``"none"``.
            parallel_tool_calls: let one reply hold several calls (after each call the model
                may add another ``Action:`` or end its turn); ``None`` means
                :data:`PARALLEL_TOOL_CALLS`. Only chat-template models take it: a base model
                rarely ends its turn, so it makes one call per reply.
            strict: accepted for OpenAI's signature; arguments always fit the tool's schema
                (written under its grammar, then validated), whatever it says.
            **kwargs: further call options (sampling settings such as ``max_tokens``).

        Raises:
            ConfigError: a tool cannot be converted, two different tools share a name, a tool
                is called ``final_answer``, or `tool_choice` names an unknown tool.
        """
        formatted = bound_tools(tools)
        choice = normalise_tool_choice(tool_choice, [t["function"]["name"] for t in formatted])
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = bool(parallel_tool_calls)
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
        """A runnable that answers with an instance of `schema` (JSON under a grammar).

        Args:
            schema: a pydantic class, v2 or v1 (returns instances), or a JSON-schema dict
                (returns dicts); TypedDicts and OpenAI function dicts work too (return dicts).
            include_raw: return ``{"raw": AIMessage, "parsed": ..., "parsing_error": ...}``.
            method: every method decodes under a JSON grammar; ``"json_mode"`` takes any
                JSON object and ignores the schema's shape (the prompt must name the keys).
            strict: accepted for LangChain's signature; the output always fits the schema.
            **kwargs: further call options (sampling settings such as ``max_tokens``).

        Raises:
            ConfigError: the schema cannot be turned into a grammar, or `method` is unknown.
        """
        return structured_output(
            self,
            self.model_name,
            schema,
            method=method,
            include_raw=include_raw,
            strict=strict,
            bind_kwargs=kwargs,
        )

    # -- internals -------------------------------------------------------------------------
    def _call_options(self, kwargs: dict[str, Any]) -> CallOptions:
        unknown = set(kwargs) - _CALL_KEYS
        if unknown:
            raise ConfigError(
                f"Unknown call options {sorted(unknown)} for LlamaChatModel; known: "
                f"{sorted(_CALL_KEYS)}."
            )
        sampling = {key: kwargs.get(key, getattr(self, key)) for key in _SAMPLING_KEYS}
        parallel = kwargs.get("parallel_tool_calls")
        return CallOptions(
            sampling=sampling,
            tools=kwargs.get("tools") or [],
            tool_choice=kwargs.get("tool_choice"),
            response_format=kwargs.get("response_format"),
            parallel_tool_calls=PARALLEL_TOOL_CALLS if parallel is None else bool(parallel),
            retry_loops=self.retry_loops,
        )

    def _get_renderer(self, llama: Any) -> PromptRenderer:
        renderer = self._renderer
        if renderer is None:
            spec = self.pool.spec(self.model_name)
            template = (
                ChatTemplate.from_llama(llama, self.model_name)
                if spec.prompt_format == "chat-template"
                else None
            )
            renderer = PromptRenderer(spec.prompt_format, template)
            self._renderer = renderer
        return renderer

    def _caller_stops(self, stop: list[str] | None) -> list[str]:
        return list(stop if stop is not None else self.stop or [])

    def _stops(self, stop: list[str] | None, prompt: Prompt) -> list[str]:
        return [*self._caller_stops(stop), *prompt.stop]

    def _metadata(self, finish_reason: str) -> dict[str, Any]:
        return response_metadata(self.model_name, finish_reason)
