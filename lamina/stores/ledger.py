"""The tool-call ledger: completed tool calls, on disk, so a resumed run never repeats one.

LangGraph resumes an interrupted run from its last checkpoint and runs the interrupted node
again from its start. A node that had already finished some tool calls would call them again —
harmless for a calculator, not for a tool that sends an e-mail or appends to a file. The
execution layer therefore gives every call a deterministic id (thread, turn, step, position,
name and arguments) and, before running a call, looks the id up here: a recorded call returns
its recorded result instead of running again. Each call is written (and fsynced) as soon as it
finishes, before the next one starts.

One SQLite file per agent home (WAL mode, `synchronous=FULL`); safe for several threads and
processes on one machine. Workers on several machines share threads through Postgres
checkpoints; give them a shared ledger path on a shared disk, or accept that a call cut off on
one worker may run again on another.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamina.errors import ConfigError

__all__ = ["LedgerEntry", "ToolLedger", "call_id_for"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    call_id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    name TEXT NOT NULL,
    args TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_thread ON calls(thread_id);
"""


@dataclass(frozen=True)
class LedgerEntry:
    """A finished tool call."""

    call_id: str
    thread_id: str
    name: str
    args: dict[str, Any]
    result: str
    created_at: float


def call_id_for(thread_id: str, turn: int, step: int, position: int, name: str, args: Any) -> str:
    """A tool call's id, the same each time the same run reaches the same call.

    Args:
        thread_id: the conversation.
        turn: which user message of the thread the run answers (0-based).
        step: the plan step.
        position: the call's number within the step (0-based, counting failed attempts).
        name: the tool.
        args: its arguments (JSON-serialisable).
    """
    blob = json.dumps(
        [thread_id, turn, step, position, name, args], sort_keys=True, default=str
    ).encode()
    return "call_" + hashlib.sha256(blob).hexdigest()[:24]


class ToolLedger:
    """Completed tool calls keyed by `tool_call_id`.

    Args:
        path: the SQLite file (created with its directory).

    Raises:
        ConfigError: the file cannot be opened (not a database, or not writable).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                str(self.path), timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"Expected a writable tool-call ledger at {self.path}; could not open it "
                f"({type(exc).__name__}: {exc}). Fix: check the directory's permissions, or "
                "move the file aside if it is not a lamina ledger."
            ) from None

    def get(self, call_id: str) -> LedgerEntry | None:
        """The finished call with this id, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT call_id, thread_id, name, args, result, created_at FROM calls "
                "WHERE call_id = ?",
                (call_id,),
            ).fetchone()
        if row is None:
            return None
        return LedgerEntry(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5])

    def record(self, call_id: str, *, thread_id: str, name: str, args: Any, result: str) -> None:
        """Write a finished call (durably, before this returns); a second write is ignored."""
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO calls VALUES (?, ?, ?, ?, ?, ?)",
                (
                    call_id,
                    thread_id,
                    name,
                    json.dumps(args, sort_keys=True, default=str),
                    result,
                    time.time(),
                ),
            )

    def calls(self, thread_id: str) -> list[LedgerEntry]:
        """Every finished call of a thread, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT call_id, thread_id, name, args, result, created_at FROM calls "
                "WHERE thread_id = ? ORDER BY created_at",
                (thread_id,),
            ).fetchall()
        return [LedgerEntry(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]

    def forget(self, thread_id: str) -> int:
        """Delete a thread's entries (its run finished: the checkpoint holds the results now).

        Returns:
            How many entries were deleted.
        """
        with self._lock:
            cursor = self._conn.execute("DELETE FROM calls WHERE thread_id = ?", (thread_id,))
        return int(cursor.rowcount)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()
