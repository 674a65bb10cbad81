"""`MemoryStore`: per-user long-term memory over Chroma, in one of two modes with one API.

Embedded (`MemoryStore(path=...)`, one process per directory) or server
(`MemoryStore.connect(host, port)`, any number of processes); opening, locking and closing are
in :mod:`lamina.stores.memory.connection`. Embeddings always come from lamina's encoder (the
packaged all-MiniLM-L6-v2 by default) and are passed to Chroma explicitly; collections are
registered with :class:`~lamina.models.encoder.LaminaEmbeddingFunction` so that Chroma never
falls back to its own default model, which would download from the internet. Telemetry is
switched off.

This class is a facade: the work is done by the package's modules (user collections, writer,
search, purge), each named for its job. Chroma's own errors become
:class:`~lamina.errors.MemoryStoreError` with what happened and what to do; lamina never deletes
or rewrites a damaged store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lamina.errors import MemoryStoreError
from lamina.stores.memory.connection import StoreConnection
from lamina.stores.memory.purge import purge_files, server_purge_message
from lamina.stores.memory.records import (
    Memory,
    MemoryItem,
    MemoryKind,
    check_user_id,
    memory_from_chroma,
)
from lamina.stores.memory.search import build_where, candidates_for, rank, tally
from lamina.stores.memory.writer import prepare_items, write_items

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["MemoryStore"]

logger = logging.getLogger(__name__)


class MemoryStore(StoreConnection):
    """Per-user long-term memory in a Chroma collection.

    Embedded mode (this constructor) is for one process: the store locks its directory, and a
    second process opening it waits `lock_timeout` seconds and then gets a
    :class:`~lamina.errors.MemoryStoreError`. Several processes share memory through server mode
    (:meth:`connect` to `chroma run`). Threads of one process may share one store.

    Args:
        path: directory of the embedded store (default `Settings().home / "memory"`).
        encoder: text encoder (default: the packaged all-MiniLM-L6-v2, loaded on first use).
        collection: Chroma collection name.
        dedupe_threshold: cosine similarity at or above which a new memory of the same user
            updates the existing one instead of being added.
        recency_weight: default weight of recency in search ranking, in [0, 1] (see
            :mod:`lamina.stores.memory.search` for the formula); 0 ranks by similarity alone.
        half_life_days: age at which a memory's recency term halves.
        max_chars: longest text `add` accepts (:data:`MAX_TEXT_CHARS`).
        hnsw: Chroma HNSW settings for new user collections, e.g. `{"ef_search": 200}` or
            `{"sync_threshold": 5000}` (how many writes between saves of the vector index;
            Chroma's default 1000). Existing collections keep theirs.
        lock_timeout: seconds to wait for another process to release the directory.

    Raises:
        ConfigError: a parameter out of range.
        MemoryStoreError: the directory cannot be used (a file, read-only, corrupted, in use
            by another process).
    """

    # --- writing --------------------------------------------------------------------------

    def add(
        self,
        items: str | MemoryItem | Sequence[str | MemoryItem],
        user_id: str,
        *,
        kind: MemoryKind = "fact",
        thread_id: str | None = None,
        source: str = "user",
        importance: float = 0.5,
        vectors: npt.ArrayLike | None = None,
    ) -> list[str]:
        """Store memories for `user_id`, merging near-duplicates; one id per item, in order.

        A text whose embedding has cosine similarity >= `dedupe_threshold` with an earlier item
        of the same call, or else with an existing memory of the same user, updates that memory:
        its text, kind, thread and source become the new ones, its importance the larger of the
        two, its `created_at` stays and `updated_at` moves. The returned id is then the
        existing one.

        Items are validated first (nothing is written when one is bad), then encoded and
        written in rounds of 2,048, so memory use stays flat for large batches.

        Args:
            items: one text or item, or a sequence of them.
            user_id: owner of the memories.
            kind: default kind for items that do not set one.
            thread_id: default conversation id.
            source: default writer ('user', 'agent', 'tool').
            importance: default importance in [0, 1].
            vectors: embeddings of the items from this store's encoder, one row per item, when
                the caller already has them (the encoder is then not called).

        Returns:
            The memory ids, one per item (repeated when items merged).

        Raises:
            MemoryStoreError: an empty or too long text, a bad kind or importance, an empty
                user id, vectors of the wrong shape (nothing is written then), or a Chroma
                failure.
        """
        self._check_open()
        check_user_id(user_id)
        if isinstance(items, str | MemoryItem):
            items = [items]
        if not items:
            return []
        pending, given, now = prepare_items(
            items,
            kind=kind,
            thread_id=thread_id,
            source=source,
            importance=importance,
            max_chars=self.max_chars,
            vectors=vectors,
        )
        col = self._collection_of(user_id, create=True)
        ids = write_items(
            col,
            pending,
            given,
            now,
            encoder=self.encoder,
            dedupe_threshold=self.dedupe_threshold,
            lock=self._lock,
            failures=self._failures,
        )
        logger.debug("stored %d items for user %s", len(ids), user_id)
        return ids

    # --- reading --------------------------------------------------------------------------

    def search(
        self,
        query: str,
        user_id: str,
        k: int = 3,
        *,
        min_score: float = 0.0,
        kinds: Sequence[MemoryKind] | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        where: Mapping[str, Any] | None = None,
        recency_weight: float | None = None,
        half_life_days: float | None = None,
    ) -> list[Memory]:
        """The `k` memories of `user_id` that best match `query`, best first.

        Ranking follows the formula in :mod:`lamina.stores.memory.search`. With a recency
        weight above 0 the `max(4k, k + 16)` most similar memories are re-ranked, so recency
        reorders relevant memories but never brings in a far one.

        Args:
            query: what to look for.
            user_id: whose memories to search (no other user's are ever returned).
            k: at most this many results.
            min_score: drop results whose cosine similarity is below this.
            kinds: only these kinds (None: all).
            since: only memories created at or after this time.
            until: only memories created at or before this time.
            where: a further Chroma metadata filter, e.g. `{"thread_id": "t1"}`.
            recency_weight: weight of recency in [0, 1] (None: the store's default).
            half_life_days: age at which the recency term halves (None: the store's default).

        Returns:
            Memories with `score` (ranking) and `similarity` (cosine) set.

        Raises:
            MemoryStoreError: an empty query, k < 1, a bad filter or weight, or a Chroma
                failure.
        """
        self._check_open()
        check_user_id(user_id)
        if not query or not query.strip():
            raise MemoryStoreError(
                "Expected a search query with some content, found an empty string. "
                "Fix: skip the search when there is nothing to look for."
            )
        if k < 1:
            raise MemoryStoreError(f"Expected k >= 1 results, found k={k}. Fix: pass k >= 1.")
        weight = self.recency_weight if recency_weight is None else recency_weight
        half_life = self.half_life_days if half_life_days is None else half_life_days
        if not 0.0 <= weight <= 1.0 or not half_life > 0:
            raise MemoryStoreError(
                f"Expected recency_weight in [0, 1] and half_life_days > 0, found {weight} and "
                f"{half_life}. Fix: pass e.g. recency_weight=0.1, half_life_days=30."
            )
        flt = build_where(kinds=kinds, since=since, until=until, extra=where)
        col = self._collection_of(user_id, create=False)
        if col is None:
            return []
        vector = self.encoder.encode([query.strip()])
        res = self._failures.reading(
            "search memories",
            lambda: col.query(
                query_embeddings=vector,
                n_results=candidates_for(k, weight),
                where=flt,
                include=["documents", "metadatas", "distances"],
            ),
        )
        return rank(
            res,
            user_id,
            k=k,
            min_score=min_score,
            recency_weight=weight,
            half_life_days=half_life,
            now=time.time(),
        )

    def get(self, ids: Sequence[str], *, user_id: str) -> list[Memory]:
        """The memories of `user_id` with these ids (ids of other users are not returned)."""
        self._check_open()
        check_user_id(user_id)
        col = self._collection_of(user_id, create=False)
        if not ids or col is None:
            return []
        with self._failures.errors("read memories"):
            res = col.get(ids=list(ids), include=["documents", "metadatas"])
        return [
            memory_from_chroma(mid, doc, meta, user_id)
            for mid, doc, meta in zip(res["ids"], res["documents"], res["metadatas"], strict=True)
        ]

    # --- deleting, counting ---------------------------------------------------------------

    def forget(
        self,
        ids: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        *,
        user_id: str,
        purge: bool | None = None,
    ) -> int:
        """Delete memories of `user_id`: those with `ids`, those matching `where`, or all.

        Records are deleted from Chroma (not flagged): they no longer appear in any search,
        get or count, also after the store is reopened. In embedded mode the store then
        :meth:`purge`s its files, so the deleted text is gone from the disk as well.

        Args:
            ids: memory ids to delete (ids of other users are ignored).
            where: a Chroma metadata filter such as `{"kind": "episode"}` or
                `{"thread_id": "t1"}`; combined with `ids` when both are given.
            user_id: whose memories; with neither `ids` nor `where`, all of them.
            purge: remove the deleted text from the files now. None (default): in embedded
                mode yes, in server mode no (the server's files are not this process's; see
                :meth:`purge`). False defers it, e.g. to call :meth:`purge` once after many
                deletes.

        Returns:
            How many memories were deleted.

        Raises:
            MemoryStoreError: purge=True in server mode, a bad filter, or a Chroma failure.
        """
        self._check_open()
        check_user_id(user_id)
        if purge and self.mode == "server":
            raise MemoryStoreError(server_purge_message(self.location))
        if ids is not None and not ids:
            return 0
        flt = build_where(extra=where)
        col = self._collection_of(user_id, create=False)
        if col is None:
            return 0
        with self._lock:
            with self._failures.errors("find the memories to forget"):
                found = col.get(ids=list(ids) if ids is not None else None, where=flt, include=[])
            doomed = list(found["ids"])
            if doomed:
                with self._failures.errors("delete memories"):
                    col.delete(ids=doomed)
                if purge is not False and self.path is not None:
                    purge_files(self.path, [str(col.id)], self._failures)
        logger.debug("forgot %d memories of user %s", len(doomed), user_id)
        return len(doomed)

    def purge(self) -> dict[str, int]:
        """Remove the text of deleted and superseded memories from the store's files.

        Chroma deletes a record from its tables at once, but its text survives on disk in two
        places: Chroma's write-ahead log (`embeddings_queue`, kept until the vector index is
        next saved, every 1,000 writes) and the free space of `chroma.sqlite3`'s pages. Purging
        drops the log entries of records that no longer exist or were rewritten by a later
        write (the old wording of a merged near-duplicate), merges the full-text index, and
        VACUUMs the database - what `chroma vacuum` does, for entries Chroma would otherwise
        keep. The vector index replays the remaining entries as before: no live memory is
        touched. The time taken grows with the store's size (about a second per 100 MB).

        Returns:
            `{"log_entries_removed", "bytes_before", "bytes_after"}` of `chroma.sqlite3`.

        Raises:
            MemoryStoreError: in server mode (run `chroma vacuum --path DIR` on the server's
                directory with the server stopped), or when the database cannot be purged.
        """
        self._check_open()
        if self.path is None:
            raise MemoryStoreError(server_purge_message(self.location))
        with self._lock:
            return purge_files(self.path, None, self._failures)

    def count(self, user_id: str | None = None) -> int:
        """Number of memories of `user_id`, or of everyone when None."""
        self._check_open()
        if user_id is None:
            with self._failures.errors("count memories"):
                return sum(int(c.count()) for c in self._collections.all())
        check_user_id(user_id)
        col = self._collection_of(user_id, create=False)
        if col is None:
            return 0
        with self._failures.errors("count memories"):
            return int(col.count())

    def users(self) -> list[str]:
        """The ids of every user with at least one memory in this store, sorted."""
        self._check_open()
        with self._failures.errors("count memories"):
            return sorted(
                str((c.metadata or {}).get("lamina_user", ""))
                for c in self._collections.all()
                if c.count() > 0
            )

    def stats(self, user_id: str | None = None) -> dict[str, Any]:
        """JSON-safe summary: where the store is, how many memories, per kind and per user.

        Args:
            user_id: only this user's memories (None: the whole store, with a count per user).
        """
        self._check_open()
        if user_id is not None:
            check_user_id(user_id)
            col = self._collection_of(user_id, create=False)
            cols = [(user_id, col)] if col is not None else []
        else:
            cols = [
                (str((c.metadata or {}).get("lamina_user", "")), c) for c in self._collections.all()
            ]
        users, kinds = tally(cols, self._failures)
        out: dict[str, Any] = {
            "mode": self.mode,
            "location": self.location,
            "collection": self.collection_name,
            "encoder": self.encoder.identity,
            "dedupe_threshold": self.dedupe_threshold,
            "recency_weight": self.recency_weight,
            "half_life_days": self.half_life_days,
            "count": sum(users.values()),
            "kinds": kinds,
        }
        if user_id is None:
            out["users"] = users
        else:
            out["user_id"] = user_id
        return out
