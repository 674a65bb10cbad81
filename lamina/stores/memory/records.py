"""What the memory store holds: memory kinds and limits, the stored `Memory`, the `MemoryItem` to
add, and the pending record a write is built from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from lamina.errors import MemoryStoreError

__all__ = [
    "DEFAULT_COLLECTION",
    "KINDS",
    "MAX_TEXT_CHARS",
    "Memory",
    "MemoryItem",
    "MemoryKind",
    "PendingMemory",
    "check_user_id",
    "memory_from_chroma",
]

MemoryKind = Literal["fact", "episode", "preference"]
KINDS: tuple[str, ...] = get_args(MemoryKind)
DEFAULT_COLLECTION = "lamina_memory"
MAX_TEXT_CHARS = 1000
"""Longest memory text `add` accepts. MiniLM reads 256 word pieces (about 1,000 characters of
English) and silently ignores the rest, so a longer text would be stored but found only by its
beginning. Such texts are refused, not chunked: a memory is one statement; splitting a document
into memories is the caller's decision (what to keep, how to word it)."""


@dataclass(frozen=True)
class Memory:
    """One stored memory; `score` and `similarity` are set on search results.

    Attributes:
        id: Chroma id.
        text: what is remembered.
        kind: 'fact', 'episode' or 'preference'.
        user_id: whose memory it is.
        thread_id: the conversation it came from (None: not tied to one).
        created_at: ISO 8601 UTC time it was first stored.
        updated_at: ISO 8601 UTC time its current wording was stored (a near-duplicate merge
            moves it).
        source: who wrote it ('user', 'agent', 'tool', ...).
        importance: 0..1, the writer's estimate of how much it matters.
        score: the ranking score of a search (similarity blended with recency; equal to
            `similarity` when the recency weight is 0). None outside search results.
        similarity: cosine similarity to the search query (None outside search results).
    """

    id: str
    text: str
    kind: str
    user_id: str
    thread_id: str | None
    created_at: str
    updated_at: str
    source: str
    importance: float
    score: float | None = None
    similarity: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict, the form memories take in graph state."""
        return asdict(self)


@dataclass(frozen=True)
class MemoryItem:
    """One memory to add; fields left None take the defaults given to `MemoryStore.add`."""

    text: str
    kind: MemoryKind | None = None
    thread_id: str | None = None
    source: str | None = None
    importance: float | None = None


@dataclass
class PendingMemory:
    """A record about to be written (new, or an update of an existing near-duplicate)."""

    id: str
    text: str
    kind: str
    thread_id: str | None
    source: str
    importance: float
    created_at: str
    ts: float


def memory_from_chroma(
    mid: str,
    doc: str | None,
    meta: Mapping[str, Any] | None,
    user_id: str,
    score: float | None = None,
    similarity: float | None = None,
) -> Memory:
    """A :class:`Memory` from one Chroma record (id, document, metadata) of `user_id`."""
    meta = meta or {}
    return Memory(
        id=mid,
        text=doc or "",
        kind=str(meta.get("kind", "fact")),
        user_id=user_id,
        thread_id=str(meta["thread_id"]) if meta.get("thread_id") else None,
        created_at=str(meta.get("created_at", "")),
        updated_at=str(meta.get("updated_at", meta.get("created_at", ""))),
        source=str(meta.get("source", "")),
        importance=float(meta.get("importance", 0.0)),
        score=score,
        similarity=similarity,
    )


def check_user_id(user_id: str) -> None:
    """Refuse an empty or non-string user id (every memory belongs to one user)."""
    if not isinstance(user_id, str) or not user_id.strip():
        raise MemoryStoreError(
            f"Expected a non-empty user id, found {user_id!r}. Fix: pass the user's id "
            "(lamina's default is 'default')."
        )
