"""One process per embedded store directory: the lock file, and the lock its writers share.

Chroma's embedded mode keeps its vector index in the process's memory, so two processes writing
one directory lose or corrupt each other's writes. A store takes an exclusive `flock` on
`lamina.lock` in its directory; stores of one process on the same directory share the hold (and
one writer lock), and another process waits, then gets a :class:`~lamina.errors.MemoryStoreError`
that points to server mode.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from lamina.errors import MemoryStoreError

__all__ = ["LOCK_FILE", "DirLock", "lock_directory", "unlock_directory"]

logger = logging.getLogger(__name__)

LOCK_FILE = "lamina.lock"


@dataclass
class DirLock:
    """One embedded directory held by this process: the lock file and a lock for its writers."""

    key: str
    fd: int | None
    users: int = 1
    writers: threading.RLock = field(default_factory=threading.RLock)


# Directories this process holds, by resolved path. A second MemoryStore on the same directory
# shares the entry (threads of one process may share a store); another process is refused.
_held: dict[str, DirLock] = {}
_held_guard = threading.Lock()


def lock_directory(path: Path, timeout: float) -> DirLock:
    """Hold `path` for this process (shared by its stores), waiting up to `timeout` seconds."""
    key = str(path.resolve())
    with _held_guard:
        held = _held.get(key)
        if held is not None:
            held.users += 1
            return held
        held = DirLock(key=key, fd=_flock(path, timeout))
        _held[key] = held
        return held


def unlock_directory(held: DirLock) -> None:
    """Give back one hold on a directory; the last one releases the lock file."""
    with _held_guard:
        held.users -= 1
        if held.users > 0:
            return
        del _held[held.key]
        if held.fd is not None:
            # Closing the descriptor releases the flock; the file stays (deleting lock files
            # races with a process that has just opened it).
            os.close(held.fd)


def _flock(path: Path, timeout: float) -> int | None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows has no flock; one process is on trust there
        logger.debug("no fcntl: the embedded memory store at %s is not locked", path)
        return None
    # OSError (read-only directory, permission denied) is for the caller to explain.
    fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise MemoryStoreError(
                    f"The embedded memory store at {path} is in use by another process (pid "
                    f"{holder}); waited {timeout:g} s. Embedded Chroma allows one process per "
                    "directory: two would lose or corrupt each other's writes. Fix: share memory "
                    f"between processes through a Chroma server (`chroma run --path {path} "
                    "--port 8000`, then MemoryStore.connect('localhost', 8000) or `lamina memory "
                    "--host localhost --port 8000`), or stop the other process."
                ) from None
            time.sleep(0.05)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
