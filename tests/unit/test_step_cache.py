"""The step cache: exact keys, persistence (across instances and processes), LRU, TTL, recovery."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel

from lamina.config import get_settings
from lamina.errors import ConfigError
from lamina.models.testing import FakeChatModel, HashingEncoder
from lamina.stores.step_cache import (
    StepCache,
    measured_call,
    model_identity,
    prompt_text,
    sampling_params,
)


class TunableFake(FakeChatModel):
    """A fake with sampling fields, like the llama.cpp chat model."""

    temperature: float = 0.0
    seed: int = 0
    max_tokens: int | None = None


MESSAGES = [SystemMessage("Be brief."), HumanMessage("Name a colour.")]


class KVFake(FakeChatModel):
    """A fake that reports, like the llama.cpp chat model, prompt tokens its KV cache supplied."""

    prompt_tokens: int = 30
    cache_read: int = 25

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
        result = super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
        result.generations[0].message.usage_metadata = {
            "input_tokens": self.prompt_tokens,
            "output_tokens": 4,
            "total_tokens": self.prompt_tokens + 4,
            "input_token_details": {"cache_read": self.cache_read},
        }
        return result


@pytest.fixture
def cache(tmp_path: Path) -> StepCache:
    return StepCache(tmp_path / "steps.sqlite")


# -- keys ------------------------------------------------------------------------------------
def test_key_is_stable_and_changes_with_every_part() -> None:
    base = ("m@sha256:ab", {"temperature": 0.0, "seed": 0}, "reasoning/1/solve", "prompt")
    key = StepCache.key_for(*base)
    assert key == StepCache.key_for(*base)
    assert len(key) == 64
    # param order does not matter, their values do
    assert key == StepCache.key_for(base[0], {"seed": 0, "temperature": 0.0}, base[2], base[3])
    variants = [
        ("m@sha256:cd", base[1], base[2], base[3]),
        (base[0], {"temperature": 0.7, "seed": 0}, base[2], base[3]),
        (base[0], {"temperature": 0.0, "seed": 1}, base[2], base[3]),
        (base[0], base[1], "reasoning/2/solve", base[3]),
        (base[0], base[1], base[2], "prompt!"),
    ]
    keys = {StepCache.key_for(*v) for v in variants}
    assert len(keys) == len(variants)
    assert key not in keys


def test_cached_invoke_hits_on_the_same_call(cache: StepCache) -> None:
    fake = FakeChatModel(responses=["red"])  # a second model call would raise
    assert cache.cached_invoke(fake, MESSAGES, "t/1") == ("red", False, 2)
    assert cache.cached_invoke(fake, MESSAGES, "t/1") == ("red", True, 2)
    assert len(fake.calls) == 1
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.saved_tokens, stats.entries) == (1, 1, 2, 1)
    assert stats.saved_seconds >= 0.0
    assert stats.to_dict()["hits"] == 1


def test_different_sampling_params_miss(cache: StepCache) -> None:
    cold = TunableFake(responses=["red"], temperature=0.0)
    warm = TunableFake(responses=["blue"], temperature=0.8)
    assert cache.cached_invoke(cold, MESSAGES, "t/1")[:2] == ("red", False)
    assert cache.cached_invoke(warm, MESSAGES, "t/1")[:2] == ("blue", False)
    assert cache.cached_invoke(cold, MESSAGES, "t/1")[:2] == ("red", True)


def test_other_template_version_or_prompt_is_never_served(cache: StepCache) -> None:
    fake = FakeChatModel(responses=["v1", "v2", "other"])
    assert cache.cached_invoke(fake, MESSAGES, "reasoning/1/solve")[:2] == ("v1", False)
    assert cache.cached_invoke(fake, MESSAGES, "reasoning/2/solve")[:2] == ("v2", False)
    other = [SystemMessage("Be brief."), HumanMessage("Name a colour!")]
    assert cache.cached_invoke(fake, other, "reasoning/1/solve")[:2] == ("other", False)
    assert fake.remaining == 0


def test_model_identity_and_params() -> None:
    fake = TunableFake(responses=[], model_name="tiny", temperature=0.2, seed=7)
    assert model_identity(fake) == "tiny"
    assert sampling_params(fake) == {"temperature": 0.2, "seed": 7, "max_tokens": None}
    assert model_identity(object()) == "object"
    # the loop retry changes what a looping decode gives: models that differ in it differ
    assert sampling_params(SimpleNamespace(temperature=0.0, retry_loops=False)) == {
        "temperature": 0.0,
        "retry_loops": False,
    }

    pool = SimpleNamespace(spec=lambda name: SimpleNamespace(sha256="abc"))
    assert model_identity(SimpleNamespace(model_name="m", pool=pool)) == "m@sha256:abc"


def test_model_identity_without_sha_uses_file_size_and_mtime(tmp_path: Path) -> None:
    weights = tmp_path / "w.gguf"
    weights.write_bytes(b"GGUF" + b"0" * 10)
    pool = SimpleNamespace(
        spec=lambda name: SimpleNamespace(sha256=None), path_of=lambda n: weights
    )
    model = SimpleNamespace(model_name="m", pool=pool)
    first = model_identity(model)
    assert first.startswith("m@")
    assert ":14:" in first
    weights.write_bytes(b"GGUF" + b"1" * 20)
    assert model_identity(model) != first


def test_prompt_text_includes_roles() -> None:
    assert prompt_text([HumanMessage("x")]) != prompt_text([SystemMessage("x")])


class Pick(BaseModel):
    colour: str


class PickTwo(BaseModel):
    colour: str
    shade: str = "plain"


def test_cached_structured_hits_and_schema_is_part_of_the_key(cache: StepCache) -> None:
    fake = FakeChatModel(responses=[{"colour": "red"}, {"colour": "blue"}])
    first = cache.cached_structured(fake, Pick, MESSAGES, "t/1")
    assert (first.data, first.hit, first.error) == ({"colour": "red"}, False, "")
    again = cache.cached_structured(fake, Pick, MESSAGES, "t/1")
    assert (again.data, again.hit) == ({"colour": "red"}, True)
    other = cache.cached_structured(fake, PickTwo, MESSAGES, "t/1")
    assert other.hit is False
    assert other.data == {"colour": "blue", "shade": "plain"}


def test_unusable_structured_output_is_cached_as_an_error(cache: StepCache) -> None:
    fake = FakeChatModel(responses=[{"wrong": 1}])
    first = cache.cached_structured(fake, Pick, MESSAGES, "t/1")
    assert first.data is None
    assert "ValidationError" in first.error
    assert not first.hit
    again = cache.cached_structured(fake, Pick, MESSAGES, "t/1")
    assert again.hit
    assert again.error == first.error


def test_call_reports_prompt_tokens_evaluated(cache: StepCache) -> None:
    fake = KVFake(responses=["red"])
    first = cache.call(fake, MESSAGES, "t/1")
    assert (first.hit, first.tokens, first.prompt_tokens, first.prompt_tokens_evaluated) == (
        False,
        34,
        30,
        5,
    )
    again = cache.call(fake, MESSAGES, "t/1")
    assert (again.hit, again.tokens, again.prompt_tokens_evaluated) == (True, 34, 0)
    assert again.seconds == pytest.approx(first.seconds)  # the hit saved the miss's time
    # a model that does not say what its KV cache supplied: evaluated is unknown, not 0
    plain = measured_call(FakeChatModel(responses=["x"]), MESSAGES)
    assert plain.prompt_tokens_evaluated is None


def test_structured_call_reports_prompt_tokens_evaluated(cache: StepCache) -> None:
    fake = KVFake(responses=[{"colour": "red"}], prompt_tokens=50, cache_read=10)
    reply = cache.cached_structured(fake, Pick, MESSAGES, "t/1")
    assert (reply.prompt_tokens, reply.prompt_tokens_evaluated) == (50, 40)


# -- semantic reuse --------------------------------------------------------------------------
def semantic_cache(tmp_path: Path, **kwargs: object) -> StepCache:
    return StepCache(
        tmp_path / "steps.sqlite",
        semantic_threshold=0.97,
        encoder=HashingEncoder(),
        **kwargs,  # type: ignore[arg-type]
    )


def ask(text: str, system: str = "Be brief.") -> list[SystemMessage | HumanMessage]:
    return [SystemMessage(system), HumanMessage(text)]


@pytest.mark.parametrize("threshold", [0.5, 0.9, 0.969, 1.01])
def test_semantic_threshold_below_097_is_refused(tmp_path: Path, threshold: float) -> None:
    with pytest.raises(ConfigError, match=r"0\.97"):
        StepCache(tmp_path / "s.sqlite", semantic_threshold=threshold, encoder=HashingEncoder())


def test_semantic_reuse_is_off_by_default(cache: StepCache) -> None:
    fake = FakeChatModel(responses=["blue", "azure"])
    assert cache.call(fake, ask("What colour is the sky?"), "t/1").text == "blue"
    second = cache.call(fake, ask("What colour is the sky ?!"), "t/1")
    assert (second.text, second.hit, second.semantic) == ("azure", False, False)


def test_semantic_hit_is_served_logged_and_marked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = semantic_cache(tmp_path)
    fake = FakeChatModel(responses=["blue"])  # a second model call would raise
    first = cache.call(fake, ask("What colour is the sky?"), "t/1")
    assert not first.hit
    with caplog.at_level(logging.WARNING, logger="lamina.stores.step_cache"):
        near = cache.call(fake, ask("what colour is the sky ?!"), "t/1")
    assert (near.text, near.hit, near.semantic) == ("blue", True, True)
    assert near.similarity is not None
    assert near.similarity >= 0.97
    assert any("semantic hit" in r.getMessage() for r in caplog.records)
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.semantic_hits) == (1, 1, 1)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("What is 12 * 7?", "What is 12 * 8?"),  # another number
        ("What is 12 - 7?", "What is 7 - 12?"),  # the same numbers, another order
        ("What is 12 - 7?", "What is 12 + 7?"),  # another operator
        ("Which of these is a fruit?", "Which of these is not a fruit?"),  # negated
        ("Name the largest planet.", "Name the smallest planet."),
    ],
)
def test_semantic_reuse_refuses_near_opposite_questions(
    tmp_path: Path, first: str, second: str
) -> None:
    cache = semantic_cache(tmp_path)
    fake = FakeChatModel(responses=["a", "b"])
    cache.call(fake, ask(first), "t/1")
    other = cache.call(fake, ask(second), "t/1")
    assert (other.text, other.hit) == ("b", False)


def test_semantic_reuse_needs_the_same_model_params_template_and_context(tmp_path: Path) -> None:
    cache = semantic_cache(tmp_path)
    cache.call(TunableFake(responses=["blue"]), ask("What colour is the sky?"), "t/1")
    variants = [
        (TunableFake(responses=["x"], temperature=0.5), ask("what colour is the sky"), "t/1"),
        (TunableFake(responses=["x"], model_name="other"), ask("what colour is the sky"), "t/1"),
        (TunableFake(responses=["x"]), ask("what colour is the sky"), "t/2"),
        (TunableFake(responses=["x"]), ask("what colour is the sky", "Be long."), "t/1"),
    ]
    for model, messages, template in variants:
        assert cache.call(model, messages, template).hit is False


def test_semantic_reuse_respects_the_ttl(tmp_path: Path) -> None:
    now = [1000.0]
    cache = semantic_cache(tmp_path, ttl_seconds=60, clock=lambda: now[0])
    fake = FakeChatModel(responses=["blue", "fresh"])
    cache.call(fake, ask("What colour is the sky?"), "t/1")
    now[0] += 120
    assert cache.call(fake, ask("what colour is the sky"), "t/1").text == "fresh"


def test_eviction_and_clear_drop_semantic_vectors(tmp_path: Path) -> None:
    cache = semantic_cache(tmp_path, max_entries=1)
    fake = FakeChatModel(responses=["blue", "green", "again"])
    cache.call(fake, ask("What colour is the sky?"), "t/1")
    cache.call(fake, ask("What colour is grass?"), "t/1")  # evicts the sky
    assert cache.call(fake, ask("what colour is the sky"), "t/1").text == "again"
    assert cache.clear() == 1
    conn = sqlite3.connect(cache.path)
    assert conn.execute("SELECT count(*) FROM vectors").fetchone()[0] == 0
    conn.close()


def test_from_settings_reads_the_cache_settings(tmp_path: Path) -> None:
    settings = get_settings(
        home=tmp_path,
        step_cache_max_entries=7,
        step_cache_ttl_seconds=30.0,
        step_cache_semantic_threshold=0.98,
    )
    cache = StepCache.from_settings(settings)
    assert cache.path == tmp_path / "step_cache.sqlite"
    assert (cache.max_entries, cache.ttl_seconds, cache.semantic_threshold) == (7, 30.0, 0.98)
    with pytest.raises(ConfigError):
        StepCache.from_settings(get_settings(home=tmp_path, step_cache_semantic_threshold=0.9))


# -- persistence -----------------------------------------------------------------------------
def test_persists_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "steps.sqlite"
    StepCache(path).put("k", "value", tokens=5, seconds=0.5)
    other = StepCache(path)
    assert other.get("k") == "value"
    assert other.stats().saved_tokens == 5


def test_default_path_is_under_lamina_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path / "home"))
    assert StepCache().path == tmp_path / "home" / "step_cache.sqlite"


def _run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_persists_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "steps.sqlite"
    _run_python(
        f"""
        from pathlib import Path
        from lamina.stores.step_cache import StepCache
        StepCache(Path({str(path)!r})).put("from-child", "child value", tokens=3)
        """
    )
    cache = StepCache(path)
    assert cache.get("from-child") == "child value"
    cache.put("from-parent", "parent value")
    out = _run_python(
        f"""
        from pathlib import Path
        from lamina.stores.step_cache import StepCache
        print(StepCache(Path({str(path)!r})).get("from-parent"))
        """
    )
    assert out == "parent value"


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "steps.sqlite"
    cache = StepCache(path)
    code = f"""
        from pathlib import Path
        from lamina.stores.step_cache import StepCache
        c = StepCache(Path({str(path)!r}))
        for i in range(150):
            c.put(f"child-{{i}}", str(i))
    """
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stderr=subprocess.PIPE)
    written = 0
    # keep writing while the child writes, so the two really contend for the file
    while child.poll() is None or written < 40:
        cache.put(f"parent-{written}", str(written))
        written += 1
    _, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert len(cache) == 150 + written
    assert cache.get("child-149") == "149"


# -- eviction, TTL, clear --------------------------------------------------------------------
def test_lru_eviction(tmp_path: Path) -> None:
    cache = StepCache(tmp_path / "steps.sqlite", max_entries=3)
    for key in ("a", "b", "c"):
        cache.put(key, key)
    assert cache.get("a") == "a"  # "a" is now the most recently used
    cache.put("d", "d")
    assert len(cache) == 3
    assert "b" not in cache
    assert all(k in cache for k in ("a", "c", "d"))


def test_ttl_expires_entries(tmp_path: Path) -> None:
    now = [1000.0]
    cache = StepCache(tmp_path / "steps.sqlite", ttl_seconds=60, clock=lambda: now[0])
    cache.put("k", "v")
    now[0] += 59
    assert cache.get("k") == "v"
    now[0] += 2
    assert "k" not in cache
    assert cache.get("k") is None
    assert len(cache) == 0


def test_clear_resets_entries_and_stats(cache: StepCache) -> None:
    cache.put("k", "v")
    cache.get("k")
    cache.get("missing")
    assert cache.clear() == 1
    assert len(cache) == 0
    assert cache.stats().to_dict() == {
        "hits": 0,
        "misses": 0,
        "saved_tokens": 0,
        "saved_seconds": 0.0,
        "entries": 0,
        "semantic_hits": 0,
    }


@pytest.mark.parametrize(
    ("kwargs", "word"), [({"max_entries": 0}, "max_entries"), ({"ttl_seconds": 0}, "ttl")]
)
def test_bad_bounds_are_config_errors(tmp_path: Path, kwargs: dict[str, float], word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        StepCache(tmp_path / "steps.sqlite", **kwargs)  # type: ignore[arg-type]


# -- corruption ------------------------------------------------------------------------------
def test_corrupted_file_is_rebuilt_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "steps.sqlite"
    path.write_bytes(b"this is not a sqlite database at all " * 200)
    with caplog.at_level(logging.WARNING, logger="lamina.stores.step_cache"):
        cache = StepCache(path)
    assert any("corrupted" in r.getMessage() for r in caplog.records)
    assert (tmp_path / "steps.sqlite.corrupt").exists()
    cache.put("k", "v")
    assert cache.get("k") == "v"


def test_file_corrupted_while_in_use_is_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "steps.sqlite"
    cache = StepCache(path)
    cache.put("k", "v")
    cache.close()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.write_bytes(b"\x00garbage" * 1000)
    with caplog.at_level(logging.WARNING, logger="lamina.stores.step_cache"):
        assert cache.get("k") is None  # a miss, not a crash
    assert any("corrupted" in r.getMessage() for r in caplog.records)
    cache.put("k", "again")
    assert cache.get("k") == "again"
