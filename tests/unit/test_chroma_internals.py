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


def test_the_adapter_reads_the_vector_index_header_of_a_real_store(tmp_path: Path) -> None:
    from lamina.models.testing import HashingEncoder
    from lamina.stores.memory import MemoryStore

    path = tmp_path / "memory"
    with MemoryStore(path, encoder=HashingEncoder(dim=64)) as store:
        store.add("The adapter reads Chroma's index header.", "ada")
    (segment,) = [d for d in chroma_internals.index_dirs(path) if (d / "header.bin").exists()]
    data = segment / "data_level0.bin"
    size = data.stat().st_size
    # Whatever the heap held: what the saved index's unused capacity can contain.
    data.write_bytes(b"heap garbage " * (size // 13) + b"x" * (size % 13))

    cleared = chroma_internals.clear_unused_index_space(segment)

    # Understood the header: something was cleared, and the index still opens and answers.
    assert 0 < cleared <= size
    assert data.stat().st_size == size
    assert b"heap garbage" not in data.read_bytes()[size - cleared :]
    with MemoryStore(path, encoder=HashingEncoder(dim=64)) as store:
        assert store.count("ada") == 1
        assert store.search("index header", "ada", k=1)[0].text.startswith("The adapter")


def test_clearing_keeps_the_used_elements_and_skips_unknown_formats(tmp_path: Path) -> None:
    import struct

    per_element, capacity, count = 8, 4, 2
    header = struct.pack("<iQQQQ", 1, 0, capacity, count, per_element) + bytes(60)
    (tmp_path / "header.bin").write_bytes(header)
    used, unused = b"U" * (count * per_element), b"G" * ((capacity - count) * per_element)
    (tmp_path / "data_level0.bin").write_bytes(used + unused)

    assert chroma_internals.clear_unused_index_space(tmp_path) == len(unused)
    assert (tmp_path / "data_level0.bin").read_bytes() == used + bytes(len(unused))

    # Another format version: nothing is touched.
    (tmp_path / "header.bin").write_bytes(struct.pack("<iQQQQ", 2, 0, capacity, 0, per_element))
    (tmp_path / "data_level0.bin").write_bytes(used + unused)
    assert chroma_internals.clear_unused_index_space(tmp_path) == 0
    assert (tmp_path / "data_level0.bin").read_bytes() == used + unused
