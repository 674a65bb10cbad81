"""Everything lamina knows about Chroma's files and tables that Chroma does not publish.

Written against **chromadb 1.5** (checked with 1.5.9). `tests/unit/test_chroma_internals.py`
fails when the installed chromadb has another major.minor version: whoever upgrades re-checks
this module against the new version's `chromadb/db/` and `chromadb/segment/` code, then moves
:data:`CHROMADB_VERSION`.

What is relied on:

* the embedded store's files: `chroma.sqlite3`, and one directory per vector-index segment,
  named by the segment's UUID (36 characters);
* the tables `collections`, `segments` (column `scope`, 'METADATA' for the metadata segment),
  `max_seq_id` (how far a segment has applied the log; big-endian bytes in old versions),
  `embeddings` (live records per segment), `embeddings_queue` (the write-ahead log: `topic`
  ending in the collection id, `operation` 0 add, 1 update, 2 upsert, 3 delete), and the FTS5
  table `embedding_fulltext_search`.

Only :mod:`lamina.stores.memory.purge` and the store's writability check use this module.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = [
    "CHROMADB_VERSION",
    "REQUIRED_TABLES",
    "SQLITE_FILE",
    "all_collection_ids",
    "optimize_fulltext",
    "purge_collection_log",
    "store_files",
    "table_names",
]

CHROMADB_VERSION = "1.5"
"""The chromadb major.minor this module was written against."""

SQLITE_FILE = "chroma.sqlite3"
REQUIRED_TABLES = frozenset(
    {"embeddings_queue", "embeddings", "segments", "max_seq_id", "collections"}
)
_FULLTEXT_TABLE = "embedding_fulltext_search"

# Delete entries (operation 3) hold no text and stay: the vector index may still need to replay
# them.
_PURGE_SQL = """
DELETE FROM embeddings_queue
WHERE topic LIKE :topic AND operation IN (0, 1, 2) AND seq_id <= :applied
  AND (
    id NOT IN (SELECT embedding_id FROM embeddings WHERE segment_id = :segment)
    OR EXISTS (
      SELECT 1 FROM embeddings_queue AS later
      WHERE later.topic = embeddings_queue.topic AND later.id = embeddings_queue.id
        AND later.seq_id > embeddings_queue.seq_id AND later.seq_id <= :applied
        AND later.operation = 2
    )
  )
"""


def store_files(path: Path) -> list[Path]:
    """The files of an embedded store that Chroma writes: its database and vector indexes."""
    files = [path / SQLITE_FILE]
    # Chroma keeps each vector index in a directory named by its segment's UUID.
    segments = [d for d in path.iterdir() if d.is_dir() and len(d.name) == 36]
    files += [f for d in segments for f in d.iterdir() if f.is_file()]
    return files


def table_names(con: sqlite3.Connection) -> set[str]:
    """The tables of a Chroma database."""
    return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def all_collection_ids(con: sqlite3.Connection) -> list[str]:
    """The ids of every collection in a Chroma database."""
    return [r[0] for r in con.execute("SELECT id FROM collections")]


def purge_collection_log(con: sqlite3.Connection, collection_id: str) -> int:
    """Drop one collection's log entries of deleted or rewritten records; return how many.

    Only entries the metadata segment has applied are considered (its `max_seq_id`), so
    nothing that Chroma still has to apply is touched.
    """
    row = con.execute(
        "SELECT id FROM segments WHERE collection = ? AND scope = 'METADATA'",
        (collection_id,),
    ).fetchone()
    if row is None:
        return 0
    seq = con.execute("SELECT seq_id FROM max_seq_id WHERE segment_id = ?", row).fetchone()
    if seq is None:
        return 0
    # Old Chroma versions stored the number as big-endian bytes.
    applied = int.from_bytes(seq[0], "big") if isinstance(seq[0], bytes) else int(seq[0])
    cur = con.execute(
        _PURGE_SQL, {"topic": f"%/{collection_id}", "applied": applied, "segment": row[0]}
    )
    return max(cur.rowcount, 0)


def optimize_fulltext(con: sqlite3.Connection, tables: set[str]) -> None:
    """Merge the full-text index's segments, which drops the entries of deleted documents."""
    if _FULLTEXT_TABLE in tables:
        con.execute(f"INSERT INTO {_FULLTEXT_TABLE}({_FULLTEXT_TABLE}) VALUES ('optimize')")
