"""Reading an embedded store that cannot be written (a read-only home, mount or backup).

Chroma opens its database for writing, always (it applies migrations at start), so it cannot
open a read-only store. :func:`open_read_only` copies the store's `chroma.sqlite3` (memories,
metadata, collections; SQLite's backup API gives a consistent copy) into a temporary directory
and opens the copy. Counting and listing memories read only that database; the copy is deleted
on close and the store is never written. Searching would need the vector index as well, so this
is for commands that count and list (`lamina memory stats`).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lamina.errors import MemoryStoreError
from lamina.stores.memory.chroma_internals import SQLITE_FILE, store_files
from lamina.stores.memory.store import MemoryStore
from lamina.stores.readonly import connect_read_only

__all__ = ["is_writable", "open_read_only"]


def is_writable(path: Path) -> bool:
    """Whether this process may write the embedded store at `path` (True when it is new)."""
    if not path.is_dir():
        return True
    try:
        files = [path, *(f for f in store_files(path) if f.exists())]
    except OSError:  # cannot even list it: not writable either
        return False
    return all(os.access(f, os.W_OK) for f in files)


@contextmanager
def open_read_only(path: Path, **options: Any) -> Iterator[MemoryStore]:
    """A store on a temporary copy of the database at `path`, deleted when the block ends.

    Args:
        path: the embedded store's directory.
        **options: as for :class:`MemoryStore` (collection, encoder, ...).

    Raises:
        MemoryStoreError: `path` holds no store, or its database cannot be read.
    """
    source = path / SQLITE_FILE
    if not source.is_file():
        raise MemoryStoreError(
            f"Expected a memory store at {path} (a directory with {SQLITE_FILE}); found none, and "
            "the directory is read-only so none can be created. Fix: check --path."
        )
    with tempfile.TemporaryDirectory(prefix="lamina-memory-") as tmp:
        copy = Path(tmp)
        try:
            src = connect_read_only(source)
            try:
                dst = sqlite3.connect(copy / SQLITE_FILE)
                try:
                    src.backup(dst)
                finally:
                    dst.close()
            finally:
                src.close()
        except sqlite3.Error as exc:
            raise MemoryStoreError(
                f"The memory store at {path} is read-only and its database could not be read "
                f"({exc}). Fix: check that {source} is a Chroma database you may read."
            ) from exc
        with MemoryStore(copy, **options) as store:
            store.location = f"{path} (read-only: read from a copy)"
            yield store
