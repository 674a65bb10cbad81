"""Score continuations instead of sampling one: the log-probability of each token path.

The router's LLM fallback asks a model to choose among a few names and wants the probability of
every name, not only the sampled winner. :func:`path_logprobs` gives the model's log-probability
of each token path after a prompt: one prompt evaluation plus one token per branch of the paths'
token trie. It needs no `logits_all=True` model (llama-cpp-python's `logprobs=` does, which would
keep a vocabulary-wide row of logits per context position: about 400 MB for SmolLM2 at 2,048
tokens).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lamina.models.llama.internals import evaluated_tokens, last_logits, rewind

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["last_logprobs", "path_logprobs"]


def last_logprobs(llama: Any) -> npt.NDArray[np.float64]:
    """Log-softmax of the logits of the last token llama.cpp evaluated."""
    import numpy as np

    logits = last_logits(llama)
    top = float(logits.max())
    out: npt.NDArray[np.float64] = logits - (top + math.log(float(np.exp(logits - top).sum())))
    return out


def path_logprobs(llama: Any, prompt: Sequence[int], paths: Sequence[Sequence[int]]) -> list[float]:
    """Log-probability of each token path after `prompt` (one eval per trie branch).

    Call it while holding the model (`pool.use(name)`): it moves llama.cpp's state. The state
    always ends consistent (input ids, KV cache and logits of the same tokens), so the chat
    model's own prefix reuse keeps working on the next call.

    Args:
        llama: a loaded `llama_cpp.Llama`.
        prompt: the prompt's tokens (BOS included if the model wants one).
        paths: one token list per continuation (each non-empty).

    Returns:
        One log-probability per path, in the order of `paths` (not renormalised).
    """
    prompt = list(prompt)
    # Reuse the KV cache of the longest prefix llama.cpp already holds (the system prompt,
    # which is the same for every request), and evaluate at least one token for fresh logits.
    common = 0
    for a, b in zip(evaluated_tokens(llama), prompt, strict=False):
        if a != b:
            break
        common += 1
    start = min(common, len(prompt) - 1)
    rewind(llama, start)
    llama.eval(prompt[start:])
    base = len(prompt)
    results = [0.0] * len(paths)

    def walk(depth: int, members: list[int], logprobs: npt.NDArray[np.float64]) -> None:
        by_token: dict[int, list[int]] = {}
        for i in members:
            by_token.setdefault(paths[i][depth], []).append(i)
        for token, group in by_token.items():
            for i in group:
                results[i] += float(logprobs[token])
            deeper = [i for i in group if len(paths[i]) > depth + 1]
            if deeper:
                rewind(llama, base + depth)
                llama.eval([token])
                walk(depth + 1, deeper, last_logprobs(llama))

    walk(0, list(range(len(paths))), last_logprobs(llama))
    return results
