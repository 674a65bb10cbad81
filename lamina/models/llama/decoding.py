"""Constrained decoding with llama.cpp: two-stage tool calls and structured output.

* Tool calls (:func:`decode_tool_calls`): the prompt lists the tools; stage 1 the model picks one
  of ``{tool names..., final_answer}`` under a choice grammar; stage 2 it writes the arguments
  under a grammar made from the tool's JSON schema (or, for ``final_answer``, the answer in plain
  text). Stage 2's prompt is stage 1's prompt plus the choice, so llama.cpp reuses the KV prefix.
  With parallel calls on, after each call's arguments the model either ends its turn or writes
  ``Action: <tool>`` again (a grammar allows only these two), so one reply may hold several
  calls, in the same form the prompt renders earlier calls.
* Structured output (:func:`decode_structured`) writes JSON under a grammar made from the schema.

A constrained output cut off by ``max_tokens`` raises :class:`~lamina.errors.ModelOutputError`;
broken JSON is never returned.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.tool import ToolCall, tool_call

from lamina.errors import ModelOutputError
from lamina.models.grammar import (
    choice_grammar,
    clean_schema,
    compile_grammar,
    continuation_grammar,
    json_schema_grammar,
)
from lamina.models.llama.completion import (
    LOOP_PENALTY,
    CallOptions,
    Completion,
    complete,
    is_loop,
    load_json,
    response_metadata,
    sum_evaluated,
    usage,
)
from lamina.models.prompting import PromptRenderer
from lamina.models.tool_calls import (
    ACTION_PREFIX,
    check_arguments,
    plan_tool_choice,
    tools_instructions,
)

__all__ = [
    "MAX_CALLS_PER_REPLY",
    "RETRY_TEMPERATURE",
    "decode_arguments",
    "decode_structured",
    "decode_tool_calls",
]

logger = logging.getLogger(__name__)

MAX_CALLS_PER_REPLY = 8
"""Bound on the calls of one reply: a model that keeps adding calls is cut off here."""


def decode_tool_calls(
    llama: Any,
    renderer: PromptRenderer,
    messages: list[BaseMessage],
    call: CallOptions,
    stop: Sequence[str],
    model_name: str,
) -> AIMessage:
    """The reply to `messages` with `call.tools` bound: tool calls, or a final answer.

    Args:
        llama: the loaded model (held by the caller).
        renderer: renders `messages` for this model.
        messages: the conversation.
        call: the call's options (tools, tool choice, sampling, parallel calls).
        stop: the caller's stop sequences for a plain-text final answer.
        model_name: the model's name, for messages and metadata.

    Raises:
        ModelOutputError: the model did not finish choosing a tool, or wrote arguments that are
            cut off, not JSON or do not fit the tool's schema.
    """
    by_name = {tool["function"]["name"]: tool for tool in call.tools}
    plan = plan_tool_choice(call.tool_choice, list(by_name))
    options = plan.options
    instructions = tools_instructions(
        call.tools, allow_final_answer=plan.allow_final_answer, text_answer=plan.text_answer
    )
    prompt = renderer.render(messages, instructions=instructions)
    stage1 = prompt.text + ACTION_PREFIX
    input_tokens = output_tokens = 0
    evaluated: int | None = None
    if plan.forced is not None:
        chosen = str(plan.forced)
    else:
        grammar = compile_grammar(choice_grammar([f" {name}" for name in options]))
        # Under a grammar a name may come out in more tokens than the tokenizer would use;
        # one token per character (plus the end token) always suffices.
        budget = max(len(name) for name in options) + 2
        done = complete(
            llama, stage1, call, grammar=grammar, max_tokens=budget, model_name=model_name
        )
        input_tokens, output_tokens = done.prompt_tokens, done.completion_tokens
        evaluated = done.prompt_evaluated
        chosen = done.text.strip()
        if done.finish_reason == "length" or chosen not in options:
            raise ModelOutputError(
                f"Model {model_name!r} did not finish choosing a tool: expected one of "
                f"{options}, found {done.text!r}. Fix: raise max_tokens or shorten the "
                "tool names."
            )
    stage2 = f"{stage1} {chosen}\n"
    if chosen == plan.text_answer:
        done = complete(llama, stage2, call, stop=[*stop, *prompt.stop], model_name=model_name)
        return AIMessage(
            content=done.text.strip(),
            usage_metadata=usage(
                input_tokens or done.prompt_tokens,
                output_tokens + done.completion_tokens,
                sum_evaluated(evaluated, done.prompt_evaluated),
            ),
            response_metadata=response_metadata(model_name, done.finish_reason),
        )
    parallel = call.parallel_tool_calls and renderer.prompt_format == "chat-template"
    calls: list[ToolCall] = []
    text = stage2
    while True:
        done = decode_arguments(llama, text, call, by_name[chosen], model_name)
        output_tokens += done.completion_tokens
        evaluated = sum_evaluated(evaluated, done.prompt_evaluated)
        input_tokens = input_tokens or done.prompt_tokens
        args = json.loads(done.text)  # checked by decode_arguments
        if any(c["name"] == chosen and c["args"] == args for c in calls):
            break  # the same call again: the model is looping, not adding a call
        calls.append(tool_call(name=chosen, args=args, id=f"call_{uuid.uuid4().hex}"))
        text += done.text
        if not parallel or len(calls) >= MAX_CALLS_PER_REPLY:
            break
        # Another call, or the end of the turn: the model's choice, under a grammar that
        # allows only these two (an end-of-turn token ends it, as after any reply).
        more = compile_grammar(continuation_grammar(list(by_name), ACTION_PREFIX))
        budget = len(ACTION_PREFIX) + max(len(name) for name in by_name) + 4
        done = complete(llama, text, call, grammar=more, max_tokens=budget, model_name=model_name)
        output_tokens += done.completion_tokens
        evaluated = sum_evaluated(evaluated, done.prompt_evaluated)
        picked = done.text.strip()[len(ACTION_PREFIX) :].strip()
        if done.finish_reason == "length" or picked not in by_name:
            break  # the turn ended (or was cut off before a name): the calls so far stand
        chosen = picked
        text += f"\n{ACTION_PREFIX} {chosen}\n"
    return AIMessage(
        content="",
        tool_calls=calls,
        usage_metadata=usage(input_tokens, output_tokens, evaluated),
        response_metadata=response_metadata(model_name, "tool_calls"),
    )


def decode_arguments(
    llama: Any, text: str, call: CallOptions, tool: dict[str, Any], model_name: str
) -> Completion:
    """The JSON arguments of one call, written under the grammar of the tool's schema.

    Arguments that the grammar admits but the schema refuses (a keyword beyond llama.cpp's
    grammar converter, such as a number's bounds) get one more decode, sampled at
    :data:`RETRY_TEMPERATURE` with the call's seed: greedy decoding would write them again.
    Arguments cut off by max_tokens in a loop are decoded once more with a repeat penalty,
    unless `call.retry_loops` is off.

    Raises:
        ModelOutputError: the arguments are cut off, not JSON, or do not fit the schema (twice).
    """
    name = tool["function"]["name"]
    what = f"the arguments of tool {name!r}"
    parameters = tool["function"].get("parameters") or {"type": "object"}
    grammar = compile_grammar(json_schema_grammar(parameters))
    done = _complete_json(llama, text, call, grammar, what)
    args = load_json(done, model_name, what)  # cut off or broken: no retry, raised as is
    try:
        check_arguments(args, parameters, model_name, name)
        return done
    except ModelOutputError as exc:
        logger.info("tool %r: %s; decoding once more, sampled", name, exc)
        first = done
    retry = dataclasses.replace(
        call,
        sampling={
            **call.sampling,
            "temperature": max(call.sampling["temperature"], RETRY_TEMPERATURE),
            "seed": call.sampling["seed"] if call.sampling["seed"] is not None else 0,
        },
    )
    done = _complete_json(llama, text, retry, grammar, what)
    done = dataclasses.replace(
        done, completion_tokens=first.completion_tokens + done.completion_tokens
    )
    check_arguments(load_json(done, model_name, what), parameters, model_name, name)
    return done


RETRY_TEMPERATURE = 0.7
"""The temperature of the one more decode of arguments that did not fit their schema."""


def _complete_json(llama: Any, text: str, call: CallOptions, grammar: Any, what: str) -> Completion:
    """One decode under a JSON grammar; once more with a repeat penalty if it looped and
    `call.retry_loops` (the chat model's `retry_loops`, the agent's `loop_retry` guard)."""
    done = complete(llama, text, call, grammar=grammar)
    if call.retry_loops and done.finish_reason == "length" and is_loop(done.text):
        # Greedy decoding of a small model can fall into a loop inside a string or an array
        # ("Santa Barbara", "Santa Barbara", ...) until max_tokens. Decoding once more with
        # a repetition penalty lets the grammar's closing quote or bracket win; a long value
        # that does not repeat itself is left alone (and reported as cut off).
        logger.info("%s looped; decoding again with a repeat penalty", what)
        penalised = dataclasses.replace(
            call,
            sampling={
                **call.sampling,
                "repeat_penalty": max(call.sampling["repeat_penalty"], LOOP_PENALTY),
            },
        )
        first = done
        done = complete(llama, text, penalised, grammar=grammar)
        done = dataclasses.replace(
            done, completion_tokens=first.completion_tokens + done.completion_tokens
        )
    return done


def decode_structured(
    llama: Any,
    renderer: PromptRenderer,
    messages: list[BaseMessage],
    call: CallOptions,
    model_name: str,
) -> AIMessage:
    """The reply to `messages` as JSON under the grammar of `call.response_format`'s schema.

    JSON mode (the schema ``{"type": "object"}``) asks for a JSON object without showing a
    schema: a small model shown ``{"type":"object"}`` writes that back. A decode that loops
    inside a string is decoded once more with a repeat penalty, as tool arguments are (unless
    `call.retry_loops` is off).

    Raises:
        ModelOutputError: the JSON is cut off by max_tokens or broken.
    """
    response_format = call.response_format or {}
    schema = response_format.get("schema") or {"type": "object"}
    shown = clean_schema(schema)
    if shown == {"type": "object"}:
        instructions = "Reply with only a JSON object."
    else:
        compact = json.dumps(shown, ensure_ascii=False, separators=(",", ":"))
        instructions = f"Reply with only a JSON object that fits this JSON schema: {compact}"
    prompt = renderer.render(messages, instructions=instructions)
    grammar = compile_grammar(json_schema_grammar(schema))
    done = _complete_json(llama, prompt.text, call, grammar, "the structured output")
    load_json(done, model_name, "the structured output")
    return AIMessage(
        content=done.text.strip(),
        usage_metadata=usage(done.prompt_tokens, done.completion_tokens, done.prompt_evaluated),
        response_metadata=response_metadata(model_name, done.finish_reason),
    )
