"""`lamina.stores.memory.chroma_internals` is pinned to the chromadb version it was written for.

It holds raw SQL on Chroma's private tables (used to purge deleted memories' text). A Chroma
upgrade may change those tables without notice, so an upgrade must come with a re-check of the
adapter: this test fails until someone has done it and moved `CHROMADB_VERSION`.
"""

from __future__ import annotations

import sqlite3
from importlib.metadata import version
from pathlib import Path

from lamina.stores.memory import chroma_internals


def _major_minor(text: str) -> str:
    return ".".join(text.split(".")[:2])


def test_the_adapter_was_written_for_the_installed_chromadb() -> None:
    installed = version("chromadb")
    assert _major_minor(installed) == chroma_internals.CHROMADB_VERSION, (
        f"chromadb {installed} is installed, but lamina/stores/memory/chroma_internals.py was "
        f"written against chromadb {chroma_internals.CHROMADB_VERSION}. Fix: re-check that "
        "module's SQL and file layout (its docstring lists what it relies on) against the "
        "new chromadb, run tests/unit/test_memory_files.py, then set CHROMADB_VERSION to "
        f"{_major_minor(installed)!r}."
    )


def test_the_adapter_names_its_version_in_its_docstring() -> None:
    assert f"chromadb {chroma_internals.CHROMADB_VERSION}" in (chroma_internals.__doc__ or "")


def test_the_adapter_knows_the_tables_of_a_real_store(tmp_path: Path) -> None:
    from lamina.models.testing import HashingEncoder
    from lamina.stores.memory import MemoryStore

    path = tmp_path / "memory"
    with MemoryStore(path, encoder=HashingEncoder(dim=64)) as store:
        store.add("The adapter reads Chroma's tables.", "ada")
        store.forget(user_id="ada", purge=False)
        con = sqlite3.connect(path / chroma_internals.SQLITE_FILE)
        try:
            tables = chroma_internals.table_names(con)
            assert tables >= chroma_internals.REQUIRED_TABLES
            assert chroma_internals.all_collection_ids(con)
        finally:
            con.close()
        assert store.purge()["log_entries_removed"] >= 1
