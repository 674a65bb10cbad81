"""A LangChain chat model over an in-process llama.cpp model held by a :class:`ModelPool`.

Plain answers, token streaming, grammar-constrained tool calls and structured output:

* Tool calls are two-stage. The prompt lists the tools; stage 1 the model picks one of
  ``{tool names..., final_answer}`` under a choice grammar; stage 2 it writes the arguments under
  a grammar made from the tool's JSON schema (or, for ``final_answer``, the answer in plain text).
  Stage 2's prompt is stage 1's prompt plus the choice, so llama.cpp reuses the KV prefix. With
  parallel calls on, after each call's arguments the model either ends its turn or writes
  ``Action: <tool>`` again (a grammar allows only these two), so one reply may hold several
  calls, in the same form the prompt renders earlier calls.
* Structured output writes JSON under a grammar made from the schema, then validates it.

A constrained output cut off by ``max_tokens`` raises :class:`~lamina.errors.ModelOutputError`;
broken JSON is never returned.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import ToolCall, tool_call, tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from lamina.errors import ConfigError, ModelOutputError
from lamina.models.grammar import (
    choice_grammar,
    clean_schema,
    compile_grammar,
    continuation_grammar,
    json_schema_grammar,
)
from lamina.models.pool import ModelPool
from lamina.models.prompting import (
    ACTION_PREFIX,
    FINAL_ANSWER,
    ChatTemplate,
    Prompt,
    PromptRenderer,
    tools_instructions,
)

if TYPE_CHECKING:
    from llama_cpp import LlamaGrammar

__all__ = ["PARALLEL_TOOL_CALLS", "LlamaChatModel"]

logger = logging.getLogger(__name__)

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

_MAX_CALLS_PER_REPLY = 8
"""Bound on the calls of one reply: a model that keeps adding calls is cut off here."""


@dataclass(frozen=True)
class _Completion:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    # prompt tokens llama.cpp evaluated; the rest came from its KV cache (None: not measured)
    prompt_evaluated: int | None = None


def _usage(input_tokens: int, output_tokens: int, evaluated: int | None = None) -> UsageMetadata:
    usage = UsageMetadata(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )
    if evaluated is not None:
        # LangChain's field for prompt tokens served from a cache: here, llama.cpp's KV cache.
        usage["input_token_details"] = {"cache_read": max(0, input_tokens - evaluated)}
    return usage


def _sum_evaluated(*counts: int | None) -> int | None:
    known = [c for c in counts if c is not None]
    return sum(known) if known else None


class _PromptEvalProbe:
    """Counts the prompt tokens llama.cpp really evaluates in a completion.

    `create_completion` reports the whole prompt as `prompt_tokens` even when most of it came
    from the KV cache (the previous prompt's prefix, or a state of the prefix cache). The first
    `Llama.eval` of a completion receives exactly the tokens left to evaluate, so the probe wraps
    that method on the instance and records the length of its first call after `arm()`.
    """

    def __init__(self, llama: Any) -> None:
        self._eval = llama.eval
        self._armed = False
        self.evaluated: int | None = None

    def arm(self) -> None:
        self._armed = True
        self.evaluated = None

    def __call__(self, tokens: Sequence[int]) -> Any:
        if self._armed:
            self._armed = False
            self.evaluated = len(tokens)
        return self._eval(tokens)


def _eval_probe(llama: Any) -> _PromptEvalProbe | None:
    probe = getattr(llama, "_lamina_eval_probe", None)
    if isinstance(probe, _PromptEvalProbe):
        return probe
    if not callable(getattr(llama, "eval", None)):
        return None
    probe = _PromptEvalProbe(llama)
    try:
        llama.eval = probe
        llama._lamina_eval_probe = probe
    except AttributeError:  # an object that takes no new attributes: nothing measured
        return None
    return probe


class LlamaChatModel(BaseChatModel):
    """A chat model over the pooled llama.cpp model `model_name`.

    Build it with ``pool.chat_model(name, **settings)`` or ``lamina.models.chat_model(name)``.

    Examples:
        >>> llm = pool.chat_model("smollm2-135m-instruct", max_tokens=64)  # doctest: +SKIP
        >>> llm.invoke("What is the capital of France?").content  # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    pool: ModelPool = Field(exclude=True, repr=False)
    model_name: str
    temperature: float = Field(default=0.0, ge=0.0)
    max_tokens: int = Field(default=512, ge=1)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    top_k: int = Field(default=40, ge=0)
    repeat_penalty: float = Field(default=1.0, gt=0.0)
    seed: int | None = None
    stop: list[str] | None = None

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
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "llama-cpp"
        params["ls_model_name"] = self.model_name
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
                message = self._tool_call(llama, renderer, messages, call, stop)
            elif call.response_format is not None:
                message = self._structured(llama, renderer, messages, call)
            else:
                prompt = renderer.render(messages)
                done = self._complete(llama, prompt.text, call, stop=self._stops(stop, prompt))
                message = AIMessage(
                    content=done.text,
                    usage_metadata=_usage(
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
            chunk = ChatGenerationChunk(message=_to_chunk(whole))
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
            return
        with self.pool.use(self.model_name) as llama:
            prompt = self._get_renderer(llama).render(messages)
            tokens = _tokenize(llama, prompt.text)
            finish_reason = "length"
            pieces: list[str] = []
            probe = _eval_probe(llama)
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
            output_tokens = len(_tokenize(llama, generated, bos=False)) if generated else 0
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=_usage(
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
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools; the model then answers with grammar-constrained tool calls or text.

        Args:
            tools: LangChain tools (``@tool`` functions, ``BaseTool``), pydantic classes, or
                OpenAI-format tool dicts.
            tool_choice: ``None``/``"auto"`` (a tool or a plain answer), ``"required"``/
                ``"any"``/``True`` (some tool), a tool name (that tool), or ``"none"``.
            parallel_tool_calls: let one reply hold several calls (after each call the model
                may add another ``Action:`` or end its turn); ``None`` means
                :data:`PARALLEL_TOOL_CALLS`. Only chat-template models take it: a base model
                rarely ends its turn, so it makes one call per reply.
            **kwargs: further call options (sampling settings such as ``max_tokens``).

        Raises:
            ConfigError: a tool cannot be converted, names repeat or clash with
                ``final_answer``, or `tool_choice` names an unknown tool.
        """
        formatted = [_to_openai_tool(tool) for tool in tools]
        names = [tool["function"]["name"] for tool in formatted]
        if len(set(names)) != len(names):
            raise ConfigError(
                f"Expected distinct tool names, found {names}. Fix: rename the duplicates."
            )
        if FINAL_ANSWER in names:
            raise ConfigError(
                f"A tool may not be called {FINAL_ANSWER!r} (the model picks it to answer "
                "without a tool). Fix: rename the tool."
            )
        choice = _normalise_tool_choice(tool_choice, names)
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = bool(parallel_tool_calls)
        return self.bind(tools=formatted, tool_choice=choice, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        method: Literal["json_schema", "function_calling", "json_mode"] = "json_schema",
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """A runnable that answers with an instance of `schema` (JSON under a grammar).

        Args:
            schema: a pydantic class (returns instances) or a JSON-schema dict (returns dicts);
                TypedDicts and OpenAI function dicts work too (return dicts).
            include_raw: return ``{"raw": AIMessage, "parsed": ..., "parsing_error": ...}``.
            method: every method decodes under a JSON grammar; ``"json_mode"`` takes any
                JSON object and ignores the schema's shape.
            **kwargs: further call options (sampling settings such as ``max_tokens``).

        Raises:
            ConfigError: the schema cannot be turned into a grammar, or `method` is unknown.
        """
        if method not in ("json_schema", "function_calling", "json_mode"):
            raise ConfigError(
                f"Unknown structured-output method {method!r}; known: json_schema, "
                "function_calling, json_mode."
            )
        pydantic_class = (
            schema if isinstance(schema, type) and issubclass(schema, BaseModel) else None
        )
        json_schema = _json_schema_of(schema)
        grammar_schema = {"type": "object"} if method == "json_mode" else json_schema
        json_schema_grammar(grammar_schema)  # fail at build time, not on the first call
        llm = self.bind(response_format={"schema": grammar_schema}, **kwargs)

        def parse(message: BaseMessage) -> dict[str, Any] | BaseModel:
            return _parse_structured(message, pydantic_class, json_schema, self.model_name)

        parser = RunnableLambda(parse, name="lamina_structured_parser")
        if not include_raw:
            return llm | parser

        def with_raw(message: BaseMessage) -> dict[str, Any]:
            try:
                return {"raw": message, "parsed": parse(message), "parsing_error": None}
            except ModelOutputError as exc:
                return {"raw": message, "parsed": None, "parsing_error": exc}

        return llm | RunnableLambda(with_raw, name="lamina_structured_parser_raw")

    # -- internals -------------------------------------------------------------------------
    def _call_options(self, kwargs: dict[str, Any]) -> _CallOptions:
        unknown = set(kwargs) - _CALL_KEYS
        if unknown:
            raise ConfigError(
                f"Unknown call options {sorted(unknown)} for LlamaChatModel; known: "
                f"{sorted(_CALL_KEYS)}."
            )
        sampling = {key: kwargs.get(key, getattr(self, key)) for key in _SAMPLING_KEYS}
        parallel = kwargs.get("parallel_tool_calls")
        return _CallOptions(
            sampling=sampling,
            tools=kwargs.get("tools") or [],
            tool_choice=kwargs.get("tool_choice"),
            response_format=kwargs.get("response_format"),
            parallel_tool_calls=PARALLEL_TOOL_CALLS if parallel is None else bool(parallel),
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

    def _stops(self, stop: list[str] | None, prompt: Prompt) -> list[str]:
        return [*(stop if stop is not None else self.stop or []), *prompt.stop]

    def _metadata(self, finish_reason: str) -> dict[str, Any]:
        return {"model_name": self.model_name, "finish_reason": finish_reason}

    def _complete(
        self,
        llama: Any,
        text: str,
        call: _CallOptions,
        *,
        stop: list[str] | None = None,
        grammar: LlamaGrammar | None = None,
        max_tokens: int | None = None,
    ) -> _Completion:
        tokens = _tokenize(llama, text)
        args = call.sampling_args()
        if max_tokens is not None:
            args["max_tokens"] = max_tokens
        probe = _eval_probe(llama)
        if probe is not None:
            probe.arm()
        result = llama.create_completion(tokens, stop=stop or [], grammar=grammar, **args)
        choice = result["choices"][0]
        usage = result["usage"]
        return _Completion(
            text=choice["text"],
            finish_reason=choice["finish_reason"] or "stop",
            prompt_tokens=int(usage["prompt_tokens"]),
            completion_tokens=int(usage["completion_tokens"]),
            prompt_evaluated=probe.evaluated if probe is not None else None,
        )

    def _tool_call(
        self,
        llama: Any,
        renderer: PromptRenderer,
        messages: list[BaseMessage],
        call: _CallOptions,
        stop: list[str] | None,
    ) -> AIMessage:
        by_name = {tool["function"]["name"]: tool for tool in call.tools}
        choice = call.tool_choice
        forced = choice if choice not in (None, "auto", "required", "any", "none") else None
        allow_final = choice in (None, "auto")
        options = [*by_name, FINAL_ANSWER] if allow_final else list(by_name)
        instructions = tools_instructions(call.tools, allow_final_answer=allow_final)
        prompt = renderer.render(messages, instructions=instructions)
        stage1 = prompt.text + ACTION_PREFIX
        input_tokens = output_tokens = 0
        evaluated: int | None = None
        if forced is not None:
            chosen = str(forced)
        else:
            grammar = compile_grammar(choice_grammar([f" {name}" for name in options]))
            # Under a grammar a name may come out in more tokens than the tokenizer would use;
            # one token per character (plus the end token) always suffices.
            budget = max(len(name) for name in options) + 2
            done = self._complete(llama, stage1, call, grammar=grammar, max_tokens=budget)
            input_tokens, output_tokens = done.prompt_tokens, done.completion_tokens
            evaluated = done.prompt_evaluated
            chosen = done.text.strip()
            if done.finish_reason == "length" or chosen not in options:
                raise ModelOutputError(
                    f"Model {self.model_name!r} did not finish choosing a tool: expected one of "
                    f"{options}, found {done.text!r}. Fix: raise max_tokens or shorten the "
                    "tool names."
                )
        stage2 = f"{stage1} {chosen}\n"
        if chosen == FINAL_ANSWER:
            done = self._complete(llama, stage2, call, stop=self._stops(stop, prompt))
            return AIMessage(
                content=done.text.strip(),
                usage_metadata=_usage(
                    input_tokens or done.prompt_tokens,
                    output_tokens + done.completion_tokens,
                    _sum_evaluated(evaluated, done.prompt_evaluated),
                ),
                response_metadata=self._metadata(done.finish_reason),
            )
        calls: list[ToolCall] = []
        text = stage2
        while True:
            done = self._arguments(llama, text, call, by_name[chosen])
            output_tokens += done.completion_tokens
            evaluated = _sum_evaluated(evaluated, done.prompt_evaluated)
            input_tokens = input_tokens or done.prompt_tokens
            args = json.loads(done.text)  # checked by _arguments
            if any(c["name"] == chosen and c["args"] == args for c in calls):
                break  # the same call again: the model is looping, not adding a call
            calls.append(tool_call(name=chosen, args=args, id=f"call_{uuid.uuid4().hex}"))
            text += done.text
            if not self._parallel(call, renderer) or len(calls) >= _MAX_CALLS_PER_REPLY:
                break
            # Another call, or the end of the turn: the model's choice, under a grammar that
            # allows only these two (an end-of-turn token ends it, as after any reply).
            more = compile_grammar(continuation_grammar(list(by_name), ACTION_PREFIX))
            budget = len(ACTION_PREFIX) + max(len(name) for name in by_name) + 4
            done = self._complete(llama, text, call, grammar=more, max_tokens=budget)
            output_tokens += done.completion_tokens
            evaluated = _sum_evaluated(evaluated, done.prompt_evaluated)
            picked = done.text.strip()[len(ACTION_PREFIX) :].strip()
            if done.finish_reason == "length" or picked not in by_name:
                break  # the turn ended (or was cut off before a name): the calls so far stand
            chosen = picked
            text += f"\n{ACTION_PREFIX} {chosen}\n"
        return AIMessage(
            content="",
            tool_calls=calls,
            usage_metadata=_usage(input_tokens, output_tokens, evaluated),
            response_metadata=self._metadata("tool_calls"),
        )

    def _parallel(self, call: _CallOptions, renderer: PromptRenderer) -> bool:
        return call.parallel_tool_calls and renderer.prompt_format == "chat-template"

    def _arguments(
        self, llama: Any, text: str, call: _CallOptions, tool: dict[str, Any]
    ) -> _Completion:
        """The JSON arguments of one call, written under the grammar of the tool's schema."""
        name = tool["function"]["name"]
        parameters = tool["function"].get("parameters") or {"type": "object"}
        grammar = compile_grammar(json_schema_grammar(parameters))
        done = self._complete(llama, text, call, grammar=grammar)
        if done.finish_reason == "length" and _is_loop(done.text):
            # Greedy decoding of a small model can fall into a loop inside a string or an array
            # ("Santa Barbara", "Santa Barbara", ...) until max_tokens. Decoding once more with
            # a repetition penalty lets the grammar's closing quote or bracket win; a long value
            # that does not repeat itself is left alone (and reported as cut off).
            logger.info("tool %r: arguments looped; decoding again with a repeat penalty", name)
            penalised = dataclasses.replace(
                call,
                sampling={
                    **call.sampling,
                    "repeat_penalty": max(call.sampling["repeat_penalty"], _LOOP_PENALTY),
                },
            )
            first = done
            done = self._complete(llama, text, penalised, grammar=grammar)
            done = dataclasses.replace(
                done, completion_tokens=first.completion_tokens + done.completion_tokens
            )
        args = _load_json(done, self.model_name, f"the arguments of tool {name!r}")
        _validate(args, parameters, self.model_name, f"the arguments of tool {name!r}")
        if not isinstance(args, dict):
            raise ModelOutputError(
                f"Model {self.model_name!r} wrote {type(args).__name__} arguments for tool "
                f"{name!r}; expected a JSON object. Fix: give the tool an object schema."
            )
        return done

    def _structured(
        self,
        llama: Any,
        renderer: PromptRenderer,
        messages: list[BaseMessage],
        call: _CallOptions,
    ) -> AIMessage:
        response_format = call.response_format or {}
        schema = response_format.get("schema") or {"type": "object"}
        compact = json.dumps(clean_schema(schema), ensure_ascii=False, separators=(",", ":"))
        instructions = f"Reply with only a JSON object that fits this JSON schema: {compact}"
        prompt = renderer.render(messages, instructions=instructions)
        grammar = compile_grammar(json_schema_grammar(schema))
        done = self._complete(llama, prompt.text, call, grammar=grammar)
        _load_json(done, self.model_name, "the structured output")
        return AIMessage(
            content=done.text.strip(),
            usage_metadata=_usage(
                done.prompt_tokens, done.completion_tokens, done.prompt_evaluated
            ),
            response_metadata=self._metadata(done.finish_reason),
        )


@dataclass(frozen=True)
class _CallOptions:
    sampling: dict[str, Any]
    tools: list[dict[str, Any]]
    tool_choice: str | None
    response_format: dict[str, Any] | None
    parallel_tool_calls: bool = False

    def sampling_args(self) -> dict[str, Any]:
        s = self.sampling
        return {
            "max_tokens": s["max_tokens"],
            "temperature": s["temperature"],
            "top_p": s["top_p"],
            "top_k": s["top_k"],
            "repeat_penalty": s["repeat_penalty"],
            "seed": s["seed"],
        }


_LOOP_PENALTY = 1.3
"""The repeat penalty of the second decode of arguments that looped."""


def _is_loop(
    text: str, *, min_span: int = 48, max_period: int = 40, max_sentence: int = 200
) -> bool:
    """Does `text` end in one piece repeated: a short piece (up to `max_period` chars) at least
    3 times over `min_span` chars, or a sentence-long one (up to `max_sentence`) twice? Two
    identical runs of 40+ characters in a row do not happen in prose that is going anywhere."""
    for period in range(1, max_sentence + 1):
        span = max(min_span, 3 * period) if period <= max_period else 2 * period
        if span > len(text):
            break
        tail = text[-span:]
        if all(tail[i] == tail[i - period] for i in range(period, span)):
            return True
    return False


def _tokenize(llama: Any, text: str, *, bos: bool = True) -> list[int]:
    """Tokenise like ``create_completion`` does for a string (special tokens parsed, BOS once)."""
    tokens: list[int] = llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
    if bos:
        bos_id = llama.token_bos()
        if bos_id >= 0 and llama._model.add_bos_token() and (not tokens or tokens[0] != bos_id):
            tokens.insert(0, bos_id)
    return tokens


def _load_json(done: _Completion, model_name: str, what: str) -> Any:
    if done.finish_reason == "length":
        raise ModelOutputError(
            f"Model {model_name!r} was cut off by max_tokens after {done.completion_tokens} "
            f"tokens while writing {what}: expected complete JSON, found "
            f"{done.text[-80:]!r}. Fix: raise max_tokens (e.g. chat_model(..., max_tokens=512) "
            "or .bind(max_tokens=512))."
        )
    try:
        return json.loads(done.text)
    except json.JSONDecodeError as exc:
        raise ModelOutputError(
            f"Model {model_name!r} wrote {what} that is not JSON ({exc.msg} at position "
            f"{exc.pos}): found {done.text[-80:]!r}. Fix: raise max_tokens or simplify the schema."
        ) from exc


def _validate(value: Any, schema: dict[str, Any], model_name: str, what: str) -> None:
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


def _parse_structured(
    message: BaseMessage,
    pydantic_class: type[BaseModel] | None,
    json_schema: dict[str, Any],
    model_name: str,
) -> dict[str, Any] | BaseModel:
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
    _validate(value, json_schema, model_name, "structured output")
    if not isinstance(value, dict):
        raise ModelOutputError(
            f"Model {model_name!r} wrote a {type(value).__name__}; expected a JSON object. "
            "Fix: give with_structured_output an object schema."
        )
    return value


def _json_schema_of(schema: dict[str, Any] | type) -> dict[str, Any]:
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


def _to_openai_tool(tool: dict[str, Any] | type | Callable[..., Any] | BaseTool) -> dict[str, Any]:
    try:
        formatted = convert_to_openai_tool(tool)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"Cannot use {tool!r} as a tool ({exc}). Fix: pass a @tool function, a BaseTool, "
            "a pydantic class or an OpenAI tool dict."
        ) from exc
    if formatted.get("type") != "function" or "function" not in formatted:
        raise ConfigError(
            f"Expected a function tool, found {formatted!r}. Fix: pass function tools only."
        )
    return formatted


def _normalise_tool_choice(
    tool_choice: str | dict[str, Any] | bool | None, names: list[str]
) -> str | None:
    if tool_choice is None or tool_choice is False:
        return None
    if tool_choice is True:
        return "required"
    if isinstance(tool_choice, dict):
        name = tool_choice.get("function", {}).get("name") or tool_choice.get("name")
        if not isinstance(name, str):
            raise ConfigError(
                f"Expected tool_choice {{'type': 'function', 'function': {{'name': ...}}}}, found "
                f"{tool_choice!r}."
            )
        tool_choice = name
    if tool_choice in ("auto", "required", "any", "none"):
        return tool_choice
    if tool_choice not in names:
        raise ConfigError(
            f"tool_choice {tool_choice!r} is not a bound tool; known: {', '.join(names)} (or "
            "'auto', 'required', 'any', 'none')."
        )
    return tool_choice


def _to_chunk(message: BaseMessage) -> AIMessageChunk:
    if not isinstance(message, AIMessage):
        return AIMessageChunk(content=message.content)
    return AIMessageChunk(
        content=message.content,
        tool_call_chunks=[
            tool_call_chunk(
                name=call["name"],
                args=json.dumps(call["args"], ensure_ascii=False),
                id=call.get("id"),
                index=i,
            )
            for i, call in enumerate(message.tool_calls)
        ],
        usage_metadata=message.usage_metadata,
        response_metadata=message.response_metadata,
        chunk_position="last",
    )
