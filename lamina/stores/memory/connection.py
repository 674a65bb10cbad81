"""The open store: embedded (a locked directory) or server (a Chroma server), its client,
its user collections, and closing it. :class:`~lamina.stores.memory.store.MemoryStore` adds the
memory operations on top of this.

* embedded - `MemoryStore(path=...)`: a `chromadb.PersistentClient` on a local directory
  (default `Settings().home / "memory"`). **One process at a time**: Chroma's embedded mode keeps
  its vector index in the process's memory, so two processes writing one directory lose or
  corrupt each other's writes. The store takes a lock file (`lamina.lock`) in the directory; a
  second process gets a :class:`~lamina.errors.MemoryStoreError` that points to server mode.
  Threads of one process share the store safely.
* server - `MemoryStore.connect(host, port)`: a `chromadb.HttpClient` talking to `chroma run`.
  Any number of processes (agents, workers, `lamina memory` commands) share memory this way.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

from lamina.errors import MemoryStoreError
from lamina.models.encoder import TextEncoder
from lamina.stores.memory import client as chroma_client
from lamina.stores.memory.failures import StoreFailures
from lamina.stores.memory.locking import DirLock, lock_directory, unlock_directory
from lamina.stores.memory.records import DEFAULT_COLLECTION, MAX_TEXT_CHARS
from lamina.stores.memory.user_collections import UserCollections

__all__ = ["StoreConnection"]


class StoreConnection:
    """An open memory store; the constructor and :meth:`connect` take the arguments documented
    on :class:`~lamina.stores.memory.store.MemoryStore`."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        encoder: TextEncoder | None = None,
        collection: str = DEFAULT_COLLECTION,
        dedupe_threshold: float = 0.95,
        recency_weight: float = 0.0,
        half_life_days: float = 30.0,
        max_chars: int = MAX_TEXT_CHARS,
        hnsw: Mapping[str, Any] | None = None,
        lock_timeout: float = 5.0,
    ) -> None:
        if path is None:
            from lamina.config import get_settings

            path = get_settings().home / "memory"
        self.path: Path | None = Path(path).expanduser()
        self.mode: Literal["embedded", "server"] = "embedded"
        self.location = str(self.path)
        self._failures = StoreFailures(self.mode, self.location)
        chroma_client.check_options(
            collection, dedupe_threshold, recency_weight, half_life_days, max_chars, hnsw
        )
        self._held: DirLock | None = None
        chroma_client.check_directory(self.path)
        try:
            self._held = lock_directory(self.path, lock_timeout)
        except OSError as exc:
            raise self._failures.explain("lock its directory", exc) from exc
        try:
            chroma_client.check_writable(self.path, self._failures)
            chromadb = chroma_client.import_chromadb()
            with self._failures.errors("open the embedded store"):
                client = chromadb.PersistentClient(
                    path=str(self.path), settings=chroma_client.chroma_settings()
                )
            self._setup(client, encoder, collection, hnsw)
            self._settings(dedupe_threshold, recency_weight, half_life_days, max_chars)
        except BaseException:
            if self._held is not None:
                unlock_directory(self._held)
            self._held = None
            raise

    @classmethod
    def connect(
        cls,
        host: str = "localhost",
        port: int = 8000,
        *,
        ssl: bool = False,
        headers: Mapping[str, str] | None = None,
        encoder: TextEncoder | None = None,
        collection: str = DEFAULT_COLLECTION,
        dedupe_threshold: float = 0.95,
        recency_weight: float = 0.0,
        half_life_days: float = 30.0,
        max_chars: int = MAX_TEXT_CHARS,
        hnsw: Mapping[str, Any] | None = None,
    ) -> Self:
        """A store on a Chroma server (`chroma run --path DIR --port PORT`).

        Any number of processes may connect to one server and share its memories. Near-duplicate
        merging is exact within a process; two processes adding the same fact at the same
        moment may both store it.

        Args:
            host: server host name.
            port: server port.
            ssl: use https.
            headers: extra HTTP headers (e.g. an auth token).
            encoder: as in the constructor.
            collection: as in the constructor.
            dedupe_threshold: as in the constructor.
            recency_weight: as in the constructor.
            half_life_days: as in the constructor.
            max_chars: as in the constructor.
            hnsw: as in the constructor.

        Raises:
            ConfigError: a parameter out of range.
            MemoryStoreError: the server cannot be reached or refused the request.
        """
        self = cls.__new__(cls)
        self.path = None
        self.mode = "server"
        self.location = f"{'https' if ssl else 'http'}://{host}:{port}"
        self._failures = StoreFailures(self.mode, self.location)
        self._held = None
        chroma_client.check_options(
            collection, dedupe_threshold, recency_weight, half_life_days, max_chars, hnsw
        )
        chromadb = chroma_client.import_chromadb()
        with self._failures.errors("connect to the Chroma server"):
            client = chromadb.HttpClient(
                host=host,
                port=port,
                ssl=ssl,
                headers=dict(headers or {}),
                settings=chroma_client.chroma_settings(),
            )
        self._setup(client, encoder, collection, hnsw)
        self._settings(dedupe_threshold, recency_weight, half_life_days, max_chars)
        return self

    def _setup(
        self,
        client: Any,
        encoder: TextEncoder | None,
        collection: str,
        hnsw: Mapping[str, Any] | None,
    ) -> None:
        if encoder is None:
            from lamina.models.encoder import default_encoder

            encoder = default_encoder()
        self._client = client
        self.encoder: TextEncoder = encoder
        self.collection_name = collection
        # Embedded stores of one directory share one writer lock (see locking.lock_directory).
        self._lock = self._held.writers if self._held is not None else threading.RLock()
        self._closed = False
        self._collections = UserCollections(
            client,
            encoder,
            collection,
            {"space": "cosine", **(hnsw or {})},
            self._lock,
            self._failures,
        )
        with self._failures.errors("talk to Chroma"):
            # Fails now rather than at the first search when the server or database is broken.
            client.heartbeat()

    def _settings(
        self, dedupe_threshold: float, recency_weight: float, half_life_days: float, max_chars: int
    ) -> None:
        self.dedupe_threshold = dedupe_threshold
        self.recency_weight = recency_weight
        self.half_life_days = half_life_days
        self.max_chars = max_chars

    def _collection_of(self, user_id: str, *, create: bool) -> Any | None:
        """The user's Chroma collection (None when it does not exist and `create` is False)."""
        return self._collections.of(user_id, create=create)

    def _check_open(self) -> None:
        if self._closed:
            raise MemoryStoreError(
                f"The memory store at {self.location} is closed. Fix: create a new MemoryStore."
            )

    # --- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        """Release the Chroma client and the directory lock; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._client, "close", None)
            if callable(close):
                with self._failures.errors("close"):
                    close()
        finally:
            if self._held is not None:
                held, self._held = self._held, None
                unlock_directory(held)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"MemoryStore(mode={self.mode!r}, location={self.location!r}, "
            f"collection={self.collection_name!r})"
        )
