"""One Chroma collection per user: naming, opening (created on first write), listing, checking.

Each user's memories live in a collection of their own (`<collection>--<hash of the user id>`):
one user's reads never touch another's records, and a search needs no metadata filter. Chroma
evaluates a filter against every record it matches, which made a filtered search of 5,000
memories 19 times slower (44 ms against 2.3 ms) than the same search of a collection of their own.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping
from typing import Any

from lamina.errors import MemoryStoreError
from lamina.models.encoder import LaminaEmbeddingFunction, TextEncoder
from lamina.stores.memory.failures import StoreFailures

__all__ = ["USER_SEPARATOR", "UserCollections", "collection_name_for"]

logger = logging.getLogger(__name__)

USER_SEPARATOR = "--"


def collection_name_for(base: str, user_id: str) -> str:
    """The user's collection: a hash, so any user id makes a valid, private name."""
    digest = hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:32]
    return f"{base}{USER_SEPARATOR}{digest}"


class UserCollections:
    """The user collections of one store, opened once each and cached.

    Args:
        client: the Chroma client.
        encoder: the store's encoder (registered with each collection, and its identity kept in
            the collection's metadata).
        base: the store's collection name.
        hnsw: HNSW configuration for new collections.
        lock: the store's writer lock.
        failures: explains Chroma's failures.
    """

    def __init__(
        self,
        client: Any,
        encoder: TextEncoder,
        base: str,
        hnsw: Mapping[str, Any],
        lock: threading.RLock,
        failures: StoreFailures,
    ) -> None:
        self._client = client
        self._encoder = encoder
        self._base = base
        self._hnsw = dict(hnsw)
        self._lock = lock
        self._failures = failures
        self._cache: dict[str, Any] = {}  # user id -> Chroma collection

    def of(self, user_id: str, *, create: bool) -> Any | None:
        """The user's collection (None when it does not exist and `create` is False)."""
        col = self._cache.get(user_id)
        if col is not None:
            return col
        with self._lock:
            col = self._cache.get(user_id)
            if col is not None:
                return col
            name = collection_name_for(self._base, user_id)
            ef = LaminaEmbeddingFunction(self._encoder)
            with self._failures.errors(f"open the memories of user {user_id!r}"):
                try:
                    col = self._client.get_collection(name=name, embedding_function=ef)
                except Exception as exc:
                    if type(exc).__name__ != "NotFoundError" and "does not exist" not in str(exc):
                        raise
                    if not create:
                        return None
                    col = self._client.get_or_create_collection(
                        name=name,
                        embedding_function=ef,
                        configuration={"hnsw": dict(self._hnsw)},
                        metadata={
                            "lamina_store": self._base,
                            "lamina_user": user_id,
                            "lamina_encoder": self._encoder.identity,
                        },
                    )
            stored = (col.metadata or {}).get("lamina_encoder")
            if stored and stored != self._encoder.identity:
                # Identity includes the model's path, which moves between machines; a truly
                # different model shows up as a dimension error on the first add or search.
                logger.warning(
                    "Memories of user %r were written with encoder %s; now using %s. Search "
                    "quality suffers if these are different models.",
                    user_id,
                    stored,
                    self._encoder.identity,
                )
            self._verify(col, user_id)
            self._cache[user_id] = col
            return col

    def all(self) -> list[Any]:
        """Every user collection of this store (for whole-store counts and statistics)."""
        with self._failures.errors("list its collections"):
            cols = self._client.list_collections()
        return [
            c
            for c in cols
            if c.name.startswith(self._base + USER_SEPARATOR)
            and (c.metadata or {}).get("lamina_store") == self._base
        ]

    def _verify(self, col: Any, user_id: str) -> None:
        """Read one stored vector and find it again, so a damaged index fails now, not later.

        A truncated vector index file otherwise opens fine and then answers every search with
        nothing, which would look like an empty memory.
        """
        try:
            n = int(col.count())
            if n == 0:
                return
            got = col.get(limit=1, include=["embeddings"])
            vectors = got.get("embeddings")
            found: list[str] = []
            if vectors is not None and len(vectors) > 0:
                res = col.query(query_embeddings=[vectors[0]], n_results=1, include=["distances"])
                found = list(res["ids"][0])
        except Exception as exc:
            # Whatever embedded Chroma says, an index that cannot answer this is damaged
            # (unless the cause is a permission or a full disk, which explain() recognises); a
            # server may also just have gone away.
            default = "corrupted" if self._failures.mode == "embedded" else "error"
            raise self._failures.explain(
                f"read the vector index of user {user_id!r}", exc, default=default
            ) from exc
        if not found:
            raise MemoryStoreError(
                f"The memory store at {self._failures.location} is corrupted: user {user_id!r} "
                f"has {n} memories but the vector index finds none of them. "
                f"Fix: {self._failures.fix('corrupted')}"
            )
