"""The llama-cpp-python internals lamina relies on (`lamina.models.llama.internals`)."""

from __future__ import annotations

import importlib.metadata
import math
from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np
import pytest

from lamina.models.llama import internals, scoring
from lamina.models.llama.internals import (
    WRITTEN_FOR,
    evaluated_tokens,
    rewind,
    token_text,
    wants_bos,
)
from lamina.models.llama.scoring import path_logprobs


def test_the_adapter_was_written_for_the_installed_llama_cpp_python() -> None:
    installed = importlib.metadata.version("llama-cpp-python")
    assert installed == WRITTEN_FOR, (
        f"lamina.models.llama.internals was written for llama-cpp-python {WRITTEN_FOR}, found "
        f"{installed}. Fix: check each function of lamina/models/llama/internals.py and the "
        "cache classes of lamina/models/llama/kv_cache.py against the installed version "
        "(Llama._model, llama_get_logits_ith, Llama.n_tokens/input_ids, LlamaRAMCache."
        "cache_state, LlamaDiskCache._find_longest_prefix_key), then move WRITTEN_FOR."
    )


def test_the_internals_used_exist_in_the_installed_version() -> None:
    import llama_cpp
    from llama_cpp._internals import LlamaModel
    from llama_cpp.llama_cache import LlamaDiskCache

    assert callable(llama_cpp.llama_get_logits_ith)
    assert callable(LlamaModel.add_bos_token)
    assert callable(LlamaModel.token_get_text)
    assert callable(LlamaModel.n_ctx_train)
    assert callable(LlamaDiskCache._find_longest_prefix_key)


def test_bos_and_token_text_come_from_the_model() -> None:
    model = SimpleNamespace(add_bos_token=lambda: True, token_get_text=lambda t: f"<{t}>")
    llama = SimpleNamespace(_model=model)
    assert wants_bos(llama) is True
    assert token_text(llama, 7) == "<7>"
    assert token_text(llama, -1) == ""


def test_rewind_keeps_a_prefix_of_the_evaluated_tokens() -> None:
    llama = SimpleNamespace(input_ids=np.array([5, 6, 7, 0], dtype=np.intc), n_tokens=3)
    assert evaluated_tokens(llama) == [5, 6, 7]
    rewind(llama, 1)
    assert evaluated_tokens(llama) == [5]


class _FakeLlama:
    """Tokens are ints; logits are a fixed pseudo-random function of the whole history."""

    N_VOCAB = 32

    def __init__(self) -> None:
        self.input_ids = np.zeros(256, dtype=np.intc)
        self.n_tokens = 0
        self.evals: list[list[int]] = []

    def eval(self, tokens: Sequence[int]) -> None:
        self.input_ids[self.n_tokens : self.n_tokens + len(tokens)] = tokens
        self.n_tokens += len(tokens)
        self.evals.append(list(tokens))

    @classmethod
    def logits_after(cls, history: Sequence[int]) -> np.ndarray:
        seed = hash(tuple(int(t) for t in history)) % (2**32)
        return np.random.default_rng(seed).normal(0.0, 3.0, cls.N_VOCAB)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    return x - (x.max() + math.log(float(np.exp(x - x.max()).sum())))


def test_path_logprobs_match_brute_force_and_share_prefixes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert scoring.last_logits is internals.last_logits
    # The real function reads llama.cpp's logits buffer; the fake derives them from the
    # history, so a wrong rewind gives wrong numbers.
    monkeypatch.setattr(
        scoring,
        "last_logits",
        lambda ll: _FakeLlama.logits_after(ll.input_ids[: ll.n_tokens].tolist()),
    )
    llama = _FakeLlama()
    llama.eval([3, 4])  # a held prefix the scorer reuses
    prompt = [3, 4, 9, 10]
    paths = [[1, 2, 3], [1, 2, 5], [7], [1, 6]]
    got = path_logprobs(llama, prompt, paths)
    expected = [
        sum(
            float(_log_softmax(_FakeLlama.logits_after(prompt + p[:i]))[p[i]])
            for i in range(len(p))
        )
        for p in paths
    ]
    assert got == pytest.approx(expected)
    assert llama.evals[1] == [9, 10]  # only the new part of the prompt
    inner = {tuple(p[:k]) for p in paths for k in range(1, len(p))}
    assert len(llama.evals) == 2 + len(inner)
