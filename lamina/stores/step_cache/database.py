"""The step cache's SQLite file: schema, connection, transactions, corruption recovery, counters.

The file uses SQLite's WAL journal, so two processes may share it; writers queue on explicit
`BEGIN IMMEDIATE` transactions. A corrupted file is moved aside (`<name>.corrupt`) and rebuilt
with a logged warning: the cache never crashes a run.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from lamina.errors import MemoryStoreError

__all__ = [
    "CacheDatabase",
    "CacheEntry",
    "CacheStats",
    "bump",
    "evict_over",
    "insert_entry",
    "is_corruption",
    "read_only_stats",
    "read_stats",
    "touch",
]

logger = logging.getLogger(__name__)

_SCHEMA_VERSION = 1
_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    tokens INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    tick INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_tick ON entries(tick);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (
    key TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    encoder TEXT NOT NULL,
    query TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS vectors_scope ON vectors(scope, encoder);
"""

_CORRUPT_CODES = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})


@dataclass(frozen=True)
class CacheStats:
    """What the cache file has served since it was created (or last cleared).

    Attributes:
        hits: lookups that found a live entry (semantic hits included).
        misses: lookups that found nothing (or an expired entry).
        saved_tokens: tokens the hits did not have to generate again.
        saved_seconds: model time the hits did not have to spend again.
        entries: entries stored now.
        semantic_hits: hits served by nearest-neighbour reuse (not an exact key).
    """

    hits: int
    misses: int
    saved_tokens: int
    saved_seconds: float
    entries: int
    semantic_hits: int = 0

    @property
    def hit_rate(self) -> float:
        """hits / (hits + misses), 0.0 before any lookup."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (for traces and the CLI)."""
        return asdict(self)


@dataclass(frozen=True)
class CacheEntry:
    """A live entry as a lookup returns it."""

    value: str
    tokens: int
    seconds: float


def is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """True when `exc` says the file is damaged (not merely locked, busy or read-only)."""
    # OperationalError (locked, busy, read-only) is a subclass of DatabaseError but is no sign of
    # a damaged file; only SQLITE_CORRUPT/SQLITE_NOTADB (plain DatabaseError) are.
    name = getattr(exc, "sqlite_errorname", "") or ""
    if any(name.startswith(code) for code in _CORRUPT_CODES):
        return True
    return type(exc) is sqlite3.DatabaseError and any(
        s in str(exc) for s in ("not a database", "malformed", "corrupt")
    )


def read_stats(conn: sqlite3.Connection) -> CacheStats:
    """The counters and the number of entries in the cache file `conn` reads."""
    counters = dict(conn.execute("SELECT name, value FROM counters").fetchall())
    (entries,) = conn.execute("SELECT count(*) FROM entries").fetchone()
    return CacheStats(
        hits=int(counters.get("hits", 0)),
        misses=int(counters.get("misses", 0)),
        saved_tokens=int(counters.get("saved_tokens", 0)),
        saved_seconds=float(counters.get("saved_seconds", 0.0)),
        entries=int(entries),
        semantic_hits=int(counters.get("semantic_hits", 0)),
    )


def read_only_stats(path: Path) -> CacheStats:
    """:func:`read_stats` of the file at `path`, opened so that nothing is ever written.

    For `lamina cache stats`, which must work in a read-only home; unlike :class:`CacheDatabase`
    it creates no file and rebuilds no damaged one.

    Raises:
        MemoryStoreError: the file cannot be read (damaged, unreadable, not a step cache).
    """
    from lamina.stores.readonly import connect_read_only

    try:
        conn = connect_read_only(path)
    except sqlite3.Error as exc:
        raise _unreadable(path, exc) from exc
    try:
        return read_stats(conn)
    except sqlite3.Error as exc:
        raise _unreadable(path, exc) from exc
    finally:
        conn.close()


def _unreadable(path: Path, exc: sqlite3.Error) -> MemoryStoreError:
    damaged = isinstance(exc, sqlite3.DatabaseError) and is_corruption(exc)
    fix = (
        "the next run that uses the cache moves it aside and starts an empty one; or delete it."
        if damaged
        else "check that it is a lamina step cache you may read."
    )
    return MemoryStoreError(f"Step cache: cannot read {path} ({exc}). Fix: {fix}")


def touch(conn: sqlite3.Connection, key: str) -> None:
    """Mark an entry as the most recently used (eviction is least recently used)."""
    conn.execute(
        "UPDATE entries SET tick = (SELECT COALESCE(MAX(tick), 0) + 1 FROM entries) WHERE key = ?",
        (key,),
    )


def bump(conn: sqlite3.Connection, **amounts: float) -> None:
    """Add `amounts` to the file's named counters (hits, misses, saved_tokens, ...)."""
    for name, amount in amounts.items():
        conn.execute(
            "INSERT INTO counters(name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (name, amount),
        )


def insert_entry(
    conn: sqlite3.Connection,
    key: str,
    value: str,
    tokens: int,
    seconds: float,
    now: float,
    vector: tuple[str, str, bytes] | None,
    encoder_id: str,
) -> None:
    """Store an entry as the most recently used (replacing one under the same key), with its
    (scope, query, embedding bytes) for semantic reuse when `vector` is given."""
    conn.execute(
        "INSERT OR REPLACE INTO entries(key, value, tokens, seconds, created_at, tick) "
        "VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(tick), 0) + 1 FROM entries))",
        (key, value, int(tokens), float(seconds), now),
    )
    if vector is not None:
        conn.execute(
            "INSERT OR REPLACE INTO vectors(key, scope, encoder, query, vector) "
            "VALUES (?, ?, ?, ?, ?)",
            (key, vector[0], encoder_id, vector[1], vector[2]),
        )


def evict_over(conn: sqlite3.Connection, max_entries: int) -> int:
    """Delete the least recently used entries beyond `max_entries`; return how many."""
    (count,) = conn.execute("SELECT count(*) FROM entries").fetchone()
    excess = int(count) - max_entries
    if excess > 0:
        oldest = "SELECT key FROM entries ORDER BY tick ASC LIMIT ?"
        conn.execute(f"DELETE FROM vectors WHERE key IN ({oldest})", (excess,))
        conn.execute(f"DELETE FROM entries WHERE key IN ({oldest})", (excess,))
    return max(excess, 0)


class CacheDatabase:
    """The cache file's connection, opened lazily and rebuilt when the file is corrupted.

    Args:
        path: the SQLite file.
        lock: the cache's lock; every use of the connection holds it.
    """

    def __init__(self, path: Path, lock: threading.RLock) -> None:
        self.path = path
        self._lock = lock
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit mode: transactions are explicit (BEGIN IMMEDIATE) so writers queue.
            conn = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.OperationalError) as exc:
            raise MemoryStoreError(
                f"Step cache: cannot open {self.path} ({exc}). Expected a writable file. "
                "Fix: check the directory's permissions or pass StepCache(path=...) elsewhere."
            ) from exc
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(_SCHEMA)
            conn.execute(
                "INSERT OR IGNORE INTO meta(name, value) VALUES ('schema', ?)",
                (str(_SCHEMA_VERSION),),
            )
            conn.execute("SELECT count(*) FROM entries").fetchone()
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def open(self) -> None:
        """Open the file (rebuilding it when corrupted)."""
        try:
            self._conn = self._connect()
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                raise MemoryStoreError(
                    f"Step cache: cannot use {self.path} ({exc}). "
                    "Fix: check the file's permissions, or delete it to start an empty cache."
                ) from exc
            self._rebuild(exc)

    def _rebuild(self, exc: BaseException) -> None:
        if self._conn is not None:
            with suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        aside = self.path.with_name(self.path.name + ".corrupt")
        logger.warning(
            "step cache %s is corrupted (%s); moved it to %s and started an empty cache",
            self.path,
            exc,
            aside,
        )
        try:
            self.path.replace(aside)
        except OSError:
            self.path.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
        self._conn = self._connect()

    def connection(self) -> sqlite3.Connection:
        """The open connection (reopened after :meth:`close`)."""
        if self._conn is None:
            self.open()
        if self._conn is None:  # pragma: no cover - open() either sets it or raises
            raise MemoryStoreError(f"Step cache: {self.path} is not open.")
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (`BEGIN IMMEDIATE`), rolled back when the body raises."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                logger.debug("step cache rollback failed", exc_info=True)
            raise
        else:
            conn.execute("COMMIT")

    def guarded(self, what: str, op: Callable[[], _T], on_corrupt: Callable[[], _T]) -> _T:
        """Run `op`; a corrupted file is rebuilt and `on_corrupt()` answers instead."""
        with self._lock:
            try:
                return op()
            except sqlite3.DatabaseError as exc:
                if is_corruption(exc):
                    self._rebuild(exc)
                    return on_corrupt()
                raise MemoryStoreError(
                    f"Step cache: {what} failed on {self.path} ({exc}). "
                    "Fix: check that no other program holds a long write lock on the file."
                ) from exc

    def close(self) -> None:
        """Close the connection (it reopens on next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
