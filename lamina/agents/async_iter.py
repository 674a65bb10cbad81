"""A synchronous iterator consumed from async code, its work done in a worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

__all__ = ["iterate_in_thread"]


async def iterate_in_thread(make: Callable[[], Iterator[Any]]) -> AsyncIterator[Any]:
    """Yield what `make()` yields, without blocking the event loop: the iterator is made and
    drained in a worker thread, and an exception it raises is re-raised here."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    done = object()

    def pump() -> None:
        try:
            for event in make():
                loop.call_soon_threadsafe(queue.put_nowait, event)
        except BaseException as exc:  # re-raised in the consumer
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, done)

    worker = loop.run_in_executor(None, pump)
    while True:
        item = await queue.get()
        if item is done:
            break
        if isinstance(item, BaseException):
            raise item
        yield item
    await worker
