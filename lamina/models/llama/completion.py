"""One llama.cpp completion and what it reports: the call options, the prompt tokens, usage.

:func:`complete` tokenises a prompt like `create_completion` would, runs it (under a grammar if
given) and reports, besides the text, how many prompt tokens llama.cpp really evaluated: the
rest came from its KV cache (:class:`PromptEvalProbe`). Before any decoding,
:func:`check_prompt_fits` refuses a prompt that leaves the model's context no room for an answer
(an `InputError`, never llama.cpp's `ValueError`). :func:`is_loop` recognises a decoding that
fell into a loop, and :func:`load_json` turns a constrained completion into JSON or a clear error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.messages.ai import UsageMetadata

from lamina.errors import InputError, ModelOutputError
from lamina.models.llama.internals import trained_context, wants_bos

if TYPE_CHECKING:
    from llama_cpp import LlamaGrammar

__all__ = [
    "LOOP_PENALTY",
    "MIN_ANSWER_TOKENS",
    "CallOptions",
    "Completion",
    "PromptEvalProbe",
    "check_prompt_fits",
    "complete",
    "eval_probe",
    "is_loop",
    "load_json",
    "response_metadata",
    "sum_evaluated",
    "tokenize",
    "usage",
]


@dataclass(frozen=True)
class Completion:
    """What one completion wrote and cost (prompt tokens evaluated: None when not measured)."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    # prompt tokens llama.cpp evaluated; the rest came from its KV cache (None: not measured)
    prompt_evaluated: int | None = None


def usage(input_tokens: int, output_tokens: int, evaluated: int | None = None) -> UsageMetadata:
    """LangChain's usage record; `evaluated` prompt tokens give the KV-cache reads."""
    record = UsageMetadata(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )
    if evaluated is not None:
        # LangChain's field for prompt tokens served from a cache: here, llama.cpp's KV cache.
        record["input_token_details"] = {"cache_read": max(0, input_tokens - evaluated)}
    return record


def sum_evaluated(*counts: int | None) -> int | None:
    """The sum of the measured counts (None when none was measured)."""
    known = [c for c in counts if c is not None]
    return sum(known) if known else None


class PromptEvalProbe:
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


def eval_probe(llama: Any) -> PromptEvalProbe | None:
    """The probe installed on `llama` (installed on first use; None when it cannot be)."""
    probe = getattr(llama, "_lamina_eval_probe", None)
    if isinstance(probe, PromptEvalProbe):
        return probe
    if not callable(getattr(llama, "eval", None)):
        return None
    probe = PromptEvalProbe(llama)
    try:
        llama.eval = probe
        llama._lamina_eval_probe = probe
    except AttributeError:  # an object that takes no new attributes: nothing measured
        return None
    return probe


@dataclass(frozen=True)
class CallOptions:
    """The options of one call: sampling settings, tools, tool choice, response format, and
    whether JSON that looped is decoded once more with :data:`LOOP_PENALTY`."""

    sampling: dict[str, Any]
    tools: list[dict[str, Any]]
    tool_choice: str | None
    response_format: dict[str, Any] | None
    parallel_tool_calls: bool = False
    retry_loops: bool = True

    def sampling_args(self) -> dict[str, Any]:
        """The sampling keyword arguments of `Llama.create_completion`."""
        s = self.sampling
        return {
            "max_tokens": s["max_tokens"],
            "temperature": s["temperature"],
            "top_p": s["top_p"],
            "top_k": s["top_k"],
            "repeat_penalty": s["repeat_penalty"],
            "seed": s["seed"],
        }


LOOP_PENALTY = 1.3
"""The repeat penalty of the second decode of arguments that looped (when `retry_loops`)."""


def is_loop(
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


def tokenize(llama: Any, text: str, *, bos: bool = True) -> list[int]:
    """Tokenise like ``create_completion`` does for a string (special tokens parsed, BOS once)."""
    tokens: list[int] = llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
    if bos:
        bos_id = llama.token_bos()
        if bos_id >= 0 and wants_bos(llama) and (not tokens or tokens[0] != bos_id):
            tokens.insert(0, bos_id)
    return tokens


MIN_ANSWER_TOKENS = 16
"""The room a prompt must leave in the context for the answer (`max_tokens`, when smaller)."""


def check_prompt_fits(
    llama: Any, prompt_tokens: int, max_tokens: int | None, model_name: str | None = None
) -> None:
    """Refuse, before any decoding, a prompt that leaves the context no room for an answer.

    llama.cpp itself refuses a prompt of `n_ctx` tokens or more with a bare `ValueError`, and
    only once the call is made; a prompt that just fits leaves no room to answer. Here a prompt
    fits when it leaves at least :data:`MIN_ANSWER_TOKENS` (or `max_tokens`, when smaller) free;
    a longer answer is cut off at the context's end (`finish_reason` "length").

    Args:
        llama: the loaded model (a stand-in without `n_ctx()` is not checked).
        prompt_tokens: the prompt's length in tokens.
        max_tokens: the answer's token limit (None or <= 0: unbounded).
        model_name: the model's name, for the message.

    Raises:
        InputError: the prompt does not fit; the message gives the context and the prompt in
            tokens, and the fixes.
    """
    n_ctx_of = getattr(llama, "n_ctx", None)
    if not callable(n_ctx_of):
        return
    n_ctx = int(n_ctx_of())
    room = (
        MIN_ANSWER_TOKENS
        if not max_tokens or max_tokens <= 0
        else min(max_tokens, MIN_ANSWER_TOKENS)
    )
    if prompt_tokens + room <= n_ctx:
        return
    trained = trained_context(llama)
    name = f"Model {model_name!r}" if model_name else "The model"
    if trained > n_ctx:
        more = (
            f", or give this model more context (it was trained for {trained:,} tokens): raise "
            "the context_memory_bytes setting (LAMINA_CONTEXT_MEMORY_BYTES; each token costs "
            "KV-cache memory) or set ModelSpec(context_size=...)"
        )
    else:
        more = f" (this one takes {trained:,} tokens at most, all it was trained for)"
    raise InputError(
        f"{name} has a context of {n_ctx:,} tokens: expected a prompt of at most "
        f"{n_ctx - room:,} tokens (leaving {room} for the answer); found {prompt_tokens:,} "
        "tokens. Fix: shorten the input or split it into several requests, use a model with a "
        f"larger context{more}."
    )


def load_json(done: Completion, model_name: str, what: str) -> Any:
    """The JSON `model_name` wrote as `what` (raises `ModelOutputError` if cut off or broken)."""
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


def complete(
    llama: Any,
    text: str,
    call: CallOptions,
    *,
    stop: list[str] | None = None,
    grammar: LlamaGrammar | None = None,
    max_tokens: int | None = None,
    model_name: str | None = None,
) -> Completion:
    """Complete `text` with `llama` under `call`'s sampling (and `grammar`, if given).

    Raises:
        InputError: the prompt does not fit the model's context (:func:`check_prompt_fits`).
    """
    tokens = tokenize(llama, text)
    args = call.sampling_args()
    if max_tokens is not None:
        args["max_tokens"] = max_tokens
    check_prompt_fits(llama, len(tokens), args["max_tokens"], model_name)
    probe = eval_probe(llama)
    if probe is not None:
        probe.arm()
    result = llama.create_completion(tokens, stop=stop or [], grammar=grammar, **args)
    choice = result["choices"][0]
    usage = result["usage"]
    return Completion(
        text=choice["text"],
        finish_reason=choice["finish_reason"] or "stop",
        prompt_tokens=int(usage["prompt_tokens"]),
        completion_tokens=int(usage["completion_tokens"]),
        prompt_evaluated=probe.evaluated if probe is not None else None,
    )


def response_metadata(model_name: str, finish_reason: str) -> dict[str, Any]:
    """The `response_metadata` of a reply."""
    return {"model_name": model_name, "finish_reason": finish_reason}
