"""Removing deleted memories' text from an embedded store's files (`MemoryStore.purge`).

Chroma deletes a record from its tables at once, but its text survives on disk in two places:
Chroma's write-ahead log (kept until the vector index is next saved) and the free space of
`chroma.sqlite3`'s pages. Purging drops the log entries of records that no longer exist or were
rewritten by a later write, merges the full-text index, and VACUUMs the database. It also zeroes
the unused capacity of each saved vector index, which Chroma writes from uninitialised memory
(any text the process held can be in it). The SQL on
Chroma's own tables lives in :mod:`lamina.stores.memory.chroma_internals`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from lamina.errors import MemoryStoreError
from lamina.stores.memory import chroma_internals
from lamina.stores.memory.failures import StoreFailures

__all__ = ["purge_files", "server_purge_message"]

logger = logging.getLogger(__name__)


def server_purge_message(location: str) -> str:
    """Why a client cannot purge a server store's files, and what to do instead."""
    return (
        f"Cannot purge the files of a server store ({location}) from a client: they "
        "are on the server. Deleted memories are gone from every read at once; their text "
        "leaves the server's files when Chroma prunes its log. Fix: to purge now, stop the "
        "server and run `chroma vacuum --path DIR --force` on its directory; call forget() "
        "without purge=True."
    )


def purge_files(
    path: Path, collection_ids: Sequence[str] | None, failures: StoreFailures
) -> dict[str, int]:
    """Purge the embedded store at `path`; `collection_ids`: only these (None: every one).

    The caller holds the writer lock. lamina talks to Chroma's database here through Python's
    own SQLite library, a second copy of SQLite in this process. That is safe only while Chroma
    holds no lock on the file: Chroma commits every call before returning, other lamina calls on
    this directory wait for the writer lock, and other processes are kept out by the lock file.

    Returns:
        `{"log_entries_removed", "bytes_before", "bytes_after"}` of `chroma.sqlite3`.
    """
    db = path / chroma_internals.SQLITE_FILE
    before = db.stat().st_size
    try:
        con = sqlite3.connect(db, timeout=30.0, isolation_level=None)
    except sqlite3.Error as exc:
        raise _purge_error(failures, exc) from exc
    removed = 0
    try:
        tables = chroma_internals.table_names(con)
        needed = chroma_internals.REQUIRED_TABLES
        if not needed <= tables:
            raise MemoryStoreError(
                f"Deleted the memories, but cannot purge their text from {db}: its layout "
                f"is not the one lamina knows (missing tables {sorted(needed - tables)}; "
                "a newer Chroma?). Fix: run `chroma vacuum --path "
                f"{path} --force` with no process using the store."
            )
        if collection_ids is None:
            ids = chroma_internals.all_collection_ids(con)
        else:
            ids = list(collection_ids)
        con.execute("BEGIN IMMEDIATE")
        for collection_id in ids:
            removed += chroma_internals.purge_collection_log(con, collection_id)
        chroma_internals.optimize_fulltext(con, tables)
        con.execute("COMMIT")
        # Deleted rows stay in the pages' free space until the file is rewritten.
        con.execute("VACUUM")
    except sqlite3.Error as exc:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise _purge_error(failures, exc) from exc
    finally:
        con.close()
    try:
        cleared = sum(
            chroma_internals.clear_unused_index_space(d) for d in chroma_internals.index_dirs(path)
        )
    except OSError as exc:
        raise _purge_error(failures, exc) from exc
    logger.debug("purged %s: zeroed %d bytes of unused vector index space", path, cleared)
    after = db.stat().st_size
    logger.debug("purged %s: %d log entries, %d -> %d bytes", db, removed, before, after)
    return {"log_entries_removed": removed, "bytes_before": before, "bytes_after": after}


def _purge_error(failures: StoreFailures, exc: BaseException) -> MemoryStoreError:
    problem = failures.explain("purge", exc)
    return MemoryStoreError(
        f"Deleted the memories (they are gone from every search), but could not purge "
        f"their text from the files: {problem}"
    )
