"""One run per conversation thread at a time, across threads, processes and machines.

A run reads its thread's last checkpoint, runs, and writes new checkpoints. Two runs on one
thread at once both start from the same history, and the later write wins: one exchange is lost
and both callers are told they succeeded. So a run holds its thread's lock from before it reads
the checkpoint until after it has written the last one; a second run waits for it up to
`wait` seconds (`Settings.thread_wait_seconds`), then gets
:class:`~lamina.errors.ThreadBusyError` (HTTP 409 from `lamina serve`). The thread is never
forked.

Which lock goes with which checkpointer (`make_thread_locks` in `lamina.agents.assembly`):

- a SQLite file: :class:`FileThreadLocks`, an `flock` on a lock file per thread in a folder
  beside the checkpoint file (`checkpoints.locks/`). The kernel releases an `flock` when its
  holder dies, even by `kill -9`, so a crashed run never leaves its thread locked; a lease
  table in SQLite would need expiry times and heartbeats to get the same, and a `BEGIN
  IMMEDIATE` held for a whole run would block the checkpointer's own writes to that file.
  `flock` is local to one machine (unreliable on NFS): workers on several machines use
  PostgreSQL checkpoints, and so its lock.
- PostgreSQL: :class:`PostgresThreadLocks`, a session-level `pg_advisory_lock` on a 64-bit hash
  of the thread id, on a connection of its own held for the run; the server releases it when
  that connection drops (a worker that died).
- ":memory:" or a checkpointer object: :class:`LocalThreadLocks`, within this process only
  (nothing else can see those checkpoints, or lamina cannot tell where they are).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

from lamina.errors import ConfigError, ThreadBusyError

if TYPE_CHECKING:
    from psycopg import Connection

__all__ = [
    "FileThreadLocks",
    "LocalThreadLocks",
    "PostgresThreadLocks",
    "ThreadLocks",
    "advisory_key",
]

_FIRST_POLL = 0.005
_MAX_POLL = 0.1


class ThreadLocks(Protocol):
    """Exclusive holds on conversation threads."""

    wait: float

    def hold(self, thread_id: str) -> contextlib.AbstractContextManager[None]:
        """Hold `thread_id` for the `with` block; wait up to `wait` seconds for it.

        Raises:
            ThreadBusyError: another run held the thread for longer than `wait` seconds.
        """
        ...


def _check_wait(wait: float) -> float:
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not wait >= 0:
        raise ConfigError(
            f"Expected the thread wait to be a number of seconds >= 0; found {wait!r}. Fix: set "
            "thread_wait_seconds (LAMINA_THREAD_WAIT_SECONDS) to e.g. 30."
        )
    return float(wait)


def _poll(deadline: float, delay: float) -> float:
    """Sleep before the next try (backing off), or return -1 when the deadline has passed."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return -1.0
    time.sleep(min(delay, remaining))
    return min(delay * 2, _MAX_POLL)


class LocalThreadLocks:
    """Thread locks within this process (":memory:" checkpoints, or a checkpointer object).

    Args:
        wait: seconds a run waits for a busy thread before `ThreadBusyError`.
    """

    def __init__(self, wait: float = 30.0) -> None:
        self.wait = _check_wait(wait)
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}  # lock, runs holding or waiting

    @contextlib.contextmanager
    def hold(self, thread_id: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(thread_id) or (threading.Lock(), 0)
            self._locks[thread_id] = (lock, users + 1)
        try:
            if not lock.acquire(timeout=self.wait):
                raise ThreadBusyError(thread_id, self.wait)
            try:
                yield
            finally:
                lock.release()
        finally:
            with self._guard:
                _, users = self._locks[thread_id]
                if users == 1:
                    del self._locks[thread_id]
                else:
                    self._locks[thread_id] = (lock, users - 1)


class FileThreadLocks:
    """Thread locks shared by every process on this machine: `flock` on a file per thread.

    A lock file is removed by its holder when the run ends, so the folder holds only the
    threads running now (a file left by a killed run is reused, then removed).

    Args:
        folder: where the lock files live (created on first use).
        wait: seconds a run waits for a busy thread before `ThreadBusyError`.
    """

    def __init__(self, folder: str | Path, wait: float = 30.0) -> None:
        self.folder = Path(folder)
        self.wait = _check_wait(wait)

    def path_for(self, thread_id: str) -> Path:
        """The lock file of `thread_id` (a hash: thread ids may hold any character)."""
        return self.folder / f"{hashlib.sha256(thread_id.encode()).hexdigest()[:40]}.lock"

    @contextlib.contextmanager
    def hold(self, thread_id: str) -> Iterator[None]:
        path = self.path_for(thread_id)
        fd = self._acquire(thread_id, path)
        try:
            yield
        finally:
            # Remove the file while still holding it: a run waiting on this inode then sees
            # that it is gone and locks the new file at `path` instead.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            os.close(fd)

    def _acquire(self, thread_id: str, path: Path) -> int:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"Expected a writable folder for thread locks at {self.folder}; could not create "
                f"it ({exc.strerror}). Fix: check the permissions of lamina's home."
            ) from None
        deadline = time.monotonic() + self.wait
        delay = _FIRST_POLL
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                delay = _poll(deadline, delay)
                if delay < 0:
                    raise ThreadBusyError(thread_id, self.wait) from None
                continue
            if _same_file(fd, path):
                return fd
            os.close(fd)  # the file was removed by the run before us: lock its successor


def _same_file(fd: int, path: Path) -> bool:
    try:
        here = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino)


def advisory_key(thread_id: str) -> int:
    """The signed 64-bit key of `thread_id`'s PostgreSQL advisory lock."""
    digest = hashlib.sha256(b"lamina-thread:" + thread_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresThreadLocks:
    """Thread locks shared by every worker of a PostgreSQL checkpoint database.

    Each hold opens a connection of its own and takes a session-level advisory lock on
    :func:`advisory_key`; closing the connection (or losing it) releases the lock.

    Args:
        url: the checkpoint database (`postgresql://user@host:port/db`).
        wait: seconds a run waits for a busy thread before `ThreadBusyError`.
        connect_timeout: seconds to wait for the server.
    """

    def __init__(self, url: str, wait: float = 30.0, connect_timeout: float = 10.0) -> None:
        self.url = url
        self.wait = _check_wait(wait)
        self.connect_timeout = connect_timeout

    @contextlib.contextmanager
    def hold(self, thread_id: str) -> Iterator[None]:
        import psycopg

        key = advisory_key(thread_id)
        try:
            conn = psycopg.connect(
                self.url, autocommit=True, connect_timeout=max(1, round(self.connect_timeout))
            )
        except psycopg.Error as exc:
            where = urlparse(self.url)
            raise ConfigError(
                f"Expected the PostgreSQL server at {where.hostname}:{where.port or 5432} to "
                f"lock thread {thread_id!r}; could not connect ({type(exc).__name__}: {exc}). "
                "Fix: check that the checkpoint database is up and reachable."
            ) from None
        with conn:
            deadline = time.monotonic() + self.wait
            delay = _FIRST_POLL
            while not _try_lock(conn, key):
                delay = _poll(deadline, delay)
                if delay < 0:
                    raise ThreadBusyError(thread_id, self.wait)
            try:
                yield
            finally:
                with contextlib.suppress(psycopg.Error):  # closing the connection releases it
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def _try_lock(conn: Connection[Any], key: int) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    return bool(row and row[0])
