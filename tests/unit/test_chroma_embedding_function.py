"""Chroma rebuilds lamina's embedding function from a collection's configuration, silently.

A collection records the name of its embedding function ("lamina"). Unless the name is
registered with Chroma, reading the collection's schema back (Chroma does on every add to an
existing collection, so on every `lamina run`/`resume` with memory) warned
"Could not reconstruct embedding function lamina", and the collection's configuration had no
embedding function.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lamina.models.encoder import LaminaEmbeddingFunction
from lamina.models.testing import HashingEncoder
from lamina.stores.memory import MemoryStore
from lamina.stores.memory.client import chroma_settings, import_chromadb


def _store_with_memories(path: Path) -> None:
    with MemoryStore(path, encoder=HashingEncoder(dim=512)) as store:
        store.add(["Ada likes tea.", "Ada lives in Lyon."], "ada")


_REOPEN = """
import sys, warnings
warnings.simplefilter("always")
from lamina.models.testing import HashingEncoder
from lamina.stores.memory import MemoryStore
with MemoryStore(sys.argv[1], encoder=HashingEncoder(dim=512)) as store:
    store.add("Ada works in Paris.", "ada")
    assert store.stats()["count"] == 3
    assert store.search("tea", "ada", k=1)[0].text == "Ada likes tea."
print("ok")
"""


def test_writing_to_an_existing_collection_warns_nothing(tmp_path: Path) -> None:
    # In a new process, as `lamina run` or `lamina resume` opens the store: Chroma keeps the
    # collections it has seen in this one.
    path = tmp_path / "memory"
    _store_with_memories(path)
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _REOPEN, str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
    assert "embedding function" not in proc.stderr, proc.stderr


def test_chroma_rebuilds_the_function_from_its_config(tmp_path: Path) -> None:
    path = tmp_path / "memory"
    _store_with_memories(path)
    client = import_chromadb().PersistentClient(path=str(path), settings=chroma_settings())
    (collection,) = client.list_collections()
    function = collection.configuration["embedding_function"]  # rebuilt by Chroma from its name
    assert isinstance(function, LaminaEmbeddingFunction)
    assert function.get_config()["identity"] == HashingEncoder(dim=512).identity
