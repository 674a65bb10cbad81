"""Context sizing from GGUF metadata, the prompt-length check before decoding, and how an
overflow reaches callers: `InputError` from the chat model and from `Agent.run`, HTTP 400 from
the server (no model files: GGUF headers written here, a stand-in for `llama_cpp.Llama`)."""

from __future__ import annotations

import logging
import struct
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import httpx
import pytest
from langchain_core.messages import HumanMessage

import lamina.models.llama.loader as loader_module
from lamina import Agent
from lamina.config import get_settings
from lamina.errors import ConfigError, InputError
from lamina.models.catalog import CATALOG, ModelSpec
from lamina.models.context import (
    FALLBACK_CONTEXT,
    ContextSize,
    context_size_for,
    kv_bytes_per_token,
)
from lamina.models.gguf import GGUFInfo
from lamina.models.llama.completion import MIN_ANSWER_TOKENS, check_prompt_fits
from lamina.models.pool import ModelPool
from lamina.models.testing import FakeChatModel
from lamina.serving.app import create_app
from lamina.serving.local import serve_in_thread

MiB = 1024**2

SMOLLM2_META = {  # the real SmolLM2-135M-Instruct header's numbers
    "general.architecture": "llama",
    "llama.context_length": 8192,
    "llama.block_count": 30,
    "llama.embedding_length": 576,
    "llama.attention.head_count": 9,
    "llama.attention.head_count_kv": 3,
}
GEMMA3_META = {  # the real Gemma 3 270M header's numbers
    "general.architecture": "gemma3",
    "gemma3.context_length": 32768,
    "gemma3.block_count": 18,
    "gemma3.embedding_length": 640,
    "gemma3.attention.head_count": 4,
    "gemma3.attention.head_count_kv": 1,
    "gemma3.attention.key_length": 256,
    "gemma3.attention.value_length": 256,
}


def info(metadata: dict[str, Any]) -> GGUFInfo:
    return GGUFInfo(path=Path("x.gguf"), version=3, tensor_count=0, metadata=metadata, size_bytes=0)


def write_gguf(path: Path, metadata: dict[str, Any]) -> Path:
    """A GGUF v3 header holding `metadata` (strings and uint32s; no tensors)."""

    def string(text: str) -> bytes:
        data = text.encode()
        return struct.pack("<Q", len(data)) + data

    out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(metadata))
    for key, value in metadata.items():
        if isinstance(value, str):
            out += string(key) + struct.pack("<I", 8) + string(value)
        else:
            out += string(key) + struct.pack("<II", 4, value)
    path.write_bytes(out)
    return path


# -- sizing ------------------------------------------------------------------------------------
def test_kv_bytes_per_token_follow_the_documented_formula() -> None:
    # n_layer x n_head_kv x (key_length + value_length) x 2 bytes (f16)
    assert kv_bytes_per_token(info(SMOLLM2_META)) == 30 * 3 * (64 + 64) * 2 == 23_040
    assert kv_bytes_per_token(info(GEMMA3_META)) == 18 * 1 * (256 + 256) * 2 == 18_432


def test_per_layer_kv_head_counts_are_summed() -> None:
    meta = {**SMOLLM2_META, "llama.block_count": 3, "llama.attention.head_count_kv": [1, 2, 3]}
    assert kv_bytes_per_token(info(meta)) == (1 + 2 + 3) * (64 + 64) * 2


@pytest.mark.parametrize("missing", ["llama.block_count", "llama.attention.head_count"])
def test_kv_bytes_are_unknown_without_the_fields_they_need(missing: str) -> None:
    meta = {k: v for k, v in SMOLLM2_META.items() if k != missing}
    assert kv_bytes_per_token(info(meta)) is None


def test_the_default_budget_sizes_the_default_models(tmp_path: Path) -> None:
    settings = get_settings()
    assert settings.context_memory_bytes == 128 * MiB
    smollm2 = context_size_for(
        CATALOG["smollm2-135m-instruct"], write_gguf(tmp_path / "s.gguf", SMOLLM2_META), settings
    )
    gemma = context_size_for(
        CATALOG["gemma3-270m"], write_gguf(tmp_path / "g.gguf", GEMMA3_META), settings
    )
    # the figures the README and lamina.models.context quote
    assert smollm2 == ContextSize(5632, "budget", 8192, 23_040)
    assert gemma == ContextSize(7168, "budget", 32768, 18_432)
    assert smollm2.kv_bytes <= 128 * MiB
    assert gemma.kv_bytes <= 128 * MiB


def test_a_budget_that_holds_the_whole_trained_context_gives_all_of_it(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "s.gguf", SMOLLM2_META)
    size = context_size_for(
        ModelSpec(name="s", path=path), path, get_settings(context_memory_bytes=1024 * MiB)
    )
    assert (size.tokens, size.source) == (8192, "trained")


def test_a_spec_context_size_overrides_the_metadata(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "s.gguf", SMOLLM2_META)
    size = context_size_for(ModelSpec(name="s", path=path, context_size=1024), path, get_settings())
    assert (size.tokens, size.source, size.trained) == (1024, "spec", 8192)


def test_a_budget_too_small_for_any_useful_context_is_a_config_error(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "s.gguf", SMOLLM2_META)
    settings = get_settings(context_memory_bytes=MiB)
    with pytest.raises(ConfigError, match="context_memory_bytes") as caught:
        context_size_for(ModelSpec(name="s", path=path), path, settings)
    assert "11,796,480 bytes" in str(caught.value)  # 512 tokens x 23,040 bytes
    assert "ModelSpec(context_size=...)" in str(caught.value)


def test_a_header_without_the_sizes_falls_back_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_gguf(tmp_path / "odd.gguf", {"general.architecture": "odd"})
    with caplog.at_level(logging.WARNING, logger="lamina.models.context"):
        size = context_size_for(ModelSpec(name="odd", path=path), path, get_settings())
    assert (size.tokens, size.source) == (FALLBACK_CONTEXT, "fallback")
    assert "ModelSpec(context_size=...)" in caplog.text


class CapturingLlama:
    """Records the keyword arguments `load_llama` gives `llama_cpp.Llama`."""

    seen: ClassVar[dict[str, Any]] = {}

    def __init__(self, **kwargs: Any) -> None:
        CapturingLlama.seen.clear()
        CapturingLlama.seen.update(kwargs)

    def eval(self, tokens: Any) -> None:
        return None


def test_the_loader_gives_llama_cpp_the_context_sized_from_the_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llama_cpp

    path = write_gguf(tmp_path / "s.gguf", SMOLLM2_META)
    monkeypatch.setattr(loader_module, "ALLOW_MODEL_LOADS", True)
    monkeypatch.setattr(llama_cpp, "Llama", CapturingLlama)
    settings = get_settings(kv_cache="off", context_memory_bytes=64 * MiB)
    loader_module.load_llama(ModelSpec(name="s", path=path), path, settings)
    assert CapturingLlama.seen["n_ctx"] == 2816  # 64 MiB / 23,040 bytes, a multiple of 256
    loader_module.load_llama(ModelSpec(name="s", path=path, context_size=768), path, settings)
    assert CapturingLlama.seen["n_ctx"] == 768


def test_the_pool_counts_a_models_kv_cache_against_its_budget(tmp_path: Path) -> None:
    # 256 bytes per token x 4096 tokens = 1 MiB of KV cache per model; the files are tiny
    meta = {
        "general.architecture": "llama",
        "llama.context_length": 4096,
        "llama.block_count": 1,
        "llama.embedding_length": 64,
        "llama.attention.head_count": 1,
    }
    a, b = write_gguf(tmp_path / "a.gguf", meta), write_gguf(tmp_path / "b.gguf", meta)
    pool = ModelPool(
        get_settings(), budget_bytes=int(1.5 * MiB), loader=lambda spec, path, s: object()
    )
    pool.register(ModelSpec(name="a", path=a))
    pool.register(ModelSpec(name="b", path=b))
    with pool.use("a"):
        pass
    with pool.use("b"):
        pass
    assert pool.evictions == ["a"]  # two files fit 1.5 MiB; two files and two KV caches do not
    assert pool.loaded() == ["b"]


# -- the prompt check --------------------------------------------------------------------------
class ByteLlama:
    """A stand-in for `llama_cpp.Llama`: one token per byte, a small context, and a record of
    every completion asked for (none should be, for a prompt that does not fit)."""

    def __init__(self, n_ctx: int = 200, trained: int = 800, reply: str = "ok") -> None:
        self._n_ctx = n_ctx
        self.reply = reply
        self.completions: list[int] = []
        self.metadata = {
            "tokenizer.chat_template": "{% for m in messages %}{{ m.content }}\n{% endfor %}"
        }
        self._model = SimpleNamespace(
            add_bos_token=lambda: False, token_get_text=lambda t: "", n_ctx_train=lambda: trained
        )

    def n_ctx(self) -> int:
        return self._n_ctx

    def token_bos(self) -> int:
        return -1

    def token_eos(self) -> int:
        return -1

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = True) -> list[int]:
        return list(text)

    def create_completion(self, tokens: list[int], **kwargs: Any) -> Any:
        self.completions.append(len(tokens))
        if len(tokens) >= self._n_ctx:
            raise ValueError(f"Requested tokens ({len(tokens)}) exceed context window")
        if kwargs.get("stream"):
            return iter([{"choices": [{"text": self.reply, "finish_reason": "stop"}]}])
        return {
            "choices": [{"text": self.reply, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(tokens), "completion_tokens": 1},
        }


def byte_pool(llama: ByteLlama) -> ModelPool:
    pool = ModelPool(get_settings(), loader=lambda spec, path, settings: llama)
    pool.register(ModelSpec(name="tiny", path=Path("/nowhere/tiny.gguf")))
    return pool


def test_check_prompt_fits_says_expected_found_and_fix() -> None:
    llama = ByteLlama(n_ctx=200, trained=800)
    check_prompt_fits(llama, 200 - MIN_ANSWER_TOKENS, 64, "tiny")  # just fits
    with pytest.raises(InputError) as caught:
        check_prompt_fits(llama, 200 - MIN_ANSWER_TOKENS + 1, 64, "tiny")
    message = str(caught.value)
    assert "context of 200 tokens" in message
    assert f"at most {200 - MIN_ANSWER_TOKENS} tokens" in message
    assert f"found {200 - MIN_ANSWER_TOKENS + 1} tokens" in message
    assert "shorten the input" in message
    assert "larger context" in message
    assert "context_memory_bytes" in message
    assert "800 tokens" in message


def test_a_model_at_its_trained_length_is_not_told_to_raise_the_budget() -> None:
    with pytest.raises(InputError) as caught:
        check_prompt_fits(ByteLlama(n_ctx=200, trained=200), 300, 64, "tiny")
    assert "context_memory_bytes" not in str(caught.value)
    assert "200 tokens at most" in str(caught.value)


def test_a_small_max_tokens_needs_only_that_much_room() -> None:
    check_prompt_fits(ByteLlama(n_ctx=200), 198, 2, "tiny")
    with pytest.raises(InputError):
        check_prompt_fits(ByteLlama(n_ctx=200), 199, 2, "tiny")


@pytest.mark.parametrize("mode", ["invoke", "stream", "tools", "structured"])
def test_a_prompt_over_the_context_is_refused_before_any_decoding(mode: str) -> None:
    llama = ByteLlama(n_ctx=200)
    model = byte_pool(llama).chat_model("tiny", max_tokens=32)
    long = [HumanMessage("x" * 300)]

    def lookup(city: str) -> str:
        """Look a city up.

        Args:
            city: the city.
        """
        return city

    calls = {
        "invoke": lambda: model.invoke(long),
        "stream": lambda: list(model.stream(long)),
        "tools": lambda: model.bind_tools([lookup]).invoke(long),
        "structured": lambda: model.with_structured_output(
            {"type": "object", "properties": {}}
        ).invoke(long),
    }
    with pytest.raises(InputError, match="context of 200 tokens"):
        calls[mode]()
    assert llama.completions == []  # llama.cpp never saw the prompt


def test_a_prompt_that_fits_is_decoded() -> None:
    llama = ByteLlama(n_ctx=200)
    reply = byte_pool(llama).chat_model("tiny", max_tokens=32).invoke([HumanMessage("hello")])
    assert reply.content == "ok"
    assert len(llama.completions) == 1


# -- what callers see --------------------------------------------------------------------------
def test_an_agent_run_over_the_context_raises_input_error() -> None:
    llama = ByteLlama(n_ctx=200)
    pool = byte_pool(llama)
    with (
        Agent(
            models=[pool.spec("tiny")],
            pool=pool,
            routes=[],
            memory=False,
            step_cache=False,
            checkpointer=":memory:",
            tool_relevance=False,
            rc_iterations=1,
        ) as agent,
        pytest.raises(InputError, match="context of 200 tokens"),
    ):
        agent.run("Summarise this: " + "word " * 100)
    assert llama.completions == []


def test_the_server_answers_a_prompt_over_the_context_with_400() -> None:
    pool = byte_pool(ByteLlama(n_ctx=200))
    agent = Agent(
        models=[pool.spec("tiny")],
        pool=pool,
        routes=[],
        memory=False,
        step_cache=False,
        checkpointer=":memory:",
        tool_relevance=False,
    )
    body = {"model": "tiny", "messages": [{"role": "user", "content": "x" * 10_000}]}
    with serve_in_thread(create_app(agent)) as url, httpx.Client(base_url=url) as client:
        reply = client.post("/v1/chat/completions", json=body)
        ok = client.post(
            "/v1/chat/completions",
            json={"model": "tiny", "messages": [{"role": "user", "content": "hi"}]},
        )
    agent.close()
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "invalid_input"
    assert "context of 200 tokens" in error["message"]
    assert ok.status_code == 200


# -- max_input_chars reaches the check at the door ---------------------------------------------
def fake_agent(**options: Any) -> Agent:
    return Agent(
        chat_models={"fake": FakeChatModel(responses=["Done."] * 4)},
        routes=[],
        tools=[],
        memory=False,
        step_cache=False,
        checkpointer=":memory:",
        tool_relevance=False,
        rc_iterations=1,
        **options,
    )


def test_a_raised_max_input_chars_accepts_a_longer_task() -> None:
    with fake_agent(max_input_chars=40_000) as agent:
        result = agent.run("Say done. " + "x" * 34_990)
    assert result.answer == "Done."


def test_a_lowered_max_input_chars_refuses_at_the_door() -> None:
    with fake_agent(max_input_chars=100) as agent, pytest.raises(InputError, match="at most 100"):
        agent.run("x" * 101)
