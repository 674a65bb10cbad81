"""The model pool with a fake loader: lazy loads, LRU eviction in a budget, one lock per model."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from lamina.config import Settings, get_settings
from lamina.errors import ModelError, UnknownModelError
from lamina.models.catalog import ModelSpec
from lamina.models.pool import ModelPool


class FakeModel:
    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False

    def close(self) -> None:
        self.closed = True


class FakeLoader:
    """Records every load; returns a `FakeModel`."""

    def __init__(self, delay: float = 0.0) -> None:
        self.loads: list[str] = []
        self.models: dict[str, list[FakeModel]] = {}
        self.delay = delay
        self._lock = threading.Lock()

    def __call__(self, spec: ModelSpec, path: Path, settings: Settings) -> FakeModel:
        time.sleep(self.delay)
        model = FakeModel(spec.name)
        with self._lock:
            self.loads.append(spec.name)
            self.models.setdefault(spec.name, []).append(model)
        return model


SIZE = 100  # bytes per fake model file; the pool's cost is the file size


@pytest.fixture
def loader() -> FakeLoader:
    return FakeLoader()


def make_pool(tmp_path: Path, loader: FakeLoader, budget: int, names: tuple[str, ...]) -> ModelPool:
    pool = ModelPool(get_settings(home=tmp_path), budget_bytes=budget, loader=loader)
    for name in names:
        path = tmp_path / f"{name}.gguf"
        path.write_bytes(b"GGUF" + b"\0" * (SIZE - 4))
        pool.register(ModelSpec(name=name, path=path))
    return pool


def test_models_load_lazily_and_once(tmp_path: Path, loader: FakeLoader) -> None:
    pool = make_pool(tmp_path, loader, budget=10 * SIZE, names=("a", "b"))
    assert loader.loads == []
    assert pool.loaded() == []
    with pool.use("a") as first:
        assert isinstance(first, FakeModel)
        assert first.name == "a"
    with pool.use("a") as again:
        assert again is first
    assert loader.loads == ["a"]
    assert pool.loaded() == ["a"]


def test_load_makes_a_model_resident_once_and_says_whether_it_loaded(
    tmp_path: Path, loader: FakeLoader
) -> None:
    from lamina.core.context import LoadsModels

    pool = make_pool(tmp_path, loader, budget=10 * SIZE, names=("a", "b"))
    assert isinstance(pool, LoadsModels)
    assert pool.load("a") is True
    assert pool.load("a") is False
    with pool.use("a"):
        pass
    assert loader.loads == ["a"]
    assert pool.loaded() == ["a"]


def test_least_recently_used_is_evicted_and_closed(tmp_path: Path, loader: FakeLoader) -> None:
    pool = make_pool(tmp_path, loader, budget=2 * SIZE, names=("a", "b", "c"))
    with pool.use("a"):
        pass
    with pool.use("b"):
        pass
    with pool.use("a"):  # a is now the most recently used
        pass
    with pool.use("c"):
        pass
    assert pool.evictions == ["b"]
    assert loader.models["b"][0].closed
    assert not loader.models["a"][0].closed
    assert pool.loaded() == ["a", "c"]
    with pool.use("b"):  # comes back with a fresh load; now a is the LRU
        pass
    assert pool.evictions == ["b", "a"]
    assert loader.models["a"][0].closed
    assert loader.loads == ["a", "b", "c", "b"]


def test_a_model_larger_than_the_budget_still_loads_alone(
    tmp_path: Path, loader: FakeLoader
) -> None:
    pool = make_pool(tmp_path, loader, budget=SIZE // 2, names=("a", "b"))
    with pool.use("a"):
        pass
    with pool.use("b"):
        pass
    assert pool.loaded() == ["b"]
    assert loader.models["a"][0].closed


def test_close_closes_every_model(tmp_path: Path, loader: FakeLoader) -> None:
    pool = make_pool(tmp_path, loader, budget=10 * SIZE, names=("a", "b"))
    for name in ("a", "b"):
        with pool.use(name):
            pass
    pool.close()
    assert pool.loaded() == []
    assert all(m[0].closed for m in loader.models.values())


def test_concurrent_use_of_one_model_is_serialised(tmp_path: Path) -> None:
    loader = FakeLoader(delay=0.05)  # slow load: every thread arrives before it finishes
    pool = make_pool(tmp_path, loader, budget=10 * SIZE, names=("a",))
    active = 0
    max_active = 0
    calls = 0
    guard = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker() -> None:
        nonlocal active, max_active, calls
        try:
            start.wait()
            with pool.use("a"):
                with guard:
                    active += 1
                    calls += 1
                    max_active = max(max_active, active)
                time.sleep(0.01)  # hold the model so an overlap would show
                with guard:
                    active -= 1
        except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert errors == []
    assert calls == 8
    assert max_active == 1
    assert loader.loads == ["a"]  # one load, however many callers raced for it


def test_different_models_do_not_block_each_other(tmp_path: Path, loader: FakeLoader) -> None:
    pool = make_pool(tmp_path, loader, budget=10 * SIZE, names=("a", "b"))
    got_b = threading.Event()

    def use_b() -> None:
        with pool.use("b"):
            got_b.set()

    with pool.use("a"):
        t = threading.Thread(target=use_b)
        t.start()
        assert got_b.wait(timeout=5)  # b is usable while a is held
    t.join(timeout=5)


def test_unknown_model_lists_the_known_names(tmp_path: Path, loader: FakeLoader) -> None:
    pool = make_pool(tmp_path, loader, budget=SIZE, names=("a",))
    with pytest.raises(UnknownModelError) as info, pool.use("nope"):
        pass
    assert "a" in info.value.known
    assert "smollm2-135m-instruct" in str(info.value)
    assert loader.loads == []


def test_registering_another_spec_under_a_loaded_name_fails(
    tmp_path: Path, loader: FakeLoader
) -> None:
    pool = make_pool(tmp_path, loader, budget=10 * SIZE, names=("a",))
    with pool.use("a"):
        pass
    with pytest.raises(ModelError, match="different name"):
        pool.register(ModelSpec(name="a", path=tmp_path / "other.gguf"))


def test_the_default_loader_is_switched_off_in_unit_tests(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF")
    pool = ModelPool(get_settings(home=tmp_path), budget_bytes=SIZE)
    pool.register(ModelSpec(name="m", path=path))
    with pytest.raises(ModelError, match="ALLOW_MODEL_LOADS"), pool.use("m"):
        pass
    assert pool.loaded() == []
