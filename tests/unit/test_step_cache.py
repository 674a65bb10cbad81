"""The step cache: exact keys, persistence (across instances and processes), LRU, TTL, recovery."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel

from lamina.errors import ConfigError
from lamina.memory_store.step_cache import (
    StepCache,
    model_identity,
    prompt_text,
    sampling_params,
)
from lamina.models.testing import FakeChatModel


class TunableFake(FakeChatModel):
    """A fake with sampling fields, like the llama.cpp chat model."""

    temperature: float = 0.0
    seed: int = 0
    max_tokens: int | None = None


MESSAGES = [SystemMessage("Be brief."), HumanMessage("Name a colour.")]


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
        from lamina.memory_store.step_cache import StepCache
        StepCache(Path({str(path)!r})).put("from-child", "child value", tokens=3)
        """
    )
    cache = StepCache(path)
    assert cache.get("from-child") == "child value"
    cache.put("from-parent", "parent value")
    out = _run_python(
        f"""
        from pathlib import Path
        from lamina.memory_store.step_cache import StepCache
        print(StepCache(Path({str(path)!r})).get("from-parent"))
        """
    )
    assert out == "parent value"


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "steps.sqlite"
    cache = StepCache(path)
    code = f"""
        from pathlib import Path
        from lamina.memory_store.step_cache import StepCache
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
    cache.clear()
    assert len(cache) == 0
    assert cache.stats().to_dict() == {
        "hits": 0,
        "misses": 0,
        "saved_tokens": 0,
        "saved_seconds": 0.0,
        "entries": 0,
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
    with caplog.at_level(logging.WARNING, logger="lamina.memory_store.step_cache"):
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
    with caplog.at_level(logging.WARNING, logger="lamina.memory_store.step_cache"):
        assert cache.get("k") is None  # a miss, not a crash
    assert any("corrupted" in r.getMessage() for r in caplog.records)
    cache.put("k", "again")
    assert cache.get("k") == "again"
