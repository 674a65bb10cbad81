"""Unit tests run without model files: any attempt to load a real GGUF fails loudly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import lamina.models.llama.loader as loader_module
import lamina.models.pool as pool_module


@pytest.fixture(autouse=True)
def _no_real_models(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    monkeypatch.setattr(loader_module, "ALLOW_MODEL_LOADS", False)
    home = tmp_path_factory.mktemp("lamina_home")
    monkeypatch.setenv("LAMINA_HOME", str(home))
    monkeypatch.setenv("LAMINA_MODELS_DIR", str(home / "models"))
    # the numeric path of an integration run (`LAMINA_N_THREADS=1 LAMINA_KV_CACHE=off make
    # test`) is not a setting the unit tests of settings expect
    monkeypatch.delenv("LAMINA_N_THREADS", raising=False)
    monkeypatch.delenv("LAMINA_KV_CACHE", raising=False)
    pool_module.reset_default_pool()
    yield
    pool_module.reset_default_pool()


@pytest.fixture
def store(tmp_path):  # type: ignore[no-untyped-def]
    """An embedded memory store with the hashing test encoder (no model files)."""
    from lamina.models.testing import HashingEncoder
    from lamina.stores.memory import MemoryStore

    s = MemoryStore(tmp_path / "memory", encoder=HashingEncoder(dim=512))
    yield s
    s.close()
