"""Checkpointers and memory stores chosen by configuration, so a graph moves between one process
and several machines without a code change.

- checkpointer: `":memory:"`, a SQLite file path (the default), or a PostgreSQL URL
  (`postgresql://user@host:port/db`, through `langgraph-checkpoint-postgres`);
- memory: a directory (embedded Chroma, single writer per process) or a Chroma server URL
  (`http://host:port`, shared by any number of processes).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from lamina.errors import ConfigError

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from lamina.stores.memory import MemoryStore

__all__ = ["is_postgres_url", "make_checkpointer", "make_memory_store"]

_PG_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(value: object) -> bool:
    """True for `postgresql://...` and `postgres://...` strings."""
    return isinstance(value, str) and value.startswith(_PG_SCHEMES)


def make_checkpointer(
    spec: str | Path, *, default_path: Path, connect_timeout: float = 10.0
) -> tuple[BaseCheckpointSaver[Any], Callable[[], None]]:
    """The checkpointer `spec` names, and a function that closes its connections.

    Args:
        spec: ":memory:", "" (the default file), a SQLite path, or a PostgreSQL URL.
        default_path: the SQLite file used for "".
        connect_timeout: seconds to wait for a PostgreSQL server.

    Raises:
        ConfigError: the PostgreSQL server cannot be reached or its driver is missing.
        CheckpointError: the SQLite file is damaged or cannot be opened (lamina leaves it as it
            is; the message says how to restore it or move it away).
    """
    if spec == ":memory:":
        from langgraph.checkpoint.memory import InMemorySaver

        return InMemorySaver(), lambda: None
    if is_postgres_url(spec):
        return _postgres(str(spec), connect_timeout)
    from lamina.stores.checkpoints import open_sqlite_checkpointer

    saver, conn = open_sqlite_checkpointer(Path(spec) if spec else default_path)
    return saver, conn.close


def _postgres(url: str, timeout: float) -> tuple[BaseCheckpointSaver[Any], Callable[[], None]]:
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool
    except ImportError as exc:  # pragma: no cover - both are lamina dependencies
        raise ConfigError(
            f"Postgres checkpoints need langgraph-checkpoint-postgres and psycopg ({exc}). "
            "Fix: pip install 'langgraph-checkpoint-postgres' 'psycopg[binary]' psycopg-pool."
        ) from None

    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=8,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=False,
    )
    try:
        pool.open(wait=True, timeout=timeout)
        saver = PostgresSaver(pool)  # type: ignore[arg-type]
        saver.setup()
    except Exception as exc:  # any failure to reach or set up the database
        pool.close()
        where = urlparse(url)
        raise ConfigError(
            f"Expected a PostgreSQL server at {where.hostname}:{where.port or 5432} for "
            f"checkpoints; could not use it ({type(exc).__name__}: {exc}). Fix: start the "
            "server, check the URL (postgresql://user:password@host:port/db), or use a SQLite "
            "checkpointer path."
        ) from None
    return saver, pool.close


def make_memory_store(spec: str | Path, **options: Any) -> MemoryStore:
    """The memory store `spec` names: a Chroma server URL or an embedded directory.

    Raises:
        ConfigError: a URL without a host.
        MemoryStoreError: the store cannot be opened or reached.
    """
    from lamina.stores.memory import MemoryStore

    text = str(spec)
    if text.startswith(("http://", "https://")):
        url = urlparse(text)
        if not url.hostname:
            raise ConfigError(
                f"Expected a Chroma server URL like http://127.0.0.1:8000; found {text!r}."
            )
        return MemoryStore.connect(
            url.hostname,
            url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            **options,
        )
    return MemoryStore(path=Path(spec), **options)
