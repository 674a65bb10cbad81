"""Reading lamina's SQLite files without writing them, for commands that only look (`stats`).

A read-only home (a read-only mount, a backup, files of another user) must not stop `lamina cache
stats` or `lamina memory stats`. Opening with `mode=ro` reads a file, and its WAL, without a
write; SQLite still needs to create a WAL file's shared-memory index (`-shm`) beside it, which a
read-only directory refuses. Then the file is opened `immutable` (no locks, no `-shm`), which is
safe when no process can write there either, and is only a snapshot that may miss a commit in
progress otherwise. A `-wal` file left beside it (a writer that did not close) is then refused
rather than ignored: its commits would be missing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

__all__ = ["connect_read_only"]


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that reads `path` and can never write it.

    Raises:
        sqlite3.Error: the file cannot be read (missing, damaged, or a read-only directory with
            an unmerged `-wal` file beside it).
    """
    uri = f"file:{quote(str(path.resolve()))}"
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise
    conn = sqlite3.connect(f"{uri}?immutable=1", uri=True, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error:
        conn.close()
        raise
    return conn
