"""Writing memories: validating items, encoding them in rounds, merging near-duplicates.

A text whose embedding has cosine similarity >= the store's `dedupe_threshold` with an earlier
item of the same call, or else with an existing memory of the same user, updates that memory:
the newest wording wins, the oldest birth date and the highest importance stay.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lamina.errors import MemoryStoreError
from lamina.models.encoder import TextEncoder
from lamina.stores.memory.failures import StoreFailures
from lamina.stores.memory.records import KINDS, MemoryItem, PendingMemory

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["WRITE_BATCH", "prepare_items", "utc_now", "write_items"]

logger = logging.getLogger(__name__)

# Items encoded, deduplicated and written per round. Chroma's cost per memory falls with the
# batch (measured 0.93 ms CPU at 512, 0.72 ms at 2,000); the in-batch similarity matrix
# (2048 x 2048 floats, 16 MB) bounds it, and it stays below Chroma's maximum batch size.
WRITE_BATCH = 2048


def utc_now() -> datetime:
    """The current time in UTC (the time every stored memory is stamped with)."""
    return datetime.now(UTC)


def prepare_items(
    items: Sequence[str | MemoryItem],
    *,
    kind: str,
    thread_id: str | None,
    source: str,
    importance: float,
    max_chars: int,
    vectors: npt.ArrayLike | None,
) -> tuple[list[PendingMemory], npt.NDArray[np.float32] | None, datetime]:
    """Validate every item before anything is written.

    Returns:
        (the records to write, the given vectors L2-normalised or None, the time of the write).
    """
    import numpy as np

    now = utc_now()
    pending = [_prepare(it, kind, thread_id, source, importance, now, max_chars) for it in items]
    given = None
    if vectors is not None:
        given = np.asarray(vectors, dtype=np.float32)
        if given.ndim != 2 or given.shape[0] != len(pending):
            raise MemoryStoreError(
                f"Expected one embedding row per item ({len(pending)} rows), found an array "
                f"of shape {given.shape}. Fix: pass encoder.encode(texts) for these items."
            )
        norms = np.linalg.norm(given, axis=1, keepdims=True)
        given = (given / np.where(norms == 0, 1.0, norms)).astype(np.float32)
    return pending, given, now


def write_items(
    col: Any,
    pending: list[PendingMemory],
    given: npt.NDArray[np.float32] | None,
    now: datetime,
    *,
    encoder: TextEncoder,
    dedupe_threshold: float,
    lock: threading.RLock,
    failures: StoreFailures,
) -> list[str]:
    """Encode (unless `given`) and write `pending` in rounds; one record id per item."""
    ids: list[str] = []
    for start in range(0, len(pending), WRITE_BATCH):
        chunk = pending[start : start + WRITE_BATCH]
        vecs = _encode(encoder, chunk) if given is None else given[start : start + len(chunk)]
        # Encoding runs outside the lock; the near-duplicate check and the write inside it,
        # so that concurrent adds of one process see each other's memories. (Overlapping
        # the next round's encoding with this round's write was measured slower on two
        # cores: torch and Chroma then fight over them.)
        with lock:
            ids += _write(col, chunk, vecs, now, dedupe_threshold, failures)
    return ids


def _encode(encoder: TextEncoder, chunk: Sequence[PendingMemory]) -> npt.NDArray[np.float32]:
    import numpy as np

    return np.asarray(encoder.encode([p.text for p in chunk]), dtype=np.float32)


def _prepare(
    item: str | MemoryItem,
    kind: str,
    thread_id: str | None,
    source: str,
    importance: float,
    now: datetime,
    max_chars: int,
) -> PendingMemory:
    if isinstance(item, str):
        item = MemoryItem(text=item)
    if not isinstance(item, MemoryItem) or not isinstance(item.text, str):
        raise MemoryStoreError(
            f"Expected a str or MemoryItem to remember, found {type(item).__name__}. "
            "Fix: pass text or MemoryItem(text=...)."
        )
    text = item.text.strip()
    if not text:
        raise MemoryStoreError(
            "Expected a memory text with some content, found an empty or whitespace-only "
            "string. Nothing was stored. Fix: skip empty texts before calling add()."
        )
    if len(text) > max_chars:
        raise MemoryStoreError(
            f"Expected a memory of at most {max_chars} characters, found {len(text)} "
            f"({text[:40]!r}...). Nothing was stored: the encoder reads only about the "
            "first 1,000 characters, so the rest could never be found. Fix: store one "
            "short statement per memory (split or summarise the text first)."
        )
    k = item.kind or kind
    if k not in KINDS:
        raise MemoryStoreError(
            f"Unknown memory kind {k!r}; known: {', '.join(KINDS)}. Fix: use one of these."
        )
    imp = item.importance if item.importance is not None else importance
    if not 0.0 <= float(imp) <= 1.0:
        raise MemoryStoreError(
            f"Expected importance in [0, 1], found {imp}. Fix: scale it into that range."
        )
    return PendingMemory(
        id=uuid.uuid4().hex,
        text=text,
        kind=k,
        thread_id=item.thread_id if item.thread_id is not None else thread_id,
        source=item.source or source,
        importance=float(imp),
        created_at=now.isoformat(),
        ts=now.timestamp(),
    )


def _write(
    col: Any,
    pending: list[PendingMemory],
    vectors: npt.NDArray[np.float32],
    now: datetime,
    dedupe_threshold: float,
    failures: StoreFailures,
) -> list[str]:
    import numpy as np

    # Distances only: the metadata of the few matches is read below.
    found = failures.reading(
        "look for near-duplicate memories",
        lambda: col.query(query_embeddings=vectors, n_results=1, include=["distances"]),
    )
    nearest = [
        (hits[0], 1.0 - float(dists[0])) if hits else (None, -1.0)
        for hits, dists in zip(found["ids"], found["distances"], strict=True)
    ]
    matched = sorted({i for i, sim in nearest if i is not None and sim >= dedupe_threshold})
    stored: dict[str, Mapping[str, Any]] = {}
    if matched:
        with failures.errors("read near-duplicate memories"):
            got = col.get(ids=matched, include=["metadatas"])
        stored = {i: m or {} for i, m in zip(got["ids"], got["metadatas"], strict=True)}
    # The first earlier item of this call that is a near-duplicate of each item, as one
    # matrix product (a Python loop over pairs costs seconds at a few thousand items).
    is_dup = np.tril(vectors @ vectors.T >= dedupe_threshold, k=-1)
    earlier = np.where(is_dup.any(axis=1), is_dup.argmax(axis=1), -1)

    groups: dict[str, list[int]] = {}  # record id -> items, in first-seen order
    base: dict[str, Mapping[str, Any]] = {}  # record id -> stored metadata it updates
    record_of: list[str] = []
    for i, p in enumerate(pending):
        near, similarity = nearest[i]
        if earlier[i] >= 0:
            rid = record_of[int(earlier[i])]
        elif near is not None and similarity >= dedupe_threshold:
            rid = near
            base.setdefault(rid, stored.get(rid, {}))
            logger.debug("memory %s: near-duplicate (%.3f), updating", rid, similarity)
        else:
            rid = p.id
        record_of.append(rid)
        groups.setdefault(rid, []).append(i)

    updated_at = now.isoformat()
    ids, rows, metadatas, documents = [], [], [], []
    for rid, members in groups.items():
        # The newest wording wins; the oldest birth date and the highest importance stay.
        last, first = pending[members[-1]], pending[members[0]]
        old = base.get(rid)
        importance = max(pending[i].importance for i in members)
        created_at, ts = first.created_at, first.ts
        if old is not None:
            importance = max(importance, float(old.get("importance", 0.0)))
            created_at = str(old.get("created_at", created_at))
            ts = float(old.get("ts", ts))
        ids.append(rid)
        rows.append(members[-1])
        documents.append(last.text)
        # The user is the collection's (metadata "lamina_user"); every key costs a row in
        # Chroma's metadata table, so none is stored twice or empty.
        meta: dict[str, Any] = {
            "kind": last.kind,
            "source": last.source,
            "importance": importance,
            "created_at": created_at,
            "updated_at": updated_at,
            "ts": ts,
        }
        if last.thread_id:
            meta["thread_id"] = last.thread_id
        metadatas.append(meta)
    with failures.errors("write memories"):
        col.upsert(ids=ids, embeddings=vectors[rows], documents=documents, metadatas=metadatas)
    return record_of
