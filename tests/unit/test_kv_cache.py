"""llama.cpp's KV prefix cache on pooled models, and the prompt tokens really evaluated.

No model files: a fake llama object stands in for `llama_cpp.Llama` (it reuses the prefix it
shares with its previous prompt, like llama.cpp, and evaluates the rest through `eval`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from lamina.config import Settings, get_settings
from lamina.models.catalog import ModelSpec
from lamina.models.llama.kv_cache import attach_kv_cache
from lamina.models.pool import ModelPool

SPEC = ModelSpec(name="tiny", path=Path("/nowhere/tiny.gguf"), sha256="ab" * 32)


class FakeLlama:
    """Tokens are characters; a completion reuses the prefix shared with the last prompt."""

    def __init__(self) -> None:
        self.scores = np.zeros((512, 32), dtype=np.single)
        self.cache: Any = None
        self.evaluated: list[int] = []
        self._last: list[int] = []
        self._model = SimpleNamespace(add_bos_token=lambda: False)

    def n_vocab(self) -> int:
        return 32

    def set_cache(self, cache: Any) -> None:
        self.cache = cache

    def token_bos(self) -> int:
        return -1

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = True) -> list[int]:
        return list(text)

    def eval(self, tokens: Sequence[int]) -> None:
        self.evaluated.append(len(tokens))

    def create_completion(self, tokens: list[int], **kwargs: Any) -> dict[str, Any]:
        shared = 0
        for a, b in zip(self._last, tokens, strict=False):
            if a != b:
                break
            shared += 1
        self.eval(tokens[shared:])
        self._last = list(tokens)
        return {
            "choices": [{"text": "ok", "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(tokens), "completion_tokens": 1},
        }


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    return get_settings(home=tmp_path, **overrides)


def test_off_attaches_nothing(tmp_path: Path) -> None:
    llama = FakeLlama()
    for s in (settings(tmp_path, kv_cache="off"), settings(tmp_path, kv_cache_bytes=0)):
        assert attach_kv_cache(llama, SPEC, SPEC.path or Path(), s) is None
    assert llama.cache is None
    assert llama.scores.shape == (512, 32)


def test_ram_cache_with_the_configured_capacity(tmp_path: Path) -> None:
    from llama_cpp.llama_cache import LlamaRAMCache

    llama = FakeLlama()
    cache = attach_kv_cache(llama, SPEC, Path(), settings(tmp_path, kv_cache_bytes=12345))
    assert isinstance(cache, LlamaRAMCache)
    assert llama.cache is cache
    assert cache.capacity_bytes == 12345
    # saved states copy one row of scores instead of one per prompt token
    assert llama.scores.shape == (1, 32)


def test_disk_cache_is_per_model_file_quiet_and_keeps_entries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    llama = FakeLlama()
    cache = attach_kv_cache(llama, SPEC, Path(), settings(tmp_path, kv_cache="disk"))
    assert cache is not None
    assert (tmp_path / "kv_cache" / f"tiny-{'ab' * 8}").is_dir()
    cache[(1, 2, 3)] = "state"
    assert cache[(1, 2, 3, 4)] == "state"  # the longest cached prefix
    assert cache[(1, 2, 3, 4)] == "state"  # and it is still there
    assert capsys.readouterr().err == ""  # llama-cpp-python's version prints on every write


def test_pool_options_override_the_settings(tmp_path: Path) -> None:
    pool = ModelPool(settings(tmp_path), kv_cache="off", kv_cache_bytes=1)
    assert (pool.settings.kv_cache, pool.settings.kv_cache_bytes) == ("off", 1)
    assert settings(tmp_path).kv_cache == "ram"  # the default


def test_chat_model_reports_prompt_tokens_from_the_kv_cache(tmp_path: Path) -> None:
    from langchain_core.messages import HumanMessage

    fake = FakeLlama()
    path = tmp_path / "tiny.gguf"
    path.write_bytes(b"GGUF")
    pool = ModelPool(settings(tmp_path), loader=lambda spec, p, s: fake)
    pool.register(ModelSpec(name="tiny", path=path, prompt_format="completion"))
    model = pool.chat_model("tiny", max_tokens=4)
    first = model.invoke([HumanMessage("shared prefix, question one")])
    second = model.invoke([HumanMessage("shared prefix, question two")])
    assert first.usage_metadata is not None
    assert second.usage_metadata is not None
    assert first.usage_metadata["input_token_details"] == {"cache_read": 0}
    reused = len("shared prefix, question ")
    assert second.usage_metadata["input_token_details"] == {"cache_read": reused}
    assert second.usage_metadata["input_tokens"] == len("shared prefix, question two")
    assert fake.evaluated == [len("shared prefix, question one"), len("two")]


def test_an_eviction_hands_the_freed_heap_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lamina.models.llama.kv_cache as kv_cache_module

    trims: list[int] = []
    monkeypatch.setattr(kv_cache_module, "release_free_heap", lambda: trims.append(1) or True)
    cache = attach_kv_cache(FakeLlama(), SPEC, Path(), settings(tmp_path, kv_cache_bytes=250))
    assert cache is not None
    state = SimpleNamespace(llama_state_size=100)
    cache[(1,)] = state
    cache[(2,)] = state
    assert trims == []  # 200 of 250 bytes: nothing evicted, nothing to trim
    cache[(3,)] = state
    assert list(cache.cache_state) == [(2,), (3,)]  # the oldest went
    assert trims == [1]
    cache[(3,)] = state  # a replaced state is freed memory too
    assert trims == [1, 1]


def test_release_free_heap_runs_on_glibc() -> None:
    import sys

    from lamina.config import release_free_heap

    assert release_free_heap() is sys.platform.startswith("linux")


def test_a_prompts_last_token_is_evaluated_alone() -> None:
    from lamina.models.llama.loader import evaluate_last_token_alone

    llama = FakeLlama()
    evaluate_last_token_alone(llama)
    llama.eval([1, 2, 3, 4])
    llama.eval([5])
    llama.eval([])
    assert llama.evaluated == [3, 1, 1, 0]
