"""StoreFailures.reading: the server's transient "not on disk yet" is retried, nothing else is."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lamina.errors import MemoryStoreError
from lamina.stores.memory import failures as failures_module
from lamina.stores.memory.failures import StoreFailures

_RACE = (
    "Error executing plan: Internal error: Error creating hnsw segment reader: "
    "Nothing found on disk"
)


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(failures_module, "_RETRY_DELAYS", (0.0,) * 6)


def _failing(times: int, message: str) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def read() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise RuntimeError(message)
        return "rows"

    return calls, read


def test_a_server_query_that_races_the_index_write_is_retried_and_answers() -> None:
    calls, read = _failing(2, _RACE)
    got = StoreFailures("server", "http://127.0.0.1:1").reading("search memories", read)
    assert (got, len(calls)) == ("rows", 3)


def test_the_race_that_does_not_clear_is_raised_as_a_memory_store_error() -> None:
    calls, read = _failing(100, _RACE)
    with pytest.raises(
        MemoryStoreError, match=r"could not search memories .*Nothing found on disk"
    ):
        StoreFailures("server", "http://127.0.0.1:1").reading("search memories", read)
    assert len(calls) == len(failures_module._RETRY_DELAYS) + 1


def test_other_failures_and_embedded_stores_are_not_retried() -> None:
    calls, read = _failing(1, "disk is full")
    with pytest.raises(MemoryStoreError, match="disk full"):
        StoreFailures("server", "http://127.0.0.1:1").reading("write", read)
    assert len(calls) == 1
    calls, read = _failing(1, _RACE)
    with pytest.raises(MemoryStoreError, match="corrupted"):
        StoreFailures("embedded", "/tmp/x").reading("search memories", read)
    assert len(calls) == 1
