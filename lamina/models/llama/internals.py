"""The few llama-cpp-python internals lamina relies on, in one place.

`llama_cpp.Llama` has no public API for some things lamina needs: whether the model wants a BOS
token, the text of a special token and the trained context length (`Llama._model`), the logits
of the last evaluated token without a `logits_all=True` model (the ctypes call
`llama_get_logits_ith`), and moving the evaluated position back to reuse a cached prefix
(`Llama.n_tokens`, `Llama.input_ids`).
Each is a break waiting for the next llama-cpp-python upgrade, so every such contact goes through
this module, written against :data:`WRITTEN_FOR` (a unit test fails when the installed version
differs: read this module again against the new version, then move the pin).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "WRITTEN_FOR",
    "evaluated_tokens",
    "last_logits",
    "rewind",
    "token_text",
    "trained_context",
    "wants_bos",
]

WRITTEN_FOR = "0.3.36"
"""The llama-cpp-python version this module (and `kv_cache`'s cache subclasses) was written for."""


def wants_bos(llama: Any) -> bool:
    """Whether the model's tokenizer adds a BOS token (llama.cpp's own answer, not metadata)."""
    return bool(llama._model.add_bos_token())


def trained_context(llama: Any) -> int:
    """The context length the model was trained for (llama.cpp's `n_ctx_train`)."""
    return int(llama._model.n_ctx_train())


def token_text(llama: Any, token: int) -> str:
    """The text of `token` in the model's vocabulary ("" for a negative id: no such token)."""
    if token < 0:
        return ""
    return str(llama._model.token_get_text(token))


def last_logits(llama: Any) -> npt.NDArray[np.float64]:
    """The logits of the last token llama.cpp evaluated (valid until the next eval).

    `Llama.scores` holds them only for a model built with `logits_all=True`, so they are read
    from the context directly.
    """
    import llama_cpp
    import numpy as np

    n_vocab = int(llama.n_vocab())
    pointer = llama_cpp.llama_get_logits_ith(llama.ctx, -1)
    logits: npt.NDArray[np.float64] = np.ctypeslib.as_array(pointer, shape=(n_vocab,)).astype(
        np.float64
    )
    return logits


def evaluated_tokens(llama: Any) -> list[int]:
    """The tokens llama.cpp holds evaluated in its context now (its KV cache), in order."""
    return [int(t) for t in llama.input_ids[: llama.n_tokens]]


def rewind(llama: Any, n_tokens: int) -> None:
    """Keep only the first `n_tokens` evaluated tokens: the next eval continues from there."""
    llama.n_tokens = n_tokens
