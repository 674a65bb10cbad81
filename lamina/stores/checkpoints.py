"""LangGraph's SQLite checkpointer, with a damaged file reported as a :class:`CheckpointError`.

Checkpoints are threads' history, which nothing can rebuild, so a damaged file is treated the
way the memory store treats one (:mod:`lamina.stores.memory.failures`), not the way the step
cache does (a cache is only a lost speed-up, so it is moved aside and rebuilt): lamina never
moves, deletes or rewrites it, and the error names the file and how to restore it or move it
away. The file is checked when it is opened, so a run fails before a model loads or a tool
runs; damage found later (a page no check read) gives the same error.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver

from lamina.errors import CheckpointError
from lamina.stores.step_cache.database import is_corruption

__all__ = ["CheckedSqliteSaver", "damaged_checkpoints_error", "open_sqlite_checkpointer"]


def damaged_checkpoints_error(path: Path, exc: BaseException) -> CheckpointError:
    """The error for a checkpoint file that SQLite says is damaged."""
    aside = f"{path}.damaged"
    return CheckpointError(
        f"Expected a SQLite checkpoint file at {path}; it is damaged "
        f"({type(exc).__name__}: {exc}), so no thread can run with it, new ones included. "
        f"lamina changed nothing in it. Fix: restore {path} from a backup, or move it away "
        f"(`mv {path} {aside}`, and its -wal/-shm files if any) so that lamina starts an empty "
        f"one there; SQLite may recover some threads from the moved file "
        f"(`sqlite3 {aside} .recover | sqlite3 {path}`)."
    )


class CheckedSqliteSaver(SqliteSaver):
    """A `SqliteSaver` whose every use turns SQLite's corruption errors into `CheckpointError`.

    Args:
        conn: the open connection.
        path: the file, for the error's message.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        super().__init__(conn)
        self.path = path

    @contextmanager
    def cursor(self, transaction: bool = True) -> Iterator[sqlite3.Cursor]:
        """`SqliteSaver.cursor` (every read and write goes through it), damage reported."""
        try:
            with super().cursor(transaction) as cur:
                yield cur
        except sqlite3.DatabaseError as exc:
            if is_corruption(exc):
                raise damaged_checkpoints_error(self.path, exc) from exc
            raise


def open_sqlite_checkpointer(path: Path) -> tuple[CheckedSqliteSaver, sqlite3.Connection]:
    """Open (creating it and its directory when missing) and check a SQLite checkpoint file.

    Raises:
        CheckpointError: the file is damaged, or cannot be opened (permissions, a directory).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise _unopenable(path, exc) from exc
    saver = CheckedSqliteSaver(conn, path)
    try:
        # Creating the tables reads the schema, and counting rows walks both tables' pages:
        # a garbage or truncated file fails here, in a millisecond, before anything runs.
        with saver.cursor(transaction=False) as cur:
            cur.execute("SELECT count(*) FROM checkpoints").fetchone()
            cur.execute("SELECT count(*) FROM writes").fetchone()
    except CheckpointError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        raise _unopenable(path, exc) from exc
    return saver, conn


def _unopenable(path: Path, exc: BaseException) -> CheckpointError:
    return CheckpointError(
        f"Expected a SQLite checkpoint file at {path} that lamina can read and write; could not "
        f"open it ({type(exc).__name__}: {exc}). Fix: check that {path.parent} exists and is "
        "writable and that the path is not a directory, or choose another checkpointer path."
    )
