"""A bounded queue per served model: requests beyond its depth are turned away, not piled up.

The model pool's lock already serialises generation on one model; what it cannot do is refuse
work. Without a bound, a burst of requests waits in memory for minutes and every client times
out. An :class:`AdmissionQueue` admits at most `depth` requests per model (running plus waiting);
the next one gets HTTP 429 with a `Retry-After` estimated from recent service times.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from lamina.errors import ConfigError

__all__ = ["AdmissionQueue", "QueueFullError"]


@dataclass(frozen=True)
class QueueFullError(Exception):
    """The model's queue is at its depth; retry after `retry_after` seconds."""

    model: str
    depth: int
    retry_after: int

    def __str__(self) -> str:
        return (
            f"Model {self.model!r} has {self.depth} requests queued or running, its limit. "
            f"Retry after {self.retry_after} s, or raise the queue depth (lamina serve "
            "--queue-depth)."
        )


class AdmissionQueue:
    """Admission control for one model.

    Args:
        model: the served model's id (for messages).
        depth: the most requests admitted at once (running plus waiting), at least 1.
    """

    def __init__(self, model: str, depth: int) -> None:
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ConfigError(
                f"The queue depth of model {model!r} must be an integer of at least 1; found "
                f"{depth!r}. Fix: pass --queue-depth 1 or more."
            )
        self.model = model
        self.depth = depth
        self._lock = threading.Lock()
        self._admitted = 0
        self._recent: deque[float] = deque(maxlen=20)
        self.rejected = 0

    @property
    def admitted(self) -> int:
        """Requests admitted and not yet finished."""
        return self._admitted

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a place in the queue for the duration of a request.

        Raises:
            QueueFullError: `depth` requests are already admitted.
        """
        with self._lock:
            if self._admitted >= self.depth:
                self.rejected += 1
                raise QueueFullError(self.model, self.depth, self._retry_after())
            self._admitted += 1
        started = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self._admitted -= 1
                self._recent.append(time.perf_counter() - started)

    def _retry_after(self) -> int:
        # One request's service time, on average, frees one place; at least one second.
        if not self._recent:
            return 1
        mean = sum(self._recent) / len(self._recent)
        return max(1, math.ceil(mean))
