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
  table `embedding_fulltext_search`;
* the vector index files of chroma-hnswlib: `header.bin` (a format version 1, then hnswlib's
  header: offsetLevel0, max_elements, cur_element_count, size_data_per_element, ...) and
  `data_level0.bin`, written at its full capacity (max_elements * size_data_per_element) with
  the space past cur_element_count never initialised: it holds whatever the process's heap
  held before, which can be the text of any memory (or anything else the process saw).

Only :mod:`lamina.stores.memory.purge` and the store's writability check use this module.
"""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

__all__ = [
    "CHROMADB_VERSION",
    "REQUIRED_TABLES",
    "SQLITE_FILE",
    "all_collection_ids",
    "clear_unused_index_space",
    "index_dirs",
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
# chroma-hnswlib's header.bin: int32 format version, then size_t offsetLevel0, max_elements,
# cur_element_count, size_data_per_element (little-endian on every platform Chroma ships for).
_INDEX_HEADER = struct.Struct("<iQQQQ")
_INDEX_HEADER_VERSION = 1

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
    files += [f for d in index_dirs(path) for f in d.iterdir() if f.is_file()]
    return files


def index_dirs(path: Path) -> list[Path]:
    """The vector index directories of an embedded store, each named by its segment's UUID."""
    return [d for d in path.iterdir() if d.is_dir() and len(d.name) == 36]


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


def clear_unused_index_space(segment_dir: Path) -> int:
    """Zero the never-used capacity of one vector index's `data_level0.bin`; return its size.

    The index is saved at full capacity, and the slots past its element count hold whatever
    the heap held (see the module docstring). They are unused, so zeros change nothing that
    Chroma reads. An index in another format is left as it is (0 is returned).
    """
    header, data = segment_dir / "header.bin", segment_dir / "data_level0.bin"
    if not (header.is_file() and data.is_file()):
        return 0
    raw = header.read_bytes()
    if len(raw) < _INDEX_HEADER.size:
        return 0
    version, _, capacity, count, per_element = (int(v) for v in _INDEX_HEADER.unpack_from(raw))
    size = data.stat().st_size
    if version != _INDEX_HEADER_VERSION or per_element <= 0 or size != capacity * per_element:
        return 0
    start = count * per_element
    if start >= size:
        return 0
    with data.open("r+b") as out:
        out.seek(start)
        remaining = size - start
        block = bytes(min(remaining, 1 << 20))
        while remaining:
            out.write(block[:remaining])
            remaining -= min(remaining, len(block))
    return size - start
