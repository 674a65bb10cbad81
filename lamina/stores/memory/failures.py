"""Chroma's failures as :class:`~lamina.errors.MemoryStoreError`: what happened and what to do.

lamina never deletes or rewrites a damaged store; the messages say how to restore or move it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, TypeVar

from lamina.errors import MemoryStoreError

__all__ = ["StoreFailures"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

# A Chroma server (1.x) that compacts a collection's log into its HNSW index while another
# client queries it can answer "Error creating hnsw segment reader: Nothing found on disk"
# for a moment; the same query a little later succeeds. Only this message is retried.
_TRANSIENT = "nothing found on disk"
_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)


@dataclass(frozen=True)
class StoreFailures:
    """Explains failures of one store.

    Attributes:
        mode: 'embedded' or 'server'.
        location: the store's directory, or its server's URL.
    """

    mode: Literal["embedded", "server"]
    location: str

    def fix(self, problem: str) -> str:
        """What to do about `problem` ('read-only', 'corrupted', 'disk full' or 'error')."""
        if self.mode == "server":
            if problem == "corrupted":
                return (
                    "the server's store is damaged: stop the server, restore its --path "
                    "directory from a backup, or start it on a new directory."
                )
            port = self.location.rsplit(":", 1)[-1]
            return (
                f"Check that a Chroma server is running at {self.location} (start one with "
                f"`chroma run --path DIR --port {port}`) and that this machine can reach it."
            )
        path = self.location
        if problem == "read-only":
            return (
                f"make {path} and its files writable (e.g. `chmod -R u+w {path}`) or pass "
                "another path. The memories in it are intact: lamina changed nothing."
            )
        if problem == "corrupted":
            return (
                f"restore {path} from a backup, or move it away (`mv {path} {path}.damaged`) "
                "so that lamina starts an empty store there. lamina changed nothing in it; when "
                "only the vector index is damaged, the texts are still readable in "
                "chroma.sqlite3 (table embedding_metadata, key 'chroma:document')."
            )
        if problem == "disk full":
            return f"free disk space on the volume of {path}; stored memories are intact."
        return f"Check that {path} is a directory you can write to, with free disk space."

    def explain(self, action: str, exc: BaseException, default: str = "error") -> MemoryStoreError:
        """The error for `exc` raised while trying to `action`, with its probable cause."""
        detail = f"{type(exc).__name__}: {exc}"
        low = detail.lower()
        if any(s in low for s in ("readonly", "read-only", "permission denied", "not permitted")):
            problem = "read-only"
        elif any(
            s in low
            for s in ("malformed", "not a database", "corrupt", "hnsw", "pickle", "finding id")
        ):
            problem = "corrupted"
        elif "disk is full" in low or "no space left" in low:
            problem = "disk full"
        else:
            problem = default
        what = "" if problem == "error" else f" - it is {problem}"
        return MemoryStoreError(
            f"The memory store could not {action} ({self.mode}, {self.location}){what}: "
            f"{detail}. Fix: {self.fix(problem)}"
        )

    def reading(self, action: str, read: Callable[[], T]) -> T:
        """`read()`, retried while a server reports the index it is writing as not on disk yet.

        Any other failure, and this one when it persists for about three seconds, is raised
        as the MemoryStoreError that `errors` gives.
        """
        delays = iter(_RETRY_DELAYS if self.mode == "server" else ())
        while True:
            try:
                with self.errors(action):
                    return read()
            except MemoryStoreError as err:
                delay = next(delays, None)
                if delay is None or _TRANSIENT not in str(err.__cause__).lower():
                    raise
                logger.info("memory store: %s: index not on disk yet, retrying", action)
                time.sleep(delay)

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Turn any Chroma failure into a MemoryStoreError that says what to do."""
        try:
            yield
        except MemoryStoreError:
            raise
        except Exception as exc:
            raise self.explain(action, exc) from exc
