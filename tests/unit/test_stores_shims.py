"""Old import paths of the stores and the encoder keep working for one release, with a
DeprecationWarning that names the new path."""

from __future__ import annotations

import importlib
import sys

import pytest


@pytest.mark.parametrize(
    ("old", "new", "names"),
    [
        ("lamina.memory_store", "lamina.stores", []),
        (
            "lamina.memory_store.chroma_store",
            "lamina.stores.memory",
            ["MemoryStore", "Memory", "MemoryItem", "KINDS", "MAX_TEXT_CHARS", "LOCK_FILE"],
        ),
        (
            "lamina.memory_store.step_cache",
            "lamina.stores.step_cache",
            ["StepCache", "StepCall", "CacheStats", "measured_call", "structured_call"],
        ),
        (
            "lamina.memory_store.embeddings",
            "lamina.models.encoder",
            ["Encoder", "TextEncoder", "LaminaEmbeddingFunction", "default_encoder"],
        ),
        ("lamina.memory_store.cli", "lamina.cli.memory", ["app", "open_store", "DEFAULT_USER"]),
        ("lamina.memory_store.cache_cli", "lamina.cli.cache", ["app", "cache_stats"]),
        ("lamina.agents.ledger", "lamina.stores.ledger", ["ToolLedger", "call_id_for"]),
    ],
)
def test_an_old_module_warns_and_gives_the_same_objects(
    old: str, new: str, names: list[str]
) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        shim = importlib.import_module(old)
    moved = importlib.import_module(new)
    for name in names:
        assert getattr(shim, name) is getattr(moved, name)


def test_the_new_paths_do_not_warn() -> None:
    import warnings

    for name in list(sys.modules):
        if name.startswith(("lamina.stores", "lamina.models.encoder")):
            sys.modules.pop(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.import_module("lamina.stores.memory")
        importlib.import_module("lamina.stores.step_cache")
        importlib.import_module("lamina.stores.ledger")
        importlib.import_module("lamina.models.encoder")
